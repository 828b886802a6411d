/* Unit tests for src/proto: SOCKS5 wire format (RFC 1928, RFC 1929). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "s5_proto.h"

static struct s5_addr v4_addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
			      uint16_t port)
{
	struct s5_addr x;

	memset(&x, 0, sizeof(x));
	x.atyp = S5_ATYP_IPV4;
	x.u.v4[0] = a;
	x.u.v4[1] = b;
	x.u.v4[2] = c;
	x.u.v4[3] = d;
	x.port = port;
	return x;
}

static struct s5_addr name_addr(const char *name, uint16_t port)
{
	struct s5_addr x;

	assert_int_equal(s5_addr_from_name(&x, name, strlen(name), port), 0);
	return x;
}

/* ---- greeting ---- */

static void greeting_with_two_methods_is_four_bytes(void **state)
{
	const uint8_t methods[] = { S5_METHOD_NONE, S5_METHOD_USERPASS };
	const uint8_t want[] = { 5, 2, 0, 2 };
	uint8_t buf[S5_GREETING_MAX];

	(void)state;
	assert_int_equal(s5_build_greeting(buf, sizeof(buf), methods, 2), 4);
	assert_memory_equal(buf, want, sizeof(want));
}

static void greeting_without_methods_is_invalid(void **state)
{
	const uint8_t m = 0;
	uint8_t buf[S5_GREETING_MAX];

	(void)state;
	assert_int_equal(s5_build_greeting(buf, sizeof(buf), &m, 0), -EINVAL);
	assert_int_equal(s5_build_greeting(buf, sizeof(buf), NULL, 1),
			 -EINVAL);
}

static void greeting_with_256_methods_is_invalid(void **state)
{
	uint8_t methods[256] = { 0 };
	uint8_t buf[300];

	(void)state;
	assert_int_equal(s5_build_greeting(buf, sizeof(buf), methods, 256),
			 -EINVAL);
	assert_int_equal(s5_build_greeting(buf, sizeof(buf), methods, 255),
			 S5_GREETING_MAX);
}

static void greeting_one_byte_too_big_for_buffer_is_nobufs(void **state)
{
	const uint8_t methods[] = { 0, 2 };
	uint8_t buf[4];

	(void)state;
	assert_int_equal(s5_build_greeting(buf, 3, methods, 2), -ENOBUFS);
	assert_int_equal(s5_build_greeting(buf, 4, methods, 2), 4);
}

/* ---- RFC 1929 username/password ---- */

static void userpass_request_carries_lengths_before_each_field(void **state)
{
	const uint8_t want[] = { 1, 3, 'b', 'o', 'b', 2, 'p', 'w' };
	uint8_t buf[S5_USERPASS_MAX];

	(void)state;
	assert_int_equal(s5_build_userpass(buf, sizeof(buf), "bob", 3, "pw", 2),
			 (ssize_t)sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void userpass_with_empty_password_sends_plen_zero(void **state)
{
	const uint8_t want[] = { 1, 1, 'u', 0 };
	uint8_t buf[S5_USERPASS_MAX];

	(void)state;
	assert_int_equal(s5_build_userpass(buf, sizeof(buf), "u", 1, NULL, 0),
			 4);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(s5_build_userpass(buf, sizeof(buf), "u", 1, "", 0),
			 4);
}

static void userpass_with_empty_or_long_username_is_invalid(void **state)
{
	char big[256];
	uint8_t buf[600];

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(s5_build_userpass(buf, sizeof(buf), "", 0, "p", 1),
			 -EINVAL);
	assert_int_equal(s5_build_userpass(buf, sizeof(buf), big, 256, "p", 1),
			 -EINVAL);
	assert_int_equal(s5_build_userpass(buf, sizeof(buf), "u", 1, big, 256),
			 -EINVAL);
	assert_int_equal(s5_build_userpass(buf, sizeof(buf), big, 255, big,
					   255),
			 S5_USERPASS_MAX);
}

static void userpass_that_does_not_fit_is_nobufs(void **state)
{
	uint8_t buf[7];

	(void)state;
	assert_int_equal(s5_build_userpass(buf, 7, "bob", 3, "pw", 2),
			 -ENOBUFS);
}

/* ---- request ---- */

static void connect_request_to_ipv4_is_ten_bytes(void **state)
{
	struct s5_addr dst = v4_addr(192, 0, 2, 1, 8080);
	const uint8_t want[] = { 5, 1, 0, 1, 192, 0, 2, 1, 0x1f, 0x90 };
	uint8_t buf[S5_REQUEST_MAX];

	(void)state;
	assert_int_equal(s5_build_request(buf, sizeof(buf), S5_CMD_CONNECT,
					  &dst),
			 10);
	assert_memory_equal(buf, want, sizeof(want));
}

static void connect_request_to_ipv6_is_twenty_two_bytes(void **state)
{
	struct s5_addr dst;
	uint8_t buf[S5_REQUEST_MAX];

	(void)state;
	memset(&dst, 0, sizeof(dst));
	dst.atyp = S5_ATYP_IPV6;
	dst.u.v6[0] = 0x20;
	dst.u.v6[15] = 1;
	dst.port = 443;
	assert_int_equal(s5_build_request(buf, sizeof(buf), S5_CMD_CONNECT,
					  &dst),
			 22);
	assert_int_equal(buf[3], S5_ATYP_IPV6);
	assert_memory_equal(buf + 4, dst.u.v6, 16);
	assert_int_equal(buf[20], 0x01);
	assert_int_equal(buf[21], 0xbb);
}

static void connect_request_to_name_has_length_octet_and_no_nul(void **state)
{
	struct s5_addr dst = name_addr("example.org", 80);
	const uint8_t want[] = { 5, 1, 0, 3, 11, 'e', 'x', 'a', 'm', 'p', 'l',
				 'e', '.', 'o', 'r', 'g', 0, 80 };
	uint8_t buf[S5_REQUEST_MAX];

	(void)state;
	assert_int_equal(s5_build_request(buf, sizeof(buf), S5_CMD_CONNECT,
					  &dst),
			 (ssize_t)sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void request_with_longest_name_fills_request_max(void **state)
{
	char name[255];
	struct s5_addr dst;
	uint8_t buf[S5_REQUEST_MAX];

	(void)state;
	memset(name, 'a', sizeof(name));
	assert_int_equal(s5_addr_from_name(&dst, name, 255, 1), 0);
	assert_int_equal(s5_build_request(buf, sizeof(buf), S5_CMD_CONNECT,
					  &dst),
			 S5_REQUEST_MAX);
	assert_int_equal(s5_build_request(buf, sizeof(buf) - 1,
					  S5_CMD_CONNECT, &dst),
			 -ENOBUFS);
}

static void request_with_unknown_atyp_or_empty_name_is_invalid(void **state)
{
	struct s5_addr dst = v4_addr(1, 2, 3, 4, 5);
	uint8_t buf[S5_REQUEST_MAX];

	(void)state;
	dst.atyp = 2;
	assert_int_equal(s5_build_request(buf, sizeof(buf), 1, &dst), -EINVAL);
	dst.atyp = S5_ATYP_DOMAIN;
	dst.u.dom.name_len = 0;
	assert_int_equal(s5_build_request(buf, sizeof(buf), 1, &dst), -EINVAL);
	assert_int_equal(s5_build_request(buf, sizeof(buf), 1, NULL), -EINVAL);
}

static void request_one_byte_short_of_room_is_nobufs(void **state)
{
	struct s5_addr dst = v4_addr(1, 2, 3, 4, 5);
	uint8_t buf[10];

	(void)state;
	for (size_t cap = 0; cap < 10; cap++)
		assert_int_equal(s5_build_request(buf, cap, 1, &dst),
				 -ENOBUFS);
}

static void udp_associate_request_keeps_the_command(void **state)
{
	struct s5_addr dst = v4_addr(0, 0, 0, 0, 0);
	const uint8_t want[] = { 5, 3, 0, 1, 0, 0, 0, 0, 0, 0 };
	uint8_t buf[S5_REQUEST_MAX];

	(void)state;
	assert_int_equal(s5_build_request(buf, sizeof(buf),
					  S5_CMD_UDP_ASSOCIATE, &dst),
			 10);
	assert_memory_equal(buf, want, sizeof(want));
}

/* ---- UDP header ---- */

static void udp_header_starts_with_rsv_and_frag_zero(void **state)
{
	struct s5_addr dst = name_addr("a.b", 53);
	const uint8_t want[] = { 0, 0, 0, 3, 3, 'a', '.', 'b', 0, 53 };
	uint8_t buf[S5_UDP_HEADER_MAX];

	(void)state;
	assert_int_equal(s5_build_udp_header(buf, sizeof(buf), &dst),
			 (ssize_t)sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(s5_build_udp_header(buf, sizeof(want) - 1, &dst),
			 -ENOBUFS);
}

static void udp_header_round_trips_through_parser(void **state)
{
	struct s5_addr dst = v4_addr(203, 0, 113, 9, 65535), got;
	uint8_t buf[S5_UDP_HEADER_MAX + 4];
	ssize_t n;

	(void)state;
	n = s5_build_udp_header(buf, sizeof(buf), &dst);
	assert_int_equal(n, 10);
	memcpy(buf + n, "data", 4);
	assert_int_equal(s5_parse_udp_header(buf, (size_t)n + 4, &got), n);
	assert_int_equal(got.atyp, S5_ATYP_IPV4);
	assert_memory_equal(got.u.v4, dst.u.v4, 4);
	assert_int_equal(got.port, 65535);
}

static void udp_header_with_fragment_number_is_rejected(void **state)
{
	const uint8_t dgram[] = { 0, 0, 1, 1, 1, 2, 3, 4, 0, 53, 'x' };
	struct s5_addr got;

	(void)state;
	assert_int_equal(s5_parse_udp_header(dgram, sizeof(dgram), &got),
			 -EPROTO);
}

static void udp_header_with_nonzero_rsv_is_rejected(void **state)
{
	uint8_t dgram[] = { 0, 1, 0, 1, 1, 2, 3, 4, 0, 53 };
	struct s5_addr got;

	(void)state;
	assert_int_equal(s5_parse_udp_header(dgram, sizeof(dgram), &got),
			 -EPROTO);
	dgram[0] = 1;
	dgram[1] = 0;
	assert_int_equal(s5_parse_udp_header(dgram, sizeof(dgram), &got),
			 -EPROTO);
}

static void truncated_udp_header_is_rejected_at_every_length(void **state)
{
	const uint8_t dgram[] = { 0, 0, 0, 3, 3, 'a', '.', 'b', 0, 53 };
	struct s5_addr got;

	(void)state;
	for (size_t len = 0; len < sizeof(dgram); len++)
		assert_int_equal(s5_parse_udp_header(dgram, len, &got),
				 -EPROTO);
	assert_int_equal(s5_parse_udp_header(dgram, sizeof(dgram), &got),
			 (ssize_t)sizeof(dgram));
	assert_string_equal(got.u.dom.name, "a.b");
}

static void udp_header_with_empty_name_or_bad_atyp_is_rejected(void **state)
{
	const uint8_t empty[] = { 0, 0, 0, 3, 0, 0, 53 };
	const uint8_t bad[] = { 0, 0, 0, 5, 1, 2, 3, 4, 0, 53 };
	struct s5_addr got;

	(void)state;
	assert_int_equal(s5_parse_udp_header(empty, sizeof(empty), &got),
			 -EPROTO);
	assert_int_equal(s5_parse_udp_header(bad, sizeof(bad), &got), -EPROTO);
}

/* ---- method and auth replies ---- */

static void method_reply_gives_the_chosen_method(void **state)
{
	const uint8_t r[] = { 5, 2 };
	uint8_t method = 0xaa;
	size_t need = 0;

	(void)state;
	assert_int_equal(s5_parse_method_reply(r, 2, &need, &method), 2);
	assert_int_equal(method, S5_METHOD_USERPASS);
}

static void method_reply_of_one_byte_needs_two(void **state)
{
	const uint8_t r[] = { 5 };
	uint8_t method;
	size_t need = 0;

	(void)state;
	assert_int_equal(s5_parse_method_reply(r, 0, &need, &method), 0);
	assert_int_equal(need, 2);
	need = 0;
	assert_int_equal(s5_parse_method_reply(r, 1, &need, &method), 0);
	assert_int_equal(need, 2);
}

static void method_reply_with_wrong_version_is_eproto_at_once(void **state)
{
	const uint8_t r[] = { 4, 0 };
	uint8_t method;
	size_t need;

	(void)state;
	assert_int_equal(s5_parse_method_reply(r, 1, &need, &method), -EPROTO);
	assert_int_equal(s5_parse_method_reply(r, 2, &need, &method), -EPROTO);
}

static void method_reply_no_acceptable_methods_still_parses(void **state)
{
	const uint8_t r[] = { 5, 0xff };
	uint8_t method = 0;
	size_t need;

	(void)state;
	assert_int_equal(s5_parse_method_reply(r, 2, &need, &method), 2);
	assert_int_equal(method, S5_METHOD_UNACCEPTABLE);
}

static void auth_reply_accepts_version_one_and_five(void **state)
{
	const uint8_t ok[] = { 1, 0 }, odd[] = { 5, 1 }, bad[] = { 2, 0 };
	uint8_t status = 0xaa;
	size_t need = 0;

	(void)state;
	assert_int_equal(s5_parse_auth_reply(ok, 2, &need, &status), 2);
	assert_int_equal(status, 0);
	assert_int_equal(s5_parse_auth_reply(odd, 2, &need, &status), 2);
	assert_int_equal(status, 1);
	assert_int_equal(s5_parse_auth_reply(bad, 2, &need, &status), -EPROTO);
	assert_int_equal(s5_parse_auth_reply(ok, 1, &need, &status), 0);
	assert_int_equal(need, 2);
}

/* ---- reply ---- */

static void reply_with_ipv4_bound_address_is_ten_bytes(void **state)
{
	const uint8_t r[] = { 5, 0, 0, 1, 10, 0, 0, 1, 0x04, 0x38, 'X' };
	struct s5_reply rep;
	size_t need = 0;

	(void)state;
	assert_int_equal(s5_parse_reply(r, sizeof(r), &need, &rep), 10);
	assert_int_equal(rep.rep, S5_REP_SUCCEEDED);
	assert_int_equal(rep.bound.atyp, S5_ATYP_IPV4);
	assert_memory_equal(rep.bound.u.v4, r + 4, 4);
	assert_int_equal(rep.bound.port, 1080);
}

static void reply_with_ipv6_bound_address_is_twenty_two_bytes(void **state)
{
	uint8_t r[22] = { 5, 0, 0, 4 };
	struct s5_reply rep;
	size_t need = 0;

	(void)state;
	r[4] = 0xfe;
	r[19] = 9;
	r[21] = 7;
	assert_int_equal(s5_parse_reply(r, sizeof(r), &need, &rep), 22);
	assert_int_equal(rep.bound.atyp, S5_ATYP_IPV6);
	assert_memory_equal(rep.bound.u.v6, r + 4, 16);
	assert_int_equal(rep.bound.port, 7);
}

static void reply_with_name_is_nul_terminated(void **state)
{
	const uint8_t r[] = { 5, 0, 0, 3, 4, 'h', 'o', 's', 't', 0, 1 };
	struct s5_reply rep;
	size_t need = 0;

	(void)state;
	memset(&rep, 'Z', sizeof(rep));
	assert_int_equal(s5_parse_reply(r, sizeof(r), &need, &rep), 11);
	assert_int_equal(rep.bound.u.dom.name_len, 4);
	assert_string_equal(rep.bound.u.dom.name, "host");
	assert_int_equal(rep.bound.port, 1);
}

static void reply_read_in_pieces_never_asks_past_its_end(void **state)
{
	const uint8_t v4[] = { 5, 0, 0, 1, 1, 2, 3, 4, 0, 80 };
	const uint8_t v6[22] = { 5, 0, 0, 4 };
	const uint8_t nm[] = { 5, 0, 0, 3, 1, 'h', 0, 80 };
	const struct {
		const uint8_t *b;
		size_t len;
	} cases[] = { { v4, sizeof(v4) }, { v6, sizeof(v6) },
		      { nm, sizeof(nm) } };
	struct s5_reply rep;

	(void)state;
	for (size_t c = 0; c < 3; c++) {
		size_t have = 0, need = 0;
		ssize_t n;

		/* Read exactly what the parser asks for, as net/ does. */
		while ((n = s5_parse_reply(cases[c].b, have, &need, &rep)) ==
		       0) {
			assert_true(need > have);
			assert_true(need <= cases[c].len);
			have = need;
		}
		assert_int_equal(n, (ssize_t)cases[c].len);
	}
}

static void reply_needs_name_length_before_its_total_is_known(void **state)
{
	const uint8_t r[] = { 5, 0, 0, 3, 20 };
	struct s5_reply rep;
	size_t need = 0;

	(void)state;
	assert_int_equal(s5_parse_reply(r, 4, &need, &rep), 0);
	assert_int_equal(need, 8);
	assert_int_equal(s5_parse_reply(r, 5, &need, &rep), 0);
	assert_int_equal(need, 3 + 1 + 1 + 20 + 2);
}

static void reply_with_failure_code_still_parses(void **state)
{
	const uint8_t r[] = { 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };
	struct s5_reply rep;
	size_t need;

	(void)state;
	assert_int_equal(s5_parse_reply(r, sizeof(r), &need, &rep), 10);
	assert_int_equal(rep.rep, S5_REP_CONN_REFUSED);
}

static void reply_with_bad_version_atyp_or_empty_name_is_eproto(void **state)
{
	const uint8_t ver[] = { 4, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	const uint8_t atyp[] = { 5, 0, 0, 2, 0, 0, 0, 0, 0, 0 };
	const uint8_t empty[] = { 5, 0, 0, 3, 0, 0, 0, 0 };
	struct s5_reply rep;
	size_t need;

	(void)state;
	assert_int_equal(s5_parse_reply(ver, 1, &need, &rep), -EPROTO);
	assert_int_equal(s5_parse_reply(ver, sizeof(ver), &need, &rep),
			 -EPROTO);
	assert_int_equal(s5_parse_reply(atyp, 4, &need, &rep), -EPROTO);
	assert_int_equal(s5_parse_reply(empty, 5, &need, &rep), -EPROTO);
}

static void reply_accepts_null_need(void **state)
{
	const uint8_t r[] = { 5, 0 };
	struct s5_reply rep;

	(void)state;
	assert_int_equal(s5_parse_reply(r, sizeof(r), NULL, &rep), 0);
}

/* ---- reply codes ---- */

static void reply_codes_map_to_the_design_errnos(void **state)
{
	(void)state;
	assert_int_equal(s5_rep_errno(0), 0);
	assert_int_equal(s5_rep_errno(1), ECONNREFUSED);
	assert_int_equal(s5_rep_errno(2), EACCES);
	assert_int_equal(s5_rep_errno(3), ENETUNREACH);
	assert_int_equal(s5_rep_errno(4), EHOSTUNREACH);
	assert_int_equal(s5_rep_errno(5), ECONNREFUSED);
	assert_int_equal(s5_rep_errno(6), ETIMEDOUT);
	assert_int_equal(s5_rep_errno(7), EOPNOTSUPP);
	assert_int_equal(s5_rep_errno(8), EAFNOSUPPORT);
	assert_int_equal(s5_rep_errno(9), ECONNREFUSED);
	assert_int_equal(s5_rep_errno(0xff), ECONNREFUSED);
}

static void every_reply_code_has_a_text(void **state)
{
	(void)state;
	for (unsigned rep = 0; rep < 256; rep++)
		assert_non_null(s5_rep_str((uint8_t)rep));
	assert_string_equal(s5_rep_str(5), "connection refused");
}

/* ---- address conversions ---- */

static void sockaddr_in_becomes_ipv4_with_host_order_port(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(8443) };
	struct s5_addr a;

	(void)state;
	inet_pton(AF_INET, "198.51.100.7", &sin.sin_addr);
	assert_int_equal(s5_addr_from_sockaddr(&a, (struct sockaddr *)&sin,
					       sizeof(sin)),
			 0);
	assert_int_equal(a.atyp, S5_ATYP_IPV4);
	assert_int_equal(a.port, 8443);
	assert_memory_equal(a.u.v4, &sin.sin_addr, 4);
}

static void v4mapped_sockaddr_in6_becomes_ipv4(void **state)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(80) };
	const uint8_t want[4] = { 192, 0, 2, 33 };
	struct s5_addr a;

	(void)state;
	inet_pton(AF_INET6, "::ffff:192.0.2.33", &s6.sin6_addr);
	assert_int_equal(s5_addr_from_sockaddr(&a, (struct sockaddr *)&s6,
					       sizeof(s6)),
			 0);
	assert_int_equal(a.atyp, S5_ATYP_IPV4);
	assert_memory_equal(a.u.v4, want, 4);
	assert_int_equal(a.port, 80);
}

static void plain_sockaddr_in6_stays_ipv6(void **state)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(53) };
	struct s5_addr a;

	(void)state;
	inet_pton(AF_INET6, "2001:db8::53", &s6.sin6_addr);
	assert_int_equal(s5_addr_from_sockaddr(&a, (struct sockaddr *)&s6,
					       sizeof(s6)),
			 0);
	assert_int_equal(a.atyp, S5_ATYP_IPV6);
	assert_memory_equal(a.u.v6, &s6.sin6_addr, 16);
}

static void short_or_foreign_sockaddr_is_refused(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr un = { .sa_family = AF_UNIX };
	struct s5_addr a;

	(void)state;
	assert_int_equal(s5_addr_from_sockaddr(&a, (struct sockaddr *)&sin,
					       sizeof(sin) - 1),
			 -EINVAL);
	assert_int_equal(s5_addr_from_sockaddr(&a, (struct sockaddr *)&s6,
					       sizeof(s6) - 1),
			 -EINVAL);
	assert_int_equal(s5_addr_from_sockaddr(&a, &un, sizeof(un)),
			 -EAFNOSUPPORT);
	assert_int_equal(s5_addr_from_sockaddr(&a, &un, 1), -EINVAL);
	assert_int_equal(s5_addr_from_sockaddr(&a, NULL, 16), -EINVAL);
}

static void name_of_zero_or_256_bytes_is_invalid(void **state)
{
	char big[256];
	struct s5_addr a;

	(void)state;
	memset(big, 'n', sizeof(big));
	assert_int_equal(s5_addr_from_name(&a, "", 0, 1), -EINVAL);
	assert_int_equal(s5_addr_from_name(&a, big, 256, 1), -EINVAL);
	assert_int_equal(s5_addr_from_name(&a, big, 255, 1), 0);
	assert_int_equal(a.u.dom.name_len, 255);
	assert_int_equal(a.u.dom.name[255], '\0');
}

static void ipv4_into_af_inet6_is_v4mapped(void **state)
{
	struct s5_addr a = v4_addr(192, 0, 2, 1, 99);
	struct sockaddr_storage ss;
	struct sockaddr_in6 s6;
	char text[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(s5_addr_to_sockaddr(&a, AF_INET6, &ss),
			 (int)sizeof(s6));
	memcpy(&s6, &ss, sizeof(s6));
	assert_int_equal(s6.sin6_family, AF_INET6);
	assert_int_equal(ntohs(s6.sin6_port), 99);
	inet_ntop(AF_INET6, &s6.sin6_addr, text, sizeof(text));
	assert_string_equal(text, "::ffff:192.0.2.1");
}

static void ipv4_into_af_inet_round_trips(void **state)
{
	struct s5_addr a = v4_addr(10, 1, 2, 3, 4000), b;
	struct sockaddr_storage ss;
	int n;

	(void)state;
	n = s5_addr_to_sockaddr(&a, AF_INET, &ss);
	assert_int_equal(n, (int)sizeof(struct sockaddr_in));
	assert_int_equal(s5_addr_from_sockaddr(&b, (struct sockaddr *)&ss,
					       (socklen_t)n),
			 0);
	assert_int_equal(b.atyp, S5_ATYP_IPV4);
	assert_memory_equal(b.u.v4, a.u.v4, 4);
	assert_int_equal(b.port, 4000);
}

static void ipv6_into_af_inet_only_works_when_v4mapped(void **state)
{
	struct s5_addr a;
	struct sockaddr_storage ss;
	struct sockaddr_in sin;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.atyp = S5_ATYP_IPV6;
	a.u.v6[0] = 0x20;
	assert_int_equal(s5_addr_to_sockaddr(&a, AF_INET, &ss), -EAFNOSUPPORT);
	memset(a.u.v6, 0, 16);
	a.u.v6[10] = a.u.v6[11] = 0xff;
	a.u.v6[12] = 127;
	a.u.v6[15] = 1;
	a.port = 5;
	assert_int_equal(s5_addr_to_sockaddr(&a, AF_INET, &ss),
			 (int)sizeof(sin));
	memcpy(&sin, &ss, sizeof(sin));
	assert_int_equal(ntohl(sin.sin_addr.s_addr), 0x7f000001);
	assert_int_equal(ntohs(sin.sin_port), 5);
}

static void name_or_other_family_has_no_sockaddr(void **state)
{
	struct s5_addr n = name_addr("x", 1), v4 = v4_addr(1, 1, 1, 1, 1);
	struct sockaddr_storage ss;

	(void)state;
	assert_int_equal(s5_addr_to_sockaddr(&n, AF_INET, &ss), -EAFNOSUPPORT);
	assert_int_equal(s5_addr_to_sockaddr(&n, AF_INET6, &ss),
			 -EAFNOSUPPORT);
	assert_int_equal(s5_addr_to_sockaddr(&v4, AF_UNIX, &ss),
			 -EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(greeting_with_two_methods_is_four_bytes),
		cmocka_unit_test(greeting_without_methods_is_invalid),
		cmocka_unit_test(greeting_with_256_methods_is_invalid),
		cmocka_unit_test(greeting_one_byte_too_big_for_buffer_is_nobufs),
		cmocka_unit_test(userpass_request_carries_lengths_before_each_field),
		cmocka_unit_test(userpass_with_empty_password_sends_plen_zero),
		cmocka_unit_test(userpass_with_empty_or_long_username_is_invalid),
		cmocka_unit_test(userpass_that_does_not_fit_is_nobufs),
		cmocka_unit_test(connect_request_to_ipv4_is_ten_bytes),
		cmocka_unit_test(connect_request_to_ipv6_is_twenty_two_bytes),
		cmocka_unit_test(connect_request_to_name_has_length_octet_and_no_nul),
		cmocka_unit_test(request_with_longest_name_fills_request_max),
		cmocka_unit_test(request_with_unknown_atyp_or_empty_name_is_invalid),
		cmocka_unit_test(request_one_byte_short_of_room_is_nobufs),
		cmocka_unit_test(udp_associate_request_keeps_the_command),
		cmocka_unit_test(udp_header_starts_with_rsv_and_frag_zero),
		cmocka_unit_test(udp_header_round_trips_through_parser),
		cmocka_unit_test(udp_header_with_fragment_number_is_rejected),
		cmocka_unit_test(udp_header_with_nonzero_rsv_is_rejected),
		cmocka_unit_test(truncated_udp_header_is_rejected_at_every_length),
		cmocka_unit_test(udp_header_with_empty_name_or_bad_atyp_is_rejected),
		cmocka_unit_test(method_reply_gives_the_chosen_method),
		cmocka_unit_test(method_reply_of_one_byte_needs_two),
		cmocka_unit_test(method_reply_with_wrong_version_is_eproto_at_once),
		cmocka_unit_test(method_reply_no_acceptable_methods_still_parses),
		cmocka_unit_test(auth_reply_accepts_version_one_and_five),
		cmocka_unit_test(reply_with_ipv4_bound_address_is_ten_bytes),
		cmocka_unit_test(reply_with_ipv6_bound_address_is_twenty_two_bytes),
		cmocka_unit_test(reply_with_name_is_nul_terminated),
		cmocka_unit_test(reply_read_in_pieces_never_asks_past_its_end),
		cmocka_unit_test(reply_needs_name_length_before_its_total_is_known),
		cmocka_unit_test(reply_with_failure_code_still_parses),
		cmocka_unit_test(reply_with_bad_version_atyp_or_empty_name_is_eproto),
		cmocka_unit_test(reply_accepts_null_need),
		cmocka_unit_test(reply_codes_map_to_the_design_errnos),
		cmocka_unit_test(every_reply_code_has_a_text),
		cmocka_unit_test(sockaddr_in_becomes_ipv4_with_host_order_port),
		cmocka_unit_test(v4mapped_sockaddr_in6_becomes_ipv4),
		cmocka_unit_test(plain_sockaddr_in6_stays_ipv6),
		cmocka_unit_test(short_or_foreign_sockaddr_is_refused),
		cmocka_unit_test(name_of_zero_or_256_bytes_is_invalid),
		cmocka_unit_test(ipv4_into_af_inet6_is_v4mapped),
		cmocka_unit_test(ipv4_into_af_inet_round_trips),
		cmocka_unit_test(ipv6_into_af_inet_only_works_when_v4mapped),
		cmocka_unit_test(name_or_other_family_has_no_sockaddr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
