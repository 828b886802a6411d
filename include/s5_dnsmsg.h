/* DNS messages for the res_query family (RFC 1035 section 4): does a reply
 * answer a query, what h_errno does it mean, the EDNS0 OPT record, the
 * domain search list and HOSTALIASES. Bytes in, verdicts out: no I/O, so
 * the preload's transport (preload/res_send.c) stays a thin loop.
 *
 * The rules are glibc's, as resolver(3) and resolv.conf(5) describe them
 * and as its res_send/res_search behave, so that a program sees the same
 * answers and errors as without the library. */
#ifndef S5_DNSMSG_H
#define S5_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S5_DNS_HDR 12        /* fixed header (RFC 1035 section 4.1.1) */
#define S5_DNS_UDP_MAX 512   /* largest plain UDP message (section 2.3.4) */
#define S5_DNS_NAME_WIRE 255 /* longest name on the wire (section 2.3.4) */
#define S5_DNS_MAXDNAME 1025 /* glibc's MAXDNAME: text form with escapes */

enum s5_dns_rcode {
	S5_RCODE_NOERROR = 0,
	S5_RCODE_FORMERR = 1,
	S5_RCODE_SERVFAIL = 2,
	S5_RCODE_NXDOMAIN = 3,
	S5_RCODE_NOTIMP = 4,
	S5_RCODE_REFUSED = 5,
};

/* What a datagram that arrived while waiting for a reply means. */
enum s5_dns_verdict {
	S5_DNS_ANSWER,   /* the reply: give it to the program */
	S5_DNS_IGNORE,   /* not a reply to this query: keep waiting */
	S5_DNS_NEXT,     /* the server gave up (SERVFAIL, NOTIMP, REFUSED,
			    FORMERR without a question, a bare referral):
			    ask the next server */
	S5_DNS_TRUNC,    /* TC bit: ask the same server over TCP */
};

/* Judges reply (rlen bytes as received) against query: same ID, QR set,
 * same opcode, the same questions (names compared without regard to case,
 * compression followed), as glibc's res_send checks. ignore_tc: RES_IGNTC,
 * a truncated reply is then an answer. */
enum s5_dns_verdict s5_dns_check_reply(const uint8_t *query, size_t qlen,
				       const uint8_t *reply, size_t rlen,
				       bool ignore_tc);

/* The RCODE of a message of at least S5_DNS_HDR bytes, else -1. */
int s5_dns_rcode(const uint8_t *msg, size_t len);

/* The h_errno res_query gives for reply: 0 when it is an answer (NOERROR
 * and at least one answer record), HOST_NOT_FOUND for NXDOMAIN, TRY_AGAIN
 * for SERVFAIL, NO_DATA for NOERROR without answers, NO_RECOVERY for any
 * other code or a message too short to carry a header. */
int s5_dns_reply_herrno(const uint8_t *reply, size_t rlen);

/* The first question's name as text (no trailing dot, lower case,
 * odd bytes as '?': for log lines) and its type. Returns the text's
 * length, or -1 when msg has no readable question or cap is too small. */
int s5_dns_first_question(const uint8_t *msg, size_t len, char *name,
			  size_t cap, uint16_t *type);

/* Sets the TC bit (a reply cut to fit the program's buffer, as glibc
 * marks one). */
void s5_dns_set_tc(uint8_t *msg, size_t len);

/* Appends an EDNS0 OPT record (RFC 6891 section 6.1.2) advertising
 * payload bytes, with the DO bit when dnssec, and counts it in ARCOUNT.
 * Returns the new length, or -EMSGSIZE when cap is too small or the
 * message is not a query with a header. */
int s5_dns_add_opt(uint8_t *msg, size_t len, size_t cap, uint16_t payload,
		   bool dnssec);

/* ---- the domain search list (res_search) -------------------------- */

#define S5_DNS_SEARCH_MAX 6 /* MAXDNSRCH */

/* One res_search in progress. Fill with s5_dns_search_init; then, until
 * s5_dns_search_next returns 0, ask for each candidate name and report
 * the outcome with s5_dns_search_result. */
struct s5_dns_search {
	const char *name;
	const char *domains[S5_DNS_SEARCH_MAX + 1]; /* NULL-terminated */
	unsigned int dots;
	bool trailing_dot, defnames, dnsrch, notldquery;
	unsigned int ndots;
	/* progress */
	int stage;        /* 0 as-is first?, 1 the list, 2 as-is last, 3 done */
	unsigned int next_domain;
	bool tried_as_is, searched, root_on_list, got_nodata, got_servfail;
	int saved_herrno; /* -1: the name was not tried as is first */
	int last_herrno;
	bool last_was_as_is;
};

/* The search for name; ndots and the flags come from the resolver state
 * (RES_DEFNAMES, RES_DNSRCH, RES_NOTLDQUERY), domains from its dnsrch
 * list (NULL-terminated, at most S5_DNS_SEARCH_MAX used). */
void s5_dns_search_init(struct s5_dns_search *s, const char *name,
			unsigned int ndots, bool defnames, bool dnsrch,
			bool notldquery, const char *const *domains);

/* The next name to ask for, written to out (cap bytes): its length; 0 when
 * the search is over (s5_dns_search_herrno then says why it failed);
 * -ENAMETOOLONG when this candidate is too long (report NO_RECOVERY for
 * it, as glibc does, and go on). */
int s5_dns_search_next(struct s5_dns_search *s, char *out, size_t cap);

/* The outcome of the last candidate: herrno 0 for an answer (the search
 * is then over), else the h_errno it gave and the RCODE of the reply in
 * the program's buffer (-1 if none). unreachable: no name server could be
 * reached at all (glibc's ECONNREFUSED), which ends the search. Returns
 * true when the search is over. */
bool s5_dns_search_result(struct s5_dns_search *s, int herrno, int rcode,
			  bool unreachable);

/* The h_errno of a search that ended without an answer. */
int s5_dns_search_herrno(const struct s5_dns_search *s);

/* The name that a dotless name stands for in a HOSTALIASES file (text of
 * len bytes, "alias full.name" per line, hostname(7)): copied to out
 * (cap bytes) and its length returned, or 0 when the file does not name
 * it. */
size_t s5_dns_hostalias(const char *text, size_t len, const char *name,
			char *out, size_t cap);

#endif
