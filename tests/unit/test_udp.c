/* Unit tests for src/udp: RFC 1928 section 7 encapsulation over real
 * loopback UDP sockets (the test plays the relay), the relay address, the
 * control connection check with a fake clock, the iovec helpers, and a
 * counting I/O seam that shows the common path costs one system call. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "s5_udp.h"
#include "udp/udp_internal.h"

/* ---- a counting seam over libc, with a fake clock ---- */

static struct calls {
	int sendmsg, recvmsg, recv;
	int flags;                  /* of the last call */
	struct msghdr msg;          /* the last sendmsg/recvmsg's header */
	struct iovec iov[4];        /* its first iovecs */
	ssize_t send_result;        /* when not 0: sendmsg returns this */
	int send_errno;             /* when not 0: sendmsg fails with it */
} calls;

static int64_t clock_ms;

static void remember(const struct msghdr *m, int flags)
{
	size_t n = m->msg_iovlen < 4 ? m->msg_iovlen : 4;

	calls.flags = flags;
	calls.msg = *m;
	memcpy(calls.iov, m->msg_iov, n * sizeof(struct iovec));
}

static ssize_t count_sendmsg(int fd, const struct msghdr *m, int flags)
{
	calls.sendmsg++;
	remember(m, flags);
	if (calls.send_errno) {
		errno = calls.send_errno;
		return -1;
	}
	if (calls.send_result)
		return calls.send_result;
	return sendmsg(fd, m, flags);
}

static ssize_t count_recvmsg(int fd, struct msghdr *m, int flags)
{
	calls.recvmsg++;
	remember(m, flags);
	return recvmsg(fd, m, flags);
}

static ssize_t count_recv(int fd, void *buf, size_t len, int flags)
{
	calls.recv++;
	calls.flags = flags;
	return recv(fd, buf, len, flags);
}

static int64_t fake_now(void)
{
	return clock_ms;
}

static const struct s5_udp_io counting = {
	.sendmsg = count_sendmsg,
	.recvmsg = count_recvmsg,
	.recv = count_recv,
	.now_ms = fake_now,
};

static int reset_calls(void **state)
{
	(void)state;
	memset(&calls, 0, sizeof(calls));
	clock_ms = 1000000;
	return 0;
}

/* ---- sockets ---- */

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static size_t rnd_below(size_t n)
{
	return n ? rnd() % n : 0;
}

static void loopback(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		memcpy(ss, &sin, sizeof(sin));
		*len = sizeof(sin);
	} else {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_addr = in6addr_loopback;
		memcpy(ss, &sin6, sizeof(sin6));
		*len = sizeof(sin6);
	}
}

/* A UDP socket bound to loopback; for AF_INET6 with v4, to
 * ::ffff:127.0.0.1, so that it talks with an IPv4 relay. */
static int udp_socket(int family, bool v4, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct timeval tv = { 2, 0 };
	struct sockaddr_in6 sin6;
	int fd, off = 0;

	fd = socket(family, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	loopback(family, ss, len);
	if (family == AF_INET6 && v4) {
		assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
					    &off, sizeof(off)), 0);
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1",
					   &sin6.sin6_addr), 1);
		memcpy(ss, &sin6, sizeof(sin6));
	}
	assert_int_equal(bind(fd, (struct sockaddr *)ss, *len), 0);
	*len = sizeof(*ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)ss, len), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				    sizeof(tv)), 0);
	return fd;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (ss->ss_family == AF_INET) {
		memcpy(&sin, ss, sizeof(sin));
		return ntohs(sin.sin_port);
	}
	memcpy(&sin6, ss, sizeof(sin6));
	return ntohs(sin6.sin6_port);
}

/* The test's relay, the program's socket (client), and the association. */
struct pair {
	int relay, client;
	struct sockaddr_storage relay_sa, client_sa; /* client_sa: as the
						      * relay reaches it */
	socklen_t relay_len, client_len;
	struct s5_udp u;
};

static void pair_open(struct pair *p, int relay_family, int client_family)
{
	struct sockaddr_storage ss;
	struct s5_addr bound;
	socklen_t len;

	memset(p, 0, sizeof(*p));
	p->relay = udp_socket(relay_family, false, &p->relay_sa,
			      &p->relay_len);
	p->client = udp_socket(client_family, relay_family == AF_INET, &ss,
			       &len);
	/* The relay reaches the client in its own family. */
	loopback(relay_family, &p->client_sa, &p->client_len);
	if (relay_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, &p->client_sa, sizeof(sin));
		sin.sin_port = htons(port_of(&ss));
		memcpy(&p->client_sa, &sin, sizeof(sin));
	} else {
		memcpy(&p->client_sa, &ss, sizeof(struct sockaddr_in6));
	}
	s5_udp_init(&p->u, client_family);
	assert_int_equal(s5_addr_from_sockaddr(&bound, (struct sockaddr *)
					       &p->relay_sa, p->relay_len), 0);
	assert_int_equal(s5_udp_set_relay(&p->u, &bound, NULL, 0, false), 0);
}

static void pair_close(struct pair *p)
{
	close(p->relay);
	close(p->client);
}

/* ---- datagrams ---- */

enum { H_V4 = 10, H_V6 = 22, H_MAX = S5_UDP_HEADER_MAX };

/* A relay header of length h: IPv4 for 10, IPv6 for 22, else a name of
 * h - 7 bytes. Returns h. */
static size_t make_header(uint8_t *buf, size_t h)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					0, 0, 0, 0, 0, 0, 0, 1 };
	size_t i;

	buf[0] = buf[1] = buf[2] = 0;
	if (h == H_V4) {
		buf[3] = S5_ATYP_IPV4;
		buf[4] = 1, buf[5] = 2, buf[6] = 3, buf[7] = 4;
		buf[8] = 5353 >> 8, buf[9] = 5353 & 0xff;
	} else if (h == H_V6) {
		buf[3] = S5_ATYP_IPV6;
		memcpy(buf + 4, v6, 16);
		buf[20] = 0, buf[21] = 53;
	} else {
		buf[3] = S5_ATYP_DOMAIN;
		buf[4] = (uint8_t)(h - 7);
		for (i = 0; i < h - 7; i++)
			buf[5 + i] = (uint8_t)('a' + i % 26);
		buf[h - 2] = (uint8_t)((8000 + h) >> 8);
		buf[h - 1] = (uint8_t)((8000 + h) & 0xff);
	}
	return h;
}

static void check_source(const struct s5_addr *a, size_t h)
{
	size_t i;

	if (h == H_V4) {
		assert_int_equal(a->atyp, S5_ATYP_IPV4);
		assert_int_equal(a->u.v4[0], 1);
		assert_int_equal(a->u.v4[3], 4);
		assert_int_equal(a->port, 5353);
	} else if (h == H_V6) {
		assert_int_equal(a->atyp, S5_ATYP_IPV6);
		assert_int_equal(a->u.v6[0], 0x20);
		assert_int_equal(a->u.v6[15], 1);
		assert_int_equal(a->port, 53);
	} else {
		assert_int_equal(a->atyp, S5_ATYP_DOMAIN);
		assert_int_equal(a->u.dom.name_len, h - 7);
		for (i = 0; i < h - 7; i++)
			assert_int_equal(a->u.dom.name[i], 'a' + i % 26);
		assert_int_equal(a->port, 8000 + h);
	}
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + 3 + (i >> 8));
}

static uint8_t big[70000];

/* The relay sends a header of length h (0: none) and plen payload bytes. */
static void relay_send(struct pair *p, size_t h, size_t plen)
{
	size_t i;

	if (h)
		make_header(big, h);
	for (i = 0; i < plen; i++)
		big[h + i] = pattern(i);
	assert_int_equal(sendto(p->relay, big, h + plen, 0,
				(struct sockaddr *)&p->client_sa,
				p->client_len), (ssize_t)(h + plen));
}

static void relay_send_raw(struct pair *p, const void *buf, size_t len)
{
	assert_int_equal(sendto(p->relay, buf, len, 0,
				(struct sockaddr *)&p->client_sa,
				p->client_len), (ssize_t)len);
}

/* The program's buffers: iovecs with sizes from a list (cycled, the last
 * takes what is left), one canary byte between them. */
#define MAXV 200
#define CANARY 0xa5

struct bufs {
	struct iovec v[MAXV];
	size_t n, cap;
	uint8_t *arena;
	size_t arena_len;
	uint8_t flat[70000];
};

static void bufs_make(struct bufs *b, size_t cap, const size_t *sizes,
		      size_t nsizes)
{
	size_t left = cap, off = 1, s;

	b->arena_len = cap + MAXV + 2;
	b->arena = malloc(b->arena_len);
	assert_non_null(b->arena);
	memset(b->arena, CANARY, b->arena_len);
	b->n = 0;
	b->cap = cap;
	while (left > 0 || (b->n < nsizes && b->n < 3)) {
		s = nsizes ? sizes[b->n % nsizes] : left;
		if (s > left || b->n == MAXV - 1)
			s = left;
		b->v[b->n].iov_base = b->arena + off;
		b->v[b->n].iov_len = s;
		memset(b->arena + off, 0, s);
		off += s + 1;
		left -= s;
		b->n++;
	}
}

/* Random sizes, zero-length iovecs included. */
static void bufs_random(struct bufs *b, size_t cap)
{
	size_t sizes[MAXV], i, n = 1 + rnd_below(12), most = 1 + rnd_below(40);

	for (i = 0; i < n; i++)
		sizes[i] = rnd_below(most + 1);
	if (rnd_below(4) == 0)
		n = 0; /* one iovec */
	bufs_make(b, cap, sizes, n);
}

static void bufs_check(struct bufs *b, size_t n)
{
	size_t i, off, got = 0, k;
	uint8_t *seen = calloc(b->arena_len, 1);

	assert_non_null(seen);
	for (i = 0; i < b->n; i++) {
		off = (size_t)((uint8_t *)b->v[i].iov_base - b->arena);
		memset(seen + off, 1, b->v[i].iov_len);
		k = b->v[i].iov_len;
		if (k > b->cap - got)
			k = b->cap - got;
		memcpy(b->flat + got, b->v[i].iov_base, k);
		got += k;
	}
	for (i = 0; i < b->arena_len; i++)
		if (!seen[i])
			assert_int_equal(b->arena[i], CANARY);
	for (i = 0; i < n; i++)
		if (b->flat[i] != pattern(i))
			fail_msg("payload byte %zu is %u, not %u", i,
				 b->flat[i], pattern(i));
	free(seen);
}

static void bufs_free(struct bufs *b)
{
	free(b->arena);
	b->arena = NULL;
}

static ssize_t urecv(struct pair *p, struct bufs *b, int flags,
		     struct s5_udp_dgram *d)
{
	memset(d, 0, sizeof(*d));
	return s5_udp_recv(&p->u, p->client, b->v, b->n, NULL, 0, NULL, flags,
			   d, &s5_udp_io_libc);
}

static struct bufs bufs;

/* Receives the datagram header h + plen payload bytes with guess g into
 * cap bytes of buffers in the given layout, and checks everything recvmsg
 * would promise for the payload alone. */
static void expect_datagram(struct pair *p, size_t h, size_t g, size_t plen,
			    const size_t *sizes, size_t nsizes, size_t cap,
			    int flags)
{
	struct s5_udp_dgram d;
	size_t n = plen < cap ? plen : cap;
	ssize_t r;

	p->u.hdr_guess = (uint16_t)g;
	bufs_make(&bufs, cap, sizes, nsizes);
	r = urecv(p, &bufs, flags, &d);
	assert_int_equal(r, (flags & MSG_TRUNC) ? plen : n);
	assert_int_equal(d.from, S5_UDP_FROM_RELAY);
	check_source(&d.src, h);
	assert_int_equal(d.msg_flags & MSG_TRUNC, plen > cap ? MSG_TRUNC : 0);
	assert_int_equal(port_of(&d.src_raw), port_of(&p->relay_sa));
	assert_int_equal(p->u.hdr_guess, h);
	bufs_check(&bufs, n);
	bufs_free(&bufs);
}

/* The relay sends one datagram, the program receives it; after a peek,
 * a real receive gets the same again. */
static void one_datagram(struct pair *p, size_t h, size_t g, size_t plen,
			 const size_t *sizes, size_t nsizes, size_t cap,
			 int flags)
{
	relay_send(p, h, plen);
	expect_datagram(p, h, g, plen, sizes, nsizes, cap, flags);
	if (flags & MSG_PEEK)
		expect_datagram(p, h, h, plen, sizes, nsizes, cap,
				flags & ~MSG_PEEK);
}

static const size_t one[] = { 0 }; /* with nsizes 0: one iovec */
static const size_t odd[] = { 1, 3, 0, 7, 2, 5, 0, 11, 1, 13 };

/* ---- send ---- */

static void expect_relay_gets(struct pair *p, const uint8_t *hdr, size_t h,
			      size_t plen)
{
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t r;
	size_t i;

	r = recvfrom(p->relay, big, sizeof(big), 0, (struct sockaddr *)&from,
		     &flen);
	assert_int_equal(r, (ssize_t)(h + plen));
	assert_memory_equal(big, hdr, h);
	for (i = 0; i < plen; i++)
		assert_int_equal(big[h + i], pattern(i));
	assert_int_equal(port_of(&from), port_of(&p->client_sa));
}

static uint8_t payload[70000];

static void fill_payload(void)
{
	size_t i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = pattern(i);
}

static ssize_t usend(struct pair *p, const struct s5_addr *dst,
		     const struct iovec *iov, size_t n)
{
	return s5_udp_send(&p->u, p->client, dst, iov, n, 0, &s5_udp_io_libc);
}

static void send_puts_an_ipv4_header_before_the_payload(void **state)
{
	static const uint8_t hdr[] = { 0, 0, 0, 1, 10, 1, 2, 3, 0x14, 0xe9 };
	struct iovec v = { payload, 100 };
	struct s5_addr dst;
	struct pair p;

	(void)state;
	fill_payload();
	pair_open(&p, AF_INET, AF_INET);
	memset(&dst, 0, sizeof(dst));
	dst.atyp = S5_ATYP_IPV4;
	memcpy(dst.u.v4, "\x0a\x01\x02\x03", 4);
	dst.port = 5353;
	assert_int_equal(usend(&p, &dst, &v, 1), 100);
	expect_relay_gets(&p, hdr, sizeof(hdr), 100);
	pair_close(&p);
}

static void send_puts_an_ipv6_header_before_the_payload(void **state)
{
	static const uint8_t hdr[] = { 0, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8,
				       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42,
				       0x01, 0xbb };
	struct iovec v = { payload, 1200 };
	struct s5_addr dst;
	struct pair p;

	(void)state;
	fill_payload();
	pair_open(&p, AF_INET6, AF_INET6);
	memset(&dst, 0, sizeof(dst));
	dst.atyp = S5_ATYP_IPV6;
	memcpy(dst.u.v6, hdr + 4, 16);
	dst.port = 443;
	assert_int_equal(usend(&p, &dst, &v, 1), 1200);
	expect_relay_gets(&p, hdr, sizeof(hdr), 1200);
	pair_close(&p);
}

static void send_puts_a_domain_header_before_the_payload(void **state)
{
	static const uint8_t hdr[] = { 0, 0, 0, 3, 11, 'e', 'x', 'a', 'm',
				       'p', 'l', 'e', '.', 'c', 'o', 'm',
				       0, 53 };
	struct iovec v = { payload, 33 };
	struct s5_addr dst;
	struct pair p;

	(void)state;
	fill_payload();
	pair_open(&p, AF_INET, AF_INET);
	assert_int_equal(s5_addr_from_name(&dst, "example.com", 11, 53), 0);
	assert_int_equal(usend(&p, &dst, &v, 1), 33);
	expect_relay_gets(&p, hdr, sizeof(hdr), 33);
	pair_close(&p);
}

static void dst_v4(struct s5_addr *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->atyp = S5_ATYP_IPV4;
	memcpy(dst->u.v4, "\x0a\x01\x02\x03", 4);
	dst->port = 5353;
}

static const uint8_t hdr_v4[] = { 0, 0, 0, 1, 10, 1, 2, 3, 0x14, 0xe9 };

static void send_gathers_scattered_iovecs_and_leaves_them_unchanged(
	void **state)
{
	struct iovec v[40], copy[40];
	struct s5_addr dst;
	struct pair p;
	size_t i, off = 0;

	(void)state;
	fill_payload();
	pair_open(&p, AF_INET, AF_INET);
	dst_v4(&dst);
	for (i = 0; i < 40; i++) { /* more than the stack array holds */
		v[i].iov_base = payload + off;
		v[i].iov_len = odd[i % 10];
		off += v[i].iov_len;
	}
	memcpy(copy, v, sizeof(v));
	assert_int_equal(usend(&p, &dst, v, 40), (ssize_t)off);
	expect_relay_gets(&p, hdr_v4, sizeof(hdr_v4), off);
	assert_memory_equal(v, copy, sizeof(v));
	assert_int_equal(usend(&p, &dst, v, 7), 1 + 3 + 0 + 7 + 2 + 5);
	expect_relay_gets(&p, hdr_v4, sizeof(hdr_v4), 18);
	pair_close(&p);
}

static void send_reports_a_zero_length_payload(void **state)
{
	struct s5_addr dst;
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	dst_v4(&dst);
	assert_int_equal(usend(&p, &dst, NULL, 0), 0);
	expect_relay_gets(&p, hdr_v4, sizeof(hdr_v4), 0);
	pair_close(&p);
}

static void send_carries_a_65000_byte_datagram(void **state)
{
	struct iovec v[2] = { { payload, 40000 }, { payload + 40000, 25000 } };
	struct s5_addr dst;
	struct pair p;
	int sz = 1 << 20;

	(void)state;
	fill_payload();
	pair_open(&p, AF_INET, AF_INET);
	setsockopt(p.relay, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	dst_v4(&dst);
	assert_int_equal(usend(&p, &dst, v, 2), 65000);
	expect_relay_gets(&p, hdr_v4, sizeof(hdr_v4), 65000);
	pair_close(&p);
}

static void send_refuses_more_iovecs_than_iov_max_leaves_room_for(
	void **state)
{
	static struct iovec v[IOV_MAX];
	struct s5_addr dst;
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	dst_v4(&dst);
	assert_int_equal(s5_udp_send(&p.u, p.client, &dst, v, IOV_MAX, 0,
				     &counting), -EMSGSIZE);
	assert_int_equal(calls.sendmsg, 0);
	assert_int_equal(s5_udp_send(&p.u, p.client, &dst, v, IOV_MAX - 1, 0,
				     &counting), 0);
	expect_relay_gets(&p, hdr_v4, sizeof(hdr_v4), 0);
	pair_close(&p);
}

static void send_passes_flags_and_targets_the_relay(void **state)
{
	struct iovec v = { payload, 5 };
	struct s5_addr dst;
	struct pair p;

	(void)state;
	fill_payload();
	pair_open(&p, AF_INET, AF_INET);
	dst_v4(&dst);
	assert_int_equal(s5_udp_send(&p.u, p.client, &dst, &v, 1,
				     MSG_DONTWAIT | MSG_NOSIGNAL, &counting),
			 5);
	assert_int_equal(calls.sendmsg, 1);
	assert_int_equal(calls.flags, MSG_DONTWAIT | MSG_NOSIGNAL);
	assert_int_equal(calls.msg.msg_iovlen, 2);
	assert_int_equal(calls.iov[0].iov_len, 10);
	assert_ptr_equal(calls.iov[1].iov_base, payload);
	assert_int_equal(calls.msg.msg_namelen, sizeof(struct sockaddr_in));
	assert_memory_equal(calls.msg.msg_name, &p.relay_sa,
			    sizeof(struct sockaddr_in));
	expect_relay_gets(&p, hdr_v4, sizeof(hdr_v4), 5);
	pair_close(&p);
}

static void send_returns_the_kernel_error_and_eio_for_a_short_send(
	void **state)
{
	struct iovec v = { payload, 5 };
	struct s5_addr dst;
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	dst_v4(&dst);
	calls.send_errno = ENOBUFS;
	assert_int_equal(s5_udp_send(&p.u, p.client, &dst, &v, 1, 0,
				     &counting), -ENOBUFS);
	calls.send_errno = 0;
	calls.send_result = 9;
	assert_int_equal(s5_udp_send(&p.u, p.client, &dst, &v, 1, 0,
				     &counting), -EIO);
	calls.send_result = 10;
	assert_int_equal(s5_udp_send(&p.u, p.client, &dst, &v, 1, 0,
				     &counting), 0);
	pair_close(&p);
}

static void send_without_a_relay_or_with_a_bad_destination_fails(
	void **state)
{
	struct iovec v = { payload, 5 };
	struct s5_addr dst;
	struct s5_udp u;

	(void)state;
	dst_v4(&dst);
	s5_udp_init(&u, AF_INET);
	assert_int_equal(s5_udp_send(&u, -1, &dst, &v, 1, 0, &counting),
			 -ENOTCONN);
	u.relay_len = sizeof(struct sockaddr_in);
	dst.atyp = S5_ATYP_DOMAIN;
	dst.u.dom.name_len = 0;
	assert_int_equal(s5_udp_send(&u, -1, &dst, &v, 1, 0, &counting),
			 -EINVAL);
	assert_int_equal(calls.sendmsg, 0);
}

/* ---- recv: headers and guesses ---- */

static void recv_takes_an_ipv4_header_off_when_the_guess_is_right(
	void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	one_datagram(&p, H_V4, H_V4, 100, one, 0, 1500, 0);
	pair_close(&p);
}

static void recv_takes_an_ipv6_header_off_when_the_guess_is_too_small(
	void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	one_datagram(&p, H_V6, H_V4, 100, one, 0, 1500, 0);
	one_datagram(&p, H_V6, H_V6, 100, one, 0, 1500, 0);
	pair_close(&p);
}

static void recv_takes_an_ipv4_header_off_when_the_guess_is_too_large(
	void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	one_datagram(&p, H_V4, H_V6, 100, one, 0, 1500, 0);
	one_datagram(&p, H_V4, H_MAX, 300, one, 0, 1500, 0);
	pair_close(&p);
}

static void recv_takes_domain_headers_off_for_every_guess(void **state)
{
	static const size_t hs[] = { 8, 9, 18, 100, H_MAX };
	static const size_t gs[] = { 8, 10, 22, 100, H_MAX };
	struct pair p;
	size_t i, j;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	for (i = 0; i < 5; i++)
		for (j = 0; j < 5; j++)
			one_datagram(&p, hs[i], gs[j], 400, one, 0, 1000, 0);
	pair_close(&p);
}

static void recv_remembers_the_header_length_for_the_next_datagram(
	void **state)
{
	struct s5_udp_dgram d;
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	assert_int_equal(p.u.hdr_guess, 10);
	relay_send(&p, H_V6, 50);
	bufs_make(&bufs, 100, one, 0);
	assert_int_equal(urecv(&p, &bufs, 0, &d), 50);
	assert_int_equal(p.u.hdr_guess, H_V6);
	bufs_free(&bufs);
	pair_close(&p);
}

static void recv_moves_the_payload_across_many_small_iovecs(void **state)
{
	static const size_t hs[] = { 8, H_V4, H_V6, 77, H_MAX };
	static const size_t gs[] = { 8, H_V4, H_V6, H_MAX };
	static const size_t plens[] = { 0, 1, 9, 150, 1000 };
	struct pair p;
	size_t i, j, k;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	for (i = 0; i < 5; i++)
		for (j = 0; j < 4; j++)
			for (k = 0; k < 5; k++)
				one_datagram(&p, hs[i], gs[j], plens[k], odd,
					     10, 1200, 0);
	pair_close(&p);
}

static void recv_with_more_iovecs_than_the_stack_holds_works(void **state)
{
	static const size_t ones[] = { 1, 2 };
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	one_datagram(&p, H_V6, H_V4, 250, ones, 2, 300, 0);
	one_datagram(&p, H_V4, H_V6, 250, ones, 2, 300, 0);
	pair_close(&p);
}

/* ---- recv: small buffers ---- */

static void recv_into_a_small_buffer_sets_msg_trunc(void **state)
{
	static const size_t gs[] = { 8, H_V4, H_V6, H_MAX };
	struct pair p;
	size_t j;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	for (j = 0; j < 4; j++) {
		one_datagram(&p, H_V4, gs[j], 1000, one, 0, 600, 0);
		one_datagram(&p, H_V6, gs[j], 1000, odd, 10, 600, 0);
		one_datagram(&p, 200, gs[j], 1000, odd, 10, 3, 0);
	}
	pair_close(&p);
}

static void recv_with_msg_trunc_returns_the_whole_payload_length(
	void **state)
{
	static const size_t gs[] = { 8, H_V4, H_V6, H_MAX };
	struct pair p;
	size_t j;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	for (j = 0; j < 4; j++) {
		one_datagram(&p, H_V4, gs[j], 1000, one, 0, 600, MSG_TRUNC);
		one_datagram(&p, H_V6, gs[j], 1000, odd, 10, 7, MSG_TRUNC);
		one_datagram(&p, H_V4, gs[j], 100, odd, 10, 600, MSG_TRUNC);
	}
	pair_close(&p);
}

static void recv_loses_nothing_when_a_longer_header_meets_a_full_buffer(
	void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	/* 12 more header bytes than guessed, and a buffer exactly as long
	 * as the payload: the payload's end lands behind the buffer. */
	one_datagram(&p, H_V6, H_V4, 512, one, 0, 512, 0);
	one_datagram(&p, H_MAX, 8, 512, odd, 10, 512, 0);
	one_datagram(&p, H_MAX, 8, 5, one, 0, 5, 0);
	pair_close(&p);
}

static void recv_parses_the_longest_header_into_no_buffer_at_all(
	void **state)
{
	struct s5_udp_dgram d;
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	relay_send(&p, H_MAX, 30);
	memset(&d, 0, sizeof(d));
	assert_int_equal(s5_udp_recv(&p.u, p.client, NULL, 0, NULL, 0, NULL,
				     MSG_TRUNC, &d, &s5_udp_io_libc), 30);
	assert_int_equal(d.from, S5_UDP_FROM_RELAY);
	assert_int_equal(d.msg_flags & MSG_TRUNC, MSG_TRUNC);
	check_source(&d.src, H_MAX);
	pair_close(&p);
}

/* ---- recv: peek ---- */

static void recv_with_msg_peek_leaves_the_datagram_for_the_next_recv(
	void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	one_datagram(&p, H_V4, H_V4, 300, one, 0, 1000, MSG_PEEK);
	one_datagram(&p, H_V6, H_V4, 300, odd, 10, 1000, MSG_PEEK);
	one_datagram(&p, H_V4, H_V6, 300, odd, 10, 100, MSG_PEEK);
	one_datagram(&p, 50, H_V6, 300, odd, 10, 100,
		     MSG_PEEK | MSG_TRUNC);
	pair_close(&p);
}

/* ---- recv: invalid headers ---- */

struct bad {
	const char *why;
	uint8_t bytes[32];
	size_t len;
};

static const struct bad bads[] = {
	{ "rsv", { 0, 1, 0, 1, 1, 2, 3, 4, 0, 53, 'x' }, 11 },
	{ "rsv high", { 0x80, 0, 0, 1, 1, 2, 3, 4, 0, 53, 'x' }, 11 },
	{ "frag", { 0, 0, 1, 1, 1, 2, 3, 4, 0, 53, 'x' }, 11 },
	{ "atyp 0", { 0, 0, 0, 0, 1, 2, 3, 4, 0, 53, 'x' }, 11 },
	{ "atyp 2", { 0, 0, 0, 2, 1, 2, 3, 4, 0, 53, 'x' }, 11 },
	{ "atyp 5", { 0, 0, 0, 5, 1, 2, 3, 4, 0, 53, 'x' }, 11 },
	{ "empty", { 0 }, 0 },
	{ "three bytes", { 0, 0, 0 }, 3 },
	{ "ipv4 cut", { 0, 0, 0, 1, 1, 2, 3, 4, 0 }, 9 },
	{ "ipv6 cut", { 0, 0, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
			13, 14, 15, 16, 0 }, 21 },
	{ "name past the end", { 0, 0, 0, 3, 50, 'a', 'b', 0, 53 }, 9 },
	{ "empty name", { 0, 0, 0, 3, 0, 0, 53, 'x' }, 8 },
};

static void bad_then_good(struct pair *p, const struct bad *b, size_t g,
			  int flags, size_t cap)
{
	struct s5_udp_dgram d;
	ssize_t r;

	p->u.hdr_guess = (uint16_t)g;
	relay_send_raw(p, b->bytes, b->len);
	relay_send(p, H_V4, 20);
	bufs_make(&bufs, cap, odd, 10);
	r = urecv(p, &bufs, flags | MSG_DONTWAIT, &d);
	if (r != -EBADMSG)
		fail_msg("%s: %zd", b->why, r);
	assert_int_equal(p->u.hdr_guess, g); /* not learnt from garbage */
	/* Consumed: the next datagram is the good one. */
	assert_int_equal(urecv(p, &bufs, MSG_DONTWAIT, &d),
			 cap < 20 ? cap : 20);
	bufs_check(&bufs, cap < 20 ? cap : 20);
	bufs_free(&bufs);
}

static void recv_rejects_and_consumes_invalid_headers(void **state)
{
	static const size_t gs[] = { 8, H_V4, H_V6, H_MAX };
	struct pair p;
	size_t i, j;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		for (j = 0; j < 4; j++) {
			bad_then_good(&p, &bads[i], gs[j], 0, 100);
			bad_then_good(&p, &bads[i], gs[j], 0, 0);
		}
	pair_close(&p);
}

static void recv_rejects_and_consumes_invalid_headers_also_with_msg_peek(
	void **state)
{
	static const size_t gs[] = { 8, H_V4, H_V6, H_MAX };
	struct pair p;
	size_t i, j;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		for (j = 0; j < 4; j++) {
			bad_then_good(&p, &bads[i], gs[j], MSG_PEEK, 100);
			bad_then_good(&p, &bads[i], gs[j],
				      MSG_PEEK | MSG_TRUNC, 5);
		}
	pair_close(&p);
}

/* ---- recv: other sources ---- */

static void stranger_sends(struct pair *p, int s, size_t plen)
{
	size_t i;

	for (i = 0; i < plen; i++)
		big[i] = pattern(i);
	assert_int_equal(sendto(s, big, plen, 0,
				(struct sockaddr *)&p->client_sa,
				p->client_len), (ssize_t)plen);
}

static void from_stranger(struct pair *p, int s, uint16_t port, size_t g,
			  size_t plen, size_t cap, int flags)
{
	struct s5_udp_dgram d;
	size_t n = plen < cap ? plen : cap;

	p->u.hdr_guess = (uint16_t)g;
	stranger_sends(p, s, plen);
	bufs_random(&bufs, cap);
	assert_int_equal(urecv(p, &bufs, flags, &d),
			 (flags & MSG_TRUNC) ? plen : n);
	assert_int_equal(d.from, S5_UDP_FROM_OTHER);
	assert_int_equal(port_of(&d.src_raw), port);
	assert_int_equal(d.src_raw.ss_family, p->u.family);
	assert_int_equal(d.msg_flags & MSG_TRUNC, plen > cap ? MSG_TRUNC : 0);
	assert_int_equal(p->u.hdr_guess, g);
	bufs_check(&bufs, n);
	bufs_free(&bufs);
}

static void recv_delivers_a_datagram_from_another_source_intact(
	void **state)
{
	static const size_t gs[] = { 8, H_V4, H_V6, H_MAX };
	static const size_t plens[] = { 0, 1, 10, 22, 300, 2000 };
	struct sockaddr_storage ss;
	struct pair p;
	socklen_t len;
	size_t j, k;
	int s;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	s = udp_socket(AF_INET, false, &ss, &len);
	for (j = 0; j < 4; j++)
		for (k = 0; k < 6; k++) {
			from_stranger(&p, s, port_of(&ss), gs[j], plens[k],
				      1500, 0);
			from_stranger(&p, s, port_of(&ss), gs[j], plens[k],
				      7, 0);
			from_stranger(&p, s, port_of(&ss), gs[j], plens[k],
				      7, MSG_TRUNC);
		}
	close(s);
	pair_close(&p);
}

static void recv_treats_the_relay_address_on_another_port_as_a_stranger(
	void **state)
{
	struct sockaddr_storage ss;
	struct pair p;
	socklen_t len;
	int s;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	s = udp_socket(AF_INET, false, &ss, &len); /* 127.0.0.1 too */
	from_stranger(&p, s, port_of(&ss), H_V4, 64, 100, 0);
	close(s);
	pair_close(&p);
}

/* ---- recv: families ---- */

static void recv_on_an_ipv6_socket_knows_an_ipv4_mapped_relay(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 sin6;
	struct pair p;
	socklen_t len;
	int s;

	(void)state;
	pair_open(&p, AF_INET, AF_INET6);
	memcpy(&sin6, &p.u.relay, sizeof(sin6));
	assert_int_equal(p.u.relay_len, sizeof(sin6));
	assert_true(IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr));
	one_datagram(&p, H_V4, H_V4, 100, odd, 10, 200, 0);
	one_datagram(&p, H_V6, H_V4, 100, odd, 10, 200, MSG_PEEK);
	s = udp_socket(AF_INET, false, &ss, &len);
	from_stranger(&p, s, port_of(&ss), H_V4, 64, 100, 0);
	close(s);
	pair_close(&p);
}

static void recv_on_an_ipv6_socket_knows_an_ipv6_relay(void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET6, AF_INET6);
	one_datagram(&p, H_V6, H_V6, 100, one, 0, 200, 0);
	one_datagram(&p, H_V4, H_V6, 100, odd, 10, 200, 0);
	pair_close(&p);
}

/* ---- recv: sizes ---- */

static void recv_handles_a_65000_byte_datagram(void **state)
{
	static const size_t bigs[] = { 4096, 20000, 1 };
	int sz = 1 << 20;
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	setsockopt(p.client, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	one_datagram(&p, H_V4, H_V4, 65000, one, 0, 65000, 0);
	one_datagram(&p, H_V6, H_V4, 65000, bigs, 3, 65000, 0);
	one_datagram(&p, H_V4, H_V6, 65000, bigs, 3, 65000, 0);
	one_datagram(&p, H_V4, H_V6, 65000, bigs, 3, 60000, MSG_TRUNC);
	pair_close(&p);
}

static void recv_handles_a_zero_length_payload(void **state)
{
	static const size_t gs[] = { 8, H_V4, H_V6, H_MAX };
	struct pair p;
	size_t j;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	for (j = 0; j < 4; j++) {
		one_datagram(&p, H_V4, gs[j], 0, one, 0, 100, 0);
		one_datagram(&p, H_V6, gs[j], 0, odd, 10, 0, MSG_TRUNC);
	}
	pair_close(&p);
}

/* Random layouts, lengths, guesses and flags against what recvmsg would
 * have done for the payload alone. */
static void recv_matches_plain_recvmsg_for_random_layouts(void **state)
{
	static const size_t hs[] = { 8, H_V4, H_V6, 33, H_MAX };
	static const int fl[] = { 0, MSG_TRUNC, MSG_PEEK,
				  MSG_PEEK | MSG_TRUNC };
	struct s5_udp_dgram d;
	struct pair p;
	size_t i, h, g, plen, cap, n;
	int flags;
	ssize_t r;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	for (i = 0; i < 3000; i++) {
		h = hs[rnd_below(5)];
		g = rnd_below(3) ? hs[rnd_below(5)] : 8 + rnd_below(255);
		plen = rnd_below(4) ? rnd_below(300) : rnd_below(3000);
		cap = rnd_below(3) ? plen + rnd_below(30) - 15 : rnd_below(600);
		if (cap > 100000)
			cap = 0;
		flags = fl[rnd_below(4)];
		n = plen < cap ? plen : cap;
		p.u.hdr_guess = (uint16_t)g;
		relay_send(&p, h, plen);
		bufs_random(&bufs, cap);
		r = urecv(&p, &bufs, flags, &d);
		assert_int_equal(r, (flags & MSG_TRUNC) ? plen : n);
		check_source(&d.src, h);
		assert_int_equal(d.msg_flags & MSG_TRUNC,
				 plen > cap ? MSG_TRUNC : 0);
		bufs_check(&bufs, n);
		bufs_free(&bufs);
		if (flags & MSG_PEEK)
			(void)s5_udp_discard(p.client, &s5_udp_io_libc);
	}
	pair_close(&p);
}

/* ---- recv: control data and errors ---- */

static void recv_passes_control_messages_through(void **state)
{
	union {
		struct cmsghdr align;
		uint8_t b[256];
	} ctl;
	struct s5_udp_dgram d;
	struct cmsghdr *c;
	struct pair p;
	size_t clen = 12345;
	int on = 1;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	assert_int_equal(setsockopt(p.client, IPPROTO_IP, IP_PKTINFO, &on,
				    sizeof(on)), 0);
	relay_send(&p, H_V4, 10);
	bufs_make(&bufs, 100, one, 0);
	assert_int_equal(s5_udp_recv(&p.u, p.client, bufs.v, bufs.n, &ctl,
				     sizeof(ctl), &clen, 0, &d,
				     &s5_udp_io_libc), 10);
	assert_true(clen >= CMSG_LEN(sizeof(struct in_pktinfo)));
	c = &ctl.align;
	assert_int_equal(c->cmsg_level, IPPROTO_IP);
	assert_int_equal(c->cmsg_type, IP_PKTINFO);
	assert_int_equal(d.msg_flags & MSG_CTRUNC, 0);
	/* A control buffer too small for it: MSG_CTRUNC, as recvmsg says. */
	relay_send(&p, H_V4, 10);
	assert_int_equal(s5_udp_recv(&p.u, p.client, bufs.v, bufs.n, &ctl, 4,
				     &clen, 0, &d, &s5_udp_io_libc), 10);
	assert_int_equal(d.msg_flags & MSG_CTRUNC, MSG_CTRUNC);
	bufs_check(&bufs, 10);
	bufs_free(&bufs);
	pair_close(&p);
}

static void recv_returns_kernel_errors(void **state)
{
	struct s5_udp_dgram d;
	struct pair p;
	size_t clen = 99;
	uint8_t b[10];
	struct iovec v = { b, sizeof(b) };

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	assert_int_equal(s5_udp_recv(&p.u, p.client, &v, 1, NULL, 0, &clen,
				     MSG_DONTWAIT, &d, &s5_udp_io_libc),
			 -EAGAIN);
	assert_int_equal(clen, 0);
	assert_int_equal(s5_udp_recv(&p.u, -1, &v, 1, NULL, 0, NULL, 0, &d,
				     &s5_udp_io_libc), -EBADF);
	pair_close(&p);
}

static void recv_refuses_more_iovecs_than_iov_max_leaves_room_for(
	void **state)
{
	static struct iovec v[IOV_MAX];
	struct s5_udp_dgram d;
	struct s5_udp u;

	(void)state;
	s5_udp_init(&u, AF_INET);
	assert_int_equal(s5_udp_recv(&u, -1, v, IOV_MAX - 1, NULL, 0, NULL,
				     0, &d, &counting), -EMSGSIZE);
	assert_int_equal(calls.recvmsg, 0);
}

static void recv_refuses_buffers_longer_than_ssize_max(void **state)
{
	struct iovec v[2] = { { NULL, SSIZE_MAX }, { NULL, 1 } };
	struct s5_udp_dgram d;
	struct s5_udp u;

	(void)state;
	s5_udp_init(&u, AF_INET);
	assert_int_equal(s5_udp_recv(&u, -1, v, 2, NULL, 0, NULL, 0, &d,
				     &counting), -EINVAL);
	assert_int_equal(calls.recvmsg, 0);
}

static void recv_before_a_relay_is_set_sees_only_strangers(void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	s5_udp_init(&p.u, AF_INET);
	from_stranger(&p, p.relay, port_of(&p.relay_sa), H_V4, 64, 100, 0);
	pair_close(&p);
}

/* ---- one system call ---- */

static void the_common_path_makes_one_sendmsg_and_one_recvmsg_call(
	void **state)
{
	uint8_t out[100], in[200];
	struct iovec vo = { out, sizeof(out) }, vi = { in, sizeof(in) };
	struct s5_udp_dgram d;
	struct s5_addr dst;
	struct pair p;
	size_t i;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	dst_v4(&dst);
	for (i = 0; i < sizeof(out); i++)
		out[i] = pattern(i);
	assert_int_equal(s5_udp_send(&p.u, p.client, &dst, &vo, 1, 0,
				     &counting), 100);
	assert_int_equal(calls.sendmsg, 1);
	assert_int_equal(calls.recvmsg + calls.recv, 0);

	relay_send(&p, H_V4, 100);
	assert_int_equal(s5_udp_recv(&p.u, p.client, &vi, 1, NULL, 0, NULL, 0,
				     &d, &counting), 100);
	assert_int_equal(calls.recvmsg, 1);
	assert_int_equal(calls.sendmsg, 1);
	assert_int_equal(calls.recv, 0);
	/* The kernel wrote the payload straight into the program's buffer. */
	assert_int_equal(calls.iov[0].iov_len, H_V4);
	assert_ptr_equal(calls.iov[1].iov_base, in);
	assert_memory_equal(in, out, 100);
	pair_close(&p);
}

/* ---- the relay address ---- */

static struct s5_addr a4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
			 uint16_t port)
{
	struct s5_addr x;

	memset(&x, 0, sizeof(x));
	x.atyp = S5_ATYP_IPV4;
	x.u.v4[0] = a, x.u.v4[1] = b, x.u.v4[2] = c, x.u.v4[3] = d;
	x.port = port;
	return x;
}

static struct s5_addr a6(const char *text, uint16_t port)
{
	struct s5_addr x;

	memset(&x, 0, sizeof(x));
	x.atyp = S5_ATYP_IPV6;
	assert_int_equal(inet_pton(AF_INET6, text, x.u.v6), 1);
	x.port = port;
	return x;
}

static socklen_t sa4(struct sockaddr_storage *ss, const char *ip,
		     uint16_t port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin, sizeof(sin));
	return sizeof(sin);
}

static socklen_t sa6(struct sockaddr_storage *ss, const char *ip,
		     uint16_t port)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin6, sizeof(sin6));
	return sizeof(sin6);
}

static void relay_is(const struct s5_udp *u, int family, const char *ip,
		     uint16_t port)
{
	struct sockaddr_storage want;
	socklen_t len;

	len = family == AF_INET ? sa4(&want, ip, port) : sa6(&want, ip, port);
	assert_int_equal(u->relay_len, len);
	assert_memory_equal(&u->relay, &want, len);
}

static int set(struct s5_udp *u, int family, struct s5_addr bound,
	       const struct sockaddr_storage *proxy, socklen_t plen,
	       bool v6only)
{
	s5_udp_init(u, family);
	return s5_udp_set_relay(u, &bound, (const struct sockaddr *)proxy,
				plen, v6only);
}

static void set_relay_takes_the_address_the_proxy_named(void **state)
{
	struct sockaddr_storage px;
	socklen_t pl = sa4(&px, "192.0.2.1", 1080);
	struct s5_udp u;

	(void)state;
	assert_int_equal(set(&u, AF_INET, a4(198, 51, 100, 7, 40000), &px, pl,
			     false), 0);
	relay_is(&u, AF_INET, "198.51.100.7", 40000);
	assert_int_equal(set(&u, AF_INET6, a6("2001:db8::9", 41000), &px, pl,
			     true), 0);
	relay_is(&u, AF_INET6, "2001:db8::9", 41000);
}

static void set_relay_uses_the_proxy_address_for_an_all_zero_one(
	void **state)
{
	struct sockaddr_storage px4, px6;
	socklen_t l4 = sa4(&px4, "192.0.2.1", 1080);
	socklen_t l6 = sa6(&px6, "2001:db8::5", 1080);
	struct s5_udp u;

	(void)state;
	assert_int_equal(set(&u, AF_INET, a4(0, 0, 0, 0, 5000), &px4, l4,
			     false), 0);
	relay_is(&u, AF_INET, "192.0.2.1", 5000);
	assert_int_equal(set(&u, AF_INET6, a6("::", 5001), &px6, l6, true),
			 0);
	relay_is(&u, AF_INET6, "2001:db8::5", 5001);
	assert_int_equal(set(&u, AF_INET6, a4(0, 0, 0, 0, 5002), &px4, l4,
			     false), 0);
	relay_is(&u, AF_INET6, "::ffff:192.0.2.1", 5002);
	assert_int_equal(set(&u, AF_INET, a6("::ffff:0.0.0.0", 5003), &px4,
			     l4, false), 0);
	relay_is(&u, AF_INET, "192.0.2.1", 5003);
	/* An IPv6 socket that reached an IPv4 proxy as ::ffff:a.b.c.d. */
	l6 = sa6(&px6, "::ffff:192.0.2.1", 1080);
	assert_int_equal(set(&u, AF_INET, a4(0, 0, 0, 0, 5004), &px6, l6,
			     false), 0);
	relay_is(&u, AF_INET, "192.0.2.1", 5004);
	/* No proxy address to fall back on. */
	assert_int_equal(set(&u, AF_INET, a4(0, 0, 0, 0, 5005), NULL, 0,
			     false), -EINVAL);
}

static void set_relay_maps_an_ipv4_relay_for_an_ipv6_socket(void **state)
{
	struct s5_udp u;

	(void)state;
	assert_int_equal(set(&u, AF_INET6, a4(198, 51, 100, 7, 40000), NULL, 0,
			     false), 0);
	relay_is(&u, AF_INET6, "::ffff:198.51.100.7", 40000);
	assert_int_equal(set(&u, AF_INET, a6("::ffff:198.51.100.7", 40001),
			     NULL, 0, false), 0);
	relay_is(&u, AF_INET, "198.51.100.7", 40001);
}

static void set_relay_rejects_an_ipv4_relay_on_a_v6only_socket(void **state)
{
	struct sockaddr_storage px;
	socklen_t pl = sa4(&px, "192.0.2.1", 1080);
	struct s5_udp u;

	(void)state;
	assert_int_equal(set(&u, AF_INET6, a4(198, 51, 100, 7, 1), NULL, 0,
			     true), -EAFNOSUPPORT);
	assert_int_equal(set(&u, AF_INET6, a6("::ffff:198.51.100.7", 1), NULL,
			     0, true), -EAFNOSUPPORT);
	assert_int_equal(set(&u, AF_INET6, a4(0, 0, 0, 0, 1), &px, pl, true),
			 -EAFNOSUPPORT);
	assert_int_equal(u.relay_len, 0);
}

static void set_relay_rejects_an_ipv6_relay_on_an_ipv4_socket(void **state)
{
	struct sockaddr_storage px;
	socklen_t pl = sa6(&px, "2001:db8::5", 1080);
	struct s5_udp u;

	(void)state;
	assert_int_equal(set(&u, AF_INET, a6("2001:db8::9", 1), NULL, 0,
			     false), -EAFNOSUPPORT);
	assert_int_equal(set(&u, AF_INET, a6("::", 1), &px, pl, false),
			 -EAFNOSUPPORT);
}

static void set_relay_rejects_a_name_and_port_zero_and_keeps_the_old_one(
	void **state)
{
	struct s5_addr name;
	struct s5_udp u;

	(void)state;
	assert_int_equal(set(&u, AF_INET, a4(198, 51, 100, 7, 40000), NULL, 0,
			     false), 0);
	assert_int_equal(s5_addr_from_name(&name, "relay.example", 13, 9),
			 0);
	assert_int_equal(s5_udp_set_relay(&u, &name, NULL, 0, false),
			 -EPROTO);
	name = a4(198, 51, 100, 8, 0);
	assert_int_equal(s5_udp_set_relay(&u, &name, NULL, 0, false),
			 -EPROTO);
	name.atyp = 7;
	name.port = 1;
	assert_int_equal(s5_udp_set_relay(&u, &name, NULL, 0, false),
			 -EPROTO);
	relay_is(&u, AF_INET, "198.51.100.7", 40000);
}

/* ---- the control connection ---- */

static void init_has_no_relay(void **state)
{
	struct s5_udp u;

	(void)state;
	memset(&u, 0x5a, sizeof(u));
	s5_udp_init(&u, AF_INET6);
	assert_int_equal(u.family, AF_INET6);
	assert_int_equal(u.relay_len, 0);
	assert_int_equal(u.hdr_guess, 10);
}

static void ctl_open_is_true_while_the_connection_is_open(void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	errno = 4242;
	assert_true(s5_udp_ctl_open(sv[0], &counting));
	assert_int_equal(errno, 4242);
	assert_int_equal(calls.recv, 1);
	assert_int_equal(calls.flags, MSG_PEEK | MSG_DONTWAIT);
	close(sv[0]);
	close(sv[1]);
}

static void ctl_open_is_false_after_the_peer_closes_and_closes_nothing(
	void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	errno = 4242;
	assert_false(s5_udp_ctl_open(sv[0], &counting));
	assert_int_equal(errno, 4242);
	/* The caller owns the descriptor: still open. */
	assert_true(fcntl(sv[0], F_GETFD) >= 0);
	close(sv[0]);
}

static void ctl_open_is_false_after_a_reset(void **state)
{
	struct sockaddr_storage ss;
	struct linger lg = { 1, 0 };
	socklen_t len;
	int l, c, a;

	(void)state;
	l = socket(AF_INET, SOCK_STREAM, 0);
	len = sa4(&ss, "127.0.0.1", 0);
	assert_int_equal(bind(l, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(l, 1), 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(l, (struct sockaddr *)&ss, &len), 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&ss, len), 0);
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_true(s5_udp_ctl_open(c, &counting));
	/* SO_LINGER 0: close sends RST instead of FIN. */
	assert_int_equal(setsockopt(a, SOL_SOCKET, SO_LINGER, &lg,
				    sizeof(lg)), 0);
	close(a);
	assert_false(s5_udp_ctl_open(c, &counting));
	close(c);
	close(l);
}

static void ctl_open_reads_stray_bytes_and_still_sees_the_close(void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "stray", 5), 5);
	close(sv[1]);
	assert_true(s5_udp_ctl_open(sv[0], &counting));
	assert_false(s5_udp_ctl_open(sv[0], &counting));
	close(sv[0]);
}

static void ctl_open_is_false_for_a_descriptor_that_is_not_a_socket(
	void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_false(s5_udp_ctl_open(p[0], &counting));
	assert_false(s5_udp_ctl_open(-1, &counting));
	close(p[0]);
	close(p[1]);
}

static void discard_consumes_exactly_one_datagram(void **state)
{
	struct s5_udp_dgram d;
	struct pair p;

	(void)state;
	pair_open(&p, AF_INET, AF_INET);
	relay_send(&p, H_V4, 5000);
	relay_send(&p, H_V4, 20);
	assert_int_equal(s5_udp_discard(p.client, &counting), 0);
	assert_int_equal(calls.recv, 1);
	bufs_make(&bufs, 100, one, 0);
	assert_int_equal(urecv(&p, &bufs, MSG_DONTWAIT, &d), 20);
	bufs_check(&bufs, 20);
	bufs_free(&bufs);
	assert_int_equal(s5_udp_discard(p.client, &counting), -EAGAIN);
	pair_close(&p);
}

/* ---- the iovec helpers ---- */

static void iov_move_matches_memmove_on_a_flat_copy(void **state)
{
	static uint8_t flat[600], want[600];
	size_t i, k, cap, dst, src, n;

	(void)state;
	for (i = 0; i < 3000; i++) {
		cap = 1 + rnd_below(500);
		bufs_random(&bufs, cap);
		for (k = 0; k < cap; k++)
			flat[k] = (uint8_t)rnd();
		assert_int_equal(s5_iov_copy_in(bufs.v, bufs.n, 0, flat, cap),
				 cap);
		assert_int_equal(s5_iov_total(bufs.v, bufs.n), cap);
		src = rnd_below(cap + 1);
		dst = rnd_below(cap + 1);
		n = rnd_below(cap - (src > dst ? src : dst) + 1);
		memcpy(want, flat, cap);
		memmove(want + dst, want + src, n);
		s5_iov_move(bufs.v, bufs.n, dst, src, n);
		assert_int_equal(s5_iov_copy_out(bufs.v, bufs.n, 0, flat,
						 cap + 10), cap);
		assert_memory_equal(flat, want, cap);
		bufs_free(&bufs);
	}
}

static void iov_copies_stop_at_the_end_of_the_buffers(void **state)
{
	static const size_t sz[] = { 2, 0, 3 };
	uint8_t in[10] = "abcdefghi", out[10];
	struct iovec huge[2] = { { NULL, SIZE_MAX }, { NULL, 2 } };

	(void)state;
	bufs_make(&bufs, 5, sz, 3);
	assert_int_equal(s5_iov_copy_in(bufs.v, bufs.n, 3, in, 9), 2);
	assert_int_equal(s5_iov_copy_out(bufs.v, bufs.n, 3, out, 9), 2);
	assert_memory_equal(out, "ab", 2);
	assert_int_equal(s5_iov_copy_out(bufs.v, bufs.n, 7, out, 9), 0);
	bufs_free(&bufs);
	assert_int_equal(s5_iov_total(huge, 2), SIZE_MAX);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup(name, reset_calls)
	const struct CMUnitTest tests[] = {
		T(send_puts_an_ipv4_header_before_the_payload),
		T(send_puts_an_ipv6_header_before_the_payload),
		T(send_puts_a_domain_header_before_the_payload),
		T(send_gathers_scattered_iovecs_and_leaves_them_unchanged),
		T(send_reports_a_zero_length_payload),
		T(send_carries_a_65000_byte_datagram),
		T(send_refuses_more_iovecs_than_iov_max_leaves_room_for),
		T(send_passes_flags_and_targets_the_relay),
		T(send_returns_the_kernel_error_and_eio_for_a_short_send),
		T(send_without_a_relay_or_with_a_bad_destination_fails),
		T(recv_takes_an_ipv4_header_off_when_the_guess_is_right),
		T(recv_takes_an_ipv6_header_off_when_the_guess_is_too_small),
		T(recv_takes_an_ipv4_header_off_when_the_guess_is_too_large),
		T(recv_takes_domain_headers_off_for_every_guess),
		T(recv_remembers_the_header_length_for_the_next_datagram),
		T(recv_moves_the_payload_across_many_small_iovecs),
		T(recv_with_more_iovecs_than_the_stack_holds_works),
		T(recv_into_a_small_buffer_sets_msg_trunc),
		T(recv_with_msg_trunc_returns_the_whole_payload_length),
		T(recv_loses_nothing_when_a_longer_header_meets_a_full_buffer),
		T(recv_parses_the_longest_header_into_no_buffer_at_all),
		T(recv_with_msg_peek_leaves_the_datagram_for_the_next_recv),
		T(recv_rejects_and_consumes_invalid_headers),
		T(recv_rejects_and_consumes_invalid_headers_also_with_msg_peek),
		T(recv_delivers_a_datagram_from_another_source_intact),
		T(recv_treats_the_relay_address_on_another_port_as_a_stranger),
		T(recv_on_an_ipv6_socket_knows_an_ipv4_mapped_relay),
		T(recv_on_an_ipv6_socket_knows_an_ipv6_relay),
		T(recv_handles_a_65000_byte_datagram),
		T(recv_handles_a_zero_length_payload),
		T(recv_matches_plain_recvmsg_for_random_layouts),
		T(recv_passes_control_messages_through),
		T(recv_returns_kernel_errors),
		T(recv_refuses_more_iovecs_than_iov_max_leaves_room_for),
		T(recv_refuses_buffers_longer_than_ssize_max),
		T(recv_before_a_relay_is_set_sees_only_strangers),
		T(the_common_path_makes_one_sendmsg_and_one_recvmsg_call),
		T(set_relay_takes_the_address_the_proxy_named),
		T(set_relay_uses_the_proxy_address_for_an_all_zero_one),
		T(set_relay_maps_an_ipv4_relay_for_an_ipv6_socket),
		T(set_relay_rejects_an_ipv4_relay_on_a_v6only_socket),
		T(set_relay_rejects_an_ipv6_relay_on_an_ipv4_socket),
		T(set_relay_rejects_a_name_and_port_zero_and_keeps_the_old_one),
		T(init_has_no_relay),
		T(ctl_open_is_true_while_the_connection_is_open),
		T(ctl_open_is_false_after_the_peer_closes_and_closes_nothing),
		T(ctl_open_is_false_after_a_reset),
		T(ctl_open_reads_stray_bytes_and_still_sees_the_close),
		T(ctl_open_is_false_for_a_descriptor_that_is_not_a_socket),
		T(discard_consumes_exactly_one_datagram),
		T(iov_move_matches_memmove_on_a_flat_copy),
		T(iov_copies_stop_at_the_end_of_the_buffers),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
