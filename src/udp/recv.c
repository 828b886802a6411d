/* Receiving a datagram from the relay (RFC 1928 section 7).
 *
 * Every datagram from the relay starts with RSV RSV FRAG ATYP DST.ADDR
 * DST.PORT, 8 to 262 bytes, that the program must never see. We give the
 * kernel three places to write to, in this order:
 *
 *   head:  hdr_guess bytes of ours, where the header should land;
 *   iov:   the program's buffers, where the payload should land;
 *   tail:  the rest of our 262 bytes, for the end of a payload that a
 *          longer header than guessed pushed past the program's buffers.
 *
 * When the guess is right, which is the common case since a relay keeps
 * answering with the same address type, the payload is in place and
 * nothing is copied. Otherwise the payload is moved within the program's
 * buffers and the next guess is the length just seen. head and tail are
 * 262 bytes together, so any header can be parsed, and the program never
 * loses payload bytes because of a wrong guess.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "s5_udp.h"
#include "udp_internal.h"

/* The bytes of one datagram as the kernel spread them. */
struct rx {
	uint8_t *head;          /* hb bytes; tail follows at head + hb */
	size_t hb;
	const struct iovec *iov; /* the program's buffers, cap bytes */
	size_t cnt;
	size_t cap;
	size_t got;             /* bytes written to head, iov and tail */
};

static uint8_t *tail_of(const struct rx *x)
{
	return x->head + x->hb;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Threads of the program may receive on one socket at once; the guess is
 * only a hint, so a relaxed atomic is enough to keep that race defined. */
static size_t load_guess(const struct s5_udp *u)
{
	size_t g = __atomic_load_n(&u->hdr_guess, __ATOMIC_RELAXED);

	if (g < S5_UDP_HEADER_MIN || g > S5_UDP_HEADER_MAX)
		return S5_UDP_GUESS_INIT;
	return g;
}

static void store_guess(struct s5_udp *u, size_t h)
{
	__atomic_store_n(&u->hdr_guess, (uint16_t)h, __ATOMIC_RELAXED);
}

/* head, the program's iovecs, tail. */
static struct iovec *kernel_iov(struct iovec *stack, const struct rx *x)
{
	struct iovec *v = stack;

	if (x->cnt > S5_UDP_IOV_STACK) {
		v = malloc((x->cnt + 2) * sizeof(*v));
		if (!v)
			return NULL;
	}
	v[0].iov_base = x->head;
	v[0].iov_len = x->hb;
	if (x->cnt)
		memcpy(v + 1, x->iov, x->cnt * sizeof(*v));
	v[x->cnt + 1].iov_base = tail_of(x);
	v[x->cnt + 1].iov_len = S5_UDP_HEADER_MAX - x->hb;
	return v;
}

/* An IP endpoint, IPv4 written as ::ffff:a.b.c.d so that both forms of
 * one address compare equal. */
struct endpoint {
	uint8_t ip[16];
	uint16_t port; /* network order, only compared */
};

static bool endpoint_of(const struct sockaddr_storage *ss, socklen_t len,
			struct endpoint *e)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (ss->ss_family == AF_INET && len >= (socklen_t)sizeof(sin)) {
		memcpy(&sin, ss, sizeof(sin));
		memset(e->ip, 0, 10);
		e->ip[10] = 0xff;
		e->ip[11] = 0xff;
		memcpy(e->ip + 12, &sin.sin_addr, 4);
		e->port = sin.sin_port;
		return true;
	}
	if (ss->ss_family == AF_INET6 && len >= (socklen_t)sizeof(sin6)) {
		memcpy(&sin6, ss, sizeof(sin6));
		memcpy(e->ip, &sin6.sin6_addr, 16);
		e->port = sin6.sin6_port;
		return true;
	}
	return false;
}

/* Section 7: only datagrams from the relay carry a header. Anything else
 * reaching the socket (a peer the program talks to directly, a spoofed
 * packet) is not ours to strip; the caller decides what to do with it. */
static bool from_relay(const struct s5_udp *u, const struct msghdr *m)
{
	struct endpoint a, b;

	if (u->relay_len == 0 ||
	    !endpoint_of(m->msg_name, m->msg_namelen, &a) ||
	    !endpoint_of(&u->relay, u->relay_len, &b))
		return false;
	return a.port == b.port && memcmp(a.ip, b.ip, 16) == 0;
}

/* n bytes of the datagram from offset 0, gathered from head, iov and
 * tail (n <= got). */
static void gather(const struct rx *x, uint8_t *dst, size_t n)
{
	size_t k = min_size(n, x->hb);

	memcpy(dst, x->head, k);
	if (n > k)
		k += s5_iov_copy_out(x->iov, x->cnt, 0, dst + k, n - k);
	if (n > k)
		memcpy(dst + k, tail_of(x), n - k);
}

/* The header's length, or -EPROTO. Usually the header is all in head;
 * when it is longer than guessed, it continues in the program's buffers
 * (and, for small buffers, in tail). */
static ssize_t parse_header(const struct rx *x, struct s5_addr *src)
{
	uint8_t hdr[S5_UDP_HEADER_MAX];
	size_t n = min_size(x->got, x->hb);
	ssize_t h;

	h = s5_parse_udp_header(x->head, n, src);
	if (h > 0 || x->got <= n)
		return h;
	n = min_size(x->got, sizeof(hdr));
	gather(x, hdr, n);
	return s5_parse_udp_header(hdr, n, src);
}

/* The header was shorter than head: the payload's first bytes are in head.
 * Push what is in the program's buffers up to make room for them. */
static void shift_in_head(const struct rx *x, size_t h, size_t n)
{
	size_t m = min_size(min_size(x->got, x->hb) - h, n);

	s5_iov_move(x->iov, x->cnt, m, 0, n - m);
	s5_iov_copy_in(x->iov, x->cnt, 0, x->head + h, m);
}

/* The header was longer than head: k of its bytes are at the start of the
 * program's buffers. Pull the payload down over them, and fetch its end
 * from tail. */
static void shift_out_header(const struct rx *x, size_t h, size_t n)
{
	size_t k = h - x->hb;
	size_t in_iov = min_size(x->got - x->hb, x->cap);
	size_t c = in_iov > k ? in_iov - k : 0;
	size_t from = k > x->cap ? k - x->cap : 0;

	s5_iov_move(x->iov, x->cnt, 0, k, c);
	if (n > c)
		s5_iov_copy_in(x->iov, x->cnt, c, tail_of(x) + from, n - c);
}

/* Leaves the datagram's bytes from h on at the start of the program's
 * buffers. Returns how many are there. */
static size_t deliver(const struct rx *x, size_t h)
{
	size_t n = min_size(x->got - h, x->cap);

	if (h < x->hb)
		shift_in_head(x, h, n);
	else if (h > x->hb)
		shift_out_header(x, h, n);
	return n;
}

/* Finds the header, if the datagram has one, and learns its length as
 * the next guess. Returns the header length (0 for a datagram from
 * another source, which is all payload) or -EBADMSG. */
static ssize_t unwrap(struct s5_udp *u, const struct msghdr *m,
		      const struct rx *x, struct s5_udp_dgram *d)
{
	ssize_t h;

	if (!from_relay(u, m)) {
		d->from = S5_UDP_FROM_OTHER;
		return 0;
	}
	d->from = S5_UDP_FROM_RELAY;
	h = parse_header(x, &d->src);
	if (h < 0)
		return -EBADMSG;
	store_guess(u, (size_t)h);
	return h;
}

static ssize_t recv_rx(struct s5_udp *u, int fd, struct rx *x,
		       struct msghdr *m, int flags, struct s5_udp_dgram *d,
		       const struct s5_udp_io *io)
{
	ssize_t r, h;
	size_t n;

	d->msg_flags = 0;
	r = io->recvmsg(fd, m, flags);
	if (r < 0)
		return -errno;
	d->src_raw_len = m->msg_namelen;
	/* With MSG_TRUNC in flags r is the datagram's length, which may be
	 * more than we gave room for. */
	x->got = min_size((size_t)r, x->cap + S5_UDP_HEADER_MAX);
	h = unwrap(u, m, x, d);
	if (h < 0) {
		/* A peek leaves the datagram first in the queue, where it
		 * would block every later receive. */
		if (flags & MSG_PEEK)
			(void)s5_udp_discard(fd, io);
		return h;
	}
	n = deliver(x, (size_t)h);
	d->msg_flags = m->msg_flags & ~MSG_TRUNC;
	if ((m->msg_flags & MSG_TRUNC) || x->got - (size_t)h > x->cap)
		d->msg_flags |= MSG_TRUNC;
	if (flags & MSG_TRUNC)
		return r - h;
	return (ssize_t)n;
}

ssize_t s5_udp_recv(struct s5_udp *u, int fd, const struct iovec *iov,
		    size_t iovcnt, void *control, size_t controllen,
		    size_t *controllen_out, int flags, struct s5_udp_dgram *d,
		    const struct s5_udp_io *io)
{
	struct iovec stack[S5_UDP_IOV_STACK + 2];
	uint8_t edge[S5_UDP_HEADER_MAX]; /* head, then tail */
	struct msghdr m;
	struct rx x;
	ssize_t r;

	if (controllen_out)
		*controllen_out = 0;
	if (iovcnt > IOV_MAX - 2)
		return -EMSGSIZE;
	x.head = edge;
	x.hb = load_guess(u);
	x.iov = iov;
	x.cnt = iovcnt;
	x.cap = s5_iov_total(iov, iovcnt);
	if (x.cap > SSIZE_MAX)
		return -EINVAL; /* as recvmsg(2) says */
	memset(&m, 0, sizeof(m));
	m.msg_name = &d->src_raw;
	m.msg_namelen = sizeof(d->src_raw);
	m.msg_control = control;
	m.msg_controllen = controllen;
	m.msg_iov = kernel_iov(stack, &x);
	if (!m.msg_iov)
		return -ENOMEM;
	m.msg_iovlen = iovcnt + 2;
	r = recv_rx(u, fd, &x, &m, flags, d, io);
	if (controllen_out && r >= 0)
		*controllen_out = m.msg_controllen;
	if (m.msg_iov != stack)
		free(m.msg_iov);
	return r;
}
