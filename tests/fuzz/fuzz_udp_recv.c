/* libFuzzer target for s5_udp_recv (RFC 1928 section 7), through a fake
 * I/O seam that plays the kernel: it scatters one datagram over the
 * iovecs it is given, as recvmsg(2) does for UDP.
 *
 * Input: flags byte, guess byte, iovec count byte, one size byte per
 * iovec, then the datagram. Each iovec is its own allocation, so ASan
 * sees any byte written past one.
 *
 * Beyond "no crash", the result must be what recvmsg would have given for
 * the payload alone:
 *  - from the relay: the header is what s5_parse_udp_header finds in the
 *    whole datagram; an invalid one is -EBADMSG and is consumed even with
 *    MSG_PEEK; a valid one is learnt as the next guess;
 *  - from another source: the datagram is the payload;
 *  - the buffers hold the payload's first bytes, the return value is
 *    their count (the payload length with MSG_TRUNC), and MSG_TRUNC is
 *    set exactly when the payload did not fit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s5_udp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	F_PEEK = 1,     /* recv with MSG_PEEK */
	F_TRUNC = 2,    /* recv with MSG_TRUNC */
	F_OTHER = 4,    /* the datagram comes from another port */
	F_V6 = 8,       /* an AF_INET6 socket (the relay is IPv4-mapped) */
	F_V4SRC = 16,   /* the fake kernel names the source as AF_INET */
	F_WIDE = 32,    /* iovec sizes count in 16-byte units */
};

#define MAX_IOV 40
#define RELAY_PORT 1080

/* The fake kernel's one pending datagram. */
static struct {
	const uint8_t *dgram;
	size_t len;
	bool queued;
	int flags;
	int discards;
} k;

static void write_source(struct msghdr *m)
{
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	uint16_t port = (k.flags & F_OTHER) ? RELAY_PORT + 1 : RELAY_PORT;
	socklen_t n;

	memset(&ss, 0, sizeof(ss));
	if ((k.flags & F_V6) && !(k.flags & F_V4SRC)) {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		inet_pton(AF_INET6, "::ffff:10.0.0.1", &sin6.sin6_addr);
		memcpy(&ss, &sin6, sizeof(sin6));
		n = sizeof(sin6);
	} else {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		sin.sin_addr.s_addr = htonl(0x0a000001);
		memcpy(&ss, &sin, sizeof(sin));
		n = sizeof(sin);
	}
	if (n > m->msg_namelen)
		n = m->msg_namelen;
	memcpy(m->msg_name, &ss, n);
	m->msg_namelen = n;
}

static ssize_t fake_recvmsg(int fd, struct msghdr *m, int flags)
{
	size_t i, done = 0, c;

	(void)fd;
	if (!k.queued) {
		errno = EAGAIN;
		return -1;
	}
	for (i = 0; i < m->msg_iovlen && done < k.len; i++) {
		c = k.len - done;
		if (c > m->msg_iov[i].iov_len)
			c = m->msg_iov[i].iov_len;
		if (c)
			memcpy(m->msg_iov[i].iov_base, k.dgram + done, c);
		done += c;
	}
	write_source(m);
	m->msg_controllen = 0;
	m->msg_flags = done < k.len ? MSG_TRUNC : 0;
	if (!(flags & MSG_PEEK))
		k.queued = false;
	return (flags & MSG_TRUNC) ? (ssize_t)k.len : (ssize_t)done;
}

static ssize_t fake_recv(int fd, void *buf, size_t len, int flags)
{
	(void)fd;
	(void)buf;
	(void)len;
	(void)flags;
	k.discards++;
	if (!k.queued) {
		errno = EAGAIN;
		return -1;
	}
	k.queued = false;
	return (ssize_t)k.len;
}

static ssize_t fake_sendmsg(int fd, const struct msghdr *m, int flags)
{
	(void)fd;
	(void)m;
	(void)flags;
	__builtin_trap(); /* receiving never sends */
}

static int64_t fake_now(void)
{
	return 0;
}

static const struct s5_udp_io fake = {
	.sendmsg = fake_sendmsg,
	.recvmsg = fake_recvmsg,
	.recv = fake_recv,
	.now_ms = fake_now,
};

struct layout {
	struct iovec v[MAX_IOV];
	size_t n, cap;
};

static void layout_make(struct layout *l, const uint8_t *sizes, size_t n,
			bool wide)
{
	size_t i;

	l->n = n;
	l->cap = 0;
	for (i = 0; i < n; i++) {
		l->v[i].iov_len = wide ? (size_t)sizes[i] * 16 : sizes[i];
		/* malloc(0) may give NULL; a zero-length iovec is fine so. */
		l->v[i].iov_base = malloc(l->v[i].iov_len ? l->v[i].iov_len
							   : 1);
		if (!l->v[i].iov_base)
			__builtin_trap();
		l->cap += l->v[i].iov_len;
	}
}

static void layout_check(const struct layout *l, const uint8_t *want,
			 size_t n)
{
	size_t i, off = 0, c;

	for (i = 0; i < l->n && off < n; i++) {
		c = n - off < l->v[i].iov_len ? n - off : l->v[i].iov_len;
		if (memcmp(l->v[i].iov_base, want + off, c) != 0)
			__builtin_trap();
		off += c;
	}
}

static void layout_free(struct layout *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].iov_base);
}

static void setup(struct s5_udp *u, int flags, size_t guess)
{
	struct s5_addr relay;

	memset(&relay, 0, sizeof(relay));
	relay.atyp = S5_ATYP_IPV4;
	relay.u.v4[0] = 10;
	relay.u.v4[3] = 1;
	relay.port = RELAY_PORT;
	s5_udp_init(u, (flags & F_V6) ? AF_INET6 : AF_INET);
	if (s5_udp_set_relay(u, &relay, NULL, 0, false) != 0)
		__builtin_trap();
	u->hdr_guess = (uint16_t)guess;
}

/* What the program must see, from the flat datagram. */
static ssize_t header_of(const uint8_t *dgram, size_t len,
			 struct s5_addr *src)
{
	if (k.flags & F_OTHER)
		return 0;
	return s5_parse_udp_header(dgram, len, src);
}

static void check(const struct s5_udp *u, const struct layout *l, ssize_t r,
		  const struct s5_udp_dgram *d, int rflags, size_t guess)
{
	struct s5_addr src;
	ssize_t h = header_of(k.dgram, k.len, &src);
	size_t plen, n;

	if (h < 0) {
		if (r != -EBADMSG || k.queued || u->hdr_guess != guess)
			__builtin_trap();
		if (k.discards != ((rflags & MSG_PEEK) ? 1 : 0))
			__builtin_trap();
		return;
	}
	plen = k.len - (size_t)h;
	n = plen < l->cap ? plen : l->cap;
	if (r != ((rflags & MSG_TRUNC) ? (ssize_t)plen : (ssize_t)n))
		__builtin_trap();
	if (!!(d->msg_flags & MSG_TRUNC) != (plen > l->cap))
		__builtin_trap();
	if (k.queued != !!(rflags & MSG_PEEK) || k.discards != 0)
		__builtin_trap();
	layout_check(l, k.dgram + h, n);
	if (k.flags & F_OTHER) {
		if (d->from != S5_UDP_FROM_OTHER || u->hdr_guess != guess)
			__builtin_trap();
		return;
	}
	if (d->from != S5_UDP_FROM_RELAY || u->hdr_guess != (size_t)h ||
	    d->src.atyp != src.atyp || d->src.port != src.port)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s5_udp_dgram d;
	struct layout l;
	struct s5_udp u;
	size_t guess, niov;
	int rflags;
	ssize_t r;

	if (size < 3)
		return 0;
	memset(&k, 0, sizeof(k));
	k.flags = data[0];
	guess = 8 + (size_t)data[1] % (S5_UDP_HEADER_MAX - 8 + 1);
	niov = data[2] % (MAX_IOV + 1);
	data += 3;
	size -= 3;
	if (size < niov)
		return 0;
	layout_make(&l, data, niov, k.flags & F_WIDE);
	k.dgram = data + niov;
	k.len = size - niov;
	k.queued = true;
	rflags = ((k.flags & F_PEEK) ? MSG_PEEK : 0) |
		 ((k.flags & F_TRUNC) ? MSG_TRUNC : 0);
	setup(&u, k.flags, guess);
	memset(&d, 0, sizeof(d));
	r = s5_udp_recv(&u, 3, l.v, l.n, NULL, 0, NULL, rflags, &d, &fake);
	check(&u, &l, r, &d, rflags, guess);
	layout_free(&l);
	return 0;
}
