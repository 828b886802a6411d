/* links: route */
/* Unit tests for src/preload/route.c: how the kernel will read a
 * destination (s5_dst_read) and where a destination goes
 * (s5_route_dst). The name pool and the configuration are stand-ins
 * defined here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "preload/conf.h"
#include "preload/hook.h"
#include "preload/names.h"
#include "preload/real.h"
#include "preload/route.h"

struct s5_real real;
struct s5_config s5_cfg;

/* The pool, reduced to one known fake address per family and one
 * address an excluded name resolved to. */
static const uint8_t fake4[4] = { 198, 18, 0, 5 };
static const uint8_t direct4[4] = { 192, 0, 2, 99 };

bool s5_is_fake(int family, const uint8_t *addr)
{
	return family == AF_INET && addr[0] == 198 && addr[1] == 18;
}

int s5_fake_to_name(int family, const uint8_t *addr, char *name)
{
	if (family != AF_INET || memcmp(addr, fake4, 4) != 0)
		return -ENOENT;
	strcpy(name, "www.test");
	return 8;
}

bool s5_is_direct(int family, const uint8_t *addr)
{
	return family == AF_INET && memcmp(addr, direct4, 4) == 0;
}

static const char *env(const char *name, void *ctx)
{
	(void)ctx;
	if (strcmp(name, "SOCKS5_PROXY") == 0)
		return "socks5://192.0.2.1:1080";
	if (strcmp(name, "SOCKS5WRAP_NO_PROXY") == 0)
		return "10.0.0.0/8,fd00:1::/64";
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	real.getsockopt = getsockopt;
	assert_int_equal(s5_config_load(&s5_cfg, env, NULL), 0);
	assert_true(s5_cfg.usable);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	s5_config_free(&s5_cfg);
	return 0;
}

static const struct s5_sock_info udp4 = { AF_INET, SOCK_DGRAM, IPPROTO_UDP };
static const struct s5_sock_info udp6 = { AF_INET6, SOCK_DGRAM,
					  IPPROTO_UDP };
static const struct s5_sock_info raw4 = { AF_INET, SOCK_RAW, IPPROTO_ICMP };
static const struct s5_sock_info raw6 = { AF_INET6, SOCK_RAW,
					  IPPROTO_ICMPV6 };
static const struct s5_sock_info tcp4 = { AF_INET, SOCK_STREAM, IPPROTO_TCP };
static const struct s5_sock_info tcp6 = { AF_INET6, SOCK_STREAM,
					  IPPROTO_TCP };

static socklen_t sin4(struct sockaddr_storage *ss, sa_family_t family,
		      const char *ip, uint16_t port)
{
	struct sockaddr_in s;

	memset(ss, 0, sizeof(*ss));
	memset(&s, 0, sizeof(s));
	s.sin_family = family;
	s.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s.sin_addr), 1);
	memcpy(ss, &s, sizeof(s));
	return sizeof(s);
}

static socklen_t sin6(struct sockaddr_storage *ss, sa_family_t family,
		      const char *ip, uint16_t port)
{
	struct sockaddr_in6 s;

	memset(ss, 0, sizeof(*ss));
	memset(&s, 0, sizeof(s));
	s.sin6_family = family;
	s.sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &s.sin6_addr), 1);
	memcpy(ss, &s, sizeof(s));
	return sizeof(s);
}

static int dst_read(const struct s5_sock_info *si, bool connect,
		    const struct sockaddr_storage *ss, socklen_t len,
		    struct sockaddr_storage *out)
{
	socklen_t olen = 0;

	memset(out, 0xee, sizeof(*out));
	return s5_dst_read(-1, si, connect, (const struct sockaddr *)ss, len,
			   out, &olen);
}

static void is_v4(const struct sockaddr_storage *ss, const char *ip,
		  uint16_t port)
{
	struct sockaddr_in s;
	char text[INET_ADDRSTRLEN];

	memcpy(&s, ss, sizeof(s));
	assert_int_equal(s.sin_family, AF_INET);
	assert_int_equal(ntohs(s.sin_port), port);
	assert_non_null(inet_ntop(AF_INET, &s.sin_addr, text, sizeof(text)));
	assert_string_equal(text, ip);
}

static void unspec_on_an_ipv4_datagram_socket_is_read_as_ipv4(void **state)
{
	struct sockaddr_storage ss, out;
	socklen_t len = sin4(&ss, AF_UNSPEC, "203.0.113.7", 7);

	(void)state;
	assert_int_equal(dst_read(&udp4, false, &ss, len, &out), S5_DST_ADDR);
	is_v4(&out, "203.0.113.7", 7);
	assert_int_equal(dst_read(&raw4, false, &ss, len, &out), S5_DST_ADDR);
	is_v4(&out, "203.0.113.7", 7);
}

static void unspec_too_short_is_left_to_the_kernel(void **state)
{
	struct sockaddr_storage ss, out;

	(void)state;
	sin4(&ss, AF_UNSPEC, "203.0.113.7", 7);
	assert_int_equal(dst_read(&udp4, false, &ss, 8, &out), S5_PASS);
	assert_int_equal(dst_read(&udp4, false, &ss, 1, &out), S5_PASS);
	assert_int_equal(dst_read(&udp4, false, NULL, 0, &out), S5_DST_NONE);
}

static void unspec_on_an_ipv6_udp_socket_means_no_address(void **state)
{
	struct sockaddr_storage ss, out;
	socklen_t len = sin6(&ss, AF_UNSPEC, "fd00:5357:3::7", 7);

	(void)state;
	assert_int_equal(dst_read(&udp6, false, &ss, len, &out), S5_DST_NONE);
}

static void unspec_on_an_ipv6_raw_socket_is_read_as_ipv6(void **state)
{
	struct sockaddr_storage ss, out;
	socklen_t len = sin6(&ss, AF_UNSPEC, "fd00:5357:3::7", 0);

	(void)state;
	assert_int_equal(dst_read(&raw6, false, &ss, len, &out), S5_DST_ADDR);
	assert_int_equal(out.ss_family, AF_INET6);
	/* Without sin6_scope_id, as the kernel allows. */
	assert_int_equal(dst_read(&raw6, false, &ss, 24, &out), S5_DST_ADDR);
	assert_int_equal(dst_read(&raw6, false, &ss, 23, &out), S5_PASS);
}

static void unspec_connect_is_a_disconnect_not_an_address(void **state)
{
	struct sockaddr_storage ss, out;
	socklen_t len = sin4(&ss, AF_UNSPEC, "203.0.113.7", 7);

	(void)state;
	assert_int_equal(dst_read(&udp4, true, &ss, len, &out), S5_DST_NONE);
	assert_int_equal(dst_read(&tcp4, true, &ss, len, &out), S5_DST_NONE);
	assert_int_equal(dst_read(&tcp4, false, &ss, len, &out), S5_DST_NONE);
}

static void ipv4_on_an_ipv6_udp_socket_is_ipv4(void **state)
{
	struct sockaddr_storage ss, out;
	socklen_t len = sin4(&ss, AF_INET, "203.0.113.7", 7);

	(void)state;
	assert_int_equal(dst_read(&udp6, true, &ss, len, &out), S5_DST_ADDR);
	is_v4(&out, "203.0.113.7", 7);
	assert_int_equal(dst_read(&udp6, false, &ss, len, &out), S5_DST_ADDR);
	is_v4(&out, "203.0.113.7", 7);
}

static void ipv4_on_a_v6only_socket_is_refused(void **state)
{
	struct sockaddr_storage ss, out;
	socklen_t olen, len = sin4(&ss, AF_INET, "203.0.113.7", 7);
	int on = 1, fd = socket(AF_INET6, SOCK_DGRAM, 0);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
				    sizeof(on)),
			 0);
	assert_int_equal(s5_dst_read(fd, &udp6, true,
				     (struct sockaddr *)&ss, len, &out, &olen),
			 -EAFNOSUPPORT);
	assert_int_equal(s5_dst_read(fd, &udp6, false,
				     (struct sockaddr *)&ss, len, &out, &olen),
			 -ENETUNREACH);
	close(fd);
}

static void families_the_kernel_would_refuse_are_refused(void **state)
{
	struct sockaddr_storage ss, out;
	socklen_t len6 = sin6(&ss, AF_INET6, "fd00:5357:3::7", 7);

	(void)state;
	assert_int_equal(dst_read(&udp4, false, &ss, len6, &out),
			 -EAFNOSUPPORT);
	assert_int_equal(dst_read(&tcp4, true, &ss, len6, &out),
			 -EAFNOSUPPORT);
	sin4(&ss, AF_INET, "203.0.113.7", 7);
	assert_int_equal(dst_read(&tcp6, true, &ss, len6, &out),
			 -EAFNOSUPPORT);
	assert_int_equal(dst_read(&raw6, false, &ss, len6, &out),
			 -EAFNOSUPPORT);
	sin4(&ss, AF_PACKET, "203.0.113.7", 7);
	assert_int_equal(dst_read(&udp4, false, &ss, 16, &out),
			 -EAFNOSUPPORT);
}

static void an_unaligned_address_is_read(void **state)
{
	struct sockaddr_storage ss, out;
	unsigned char buf[sizeof(ss) + 1];
	socklen_t olen, len = sin4(&ss, AF_UNSPEC, "203.0.113.9", 53);

	(void)state;
	memcpy(buf + 1, &ss, len);
	assert_int_equal(s5_dst_read(-1, &udp4, false,
				     (const struct sockaddr *)(void *)(buf + 1),
				     len, &out, &olen),
			 S5_DST_ADDR);
	is_v4(&out, "203.0.113.9", 53);
}

static int route(const struct sockaddr_storage *ss, socklen_t len,
		 struct s5_addr *t, bool *fake)
{
	return s5_route_dst((const struct sockaddr *)ss, len, t, fake);
}

static void an_ordinary_destination_goes_through_the_proxy(void **state)
{
	struct sockaddr_storage ss;
	struct s5_addr t;
	bool fake;

	(void)state;
	assert_int_equal(route(&ss, sin4(&ss, AF_INET, "203.0.113.7", 80), &t,
			       &fake),
			 0);
	assert_false(fake);
	assert_int_equal(t.atyp, S5_ATYP_IPV4);
	assert_int_equal(t.port, 80);
	/* IPv4-mapped is the IPv4 host. */
	assert_int_equal(route(&ss,
			       sin6(&ss, AF_INET6, "::ffff:203.0.113.7", 80),
			       &t, &fake),
			 0);
	assert_int_equal(t.atyp, S5_ATYP_IPV4);
	assert_int_equal(route(&ss, sin6(&ss, AF_INET6, "fd00:5357:3::7", 80),
			       &t, &fake),
			 0);
	assert_int_equal(t.atyp, S5_ATYP_IPV6);
}

static void excluded_unspecified_and_the_proxy_go_direct(void **state)
{
	struct sockaddr_storage ss;
	struct s5_addr t;
	bool fake;

	(void)state;
	assert_int_equal(route(&ss, sin4(&ss, AF_INET, "10.1.2.3", 80), &t,
			       &fake),
			 S5_PASS);
	assert_int_equal(route(&ss, sin6(&ss, AF_INET6, "fd00:1::5", 80), &t,
			       &fake),
			 S5_PASS);
	assert_int_equal(route(&ss, sin4(&ss, AF_INET, "0.0.0.0", 80), &t,
			       &fake),
			 S5_PASS);
	assert_int_equal(route(&ss, sin6(&ss, AF_INET6, "::", 80), &t, &fake),
			 S5_PASS);
	assert_int_equal(route(&ss, sin4(&ss, AF_INET, "192.0.2.1", 1080), &t,
			       &fake),
			 S5_PASS);
	assert_int_equal(route(&ss, sin4(&ss, AF_INET, "192.0.2.99", 80), &t,
			       &fake),
			 S5_PASS);
}

static void a_fake_address_becomes_its_name(void **state)
{
	struct sockaddr_storage ss;
	struct s5_addr t;
	bool fake;

	(void)state;
	assert_int_equal(route(&ss, sin4(&ss, AF_INET, "198.18.0.5", 443), &t,
			       &fake),
			 0);
	assert_true(fake);
	assert_int_equal(t.atyp, S5_ATYP_DOMAIN);
	assert_int_equal(t.port, 443);
	assert_memory_equal(t.u.dom.name, "www.test", 8);
}

static void an_unknown_fake_address_goes_nowhere(void **state)
{
	struct sockaddr_storage ss;
	struct s5_addr t;
	bool fake;

	(void)state;
	assert_int_equal(route(&ss, sin4(&ss, AF_INET, "198.18.0.6", 443), &t,
			       &fake),
			 -EHOSTUNREACH);
}

static void an_address_it_cannot_read_goes_nowhere(void **state)
{
	struct sockaddr_storage ss;
	struct s5_addr t;
	bool fake;

	(void)state;
	sin4(&ss, AF_UNSPEC, "203.0.113.7", 80);
	assert_int_equal(route(&ss, 16, &t, &fake), -EAFNOSUPPORT);
	sin4(&ss, AF_INET, "203.0.113.7", 80);
	assert_int_equal(route(&ss, 8, &t, &fake), -EAFNOSUPPORT);
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(unspec_on_an_ipv4_datagram_socket_is_read_as_ipv4),
		T(unspec_too_short_is_left_to_the_kernel),
		T(unspec_on_an_ipv6_udp_socket_means_no_address),
		T(unspec_on_an_ipv6_raw_socket_is_read_as_ipv6),
		T(unspec_connect_is_a_disconnect_not_an_address),
		T(ipv4_on_an_ipv6_udp_socket_is_ipv4),
		T(ipv4_on_a_v6only_socket_is_refused),
		T(families_the_kernel_would_refuse_are_refused),
		T(an_unaligned_address_is_read),
		T(an_ordinary_destination_goes_through_the_proxy),
		T(excluded_unspecified_and_the_proxy_go_direct),
		T(a_fake_address_becomes_its_name),
		T(an_unknown_fake_address_goes_nowhere),
		T(an_address_it_cannot_read_goes_nowhere),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
