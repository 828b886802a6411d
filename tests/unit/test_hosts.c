/* Unit tests for src/dns/hosts.c: the host names of an /etc/hosts text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "s5_dns.h"

static struct s5_hosts hosts;

static int teardown(void **state)
{
	(void)state;
	s5_hosts_free(&hosts);
	return 0;
}

static void parse_n(const char *text, size_t len)
{
	s5_hosts_free(&hosts);
	assert_int_equal(s5_hosts_parse(text, len, &hosts), 0);
}

static void parse(const char *text)
{
	parse_n(text, strlen(text));
}

/* The list as one string, names separated by '|': easy to compare. */
static const char *listed(void)
{
	static char out[8192];
	size_t i;

	assert_true(hosts.len < sizeof(out));
	for (i = 0; i < hosts.len; i++)
		out[i] = hosts.names[i] ? hosts.names[i] : '|';
	out[i] = '\0';
	return out;
}

static void address_is_skipped_and_every_alias_is_kept(void **state)
{
	(void)state;
	parse("127.0.0.1 localhost\n"
	      "192.0.2.7 app.corp.test app db\n"
	      "::1 ip6-localhost ip6-loopback\n");
	assert_string_equal(listed(), "localhost|app.corp.test|app|db|"
				      "ip6-localhost|ip6-loopback|");
	assert_true(s5_hosts_has(&hosts, "app"));
	assert_true(s5_hosts_has(&hosts, "ip6-loopback"));
	assert_false(s5_hosts_has(&hosts, "192.0.2.7"));
}

static void comments_and_blank_lines_hold_no_names(void **state)
{
	(void)state;
	parse("# a comment naming commented.test\n"
	      "\n"
	      "   \t \n"
	      "192.0.2.1 one.test # two.test three.test\n"
	      "192.0.2.2 four.test#five.test\n"
	      "  # indented comment.test\n"
	      "192.0.2.3#six.test\n");
	assert_string_equal(listed(), "one.test|four.test|");
	assert_false(s5_hosts_has(&hosts, "commented.test"));
	assert_false(s5_hosts_has(&hosts, "two.test"));
	assert_false(s5_hosts_has(&hosts, "five.test"));
	assert_false(s5_hosts_has(&hosts, "six.test"));
}

static void tabs_and_carriage_returns_separate_fields(void **state)
{
	(void)state;
	parse("192.0.2.1\tone.test\t\ttwo.test\r\n"
	      "\t192.0.2.2 \t three.test \r\r\n"
	      "192.0.2.3\rfour.test\n");
	assert_string_equal(listed(), "one.test|two.test|three.test|"
				      "four.test|");
}

static void other_control_bytes_make_a_name_invalid(void **state)
{
	(void)state;
	parse("192.0.2.1 one\vtest two.test\n"
	      "192.0.2.2 three\ftest\n");
	assert_string_equal(listed(), "two.test|");
}

static void names_are_folded_to_lower_case_without_the_last_dot(void **state)
{
	(void)state;
	parse("192.0.2.1 Mixed.Case.TEST. UPPER lower.\n");
	assert_string_equal(listed(), "mixed.case.test|upper|lower|");
	assert_true(s5_hosts_has(&hosts, "mixed.case.test"));
	/* Lookups take a name already normalised. */
	assert_false(s5_hosts_has(&hosts, "Mixed.Case.TEST"));
	assert_false(s5_hosts_has(&hosts, "upper."));
}

static void invalid_names_are_skipped_and_the_rest_kept(void **state)
{
	char text[600], label[70];

	(void)state;
	memset(label, 'a', 64);
	label[64] = '\0';
	strcpy(text, "192.0.2.1 good.test .lead a..b trailing.. . sp%ce ");
	strcat(text, label);
	strcat(text, " x.");
	strcat(text, label);
	strcat(text, " caf\xc3\xa9.test also.good under_score\n");
	parse(text);
	assert_string_equal(listed(), "good.test|also.good|under_score|");
}

static void longest_name_is_kept_and_one_byte_more_is_not(void **state)
{
	char name[260], text[600];
	size_t i;

	(void)state;
	/* Three labels of 63 and one of 61: 253 bytes with the dots. */
	for (i = 0; i < 253; i++)
		name[i] = (i + 1) % 64 == 0 ? '.' : 'a';
	name[253] = '\0';
	strcpy(text, "192.0.2.1 ");
	strcat(text, name);
	strcat(text, ". ");
	strcat(text, name);
	strcat(text, "a\n");
	parse(text);
	assert_int_equal(hosts.len, 254);
	assert_string_equal(hosts.names, name);
	assert_true(s5_hosts_has(&hosts, name));
}

static void very_long_lines_are_read_to_their_end(void **state)
{
	static char text[20000];
	size_t n;

	(void)state;
	strcpy(text, "192.0.2.1");
	n = strlen(text);
	/* Thousands of blanks, then a name; a huge token, then another. */
	memset(text + n, ' ', 8000);
	n += 8000;
	memcpy(text + n, "far.test ", 9);
	n += 9;
	memset(text + n, 'x', 9000);
	n += 9000;
	memcpy(text + n, " farther.test\n192.0.2.2 next.test", 33);
	n += 33;
	text[n] = '\0';
	parse(text);
	assert_string_equal(listed(), "far.test|farther.test|next.test|");
}

static void last_line_needs_no_newline(void **state)
{
	(void)state;
	parse("192.0.2.1 one.test\n192.0.2.2 two.test");
	assert_string_equal(listed(), "one.test|two.test|");
	parse("192.0.2.2 two.test\t");
	assert_string_equal(listed(), "two.test|");
}

static void empty_text_gives_an_empty_list(void **state)
{
	(void)state;
	parse("");
	assert_int_equal(hosts.len, 0);
	assert_false(s5_hosts_has(&hosts, "localhost"));
	parse("\n\n# only comments\n127.0.0.1\n");
	assert_int_equal(hosts.len, 0);
	assert_false(s5_hosts_has(&hosts, "localhost"));
}

static void name_listed_twice_is_found_and_kept_twice(void **state)
{
	(void)state;
	parse("192.0.2.1 twice.test\n192.0.2.2 twice.test TWICE.test.\n");
	assert_string_equal(listed(), "twice.test|twice.test|twice.test|");
	assert_true(s5_hosts_has(&hosts, "twice.test"));
}

static void lookup_matches_whole_names_only(void **state)
{
	(void)state;
	parse("192.0.2.1 corp.test localhost\n");
	assert_true(s5_hosts_has(&hosts, "corp.test"));
	assert_false(s5_hosts_has(&hosts, "corp"));
	assert_false(s5_hosts_has(&hosts, "app.corp.test"));
	assert_false(s5_hosts_has(&hosts, "local"));
	assert_false(s5_hosts_has(&hosts, "localhostx"));
	assert_false(s5_hosts_has(&hosts, ""));
}

static void text_ends_at_its_length_or_a_nul_byte(void **state)
{
	static const char text[] = "192.0.2.1 one.test two.test\n"
				   "192.0.2.2 three.test\0four.test\n"
				   "192.0.2.3 five.test\n";

	(void)state;
	/* Cut inside "two.test": only the bytes given count. */
	parse_n(text, 22);
	assert_string_equal(listed(), "one.test|two|");
	/* The old reader worked on a C string: a NUL byte ends the text. */
	parse_n(text, sizeof(text) - 1);
	assert_string_equal(listed(), "one.test|two.test|three.test|");
}

static void input_is_not_changed(void **state)
{
	char text[] = "192.0.2.1 One.test#c\r\n";
	char copy[sizeof(text)];

	(void)state;
	memcpy(copy, text, sizeof(text));
	parse(text);
	assert_memory_equal(text, copy, sizeof(text));
	assert_string_equal(listed(), "one.test|");
}

static void free_empties_the_list_and_twice_is_harmless(void **state)
{
	struct s5_hosts none = { 0 };

	(void)state;
	parse("192.0.2.1 one.test\n");
	s5_hosts_free(&hosts);
	assert_null(hosts.names);
	assert_int_equal(hosts.len, 0);
	assert_false(s5_hosts_has(&hosts, "one.test"));
	s5_hosts_free(&hosts);
	assert_false(s5_hosts_has(&none, "one.test"));
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, teardown)
	const struct CMUnitTest tests[] = {
		T(address_is_skipped_and_every_alias_is_kept),
		T(comments_and_blank_lines_hold_no_names),
		T(tabs_and_carriage_returns_separate_fields),
		T(other_control_bytes_make_a_name_invalid),
		T(names_are_folded_to_lower_case_without_the_last_dot),
		T(invalid_names_are_skipped_and_the_rest_kept),
		T(longest_name_is_kept_and_one_byte_more_is_not),
		T(very_long_lines_are_read_to_their_end),
		T(last_line_needs_no_newline),
		T(empty_text_gives_an_empty_list),
		T(name_listed_twice_is_found_and_kept_twice),
		T(lookup_matches_whole_names_only),
		T(text_ends_at_its_length_or_a_nul_byte),
		T(input_is_not_changed),
		T(free_empties_the_list_and_twice_is_harmless),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
