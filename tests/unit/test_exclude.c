/* Unit tests for src/config/exclude.c: SOCKS5WRAP_NO_PROXY. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "s5_config.h"

static struct s5_exclude ex;
static char err[S5_ERR_MAX];

static int teardown(void **state)
{
	(void)state;
	s5_exclude_free(&ex);
	return 0;
}

static void parse_ok(const char *s)
{
	int rc;

	s5_exclude_free(&ex);
	rc = s5_exclude_parse(s, &ex, err, sizeof(err));
	if (rc)
		fail_msg("'%s': %s", s, err);
}

/* The error names the variable, quotes the entry (unless NULL: too long
 * to be quoted whole) and has the words. */
static void parse_bad(const char *s, const char *entry, const char *words)
{
	char quoted[300];
	int rc;

	s5_exclude_free(&ex);
	rc = s5_exclude_parse(s, &ex, err, sizeof(err));
	if (rc != -EINVAL)
		fail_msg("'%s' gave %d", s, rc);
	assert_non_null(strstr(err, "SOCKS5WRAP_NO_PROXY"));
	strcpy(quoted, "'");
	strcat(quoted, entry ? entry : "");
	strcat(quoted, entry ? "'" : "");
	if (!strstr(err, quoted) || !strstr(err, words))
		fail_msg("'%s': error '%s' lacks %s or '%s'", s, err, quoted,
			 words);
	assert_int_equal(ex.n_cidrs, 0);
	assert_int_equal(ex.n_hosts, 0);
	assert_null(ex.cidrs);
	assert_null(ex.hosts);
}

static bool addr(const char *ip, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, ip, &sin.sin_addr) == 1) {
		sin.sin_port = htons(port);
		return s5_exclude_match_addr(&ex, (struct sockaddr *)&sin,
					     sizeof(sin));
	}
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	sin6.sin6_port = htons(port);
	return s5_exclude_match_addr(&ex, (struct sockaddr *)&sin6,
				     sizeof(sin6));
}

static bool name(const char *n, uint16_t port)
{
	return s5_exclude_match_name(&ex, n, port);
}

static void default_list_covers_loopback_only(void **state)
{
	(void)state;
	parse_ok(S5_DEFAULT_NO_PROXY);
	assert_int_equal(ex.n_cidrs, 2);
	assert_int_equal(ex.n_hosts, 0);
	assert_true(addr("127.0.0.1", 80));
	assert_true(addr("127.255.255.254", 1));
	assert_true(addr("::1", 443));
	assert_false(addr("128.0.0.1", 80));
	assert_false(addr("126.255.255.255", 80));
	assert_false(addr("::2", 443));
	assert_false(addr("192.0.2.1", 80));
}

static void empty_and_blank_lists_have_no_entries(void **state)
{
	(void)state;
	parse_ok("");
	assert_int_equal(ex.n_cidrs + ex.n_hosts, 0);
	assert_false(addr("127.0.0.1", 80));
	assert_false(name("localhost", 0));
	parse_ok(" , ,\t,, ");
	assert_int_equal(ex.n_cidrs + ex.n_hosts, 0);
	parse_ok(NULL);
	assert_int_equal(ex.n_cidrs + ex.n_hosts, 0);
}

static void ipv4_cidr_matches_its_network_only(void **state)
{
	(void)state;
	parse_ok("10.0.0.0/8, 192.0.2.128/25");
	assert_true(addr("10.1.2.3", 1));
	assert_true(addr("10.255.255.255", 65535));
	assert_false(addr("11.0.0.0", 1));
	assert_true(addr("192.0.2.128", 1));
	assert_true(addr("192.0.2.255", 1));
	assert_false(addr("192.0.2.127", 1));
}

static void single_ipv4_address_is_a_slash_32(void **state)
{
	(void)state;
	parse_ok("192.0.2.1");
	assert_int_equal(ex.cidrs[0].prefix, 32);
	assert_true(addr("192.0.2.1", 9));
	assert_false(addr("192.0.2.2", 9));
}

static void prefix_zero_matches_the_whole_family(void **state)
{
	(void)state;
	parse_ok("0.0.0.0/0");
	assert_true(addr("1.2.3.4", 1));
	assert_true(addr("255.255.255.255", 1));
	assert_false(addr("2001:db8::1", 1));
	parse_ok("::/0");
	assert_true(addr("2001:db8::1", 1));
	assert_false(addr("1.2.3.4", 1));
}

static void bits_past_the_prefix_are_masked(void **state)
{
	static const uint8_t ten[16] = { 10 };

	(void)state;
	parse_ok("10.1.2.3/8");
	assert_memory_equal(ex.cidrs[0].addr, ten, 16);
	assert_true(addr("10.200.0.1", 1));
	parse_ok("2001:db8:ffff::1/33");
	assert_int_equal(ex.cidrs[0].addr[4], 0x80);
	assert_int_equal(ex.cidrs[0].addr[5], 0);
	assert_true(addr("2001:db8:8000::", 1));
	assert_false(addr("2001:db8:7fff::", 1));
}

static void ipv6_cidr_and_address_match(void **state)
{
	(void)state;
	parse_ok("2001:db8::/32,fe80::1");
	assert_int_equal(ex.cidrs[0].family, AF_INET6);
	assert_true(addr("2001:db8:1::5", 80));
	assert_false(addr("2001:db9::", 80));
	assert_true(addr("fe80::1", 1));
	assert_false(addr("fe80::2", 1));
}

static void ipv4_mapped_ipv6_address_matches_as_ipv4(void **state)
{
	(void)state;
	parse_ok("192.0.2.0/24:443");
	assert_true(addr("::ffff:192.0.2.7", 443));
	assert_false(addr("::ffff:192.0.3.7", 443));
	assert_false(addr("::ffff:192.0.2.7", 80));
	/* Not mapped: an IPv6 address whose low bits look the same. */
	assert_false(addr("::192.0.2.7", 443));
	assert_false(addr("64:ff9b::192.0.2.7", 443));
}

static void ipv4_mapped_network_is_stored_as_ipv4(void **state)
{
	(void)state;
	parse_ok("::ffff:10.0.0.0/104");
	assert_int_equal(ex.cidrs[0].family, AF_INET);
	assert_int_equal(ex.cidrs[0].prefix, 8);
	assert_true(addr("10.9.9.9", 1));
	assert_true(addr("::ffff:10.9.9.9", 1));
	assert_false(addr("11.0.0.1", 1));
}

static void ports_restrict_address_entries(void **state)
{
	(void)state;
	parse_ok("192.0.2.1:25, [2001:db8::1]:443, [2001:db8:1::/48]:80,"
		 "198.51.100.0/24:53, [203.0.113.1]:7");
	assert_int_equal(ex.n_cidrs, 5);
	assert_true(addr("192.0.2.1", 25));
	assert_false(addr("192.0.2.1", 26));
	assert_true(addr("2001:db8::1", 443));
	assert_false(addr("2001:db8::1", 80));
	assert_true(addr("2001:db8:1:ff::9", 80));
	assert_false(addr("2001:db8:1:ff::9", 443));
	assert_true(addr("198.51.100.200", 53));
	assert_false(addr("198.51.100.200", 0));
	assert_true(addr("203.0.113.1", 7));
}

static void bracketed_ipv6_without_port_matches_every_port(void **state)
{
	(void)state;
	parse_ok("[2001:db8::1]");
	assert_int_equal(ex.cidrs[0].port, 0);
	assert_true(addr("2001:db8::1", 1));
	assert_true(addr("2001:db8::1", 65535));
}

static void short_or_foreign_sockaddrs_never_match(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr sa = { .sa_family = AF_UNIX };

	(void)state;
	parse_ok("0.0.0.0/0,::/0");
	assert_true(s5_exclude_match_addr(&ex, (struct sockaddr *)&sin,
					  sizeof(sin)));
	assert_false(s5_exclude_match_addr(&ex, (struct sockaddr *)&sin,
					   sizeof(sin) - 1));
	assert_false(s5_exclude_match_addr(&ex, (struct sockaddr *)&sin6,
					   sizeof(sin6) - 1));
	assert_false(s5_exclude_match_addr(&ex, &sa, sizeof(sa)));
	assert_false(s5_exclude_match_addr(&ex, NULL, 0));
	assert_false(s5_exclude_match_addr(NULL, (struct sockaddr *)&sin,
					   sizeof(sin)));
}

static void host_names_are_stored_lower_case_without_trailing_dot(void **state)
{
	(void)state;
	parse_ok("  Intranet.CORP.  ,\t.Corp.Example:8080 ");
	assert_int_equal(ex.n_hosts, 2);
	assert_string_equal(ex.hosts[0].name, "intranet.corp");
	assert_int_equal(ex.hosts[0].len, 13);
	assert_false(ex.hosts[0].suffix);
	assert_int_equal(ex.hosts[0].port, 0);
	assert_string_equal(ex.hosts[1].name, "corp.example");
	assert_true(ex.hosts[1].suffix);
	assert_int_equal(ex.hosts[1].port, 8080);
}

static void exact_name_matches_only_itself(void **state)
{
	(void)state;
	parse_ok("intranet.corp");
	assert_true(name("intranet.corp", 80));
	assert_true(name("INTRANET.Corp", 80));
	assert_true(name("intranet.corp.", 80));
	assert_false(name("www.intranet.corp", 80));
	assert_false(name("intranet.corpx", 80));
	assert_false(name("xintranet.corp", 80));
	assert_false(name("intranet", 80));
}

static void suffix_matches_itself_and_names_below(void **state)
{
	(void)state;
	parse_ok(".corp.example");
	assert_true(name("corp.example", 1));
	assert_true(name("a.corp.example", 1));
	assert_true(name("A.B.Corp.Example.", 1));
	assert_false(name("xcorp.example", 1));
	assert_false(name("corp.example.org", 1));
	assert_false(name("example", 1));
}

static void star_dot_is_read_as_a_suffix(void **state)
{
	(void)state;
	parse_ok("*.test");
	assert_true(ex.hosts[0].suffix);
	assert_string_equal(ex.hosts[0].name, "test");
	assert_true(name("a.test", 1));
}

static void name_ports_match_and_port_zero_means_unknown(void **state)
{
	(void)state;
	parse_ok("host.test:8080, any.test");
	assert_true(name("host.test", 8080));
	assert_false(name("host.test", 80));
	assert_true(name("host.test", 0));
	assert_true(name("any.test", 0));
	assert_true(name("any.test", 1));
}

static void names_that_cannot_be_host_names_never_match(void **state)
{
	char long_name[300];

	(void)state;
	parse_ok(".test");
	assert_false(name(NULL, 0));
	assert_false(name("", 0));
	assert_false(name(".", 0));
	assert_false(name("test..", 0));
	memset(long_name, 'a', sizeof(long_name) - 6);
	strcpy(long_name + sizeof(long_name) - 6, ".test");
	assert_false(name(long_name, 0));
	assert_false(s5_exclude_match_name(NULL, "a.test", 0));
}

static void addresses_and_names_are_kept_apart(void **state)
{
	(void)state;
	parse_ok("192.0.2.1, example.test, ::1");
	assert_int_equal(ex.n_cidrs, 2);
	assert_int_equal(ex.n_hosts, 1);
	assert_false(name("192.0.2.1", 0));
}

static void name_limits_are_253_bytes_and_63_per_label(void **state)
{
	char s[300], label[70];
	size_t i;

	(void)state;
	memset(label, 'a', 63);
	label[63] = '\0';
	s[0] = '\0';
	for (i = 0; i < 4; i++) {
		strcat(s, label);
		strcat(s, ".");
	}
	s[253] = '\0'; /* 4 labels of 63 with dots, cut to 253 */
	parse_ok(s);
	assert_int_equal(ex.hosts[0].len, 253);
	assert_true(name(s, 0));

	strcat(s, "b");
	parse_bad(s, NULL, "longer than 253");
	memset(label, 'a', 64);
	label[64] = '\0';
	parse_bad(label, NULL, "longer than 63");
}

static void bad_addresses_are_rejected(void **state)
{
	(void)state;
	parse_bad("10.0.0.0/33", "10.0.0.0/33", "more than 32");
	parse_bad("2001:db8::/129", "2001:db8::/129", "more than 128");
	parse_bad("10.0.0.0/", "10.0.0.0/", "prefix length");
	parse_bad("10.0.0.0/-1", "10.0.0.0/-1", "not an IP address");
	parse_bad("10.0.0.0/1000", "10.0.0.0/1000", "prefix length");
	parse_bad("::/x", "::/x", "prefix length");
	parse_bad("256.0.0.1", "256.0.0.1", "not a valid IP");
	parse_bad("1.2.3", "1.2.3", "not a valid IP");
	parse_bad("1.2.3.4.5", "1.2.3.4.5", "not a valid IP");
	parse_bad("2001:db8::g", "2001:db8::g", "not a valid IP");
	parse_bad("[::1", "[::1", "without ']'");
	parse_bad("[::1]80", "[::1]80", "':port'");
	parse_bad("[]", "[]", "not a valid IP");
	parse_bad("[host.test]:80", "[host.test]:80", "not a valid IP");
}

static void bad_ports_are_rejected(void **state)
{
	(void)state;
	parse_bad("192.0.2.1:0", "192.0.2.1:0", "1 to 65535");
	parse_bad("192.0.2.1:65536", "192.0.2.1:65536", "1 to 65535");
	parse_bad("[::1]:", "[::1]:", "1 to 65535");
	parse_bad("host.test:", "host.test:", "1 to 65535");
	parse_bad("host.test:+1", "host.test:+1", "1 to 65535");
	parse_bad("host.test:http", "host.test:http", "1 to 65535");
}

static void bad_names_are_rejected(void **state)
{
	(void)state;
	parse_bad("a..b", "a..b", "empty label");
	parse_bad(".", ".", "empty host name");
	parse_bad("..", "..", "empty host name");
	parse_bad(".a..b", ".a..b", "empty label");
	parse_bad(":80", ":80", "empty host name");
	parse_bad("*", "*", "not an IP address or a host name");
	parse_bad("ho st", "ho st", "not an IP address or a host name");
	parse_bad("a/b", "a/b", "not an IP address or a host name");
}

static void one_bad_entry_rejects_the_whole_list(void **state)
{
	(void)state;
	parse_bad("10.0.0.0/8, host.test, bad..entry, ::1", "bad..entry",
		  "empty label");
}

static void long_bad_entry_is_quoted_cut(void **state)
{
	char s[200];

	(void)state;
	memset(s, 'x', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	s[150] = '!';
	s5_exclude_free(&ex);
	assert_int_equal(s5_exclude_parse(s, &ex, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "...'"));
	assert_true(strlen(err) < 140);
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, teardown)
	const struct CMUnitTest tests[] = {
		T(default_list_covers_loopback_only),
		T(empty_and_blank_lists_have_no_entries),
		T(ipv4_cidr_matches_its_network_only),
		T(single_ipv4_address_is_a_slash_32),
		T(prefix_zero_matches_the_whole_family),
		T(bits_past_the_prefix_are_masked),
		T(ipv6_cidr_and_address_match),
		T(ipv4_mapped_ipv6_address_matches_as_ipv4),
		T(ipv4_mapped_network_is_stored_as_ipv4),
		T(ports_restrict_address_entries),
		T(bracketed_ipv6_without_port_matches_every_port),
		T(short_or_foreign_sockaddrs_never_match),
		T(host_names_are_stored_lower_case_without_trailing_dot),
		T(exact_name_matches_only_itself),
		T(suffix_matches_itself_and_names_below),
		T(star_dot_is_read_as_a_suffix),
		T(name_ports_match_and_port_zero_means_unknown),
		T(names_that_cannot_be_host_names_never_match),
		T(addresses_and_names_are_kept_apart),
		T(name_limits_are_253_bytes_and_63_per_label),
		T(bad_addresses_are_rejected),
		T(bad_ports_are_rejected),
		T(bad_names_are_rejected),
		T(one_bad_entry_rejects_the_whole_list),
		T(long_bad_entry_is_quoted_cut),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
