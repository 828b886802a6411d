/* Unit tests for src/log: line assembly, cutting, levels, formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "s5_log.h"
#include "s5_proto.h"

/* What the capture writer received; lines are NUL-terminated copies. */
static char out[4096];
static size_t out_len;
static int writes;
static int fail_eintr;   /* how many calls fail with EINTR first */
static size_t max_chunk; /* 0: take everything, else short writes */

static ssize_t capture(int fd, const void *buf, size_t len)
{
	(void)fd;
	writes++;
	if (fail_eintr > 0) {
		fail_eintr--;
		errno = EINTR;
		return -1;
	}
	if (max_chunk && len > max_chunk)
		len = max_chunk;
	assert_true(out_len + len < sizeof(out));
	memcpy(out + out_len, buf, len);
	out_len += len;
	out[out_len] = '\0';
	return (ssize_t)len;
}

static int reset(void **state)
{
	(void)state;
	out_len = 0;
	out[0] = '\0';
	writes = 0;
	fail_eintr = 0;
	max_chunk = 0;
	s5log_setup(S5LOG_DEBUG, 7, capture);
	return 0;
}

/* The text after "socks5wrap[PID]: level: ". */
static const char *body(void)
{
	const char *p = strstr(out, ": ");

	assert_non_null(p);
	p = strstr(p + 2, ": ");
	assert_non_null(p);
	return p + 2;
}

static void line_starts_with_program_pid_and_level(void **state)
{
	char want[64];

	(void)state;
	s5log_msg(S5LOG_WARN, "hello", NULL);
	snprintf(want, sizeof(want), "socks5wrap[%ld]: warn: hello\n",
		 (long)getpid());
	assert_string_equal(out, want);
	assert_int_equal(writes, 1);
}

static void lines_below_the_level_are_not_written(void **state)
{
	struct s5log_line l;

	(void)state;
	s5log_setup(S5LOG_WARN, 7, capture);
	assert_true(s5log_enabled(S5LOG_ERROR));
	assert_true(s5log_enabled(S5LOG_WARN));
	assert_false(s5log_enabled(S5LOG_INFO));
	s5log_msg(S5LOG_INFO, "quiet", NULL);
	s5log_begin(&l, S5LOG_DEBUG);
	s5log_str(&l, "quiet too");
	s5log_end(&l);
	assert_int_equal(writes, 0);
	s5log_msg(S5LOG_ERROR, "loud", NULL);
	assert_int_equal(writes, 1);
}

static void level_none_writes_nothing(void **state)
{
	(void)state;
	s5log_setup(S5LOG_NONE, 7, capture);
	assert_false(s5log_enabled(S5LOG_ERROR));
	assert_false(s5log_enabled(S5LOG_NONE));
	s5log_msg(S5LOG_ERROR, "x", NULL);
	s5log_msg(S5LOG_NONE, "x", NULL);
	assert_int_equal(writes, 0);
}

static void setup_is_reported_back(void **state)
{
	(void)state;
	s5log_setup(S5LOG_INFO, 9, capture);
	assert_int_equal(s5log_level(), S5LOG_INFO);
	assert_int_equal(s5log_fd(), 9);
}

static void level_names_parse_in_any_case(void **state)
{
	enum s5log_level lv = S5LOG_NONE;

	(void)state;
	assert_int_equal(s5log_parse_level("debug", &lv), 0);
	assert_int_equal(lv, S5LOG_DEBUG);
	assert_int_equal(s5log_parse_level("WARN", &lv), 0);
	assert_int_equal(lv, S5LOG_WARN);
	assert_int_equal(s5log_parse_level("Error", &lv), 0);
	assert_int_equal(lv, S5LOG_ERROR);
	assert_int_equal(s5log_parse_level("iNfO", &lv), 0);
	assert_int_equal(lv, S5LOG_INFO);
	assert_int_equal(s5log_parse_level("none", &lv), 0);
	assert_int_equal(lv, S5LOG_NONE);
}

static void unknown_level_names_are_invalid(void **state)
{
	enum s5log_level lv = S5LOG_INFO;

	(void)state;
	assert_int_equal(s5log_parse_level("warning", &lv), -EINVAL);
	assert_int_equal(s5log_parse_level("", &lv), -EINVAL);
	assert_int_equal(s5log_parse_level("debu", &lv), -EINVAL);
	assert_int_equal(s5log_parse_level(NULL, &lv), -EINVAL);
	assert_int_equal(lv, S5LOG_INFO);
}

static void long_line_is_cut_and_ends_with_dots(void **state)
{
	struct s5log_line l;
	char big[2 * S5LOG_LINE_MAX];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s5log_begin(&l, S5LOG_INFO);
	s5log_str(&l, big);
	s5log_str(&l, "never seen");
	s5log_end(&l);
	assert_int_equal(out_len, S5LOG_LINE_MAX);
	assert_memory_equal(out + out_len - 6, "aa...\n", 6);
	assert_null(strstr(out, "never"));
}

static void line_that_exactly_fits_is_not_cut(void **state)
{
	struct s5log_line l;
	char fill[S5LOG_LINE_MAX];
	size_t room;

	(void)state;
	s5log_begin(&l, S5LOG_INFO);
	room = S5LOG_LINE_MAX - 1 - l.len;
	memset(fill, 'b', room);
	s5log_strn(&l, fill, room);
	s5log_end(&l);
	assert_int_equal(out_len, S5LOG_LINE_MAX);
	assert_memory_equal(out + out_len - 4, "bbb\n", 4);
}

static void end_twice_writes_the_line_once(void **state)
{
	struct s5log_line l;

	(void)state;
	s5log_begin(&l, S5LOG_INFO);
	s5log_str(&l, "once");
	s5log_end(&l);
	s5log_end(&l);
	assert_int_equal(writes, 1);
}

static void end_leaves_errno_as_it_was(void **state)
{
	(void)state;
	fail_eintr = 1; /* the writer sets errno = EINTR */
	errno = ECONNREFUSED;
	s5log_msg(S5LOG_ERROR, "x", NULL);
	assert_int_equal(errno, ECONNREFUSED);
}

static void interrupted_and_short_writes_still_deliver_the_line(void **state)
{
	(void)state;
	fail_eintr = 2;
	max_chunk = 3;
	s5log_msg(S5LOG_ERROR, "whole line", NULL);
	assert_string_equal(body(), "whole line\n");
	assert_true(writes > 3);
}

static void write_as_writer_writes_to_the_descriptor(void **state)
{
	int p[2];
	char buf[128];
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(p), 0);
	s5log_setup(S5LOG_INFO, p[1], write);
	s5log_msg(S5LOG_INFO, "via ", "pipe", NULL);
	n = read(p[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, ": info: via pipe\n"));
	close(p[0]);
	close(p[1]);
}

static void message_strings_are_concatenated(void **state)
{
	(void)state;
	s5log_msg(S5LOG_DEBUG, "a", "", "bc", " d", NULL);
	assert_string_equal(body(), "abc d\n");
}

static void control_characters_in_text_become_question_marks(void **state)
{
	(void)state;
	s5log_msg(S5LOG_INFO, "one\ntwo\r\x1b[0m\x7f", NULL);
	assert_string_equal(body(), "one?two??[0m?\n");
}

static void strn_stops_at_length_or_nul_and_null_is_shown(void **state)
{
	struct s5log_line l;

	(void)state;
	s5log_begin(&l, S5LOG_INFO);
	s5log_strn(&l, "abcdef", 3);
	s5log_strn(&l, "x\0yz", 4);
	s5log_str(&l, NULL);
	s5log_end(&l);
	assert_string_equal(body(), "abcx(null)\n");
}

static void integers_print_their_extremes(void **state)
{
	struct s5log_line l;

	(void)state;
	s5log_begin(&l, S5LOG_INFO);
	s5log_int(&l, LLONG_MIN);
	s5log_str(&l, " ");
	s5log_int(&l, LLONG_MAX);
	s5log_str(&l, " ");
	s5log_uint(&l, ULLONG_MAX);
	s5log_str(&l, " ");
	s5log_int(&l, 0);
	s5log_str(&l, " ");
	s5log_int(&l, -42);
	s5log_end(&l);
	assert_string_equal(body(), "-9223372036854775808 9223372036854775807 "
				    "18446744073709551615 0 -42\n");
}

static const char *fmt_sockaddr(const struct sockaddr *sa, socklen_t len)
{
	struct s5log_line l;

	out_len = 0;
	s5log_begin(&l, S5LOG_INFO);
	s5log_sockaddr(&l, sa, len);
	s5log_end(&l);
	return body();
}

static const char *fmt_v6(const char *text, uint16_t port)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET6, text, &s6.sin6_addr), 1);
	return fmt_sockaddr((struct sockaddr *)&s6, sizeof(s6));
}

static void ipv4_sockaddr_is_dotted_quad_and_port(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(80) };

	(void)state;
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	assert_string_equal(fmt_sockaddr((struct sockaddr *)&sin, sizeof(sin)),
			    "192.0.2.1:80\n");
}

static void ipv6_sockaddr_follows_rfc5952(void **state)
{
	(void)state;
	assert_string_equal(fmt_v6("2001:db8::1", 80), "[2001:db8::1]:80\n");
	assert_string_equal(fmt_v6("::", 0), "[::]:0\n");
	assert_string_equal(fmt_v6("::1", 53), "[::1]:53\n");
	assert_string_equal(fmt_v6("1::", 1), "[1::]:1\n");
	/* one zero group is not compressed (section 4.2.2) */
	assert_string_equal(fmt_v6("2001:db8:0:1:1:1:1:1", 1),
			    "[2001:db8:0:1:1:1:1:1]:1\n");
	/* the longest run wins, the first one on a tie (4.2.3) */
	assert_string_equal(fmt_v6("1:0:0:2:0:0:0:3", 1),
			    "[1:0:0:2::3]:1\n");
	assert_string_equal(fmt_v6("1:0:0:2:0:0:3:4", 1),
			    "[1::2:0:0:3:4]:1\n");
	assert_string_equal(fmt_v6("FE80:0ABC::", 1), "[fe80:abc::]:1\n");
	assert_string_equal(fmt_v6("::ffff:192.0.2.1", 443),
			    "[::ffff:192.0.2.1]:443\n");
}

static void short_or_foreign_sockaddr_is_a_question_mark(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr un = { .sa_family = AF_UNIX };

	(void)state;
	assert_string_equal(fmt_sockaddr((struct sockaddr *)&sin,
					 sizeof(sin) - 1),
			    "?\n");
	assert_string_equal(fmt_sockaddr(&un, sizeof(un)), "?\n");
	assert_string_equal(fmt_sockaddr(NULL, 0), "?\n");
}

static void bare_addresses_are_written_without_port_or_brackets(void **state)
{
	static const char *const ips[] = {
		"0.0.0.0", "192.0.2.1", "255.255.255.255", "::", "::1",
		"2001:db8::1", "fe80::", "::ffff:192.0.2.1",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	};
	char text[S5_IP_TEXT_MAX];
	uint8_t a[16];
	int family;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		family = strchr(ips[i], ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(family, ips[i], a), 1);
		memset(text, 'x', sizeof(text));
		assert_int_equal(s5_fmt_ip(text, family, a), strlen(ips[i]));
		assert_string_equal(text, ips[i]);
	}
	assert_int_equal(s5_fmt_ip(text, AF_UNIX, a), 1);
	assert_string_equal(text, "?");
}

static const char *fmt_s5addr(const struct s5_addr *a)
{
	struct s5log_line l;

	out_len = 0;
	s5log_begin(&l, S5LOG_INFO);
	s5log_s5addr(&l, a);
	s5log_end(&l);
	return body();
}

static void socks_addresses_print_like_sockaddrs(void **state)
{
	struct s5_addr a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.atyp = S5_ATYP_IPV4;
	a.u.v4[0] = 10;
	a.u.v4[3] = 1;
	a.port = 1080;
	assert_string_equal(fmt_s5addr(&a), "10.0.0.1:1080\n");
	a.atyp = S5_ATYP_IPV6;
	memset(a.u.v6, 0, 16);
	a.u.v6[15] = 1;
	assert_string_equal(fmt_s5addr(&a), "[::1]:1080\n");
	assert_int_equal(s5_addr_from_name(&a, "example.org", 11, 443), 0);
	assert_string_equal(fmt_s5addr(&a), "example.org:443\n");
	a.atyp = 9;
	assert_string_equal(fmt_s5addr(&a), "?\n");
	assert_string_equal(fmt_s5addr(NULL), "?\n");
}

static void unprintable_bytes_of_a_name_become_question_marks(void **state)
{
	struct s5_addr a;

	(void)state;
	assert_int_equal(s5_addr_from_name(&a, "a\0b\xc3\xa9\n.x", 8, 1), 0);
	assert_string_equal(fmt_s5addr(&a), "a?b???.x:1\n");
}

static const char *fmt_errno(int err)
{
	struct s5log_line l;

	out_len = 0;
	s5log_begin(&l, S5LOG_INFO);
	s5log_errno(&l, err);
	s5log_end(&l);
	return body();
}

static void errno_values_print_as_text_of_either_sign(void **state)
{
	(void)state;
	assert_string_equal(fmt_errno(ECONNREFUSED), "connection refused\n");
	assert_string_equal(fmt_errno(-EPROTO), "protocol error\n");
	assert_string_equal(fmt_errno(ETIMEDOUT), "connection timed out\n");
}

static void unknown_errno_prints_its_number(void **state)
{
	(void)state;
	assert_string_equal(fmt_errno(9999), "errno 9999\n");
	assert_string_equal(fmt_errno(0), "errno 0\n");
	assert_string_equal(fmt_errno(INT_MIN), "errno 2147483648\n");
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(line_starts_with_program_pid_and_level),
		T(lines_below_the_level_are_not_written),
		T(level_none_writes_nothing),
		T(setup_is_reported_back),
		T(level_names_parse_in_any_case),
		T(unknown_level_names_are_invalid),
		T(long_line_is_cut_and_ends_with_dots),
		T(line_that_exactly_fits_is_not_cut),
		T(end_twice_writes_the_line_once),
		T(end_leaves_errno_as_it_was),
		T(interrupted_and_short_writes_still_deliver_the_line),
		T(write_as_writer_writes_to_the_descriptor),
		T(message_strings_are_concatenated),
		T(control_characters_in_text_become_question_marks),
		T(strn_stops_at_length_or_nul_and_null_is_shown),
		T(integers_print_their_extremes),
		T(ipv4_sockaddr_is_dotted_quad_and_port),
		T(ipv6_sockaddr_follows_rfc5952),
		T(short_or_foreign_sockaddr_is_a_question_mark),
		T(bare_addresses_are_written_without_port_or_brackets),
		T(socks_addresses_print_like_sockaddrs),
		T(unprintable_bytes_of_a_name_become_question_marks),
		T(errno_values_print_as_text_of_either_sign),
		T(unknown_errno_prints_its_number),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
