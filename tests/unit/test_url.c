/* Unit tests for src/config/url.c: SOCKS5_PROXY parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "s5_config.h"

static struct s5_url u;
static char err[S5_ERR_MAX];

static int parse(const char *s)
{
	memset(err, 'x', sizeof(err));
	return s5_url_parse(s, &u, err, sizeof(err));
}

static void expect_ok(const char *s, const char *host, uint16_t port)
{
	int rc = parse(s);

	if (rc)
		print_error("'%s': %s\n", s, err);
	assert_int_equal(rc, 0);
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
}

/* The error names the variable and contains the given words. */
static void expect_bad(const char *s, const char *words)
{
	int rc = parse(s);

	if (rc == 0)
		print_error("'%s' was accepted\n", s);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(memchr(err, '\0', sizeof(err)));
	assert_non_null(strstr(err, "SOCKS5_PROXY"));
	if (words && !strstr(err, words))
		fail_msg("'%s': error '%s' lacks '%s'", s, err, words);
	assert_false(u.has_user);
	assert_int_equal(u.user[0], 0);
	assert_int_equal(u.pass[0], 0);
}

static void bare_host_gets_the_default_port(void **state)
{
	(void)state;
	expect_ok("proxy.example", "proxy.example", S5_DEFAULT_PORT);
	assert_false(u.has_user);
	assert_false(u.has_pass);
}

static void host_and_port_are_split(void **state)
{
	(void)state;
	expect_ok("proxy.example:9050", "proxy.example", 9050);
	expect_ok("192.0.2.1:1", "192.0.2.1", 1);
	expect_ok("192.0.2.1:65535", "192.0.2.1", 65535);
	expect_ok("localhost:01080", "localhost", 1080);
	expect_ok("my_proxy-1.internal:1081", "my_proxy-1.internal", 1081);
	expect_ok("proxy.example.:1081", "proxy.example.", 1081);
}

static void bracketed_ipv6_with_and_without_port_is_accepted(void **state)
{
	(void)state;
	expect_ok("[::1]", "::1", S5_DEFAULT_PORT);
	expect_ok("[2001:db8::1]:1081", "2001:db8::1", 1081);
	expect_ok("[::ffff:192.0.2.1]:9", "::ffff:192.0.2.1", 9);
}

static void both_schemes_are_accepted_in_any_case(void **state)
{
	(void)state;
	expect_ok("socks5://proxy.example", "proxy.example", 1080);
	expect_ok("socks5h://proxy.example:1", "proxy.example", 1);
	expect_ok("SOCKS5://[::1]:2", "::1", 2);
	expect_ok("SoCkS5H://10.0.0.1", "10.0.0.1", 1080);
}

static void one_trailing_slash_is_allowed(void **state)
{
	(void)state;
	expect_ok("socks5://proxy.example:1080/", "proxy.example", 1080);
	expect_ok("socks5://[::1]/", "::1", 1080);
	expect_ok("proxy.example/", "proxy.example", 1080);
}

static void url_with_user_and_password_is_percent_decoded(void **state)
{
	(void)state;
	expect_ok("socks5://al%69ce:p%40ss%3a%2F%25w@proxy.example:1080",
		  "proxy.example", 1080);
	assert_true(u.has_user);
	assert_true(u.has_pass);
	assert_int_equal(u.user_len, 5);
	assert_string_equal(u.user, "alice");
	assert_int_equal(u.pass_len, 8);
	assert_string_equal(u.pass, "p@ss:/%w");
}

static void user_without_password_has_no_password(void **state)
{
	(void)state;
	expect_ok("socks5h://bob@[::1]:7", "::1", 7);
	assert_true(u.has_user);
	assert_false(u.has_pass);
	assert_string_equal(u.user, "bob");
	assert_int_equal(u.pass_len, 0);
}

static void empty_password_after_colon_is_an_empty_password(void **state)
{
	(void)state;
	expect_ok("socks5://bob:@proxy.example", "proxy.example", 1080);
	assert_true(u.has_pass);
	assert_int_equal(u.pass_len, 0);
	assert_string_equal(u.pass, "");
}

static void last_at_sign_ends_the_user_information(void **state)
{
	(void)state;
	expect_ok("socks5://bob:a@b:c@proxy.example:1", "proxy.example", 1);
	assert_string_equal(u.user, "bob");
	assert_string_equal(u.pass, "a@b:c");
}

static void raw_slash_in_a_password_is_kept(void **state)
{
	(void)state;
	expect_ok("socks5://bob:a/b?c#d@proxy.example", "proxy.example", 1080);
	assert_string_equal(u.pass, "a/b?c#d");
}

static void password_with_scheme_like_text_is_not_a_scheme(void **state)
{
	(void)state;
	expect_ok("socks5://bob:x://y@proxy.example", "proxy.example", 1080);
	assert_string_equal(u.pass, "x://y");
}

static void credentials_of_255_bytes_fit_and_256_do_not(void **state)
{
	char s[1200];
	char name[256];

	(void)state;
	memset(name, 'u', 255);
	name[255] = '\0';
	strcpy(s, "socks5://");
	strcat(s, name);
	strcat(s, ":");
	strcat(s, name);
	strcat(s, "@h");
	expect_ok(s, "h", 1080);
	assert_int_equal(u.user_len, 255);
	assert_int_equal(u.pass_len, 255);

	strcpy(s, "socks5://");
	strcat(s, name);
	strcat(s, "u@h");
	expect_bad(s, "user name is longer than 255");

	strcpy(s, "socks5://u:");
	strcat(s, name);
	strcat(s, "%41@h");
	expect_bad(s, "password is longer than 255");
}

static void percent_escapes_count_as_one_byte(void **state)
{
	char s[1200];
	size_t i;

	(void)state;
	strcpy(s, "socks5://");
	for (i = 0; i < 255; i++)
		strcat(s, "%7e");
	strcat(s, "@h");
	expect_ok(s, "h", 1080);
	assert_int_equal(u.user_len, 255);
	assert_int_equal(u.user[254], '~');
}

static void host_of_255_bytes_fits_and_256_does_not(void **state)
{
	char s[300];

	(void)state;
	memset(s, 'a', 255);
	s[255] = '\0';
	expect_ok(s, s, 1080);
	memset(s, 'a', 256);
	s[256] = '\0';
	expect_bad(s, "longer than 255");
}

static void empty_input_is_an_error(void **state)
{
	(void)state;
	expect_bad("", "empty");
	expect_bad(NULL, "empty");
}

static void other_schemes_are_named_in_the_error(void **state)
{
	(void)state;
	expect_bad("http://proxy.example:3128",
		   "unsupported scheme 'http' (use socks5:// or socks5h://)");
	expect_bad("socks4://proxy.example", "'socks4'");
	expect_bad("socks5s://proxy.example", "'socks5s'");
}

static void bare_ipv6_is_rejected_with_a_hint(void **state)
{
	(void)state;
	expect_bad("::1", "[addr]:port");
	expect_bad("2001:db8::1:1080", "[addr]:port");
	expect_bad("socks5://fe80::1", "[addr]:port");
}

static void bad_ports_are_rejected(void **state)
{
	(void)state;
	expect_bad("h:0", "1 to 65535");
	expect_bad("h:65536", "1 to 65535");
	expect_bad("h:99999999999999999999", "1 to 65535");
	expect_bad("h:", "1 to 65535");
	expect_bad("h:+80", "1 to 65535");
	expect_bad("h:-1", "1 to 65535");
	expect_bad("h:80x", "1 to 65535");
	expect_bad("h: 80", "1 to 65535");
	expect_bad("[::1]:", "1 to 65535");
	expect_bad("[::1]:http", "1 to 65535");
}

static void paths_and_queries_are_rejected(void **state)
{
	(void)state;
	expect_bad("socks5://h:1080/path", "nothing may follow");
	expect_bad("socks5://h:1080//", "nothing may follow");
	expect_bad("socks5://h/?x", "nothing may follow");
	expect_bad("h:1080?x=1", "nothing may follow");
	expect_bad("socks5://h#frag", "nothing may follow");
	expect_bad("socks5://[::1]:1/x", "nothing may follow");
}

static void bad_hosts_are_rejected(void **state)
{
	(void)state;
	expect_bad("socks5://", "no host");
	expect_bad("socks5://:1080", "no host");
	expect_bad("socks5://user@", "no host");
	expect_bad("pro xy", "letters, digits");
	expect_bad("proxy!", "letters, digits");
	expect_bad("a..b", "empty label");
	expect_bad(".a", "empty label");
	expect_bad("1.2.3", "IPv4");
	expect_bad("256.1.1.1:80", "IPv4");
	expect_bad("010.0.0.1", "IPv4");
	expect_bad("[::1", "[addr]");
	expect_bad("[::1]x", "[addr]");
	expect_bad("[]", "IPv6");
	expect_bad("[not-v6]:1", "IPv6");
	expect_bad("[192.0.2.1]:1", "IPv6");
	expect_bad("[fe80::1%eth0]:1", "IPv6");
}

static void bad_user_information_is_rejected(void **state)
{
	(void)state;
	expect_bad("socks5://@h", "user name is empty");
	expect_bad("socks5://:pw@h", "user name is empty");
	expect_bad("socks5://%4@h", "percent escape in the user name");
	expect_bad("socks5://%zz@h", "percent escape in the user name");
	expect_bad("socks5://a%00b@h", "percent escape in the user name");
	expect_bad("socks5://u:%@h", "percent escape in the password");
	expect_bad("socks5://u:%g1@h", "percent escape in the password");
	expect_bad("socks5://u:%00@h", "percent escape in the password");
}

/* The password (and the user) must never reach an error text, however the
 * input is malformed. */
static void password_never_appears_in_error_text(void **state)
{
	static const char *const bad[] = {
		"socks5://user:S3CRETpw",
		"socks5://user:S3CRETpw@",
		"socks5://user:S3CRETpw@h:0",
		"socks5://user:S3CRETpw@h/p",
		"socks5://user:S3CRETpw%zz@h",
		"socks5://user:S3CRETpw@::1",
		"socks5://user:S3CRETpw@h!",
		"user:S3CRETpw",
		"socks5://user:S3CRETpw@[::1",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i]), -EINVAL);
		if (strstr(err, "S3CRET") || strstr(err, "user"))
			fail_msg("'%s' leaked: %s", bad[i], err);
	}
}

static void error_text_fits_a_small_buffer(void **state)
{
	char small[8];

	(void)state;
	assert_int_equal(s5_url_parse("http://h", &u, small, sizeof(small)),
			 -EINVAL);
	assert_string_equal(small, "SOCKS5_");
	assert_int_equal(s5_url_parse("http://h", &u, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bare_host_gets_the_default_port),
		cmocka_unit_test(host_and_port_are_split),
		cmocka_unit_test(bracketed_ipv6_with_and_without_port_is_accepted),
		cmocka_unit_test(both_schemes_are_accepted_in_any_case),
		cmocka_unit_test(one_trailing_slash_is_allowed),
		cmocka_unit_test(url_with_user_and_password_is_percent_decoded),
		cmocka_unit_test(user_without_password_has_no_password),
		cmocka_unit_test(empty_password_after_colon_is_an_empty_password),
		cmocka_unit_test(last_at_sign_ends_the_user_information),
		cmocka_unit_test(raw_slash_in_a_password_is_kept),
		cmocka_unit_test(password_with_scheme_like_text_is_not_a_scheme),
		cmocka_unit_test(credentials_of_255_bytes_fit_and_256_do_not),
		cmocka_unit_test(percent_escapes_count_as_one_byte),
		cmocka_unit_test(host_of_255_bytes_fits_and_256_does_not),
		cmocka_unit_test(empty_input_is_an_error),
		cmocka_unit_test(other_schemes_are_named_in_the_error),
		cmocka_unit_test(bare_ipv6_is_rejected_with_a_hint),
		cmocka_unit_test(bad_ports_are_rejected),
		cmocka_unit_test(paths_and_queries_are_rejected),
		cmocka_unit_test(bad_hosts_are_rejected),
		cmocka_unit_test(bad_user_information_is_rejected),
		cmocka_unit_test(password_never_appears_in_error_text),
		cmocka_unit_test(error_text_fits_a_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
