/* links: supervise/route supervise/dnssrv */
/* The supervisor's routing (src/supervise/route.c) and its DNS responder
 * (src/supervise/dnssrv.c), on a real pool and real loopback sockets:
 * queries go to the responder's socket, s5s_dns_serve answers them, and
 * the replies are read back. The name servers are set by the test, not
 * read from this machine's resolv.conf. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "s5_dns.h"
#include "s5_dnsmsg.h"
#include "supervise/sup.h"

static struct s5_config cfg;
static struct sup sv;

static const char *env(const char *name, void *ctx)
{
	(void)ctx;
	if (strcmp(name, "SOCKS5_PROXY") == 0)
		return "192.0.2.1:1080";
	if (strcmp(name, "SOCKS5WRAP_NO_PROXY") == 0)
		return "127.0.0.0/8,::1,10.0.0.0/8,.corp.test";
	return NULL;
}

static struct sockaddr_in sin4(const char *ip, uint16_t port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s.sin_addr), 1);
	return s;
}

/* The name server the program's resolv.conf would name, here: one of
 * the documentation addresses (nothing is ever sent there). */
static void set_ns(const char *ip)
{
	struct sockaddr_in ns = sin4(ip, 53);

	sv.dns.n_ns = 1;
	assert_int_equal(s5_addr_from_sockaddr(&sv.dns.ns[0],
					       (struct sockaddr *)&ns,
					       sizeof(ns)),
			 0);
}

static int setup(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(s5_config_load(&cfg, env, NULL), 0);
	assert_true(cfg.usable);
	memset(&sv, 0, sizeof(sv));
	sv.cfg = &cfg;
	sv.dns.fd4 = sv.dns.fd6 = -1;
	for (i = 0; i < S5S_FWD_MAX; i++)
		sv.dns.fwd[i].fd = -1;
	assert_int_equal(s5_pool_create(&sv.pool, &cfg.fake4, &cfg.fake6, 64,
					60),
			 0);
	assert_int_equal(s5s_dns_init(&sv), 0);
	assert_true(sv.dns.fd4 >= 0);
	set_ns("198.51.100.53");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	s5s_dns_free(&sv.dns);
	s5_pool_destroy(sv.pool);
	s5_config_free(&cfg);
	return 0;
}

static int route4(int type, const char *ip, uint16_t port,
		  struct s5_addr *target)
{
	struct sockaddr_in s = sin4(ip, port);

	return s5s_route(&sv, AF_INET, type, (struct sockaddr *)&s, sizeof(s),
			 target);
}

static void test_route_policy(void **state)
{
	struct s5_addr t;

	(void)state;
	assert_int_equal(route4(SOCK_STREAM, "203.0.113.7", 80, &t), S5S_PROXY);
	assert_int_equal(t.atyp, S5_ATYP_IPV4);
	assert_int_equal(t.port, 80);
	/* Exclusions, loopback, the proxy's host at any port. */
	assert_int_equal(route4(SOCK_STREAM, "127.0.0.1", 80, &t), S5S_DIRECT);
	assert_int_equal(route4(SOCK_STREAM, "10.1.2.3", 80, &t), S5S_DIRECT);
	assert_int_equal(route4(SOCK_DGRAM, "192.0.2.1", 40000, &t),
			 S5S_DIRECT);
	assert_int_equal(route4(SOCK_STREAM, "0.0.0.0", 80, &t), S5S_DIRECT);
	/* The name server: datagrams to the responder, TCP refused; its
	 * other ports are an ordinary destination. */
	assert_int_equal(route4(SOCK_DGRAM, "198.51.100.53", 53, &t), S5S_DNS);
	assert_int_equal(route4(SOCK_STREAM, "198.51.100.53", 53, &t),
			 -ECONNREFUSED);
	assert_int_equal(route4(SOCK_DGRAM, "198.51.100.53", 54, &t),
			 S5S_PROXY);
}

static void test_route_fake_addresses(void **state)
{
	uint8_t v4[4], v6[16];
	char ip[INET_ADDRSTRLEN];
	struct s5_addr t;

	(void)state;
	/* A fake address no name maps to goes nowhere. */
	assert_int_equal(route4(SOCK_STREAM, "198.18.0.200", 80, &t),
			 -EHOSTUNREACH);
	assert_int_equal(s5_pool_lookup(sv.pool, "www.test", 1, v4, v6), 0);
	inet_ntop(AF_INET, v4, ip, sizeof(ip));
	assert_int_equal(route4(SOCK_STREAM, ip, 443, &t), S5S_PROXY);
	assert_int_equal(t.atyp, S5_ATYP_DOMAIN);
	assert_string_equal(t.u.dom.name, "www.test");
	assert_int_equal(t.port, 443);
}

static void test_route_families(void **state)
{
	struct sockaddr_in s = sin4("203.0.113.7", 80);
	struct sockaddr_in6 s6;
	struct s5_addr t;

	(void)state;
	/* An IPv4 address on an IPv6 TCP socket: the kernel's EAFNOSUPPORT;
	 * on an IPv6 UDP socket it is an IPv4 destination. */
	assert_int_equal(s5s_route(&sv, AF_INET6, SOCK_STREAM,
				   (struct sockaddr *)&s, sizeof(s), &t),
			 -EAFNOSUPPORT);
	assert_int_equal(s5s_route(&sv, AF_INET6, SOCK_DGRAM,
				   (struct sockaddr *)&s, sizeof(s), &t),
			 S5S_PROXY);
	/* An IPv6 address on an IPv4 socket. */
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons(80);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &s6.sin6_addr), 1);
	assert_int_equal(s5s_route(&sv, AF_INET, SOCK_STREAM,
				   (struct sockaddr *)&s6, sizeof(s6), &t),
			 -EAFNOSUPPORT);
	/* A v4-mapped name server is the name server. */
	assert_int_equal(inet_pton(AF_INET6, "::ffff:198.51.100.53",
				   &s6.sin6_addr),
			 1);
	s6.sin6_port = htons(53);
	assert_int_equal(s5s_route(&sv, AF_INET6, SOCK_DGRAM,
				   (struct sockaddr *)&s6, sizeof(s6), &t),
			 S5S_DNS);
}

/* A query for name/type, with the given ID. */
static size_t query(uint8_t *q, uint16_t id, const char *name, uint16_t type)
{
	size_t n = 12;
	const char *p = name;

	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		q[n++] = (uint8_t)len;
		memcpy(q + n, p, len);
		n += len;
		p += len + (dot ? 1 : 0);
	}
	q[n++] = 0;
	q[n++] = (uint8_t)(type >> 8);
	q[n++] = (uint8_t)type;
	q[n++] = 0;
	q[n++] = 1; /* IN */
	return n;
}

/* Sends q from a client socket to the responder, serves, returns the
 * reply's length (reply in r). */
static ssize_t ask(int cl, const uint8_t *q, size_t qlen, uint8_t *r,
		   size_t cap)
{
	struct pollfd p = { cl, POLLIN, 0 };

	assert_int_equal(sendto(cl, q, qlen, 0, (struct sockaddr *)&sv.dns.addr4,
				sizeof(sv.dns.addr4)),
			 (ssize_t)qlen);
	s5s_dns_serve(&sv, sv.dns.fd4);
	if (poll(&p, 1, 1000) != 1)
		return -1;
	return recv(cl, r, cap, 0);
}

static int collect(void *ctx, int family, const uint8_t *addr)
{
	uint8_t *out = ctx;

	out[0] = (uint8_t)family;
	memcpy(out + 1, addr, family == AF_INET ? 4 : 16);
	return 0;
}

static int client(void)
{
	int cl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in lo = sin4("127.0.0.1", 0);

	assert_true(cl >= 0);
	assert_int_equal(bind(cl, (struct sockaddr *)&lo, sizeof(lo)), 0);
	return cl;
}

static void test_dns_answers_fake_addresses(void **state)
{
	uint8_t q[512], r[512], got[17] = { 0 }, v4[4], v6[16];
	char name[S5_NAME_MAX + 1], rev[64];
	int cl = client();
	size_t n = query(q, 0x1234, "WWW.Example.test", S5_DNS_TYPE_A);
	ssize_t rl = ask(cl, q, n, r, sizeof(r));

	(void)state;
	assert_true(rl > 12);
	assert_int_equal(r[0], 0x12);
	assert_int_equal(r[1], 0x34);
	assert_int_equal(s5_dns_rcode(r, (size_t)rl), S5_RCODE_NOERROR);
	assert_int_equal(s5_dns_reply_addrs(r, (size_t)rl, collect, got), 1);
	assert_int_equal(got[0], AF_INET);
	assert_int_equal(got[1], 198);
	assert_int_equal(got[2] & 0xfe, 18);
	/* The pool knows that address as the name, normalised. */
	assert_int_equal(s5_pool_reverse(sv.pool, AF_INET, got + 1, 2, name,
					 sizeof(name)),
			 (int)strlen("www.example.test"));
	assert_string_equal(name, "www.example.test");

	/* AAAA: the same slot in the IPv6 range. */
	n = query(q, 0x1235, "www.example.test", S5_DNS_TYPE_AAAA);
	rl = ask(cl, q, n, r, sizeof(r));
	assert_int_equal(s5_dns_reply_addrs(r, (size_t)rl, collect, got), 1);
	assert_int_equal(got[0], AF_INET6);
	assert_int_equal(s5_pool_lookup(sv.pool, "www.example.test", 3, v4, v6),
			 0);
	assert_memory_equal(got + 1, v6, 16);

	/* PTR of the fake address gives the name back. */
	snprintf(rev, sizeof(rev), "%u.%u.%u.%u.in-addr.arpa", v4[3], v4[2],
		 v4[1], v4[0]);
	n = query(q, 0x1236, rev, S5_DNS_TYPE_PTR);
	rl = ask(cl, q, n, r, sizeof(r));
	assert_true(rl > 12);
	assert_int_equal(s5_dns_rcode(r, (size_t)rl), S5_RCODE_NOERROR);
	assert_int_equal(r[7], 1); /* ANCOUNT */
	close(cl);
}

static void test_dns_refuses_the_rest(void **state)
{
	uint8_t q[512], r[512];
	int cl = client();
	size_t n;
	ssize_t rl;

	(void)state;
	/* MX, TXT: no fake answer makes sense, and none goes out. */
	n = query(q, 7, "www.test", 15);
	rl = ask(cl, q, n, r, sizeof(r));
	assert_true(rl >= 12);
	assert_int_equal(s5_dns_rcode(r, (size_t)rl), S5_RCODE_REFUSED);
	/* PTR of an address that is not a fake one. */
	n = query(q, 8, "7.113.0.203.in-addr.arpa", S5_DNS_TYPE_PTR);
	rl = ask(cl, q, n, r, sizeof(r));
	assert_int_equal(s5_dns_rcode(r, (size_t)rl), S5_RCODE_REFUSED);
	/* Garbage gets no reply at all. */
	rl = ask(cl, (const uint8_t *)"\x01\x02\x03", 3, r, sizeof(r));
	assert_int_equal(rl, -1);
	close(cl);
}

/* A name the exclusion list names is asked of the real name server (a
 * socket of the test's on loopback here), its answer relayed, and its
 * address noted as direct. */
static void test_dns_forwards_excluded_names(void **state)
{
	static const uint8_t a_rr[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60,
					0, 4, 10, 9, 8, 7 };
	uint8_t q[512], r[512], fq[512];
	struct sockaddr_in ns = sin4("127.0.0.1", 0), from;
	socklen_t len = sizeof(ns), flen = sizeof(from);
	int cl = client(), nsfd = socket(AF_INET, SOCK_DGRAM, 0);
	struct pollfd p = { cl, POLLIN, 0 };
	uint8_t ten[4] = { 10, 9, 8, 7 }, odd[4] = { 203, 0, 113, 9 };
	ssize_t fl, rl;
	size_t n, i;

	(void)state;
	assert_true(nsfd >= 0);
	assert_int_equal(bind(nsfd, (struct sockaddr *)&ns, sizeof(ns)), 0);
	assert_int_equal(getsockname(nsfd, (struct sockaddr *)&ns, &len), 0);
	memcpy(&sv.dns.fwd_to, &ns, sizeof(ns));
	sv.dns.fwd_to_len = sizeof(ns);

	n = query(q, 0x4242, "intranet.corp.test", S5_DNS_TYPE_A);
	assert_int_equal(sendto(cl, q, n, 0, (struct sockaddr *)&sv.dns.addr4,
				sizeof(sv.dns.addr4)),
			 (ssize_t)n);
	s5s_dns_serve(&sv, sv.dns.fd4);
	/* The name server got the query as the program sent it. */
	fl = recvfrom(nsfd, fq, sizeof(fq), MSG_DONTWAIT,
		      (struct sockaddr *)&from, &flen);
	assert_int_equal(fl, (ssize_t)n);
	assert_memory_equal(fq, q, n);
	/* It answers 10.9.8.7. */
	fq[2] |= 0x80;
	fq[7] = 1;
	memcpy(fq + fl, a_rr, sizeof(a_rr));
	assert_int_equal(sendto(nsfd, fq, (size_t)fl + sizeof(a_rr), 0,
				(struct sockaddr *)&from, flen),
			 fl + (ssize_t)sizeof(a_rr));
	for (i = 0; i < S5S_FWD_MAX; i++)
		if (sv.dns.fwd[i].fd >= 0) {
			struct pollfd fp = { sv.dns.fwd[i].fd, POLLIN, 0 };

			assert_int_equal(poll(&fp, 1, 1000), 1);
			s5s_dns_fwd_ready(&sv, &sv.dns.fwd[i]);
		}
	assert_int_equal(poll(&p, 1, 1000), 1);
	rl = recv(cl, r, sizeof(r), 0);
	assert_int_equal(rl, fl + (ssize_t)sizeof(a_rr));
	assert_int_equal(r[0], 0x42);
	assert_true(s5_pool_direct_has(sv.pool, AF_INET, ten));
	assert_false(s5_pool_direct_has(sv.pool, AF_INET, odd));
	for (i = 0; i < S5S_FWD_MAX; i++)
		assert_int_equal(sv.dns.fwd[i].fd, -1);
	close(nsfd);
	close(cl);
}

static void test_dns_responder_address(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 s6;
	socklen_t len;

	(void)state;
	assert_int_equal(s5s_dns_addr(&sv.dns, AF_INET, false, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_memory_equal(&ss, &sv.dns.addr4, sizeof(sv.dns.addr4));
	/* An IPv6 socket that takes IPv4 gets the mapped address. */
	assert_int_equal(s5s_dns_addr(&sv.dns, AF_INET6, false, &ss, &len), 0);
	memcpy(&s6, &ss, sizeof(s6));
	assert_int_equal(s6.sin6_family, AF_INET6);
	assert_true(IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr));
	assert_int_equal(s6.sin6_port, sv.dns.addr4.sin_port);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_policy),
		cmocka_unit_test(test_route_fake_addresses),
		cmocka_unit_test(test_route_families),
		cmocka_unit_test(test_dns_answers_fake_addresses),
		cmocka_unit_test(test_dns_refuses_the_rest),
		cmocka_unit_test(test_dns_forwards_excluded_names),
		cmocka_unit_test(test_dns_responder_address),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
