/* Unit tests for src/dns/answer.c: reading a program's DNS query, writing
 * the reply the supervisor gives it (A/AAAA, PTR, errors), reverse names,
 * and the addresses in a reply. Expected replies are written out byte by
 * byte; inputs cut short are copied to buffers of exactly their length,
 * so a sanitizer build (make unit SANITIZE=1) sees any read past them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "s5_dnsmsg.h"

/* www.Example.test A, ID 0x1234, RD. */
static const uint8_t query_a[] = {
	0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
	4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
};

/* a.test AAAA, ID 0xbeef, no RD, an OPT record (4096 bytes, DO) with one
 * 8-byte cookie option. */
static const uint8_t query_aaaa_edns[] = {
	0xbe, 0xef, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
	1, 'a', 4, 't', 'e', 's', 't', 0, 0, 28, 0, 1,
	0, 0, 41, 0x10, 0x00, 0, 0, 0x80, 0, 0, 12,
	0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
};

/* 5.0.18.198.in-addr.arpa PTR, ID 0x0102, RD. */
static const uint8_t query_ptr[] = {
	0x01, 0x02, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	1, '5', 1, '0', 2, '1', '8', 3, '1', '9', '8',
	7, 'i', 'n', '-', 'a', 'd', 'd', 'r', 4, 'a', 'r', 'p', 'a', 0,
	0, 12, 0, 1,
};

/* A copy of the first len bytes of m in a buffer of exactly that size. */
static uint8_t *exact(const uint8_t *m, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, m, len);
	return p;
}

/* A query as a stub resolver writes it: name as labels, then type, class
 * IN, and an OPT record (payload 1200) when edns. */
static size_t make_query(uint8_t *m, uint16_t id, const char *name,
			 uint16_t type, bool edns)
{
	size_t n = 12;

	memset(m, 0, 12);
	m[0] = (uint8_t)(id >> 8);
	m[1] = (uint8_t)id;
	m[2] = 0x01; /* RD */
	m[5] = 1;
	m[11] = edns ? 1 : 0;
	while (*name != '\0') {
		size_t l = strcspn(name, ".");

		m[n++] = (uint8_t)l;
		memcpy(m + n, name, l);
		n += l;
		name += l;
		if (*name == '.')
			name++;
	}
	m[n++] = 0;
	m[n++] = (uint8_t)(type >> 8);
	m[n++] = (uint8_t)type;
	m[n++] = 0;
	m[n++] = 1;
	if (edns) {
		static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xb0,
					       0, 0, 0, 0, 0, 0 };

		memcpy(m + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	return n;
}

/* ---- reading queries ---------------------------------------------------- */

static void a_query_is_read_into_its_fields(void **state)
{
	struct s5_dns_query q;

	(void)state;
	assert_int_equal(s5_dns_parse_query(query_a, sizeof(query_a), &q), 0);
	assert_int_equal(q.id, 0x1234);
	assert_true(q.rd);
	assert_false(q.edns);
	assert_int_equal(q.edns_payload, 0);
	assert_string_equal(q.name, "www.example.test");
	assert_int_equal(q.qtype, S5_DNS_TYPE_A);
	assert_int_equal(q.qclass, S5_DNS_CLASS_IN);
	assert_int_equal(q.qoff, 12);
	assert_int_equal(q.qlen, sizeof(query_a) - 12);
}

static void an_opt_record_is_noted_with_its_payload(void **state)
{
	struct s5_dns_query q;

	(void)state;
	assert_int_equal(s5_dns_parse_query(query_aaaa_edns,
					    sizeof(query_aaaa_edns), &q),
			 0);
	assert_int_equal(q.id, 0xbeef);
	assert_false(q.rd);
	assert_true(q.edns);
	assert_int_equal(q.edns_payload, 4096);
	assert_string_equal(q.name, "a.test");
	assert_int_equal(q.qtype, S5_DNS_TYPE_AAAA);
	assert_int_equal(q.qlen, 12); /* the OPT record is not copied */
}

/* query_a with byte at set to v. */
static int parse_changed(size_t at, uint8_t v)
{
	uint8_t m[sizeof(query_a)];
	struct s5_dns_query q;

	memcpy(m, query_a, sizeof(m));
	m[at] = v;
	return s5_dns_parse_query(m, sizeof(m), &q);
}

static void only_a_plain_query_with_one_question_is_read(void **state)
{
	uint8_t m[64];
	struct s5_dns_query q;

	(void)state;
	assert_int_equal(parse_changed(2, 0x81), -EINVAL); /* QR: a reply */
	assert_int_equal(parse_changed(2, 0x09), -EINVAL); /* IQUERY */
	assert_int_equal(parse_changed(2, 0x21), -EINVAL); /* NOTIFY */
	assert_int_equal(parse_changed(5, 0), -EINVAL);    /* no question */
	assert_int_equal(parse_changed(5, 2), -EINVAL);    /* two */
	assert_int_equal(parse_changed(7, 1), -EINVAL);    /* an answer */
	assert_int_equal(parse_changed(9, 1), -EINVAL);    /* authority */
	assert_int_equal(parse_changed(11, 1), -EINVAL);   /* OPT missing */
	/* Bytes after the question. */
	memcpy(m, query_a, sizeof(query_a));
	m[sizeof(query_a)] = 0;
	assert_int_equal(s5_dns_parse_query(m, sizeof(query_a) + 1, &q),
			 -EINVAL);
	/* Two additional records, or one that is not OPT (a TSIG, say, whose
	 * signature this reply could not carry). */
	memcpy(m, query_aaaa_edns, sizeof(query_aaaa_edns));
	m[11] = 2;
	assert_int_equal(s5_dns_parse_query(m, sizeof(query_aaaa_edns), &q),
			 -EINVAL);
	m[11] = 1;
	m[26] = 250;
	assert_int_equal(s5_dns_parse_query(m, sizeof(query_aaaa_edns), &q),
			 -EINVAL);
	/* An OPT record owned by another name than the root. */
	m[26] = 41;
	m[24] = 1;
	assert_int_equal(s5_dns_parse_query(m, sizeof(query_aaaa_edns), &q),
			 -EINVAL);
}

static void every_query_cut_short_is_refused(void **state)
{
	const uint8_t *all[] = { query_a, query_aaaa_edns, query_ptr };
	const size_t lens[] = { sizeof(query_a), sizeof(query_aaaa_edns),
				sizeof(query_ptr) };
	struct s5_dns_query q;

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		for (size_t cut = 0; cut < lens[k]; cut++) {
			uint8_t *m = exact(all[k], cut);

			assert_int_equal(s5_dns_parse_query(m, cut, &q),
					 -EINVAL);
			free(m);
		}
	}
}

static void a_compressed_question_name_is_refused(void **state)
{
	/* A question that is only a pointer, back into the header, and one
	 * whose pointer points at itself. */
	static const uint8_t into_header[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		0xc0, 0x0b, 0, 1, 0, 1,
	};
	static const uint8_t loop[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		1, 'a', 0xc0, 12, 0, 1, 0, 1,
	};
	struct s5_dns_query q;

	(void)state;
	assert_int_equal(s5_dns_parse_query(into_header, sizeof(into_header),
					    &q),
			 -EINVAL);
	assert_int_equal(s5_dns_parse_query(loop, sizeof(loop), &q), -EINVAL);
	/* An extended label type (0x40). */
	assert_int_equal(parse_changed(12, 0x43), -EINVAL);
}

static void names_without_a_text_form_are_told_apart(void **state)
{
	struct s5_dns_query q;
	uint8_t m[64];
	size_t n;

	(void)state;
	assert_int_equal(parse_changed(14, '.'), -EILSEQ); /* "w.w" label */
	assert_int_equal(parse_changed(14, ' '), -EILSEQ);
	assert_int_equal(parse_changed(14, 0), -EILSEQ);
	assert_int_equal(parse_changed(14, 0xc3), -EILSEQ);
	assert_int_equal(parse_changed(14, '%'), -EILSEQ);
	/* The root, asked for its NS records. */
	n = make_query(m, 7, "", 2, false);
	assert_int_equal(s5_dns_parse_query(m, n, &q), -EILSEQ);
	assert_string_equal(q.name, "");
	assert_int_equal(q.qtype, 2);
	assert_int_equal(q.qlen, 5);
	/* The rest is read, for the REFUSED reply. */
	memcpy(m, query_a, sizeof(query_a));
	m[13] = ' ';
	assert_int_equal(s5_dns_parse_query(m, sizeof(query_a), &q), -EILSEQ);
	assert_string_equal(q.name, "");
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.qtype, S5_DNS_TYPE_A);
	assert_int_equal(q.qlen, sizeof(query_a) - 12);
}

static void underscores_and_the_longest_name_are_read(void **state)
{
	char name[254];
	uint8_t m[300];
	struct s5_dns_query q;
	size_t n;

	(void)state;
	n = make_query(m, 1, "_sip._tcp.Example.test", 33, false);
	assert_int_equal(s5_dns_parse_query(m, n, &q), 0);
	assert_string_equal(q.name, "_sip._tcp.example.test");
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters. */
	memset(name, 'a', 253);
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	n = make_query(m, 1, name, 1, false);
	assert_int_equal(s5_dns_parse_query(m, n, &q), 0);
	assert_string_equal(q.name, name);
}

/* ---- writing replies ---------------------------------------------------- */

static const uint8_t fake4[] = { 198, 18, 0, 5, 198, 18, 0, 6 };
static const uint8_t fake6[16] = { 0xfd, 0x53, 0x53, 0x57, [15] = 5 };

static void an_a_reply_is_written_byte_for_byte(void **state)
{
	static const uint8_t want[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
		3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
		4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
		0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 5,
		0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 6,
	};
	struct s5_dns_query q;
	uint8_t out[512];

	(void)state;
	assert_int_equal(s5_dns_parse_query(query_a, sizeof(query_a), &q), 0);
	assert_int_equal(s5_dns_build_reply(query_a, sizeof(query_a), &q,
					    S5_RCODE_NOERROR, fake4, 2, 4,
					    60, out, sizeof(out)),
			 (int)sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static void an_aaaa_reply_to_edns_carries_our_opt_record(void **state)
{
	static const uint8_t want[] = {
		0xbe, 0xef, 0x80, 0x80, 0, 1, 0, 1, 0, 0, 0, 1,
		1, 'a', 4, 't', 'e', 's', 't', 0, 0, 28, 0, 1,
		0xc0, 12, 0, 28, 0, 1, 0, 0, 0x01, 0x2c, 0, 16,
		0xfd, 0x53, 0x53, 0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
		/* payload 1232, version 0, DO clear, no options */
		0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0,
	};
	struct s5_dns_query q;
	uint8_t out[512];

	(void)state;
	assert_int_equal(s5_dns_parse_query(query_aaaa_edns,
					    sizeof(query_aaaa_edns), &q),
			 0);
	assert_int_equal(s5_dns_build_reply(query_aaaa_edns,
					    sizeof(query_aaaa_edns), &q,
					    S5_RCODE_NOERROR, fake6, 1, 16,
					    300, out, sizeof(out)),
			 (int)sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static void an_error_reply_has_the_question_and_no_answer(void **state)
{
	static const uint8_t want[] = {
		0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0,
		3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
		4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
	};
	struct s5_dns_query q;
	uint8_t out[512];

	(void)state;
	assert_int_equal(s5_dns_parse_query(query_a, sizeof(query_a), &q), 0);
	assert_int_equal(s5_dns_build_reply(query_a, sizeof(query_a), &q,
					    S5_RCODE_NXDOMAIN, NULL, 0, 0, 0,
					    out, sizeof(out)),
			 (int)sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	/* A refused name: same, RCODE 5. */
	memcpy(out, query_a, sizeof(query_a));
	out[13] = ' ';
	assert_int_equal(s5_dns_parse_query(out, sizeof(query_a), &q),
			 -EILSEQ);
	assert_int_equal(s5_dns_build_reply(query_a, sizeof(query_a), &q,
					    S5_RCODE_REFUSED, NULL, 0, 0, 0,
					    out, sizeof(out)),
			 (int)sizeof(want));
	assert_int_equal(out[3], 0x85);
	assert_memory_equal(out + 4, want + 4, sizeof(want) - 4);
}

static void a_reply_that_does_not_fit_is_not_written(void **state)
{
	struct s5_dns_query q;
	uint8_t out[128];
	int n;

	(void)state;
	assert_int_equal(s5_dns_parse_query(query_aaaa_edns,
					    sizeof(query_aaaa_edns), &q),
			 0);
	n = s5_dns_build_reply(query_aaaa_edns, sizeof(query_aaaa_edns), &q,
			       0, fake6, 1, 16, 60, out, sizeof(out));
	assert_int_equal(n, 12 + 12 + 28 + 11);
	for (size_t cap = 0; cap < (size_t)n; cap++)
		assert_int_equal(s5_dns_build_reply(query_aaaa_edns,
						    sizeof(query_aaaa_edns),
						    &q, 0, fake6, 1, 16, 60,
						    out, cap),
				 -EMSGSIZE);
}

static void addresses_of_the_wrong_kind_are_refused(void **state)
{
	struct s5_dns_query q;
	uint8_t out[512];

	(void)state;
	assert_int_equal(s5_dns_parse_query(query_a, sizeof(query_a), &q), 0);
	assert_int_equal(s5_dns_build_reply(query_a, sizeof(query_a), &q, 0,
					    fake6, 1, 16, 60, out,
					    sizeof(out)),
			 -EINVAL);
	assert_int_equal(s5_dns_build_reply(query_a, sizeof(query_a), &q, 16,
					    NULL, 0, 0, 60, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(s5_dns_build_reply(query_a, sizeof(query_a), &q, -1,
					    NULL, 0, 0, 60, out, sizeof(out)),
			 -EINVAL);
	/* No addresses for an MX question: NODATA, which is fine... */
	q.qtype = 15;
	assert_int_equal(s5_dns_build_reply(query_a, sizeof(query_a), &q, 0,
					    NULL, 0, 0, 60, out, sizeof(out)),
			 (int)sizeof(query_a));
	/* ...but no A record under it. */
	assert_int_equal(s5_dns_build_reply(query_a, sizeof(query_a), &q, 0,
					    fake4, 1, 4, 60, out, sizeof(out)),
			 -EINVAL);
	/* A question that is not in the query given. */
	q.qtype = S5_DNS_TYPE_A;
	assert_int_equal(s5_dns_build_reply(query_a, 20, &q, 0, fake4, 1, 4,
					    60, out, sizeof(out)),
			 -EINVAL);
}

static void a_ptr_reply_is_written_byte_for_byte(void **state)
{
	static const uint8_t want[] = {
		0x01, 0x02, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		1, '5', 1, '0', 2, '1', '8', 3, '1', '9', '8',
		7, 'i', 'n', '-', 'a', 'd', 'd', 'r', 4, 'a', 'r', 'p', 'a', 0,
		0, 12, 0, 1,
		0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 5, 0, 18,
		3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
		4, 't', 'e', 's', 't', 0,
	};
	struct s5_dns_query q;
	uint8_t out[512];

	(void)state;
	assert_int_equal(s5_dns_parse_query(query_ptr, sizeof(query_ptr), &q),
			 0);
	assert_string_equal(q.name, "5.0.18.198.in-addr.arpa");
	assert_int_equal(s5_dns_build_ptr_reply(query_ptr, sizeof(query_ptr),
						&q, "www.Example.test.", 5,
						out, sizeof(out)),
			 (int)sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	for (size_t cap = 0; cap < sizeof(want); cap++)
		assert_int_equal(s5_dns_build_ptr_reply(query_ptr,
							sizeof(query_ptr), &q,
							"www.example.test", 5,
							out, cap),
				 -EMSGSIZE);
}

static void a_ptr_reply_needs_a_ptr_question_and_a_name(void **state)
{
	struct s5_dns_query q;
	uint8_t out[512];
	char long_label[70];

	(void)state;
	assert_int_equal(s5_dns_parse_query(query_ptr, sizeof(query_ptr), &q),
			 0);
	assert_int_equal(s5_dns_build_ptr_reply(query_ptr, sizeof(query_ptr),
						&q, "", 5, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(s5_dns_build_ptr_reply(query_ptr, sizeof(query_ptr),
						&q, "a..b", 5, out,
						sizeof(out)),
			 -EINVAL);
	assert_int_equal(s5_dns_build_ptr_reply(query_ptr, sizeof(query_ptr),
						&q, "a b", 5, out,
						sizeof(out)),
			 -EINVAL);
	memset(long_label, 'x', 64);
	long_label[64] = '\0';
	assert_int_equal(s5_dns_build_ptr_reply(query_ptr, sizeof(query_ptr),
						&q, long_label, 5, out,
						sizeof(out)),
			 -EINVAL);
	q.qtype = S5_DNS_TYPE_A;
	assert_int_equal(s5_dns_build_ptr_reply(query_ptr, sizeof(query_ptr),
						&q, "a.test", 5, out,
						sizeof(out)),
			 -EINVAL);
}

/* ---- reverse names ------------------------------------------------------ */

static void reverse_names_give_their_address(void **state)
{
	static const uint8_t v6[16] = { 0x43, 0x21, 0, 0, 0, 1, 0, 2,
					0, 3, 0, 4, 0x05, 0x67, 0x89, 0xab };
	static const uint8_t v4[16] = { 203, 0, 113, 7 };
	uint8_t addr[16];
	int family = 0;

	(void)state;
	assert_int_equal(s5_dns_ptr_addr("7.113.0.203.in-addr.arpa", &family,
					 addr),
			 0);
	assert_int_equal(family, AF_INET);
	assert_memory_equal(addr, v4, 16);
	memset(addr, 0xff, sizeof(addr));
	assert_int_equal(s5_dns_ptr_addr("7.113.0.203.IN-ADDR.Arpa.", &family,
					 addr),
			 0);
	assert_memory_equal(addr, v4, 16);
	/* RFC 3596 section 2.5's example. */
	assert_int_equal(s5_dns_ptr_addr("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0."
					 "0.0.1.0.0.0.0.0.0.0.1.2.3.4.IP6.ARPA",
					 &family, addr),
			 0);
	assert_int_equal(family, AF_INET6);
	assert_memory_equal(addr, v6, 16);
	assert_int_equal(s5_dns_ptr_addr("B.A.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0."
					 "0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa.",
					 &family, addr),
			 0);
	assert_memory_equal(addr, v6, 16);
	assert_int_equal(s5_dns_ptr_addr("0.0.0.0.in-addr.arpa", &family,
					 addr),
			 0);
	assert_int_equal(s5_dns_ptr_addr("255.255.255.255.in-addr.arpa",
					 &family, addr),
			 0);
	assert_int_equal(addr[0] & addr[3], 255);
}

static void other_names_are_no_reverse_names(void **state)
{
	static const char *const bad[] = {
		"", ".", "in-addr.arpa", ".in-addr.arpa", "ip6.arpa",
		"113.0.203.in-addr.arpa",     /* a zone, not an address */
		"1.7.113.0.203.in-addr.arpa", /* one label too many */
		"256.0.0.1.in-addr.arpa", "01.0.0.1.in-addr.arpa",
		"1000.0.0.1.in-addr.arpa", "a.0.0.1.in-addr.arpa",
		"1..0.1.in-addr.arpa", "1.2.3.4in-addr.arpa",
		"1.2.3.4.in-addr.arpa..", "-1.2.3.4.in-addr.arpa",
		"1.2.3.4.in-addr.example", "www.example.test",
		/* 31 nibbles, 33, a non-hex digit, a two-digit label */
		"a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4."
		"ip6.arpa",
		"0.b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3."
		"4.ip6.arpa",
		"g.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4."
		"ip6.arpa",
		"ba.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.5."
		"ip6.arpa",
		"7.113.0.203.ip6.arpa",
	};
	char long_name[300];
	uint8_t addr[16];
	int family = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (s5_dns_ptr_addr(bad[i], &family, addr) != -EINVAL)
			fail_msg("taken as a reverse name: \"%s\"", bad[i]);
	}
	/* Zeros in front of an address's name. */
	memset(long_name, '0', 200);
	strcpy(long_name + 200, "1.2.3.4.in-addr.arpa");
	assert_int_equal(s5_dns_ptr_addr(long_name, &family, addr), -EINVAL);
}

/* ---- addresses in replies ----------------------------------------------- */

struct seen {
	int n;
	int family[8];
	uint8_t addr[8][16];
	int stop_at; /* fail the call with -EINTR at this count, or -1 */
};

static int remember(void *ctx, int family, const uint8_t *addr)
{
	struct seen *s = ctx;

	if (s->n == s->stop_at)
		return -EINTR;
	if (s->n < 8) {
		s->family[s->n] = family;
		memcpy(s->addr[s->n], addr, family == AF_INET ? 4 : 16);
	}
	s->n++;
	return 0;
}

/* www.example.test: CNAME cdn.example.test (written as "cdn" and a
 * pointer to example.test), whose A record (pointer to the CNAME's data),
 * a CH-class A record to skip, then its AAAA record. */
static const uint8_t chain[] = {
	0x00, 0x07, 0x81, 0x80, 0, 1, 0, 4, 0, 0, 0, 0,
	3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
	/* 34 */ 0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6,
	/* 46 */ 3, 'c', 'd', 'n', 0xc0, 16,
	/* 52 */ 0xc0, 46, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1,
	/* 68 */ 0xc0, 46, 0, 1, 0, 3, 0, 0, 0, 60, 0, 4, 192, 0, 2, 99,
	/* 84 */ 0xc0, 46, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
};

static void reply_addresses_follow_a_cname_chain(void **state)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	struct seen s = { .stop_at = -1 };

	(void)state;
	assert_int_equal(s5_dns_reply_addrs(chain, sizeof(chain), remember,
					    &s),
			 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.family[0], AF_INET);
	assert_memory_equal(s.addr[0], v4, 4);
	assert_int_equal(s.family[1], AF_INET6);
	assert_memory_equal(s.addr[1], v6, 16);
	assert_int_equal(s5_dns_reply_addrs(chain, sizeof(chain), NULL, NULL),
			 2);
	/* The callback's error ends the walk. */
	s = (struct seen){ .stop_at = 1 };
	assert_int_equal(s5_dns_reply_addrs(chain, sizeof(chain), remember,
					    &s),
			 -EINTR);
	assert_int_equal(s.n, 1);
}

static int reply_addrs_changed(size_t at, uint8_t v, struct seen *s)
{
	uint8_t m[sizeof(chain)];

	memcpy(m, chain, sizeof(m));
	m[at] = v;
	return s5_dns_reply_addrs(m, sizeof(m), remember, s);
}

static void malformed_replies_give_no_address_at_all(void **state)
{
	struct seen s = { .stop_at = -1 };

	(void)state;
	for (size_t cut = 0; cut < sizeof(chain); cut++) {
		uint8_t *m = exact(chain, cut);

		assert_int_equal(s5_dns_reply_addrs(m, cut, remember, &s),
				 -EINVAL);
		free(m);
	}
	assert_int_equal(reply_addrs_changed(2, 0x01, &s), -EINVAL); /* QR */
	assert_int_equal(reply_addrs_changed(53, 52, &s), -EINVAL); /* self */
	assert_int_equal(reply_addrs_changed(53, 60, &s), -EINVAL); /* ahead */
	assert_int_equal(reply_addrs_changed(63, 5, &s), -EINVAL); /* A of 5 */
	assert_int_equal(reply_addrs_changed(95, 4, &s), -EINVAL); /* AAAA */
	assert_int_equal(reply_addrs_changed(7, 5, &s), -EINVAL); /* ANCOUNT */
	assert_int_equal(reply_addrs_changed(5, 2, &s), -EINVAL); /* QDCOUNT */
	/* Nothing was passed on before any of the errors. */
	assert_int_equal(s.n, 0);
}

static void a_built_reply_reads_back(void **state)
{
	static const uint8_t four[] = { 198, 18, 0, 1, 198, 18, 0, 2,
					198, 18, 0, 3 };
	uint8_t six[2 * 16] = { 0xfd, 0x53, [15] = 1, [16] = 0xfd,
				[17] = 0x53, [31] = 2 };
	uint8_t m[300], r[512];
	struct s5_dns_query q;
	struct seen s = { .stop_at = -1 };
	char text[64];
	uint16_t type = 0;
	size_t n;
	int rn;

	(void)state;
	n = make_query(m, 0x4242, "Host.Example.TEST", S5_DNS_TYPE_A, false);
	assert_int_equal(s5_dns_parse_query(m, n, &q), 0);
	assert_string_equal(q.name, "host.example.test");
	rn = s5_dns_build_reply(m, n, &q, 0, four, 3, 4, 60, r, sizeof(r));
	assert_true(rn > 0);
	assert_int_equal(s5_dns_check_reply(m, n, r, (size_t)rn, false),
			 S5_DNS_ANSWER);
	assert_int_equal(s5_dns_reply_herrno(r, (size_t)rn), 0);
	assert_int_equal(s5_dns_reply_addrs(r, (size_t)rn, remember, &s), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(s.family[i], AF_INET);
		assert_memory_equal(s.addr[i], four + 4 * i, 4);
	}
	assert_int_equal(s5_dns_first_question(r, (size_t)rn, text,
					       sizeof(text), &type),
			 17);
	assert_string_equal(text, "host.example.test");

	/* AAAA, with EDNS: the OPT record after the answers is not read. */
	n = make_query(m, 0x4343, "host.example.test", S5_DNS_TYPE_AAAA, true);
	assert_int_equal(s5_dns_parse_query(m, n, &q), 0);
	assert_int_equal(q.edns_payload, 1200);
	rn = s5_dns_build_reply(m, n, &q, 0, six, 2, 16, 60, r, sizeof(r));
	assert_true(rn > 0);
	assert_int_equal(s5_dns_check_reply(m, n, r, (size_t)rn, false),
			 S5_DNS_ANSWER);
	s = (struct seen){ .stop_at = -1 };
	assert_int_equal(s5_dns_reply_addrs(r, (size_t)rn, remember, &s), 2);
	assert_int_equal(s.family[1], AF_INET6);
	assert_memory_equal(s.addr[0], six, 16);
	assert_memory_equal(s.addr[1], six + 16, 16);

	/* NXDOMAIN: an answer to the query, without addresses. */
	rn = s5_dns_build_reply(m, n, &q, S5_RCODE_NXDOMAIN, NULL, 0, 0, 0, r,
				sizeof(r));
	assert_int_equal(s5_dns_check_reply(m, n, r, (size_t)rn, false),
			 S5_DNS_ANSWER);
	assert_int_equal(s5_dns_reply_addrs(r, (size_t)rn, remember, &s), 0);
}

static void a_ptr_reply_reads_back(void **state)
{
	uint8_t m[300], r[512], addr[16];
	struct s5_dns_query q;
	int family = 0, rn;
	size_t n;

	(void)state;
	n = make_query(m, 9, "9.0.18.198.IN-ADDR.ARPA", S5_DNS_TYPE_PTR,
		       true);
	assert_int_equal(s5_dns_parse_query(m, n, &q), 0);
	assert_int_equal(s5_dns_ptr_addr(q.name, &family, addr), 0);
	assert_int_equal(family, AF_INET);
	assert_memory_equal(addr, ((const uint8_t[]){ 198, 18, 0, 9 }), 4);
	rn = s5_dns_build_ptr_reply(m, n, &q, "db.example.test", 60, r,
				    sizeof(r));
	assert_true(rn > 0);
	assert_int_equal(s5_dns_check_reply(m, n, r, (size_t)rn, false),
			 S5_DNS_ANSWER);
	assert_int_equal(r[11], 1); /* the OPT record */
	assert_int_equal(s5_dns_reply_addrs(r, (size_t)rn, NULL, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_query_is_read_into_its_fields),
		cmocka_unit_test(an_opt_record_is_noted_with_its_payload),
		cmocka_unit_test(only_a_plain_query_with_one_question_is_read),
		cmocka_unit_test(every_query_cut_short_is_refused),
		cmocka_unit_test(a_compressed_question_name_is_refused),
		cmocka_unit_test(names_without_a_text_form_are_told_apart),
		cmocka_unit_test(underscores_and_the_longest_name_are_read),
		cmocka_unit_test(an_a_reply_is_written_byte_for_byte),
		cmocka_unit_test(an_aaaa_reply_to_edns_carries_our_opt_record),
		cmocka_unit_test(an_error_reply_has_the_question_and_no_answer),
		cmocka_unit_test(a_reply_that_does_not_fit_is_not_written),
		cmocka_unit_test(addresses_of_the_wrong_kind_are_refused),
		cmocka_unit_test(a_ptr_reply_is_written_byte_for_byte),
		cmocka_unit_test(a_ptr_reply_needs_a_ptr_question_and_a_name),
		cmocka_unit_test(reverse_names_give_their_address),
		cmocka_unit_test(other_names_are_no_reverse_names),
		cmocka_unit_test(reply_addresses_follow_a_cname_chain),
		cmocka_unit_test(malformed_replies_give_no_address_at_all),
		cmocka_unit_test(a_built_reply_reads_back),
		cmocka_unit_test(a_ptr_reply_reads_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
