/* Unit tests for src/dns/msg.c and src/dns/search.c: matching a DNS reply
 * to its query, h_errno from a reply, the OPT record, res_search's order
 * of candidate names and HOSTALIASES. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "s5_dnsmsg.h"

/* A query for www.Example.test A, ID 0x1234, RD. */
static const uint8_t query[] = {
	0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
	4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
};

/* A reply to it: the question (other case), one A record whose name is
 * a compression pointer to the question. flags2: RA + rcode. */
static size_t reply(uint8_t *r, uint8_t flags1, uint8_t flags2,
		    uint16_t ancount)
{
	static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60,
				      0, 4, 192, 0, 2, 1 };
	size_t n = sizeof(query);

	memcpy(r, query, n);
	r[2] = flags1;
	r[3] = flags2;
	r[6] = (uint8_t)(ancount >> 8);
	r[7] = (uint8_t)ancount;
	r[13] = 'W';
	r[17] = 'e';
	if (ancount > 0) {
		memcpy(r + n, rr, sizeof(rr));
		n += sizeof(rr);
	}
	return n;
}

static enum s5_dns_verdict check(const uint8_t *r, size_t n)
{
	return s5_dns_check_reply(query, sizeof(query), r, n, false);
}

static void an_answer_with_the_same_question_is_accepted(void **state)
{
	uint8_t r[128];
	size_t n = reply(r, 0x81, 0x80, 1);

	(void)state;
	assert_int_equal(check(r, n), S5_DNS_ANSWER);
	assert_int_equal(s5_dns_reply_herrno(r, n), 0);
}

static void another_id_or_a_query_is_ignored(void **state)
{
	uint8_t r[128];
	size_t n = reply(r, 0x81, 0x80, 1);

	(void)state;
	r[1] ^= 1;
	assert_int_equal(check(r, n), S5_DNS_IGNORE);
	r[1] ^= 1;
	r[2] = 0x01; /* QR clear: our own query echoed back */
	assert_int_equal(check(r, n), S5_DNS_IGNORE);
	assert_int_equal(check(r, 11), S5_DNS_IGNORE);
}

static void another_question_is_ignored(void **state)
{
	uint8_t r[128];
	size_t n = reply(r, 0x81, 0x80, 1);

	(void)state;
	r[14] = 'x'; /* wxw.example.test */
	assert_int_equal(check(r, n), S5_DNS_IGNORE);
	r[14] = 'w';
	r[sizeof(query) - 3] = 28; /* AAAA */
	assert_int_equal(check(r, n), S5_DNS_IGNORE);
	r[sizeof(query) - 3] = 1;
	r[5] = 2; /* two questions, the query had one */
	assert_int_equal(check(r, n), S5_DNS_IGNORE);
}

static void a_question_cut_short_is_ignored(void **state)
{
	uint8_t r[128];
	size_t n = reply(r, 0x81, 0x00, 0), cut;

	(void)state;
	for (cut = 12; cut < n; cut++)
		assert_int_equal(check(r, cut), S5_DNS_IGNORE);
	assert_int_equal(check(r, n), S5_DNS_NEXT); /* bare referral */
}

static void a_compression_loop_is_rejected(void **state)
{
	uint8_t r[64];
	size_t n = reply(r, 0x81, 0x80, 0);

	(void)state;
	/* The question's name points at itself. */
	r[12] = 0xc0;
	r[13] = 12;
	assert_int_equal(check(r, n), S5_DNS_IGNORE);
}

static void servfail_notimp_refused_and_referrals_move_on(void **state)
{
	uint8_t r[128];
	size_t n;

	(void)state;
	n = reply(r, 0x81, 0x82, 0);
	assert_int_equal(check(r, n), S5_DNS_NEXT);
	n = reply(r, 0x81, 0x84, 0);
	assert_int_equal(check(r, n), S5_DNS_NEXT);
	n = reply(r, 0x81, 0x85, 0);
	assert_int_equal(check(r, n), S5_DNS_NEXT);
	/* No answer, no AA, no RA, no additional records: a referral. */
	n = reply(r, 0x81, 0x00, 0);
	assert_int_equal(check(r, n), S5_DNS_NEXT);
	/* The same with AA is NODATA from the zone's server. */
	n = reply(r, 0x85, 0x00, 0);
	assert_int_equal(check(r, n), S5_DNS_ANSWER);
	/* FORMERR without the question (a server without EDNS0). */
	n = reply(r, 0x81, 0x81, 0);
	r[5] = 0;
	assert_int_equal(check(r, 12), S5_DNS_NEXT);
}

static void the_tc_bit_asks_for_tcp_unless_ignored(void **state)
{
	uint8_t r[128];
	size_t n = reply(r, 0x83, 0x80, 0);

	(void)state;
	assert_int_equal(check(r, n), S5_DNS_TRUNC);
	assert_int_equal(s5_dns_check_reply(query, sizeof(query), r, n, true),
			 S5_DNS_ANSWER);
	n = reply(r, 0x81, 0x80, 1);
	s5_dns_set_tc(r, n);
	assert_int_equal(check(r, n), S5_DNS_TRUNC);
}

static void rcodes_map_to_h_errno_as_in_glibc(void **state)
{
	uint8_t r[128];

	(void)state;
	assert_int_equal(s5_dns_reply_herrno(r, reply(r, 0x81, 0x83, 0)),
			 HOST_NOT_FOUND);
	assert_int_equal(s5_dns_reply_herrno(r, reply(r, 0x81, 0x82, 0)),
			 TRY_AGAIN);
	assert_int_equal(s5_dns_reply_herrno(r, reply(r, 0x81, 0x80, 0)),
			 NO_DATA);
	assert_int_equal(s5_dns_reply_herrno(r, reply(r, 0x81, 0x85, 0)),
			 NO_RECOVERY);
	assert_int_equal(s5_dns_reply_herrno(r, reply(r, 0x81, 0x81, 0)),
			 NO_RECOVERY);
	assert_int_equal(s5_dns_reply_herrno(r, 5), NO_RECOVERY);
	assert_int_equal(s5_dns_rcode(r, 5), -1);
}

static void the_opt_record_is_appended_and_counted(void **state)
{
	uint8_t q[64];
	int n;

	(void)state;
	memcpy(q, query, sizeof(query));
	n = s5_dns_add_opt(q, sizeof(query), sizeof(q), 1200, true);
	assert_int_equal(n, (int)sizeof(query) + 11);
	assert_int_equal(q[11], 1);
	assert_int_equal(q[sizeof(query)], 0);
	assert_int_equal(q[sizeof(query) + 2], 41);
	assert_int_equal(q[sizeof(query) + 3] << 8 | q[sizeof(query) + 4],
			 1200);
	assert_int_equal(q[sizeof(query) + 7], 0x80); /* DO */
	assert_int_equal(s5_dns_add_opt(q, (size_t)n, (size_t)n + 10, 512,
					false),
			 -EMSGSIZE);
}

static void the_first_question_reads_as_text(void **state)
{
	char name[64];
	uint16_t type = 0;

	(void)state;
	assert_int_equal(s5_dns_first_question(query, sizeof(query), name,
					       sizeof(name), &type),
			 16);
	assert_string_equal(name, "www.example.test");
	assert_int_equal(type, 1);
	assert_int_equal(s5_dns_first_question(query, 20, name, sizeof(name),
					       &type),
			 -1);
}

/* ---- the search list ---------------------------------------------------- */

struct step {
	const char *name; /* the candidate expected, NULL: the search ends */
	int herrno;       /* what asking for it gives */
	int rcode;
};

static int run_search(const char *name, unsigned int ndots, bool defnames,
		      bool dnsrch, bool notld, const char *const *domains,
		      const struct step *steps)
{
	struct s5_dns_search s;
	char cand[S5_DNS_MAXDNAME + 1];
	int n, i;

	s5_dns_search_init(&s, name, ndots, defnames, dnsrch, notld, domains);
	for (i = 0;; i++) {
		n = s5_dns_search_next(&s, cand, sizeof(cand));
		if (steps[i].name == NULL) {
			assert_int_equal(n, 0);
			return s5_dns_search_herrno(&s);
		}
		assert_true(n > 0);
		assert_string_equal(cand, steps[i].name);
		if (s5_dns_search_result(&s, steps[i].herrno, steps[i].rcode,
					 false)) {
			assert_null(steps[i + 1].name);
			return s5_dns_search_herrno(&s);
		}
	}
}

static const char *const two[] = { "a.example", "b.example", NULL };

static void a_dotless_name_tries_each_domain_then_itself(void **state)
{
	const struct step steps[] = {
		{ "www.a.example", HOST_NOT_FOUND, 3 },
		{ "www.b.example", NO_DATA, 0 },
		{ "www", HOST_NOT_FOUND, 3 },
		{ NULL, 0, 0 },
	};

	(void)state;
	/* One domain had the name, without this type: NODATA. */
	assert_int_equal(run_search("www", 1, true, true, false, two, steps),
			 NO_DATA);
}

static void a_name_with_enough_dots_goes_as_it_is_first(void **state)
{
	const struct step found[] = {
		{ "www.example.test", 0, 0 },
		{ NULL, 0, 0 },
	};
	const struct step not_found[] = {
		{ "www.example.test", HOST_NOT_FOUND, 3 },
		{ "www.example.test.a.example", HOST_NOT_FOUND, 3 },
		{ "www.example.test.b.example", HOST_NOT_FOUND, 3 },
		{ NULL, 0, 0 },
	};

	(void)state;
	assert_int_equal(run_search("www.example.test", 1, true, true, false,
				    two, found),
			 0);
	assert_int_equal(run_search("www.example.test", 1, true, true, false,
				    two, not_found),
			 HOST_NOT_FOUND);
}

static void a_trailing_dot_asks_once(void **state)
{
	const struct step steps[] = {
		{ "www.", NO_DATA, 0 },
		{ NULL, 0, 0 },
	};

	(void)state;
	assert_int_equal(run_search("www.", 1, true, true, false, two, steps),
			 NO_DATA);
}

static void fewer_dots_than_ndots_search_first(void **state)
{
	const struct step steps[] = {
		{ "a.b.a.example", HOST_NOT_FOUND, 3 },
		{ "a.b.b.example", TRY_AGAIN, 2 }, /* SERVFAIL: go on */
		{ "a.b", HOST_NOT_FOUND, 3 },
		{ NULL, 0, 0 },
	};

	(void)state;
	assert_int_equal(run_search("a.b", 3, true, true, false, two, steps),
			 TRY_AGAIN);
}

static void a_timeout_or_refusal_stops_the_list(void **state)
{
	const struct step timeout[] = {
		{ "www.a.example", TRY_AGAIN, 0 }, /* no reply at all */
		{ "www", HOST_NOT_FOUND, 3 },
		{ NULL, 0, 0 },
	};
	const struct step refused[] = {
		{ "www.a.example", NO_RECOVERY, 5 },
		{ "www", NO_RECOVERY, 5 },
		{ NULL, 0, 0 },
	};

	(void)state;
	assert_int_equal(run_search("www", 1, true, true, false, two, timeout),
			 HOST_NOT_FOUND);
	assert_int_equal(run_search("www", 1, true, true, false, two, refused),
			 NO_RECOVERY);
}

static void without_dnsrch_only_the_first_domain(void **state)
{
	const struct step steps[] = {
		{ "www.a.example", HOST_NOT_FOUND, 3 },
		{ "www", HOST_NOT_FOUND, 3 },
		{ NULL, 0, 0 },
	};
	const struct step dotted[] = {
		{ "a.b", HOST_NOT_FOUND, 3 },
		{ NULL, 0, 0 },
	};

	(void)state;
	assert_int_equal(run_search("www", 1, true, false, false, two, steps),
			 HOST_NOT_FOUND);
	/* A dotted name below ndots without RES_DNSRCH: only itself. */
	assert_int_equal(run_search("a.b", 2, true, false, false, two, dotted),
			 HOST_NOT_FOUND);
}

static void notldquery_and_the_root_domain_skip_the_bare_name(void **state)
{
	static const char *const root[] = { "a.example", ".", NULL };
	const struct step notld[] = {
		{ "www.a.example", HOST_NOT_FOUND, 3 },
		{ "www.b.example", HOST_NOT_FOUND, 3 },
		{ NULL, 0, 0 },
	};
	const struct step with_root[] = {
		{ "www.a.example", HOST_NOT_FOUND, 3 },
		{ "www.", HOST_NOT_FOUND, 3 },
		{ NULL, 0, 0 },
	};

	(void)state;
	assert_int_equal(run_search("www", 1, true, true, true, two, notld),
			 HOST_NOT_FOUND);
	assert_int_equal(run_search("www", 1, true, true, false, root,
				    with_root),
			 HOST_NOT_FOUND);
}

static void no_search_at_all_reports_host_not_found(void **state)
{
	static const char *const none[] = { NULL };
	struct s5_dns_search s;
	char cand[64];

	(void)state;
	s5_dns_search_init(&s, "", 1, true, true, true, none);
	/* The empty name: searched nothing, then the bare name, which
	 * glibc refuses. */
	assert_int_equal(s5_dns_search_next(&s, cand, sizeof(cand)),
			 -ENAMETOOLONG);
	assert_true(s5_dns_search_result(&s, NO_RECOVERY, -1, false));
	assert_int_equal(s5_dns_search_herrno(&s), NO_RECOVERY);
}

static void an_unreachable_server_ends_the_search(void **state)
{
	struct s5_dns_search s;
	char cand[64];

	(void)state;
	s5_dns_search_init(&s, "www", 1, true, true, false, two);
	assert_true(s5_dns_search_next(&s, cand, sizeof(cand)) > 0);
	assert_true(s5_dns_search_result(&s, TRY_AGAIN, 0, true));
	assert_int_equal(s5_dns_search_next(&s, cand, sizeof(cand)), 0);
	assert_int_equal(s5_dns_search_herrno(&s), TRY_AGAIN);
}

/* ---- HOSTALIASES -------------------------------------------------------- */

static void host_aliases_match_without_case(void **state)
{
	static const char text[] = "# aliases\n"
				   "web   www.example.test  trailing words\n"
				   "mail\tmx.example.test\n";
	char out[64];

	(void)state;
	assert_int_equal(s5_dns_hostalias(text, strlen(text), "WEB", out,
					  sizeof(out)),
			 16);
	assert_string_equal(out, "www.example.test");
	assert_int_equal(s5_dns_hostalias(text, strlen(text), "mail", out,
					  sizeof(out)),
			 15);
	assert_string_equal(out, "mx.example.test");
	assert_int_equal(s5_dns_hostalias(text, strlen(text), "other", out,
					  sizeof(out)),
			 0);
	/* An alias without a target names nothing. */
	assert_int_equal(s5_dns_hostalias("web\n", 4, "web", out, sizeof(out)),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_answer_with_the_same_question_is_accepted),
		cmocka_unit_test(another_id_or_a_query_is_ignored),
		cmocka_unit_test(another_question_is_ignored),
		cmocka_unit_test(a_question_cut_short_is_ignored),
		cmocka_unit_test(a_compression_loop_is_rejected),
		cmocka_unit_test(servfail_notimp_refused_and_referrals_move_on),
		cmocka_unit_test(the_tc_bit_asks_for_tcp_unless_ignored),
		cmocka_unit_test(rcodes_map_to_h_errno_as_in_glibc),
		cmocka_unit_test(the_opt_record_is_appended_and_counted),
		cmocka_unit_test(the_first_question_reads_as_text),
		cmocka_unit_test(a_dotless_name_tries_each_domain_then_itself),
		cmocka_unit_test(a_name_with_enough_dots_goes_as_it_is_first),
		cmocka_unit_test(a_trailing_dot_asks_once),
		cmocka_unit_test(fewer_dots_than_ndots_search_first),
		cmocka_unit_test(a_timeout_or_refusal_stops_the_list),
		cmocka_unit_test(without_dnsrch_only_the_first_domain),
		cmocka_unit_test(notldquery_and_the_root_domain_skip_the_bare_name),
		cmocka_unit_test(no_search_at_all_reports_host_not_found),
		cmocka_unit_test(an_unreachable_server_ends_the_search),
		cmocka_unit_test(host_aliases_match_without_case),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
