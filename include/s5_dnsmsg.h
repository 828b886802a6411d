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

/* ---- answering queries (answer.c) ---------------------------------- */

/* The supervisor answers a supervised program's DNS queries itself (fake
 * addresses for proxied names): it reads the query, then writes the reply
 * the name server would have sent. Pure byte work, as above. */

#define S5_DNS_TYPE_A 1
#define S5_DNS_TYPE_PTR 12
#define S5_DNS_TYPE_AAAA 28
#define S5_DNS_CLASS_IN 1
#define S5_DNS_EDNS_PAYLOAD 1232 /* our replies' OPT (DNS flag day 2020) */

/* One question, as s5_dns_parse_query read it. */
struct s5_dns_query {
	uint16_t id;
	bool rd;               /* recursion desired: copied to the reply */
	bool edns;             /* an OPT record followed the question */
	uint16_t edns_payload; /* its UDP payload size, as sent (0 if none) */
	uint16_t qtype, qclass;
	size_t qoff, qlen;     /* the question section (name, type, class)
				  in the query, copied into replies */
	char name[S5_DNS_NAME_WIRE + 1]; /* normalised as s5_name_normalize
					    does; "" after -EILSEQ */
};

/* Reads a standard query of len bytes: QR 0, opcode QUERY, one question
 * whose name has no compression pointer, no answer or authority records,
 * at most one additional record, which must be an OPT record, and nothing
 * after that. Returns 0; -EILSEQ when all of that holds but the name has
 * no text form s5_name_normalize accepts (the root, a label with a '.',
 * a space, a control or non-ASCII byte...): q is then filled but for its
 * name, so the caller can answer REFUSED; -EINVAL for anything else. */
int s5_dns_parse_query(const uint8_t *msg, size_t len,
		       struct s5_dns_query *q);

/* Writes to out the reply to query (qlen bytes, read into q): its ID, QR,
 * RD as asked, RA, not AA, rcode (0..15), the question copied, and n_addrs
 * records of q->qtype (addrs: n_addrs addresses of addr_len bytes, 4 for
 * A, 16 for AAAA) naming the question by a compression pointer, class IN,
 * ttl. An OPT record (S5_DNS_EDNS_PAYLOAD, DO clear) ends the reply when
 * the query had one (RFC 6891 section 7). Returns the length; -EMSGSIZE
 * when cap is too small; -EINVAL for a record type, rcode or addr_len
 * that does not fit. The caller keeps the reply within what the program
 * can take (512 bytes, or edns_payload). */
int s5_dns_build_reply(const uint8_t *query, size_t qlen,
		       const struct s5_dns_query *q, int rcode,
		       const uint8_t *addrs, size_t n_addrs, size_t addr_len,
		       uint32_t ttl, uint8_t *out, size_t cap);

/* The same for a PTR question: NOERROR and one PTR record whose data is
 * name (text, a trailing dot allowed). Returns as s5_dns_build_reply;
 * -EINVAL also when q is not a PTR question or name is not a valid name. */
int s5_dns_build_ptr_reply(const uint8_t *query, size_t qlen,
			   const struct s5_dns_query *q, const char *name,
			   uint32_t ttl, uint8_t *out, size_t cap);

/* The address a reverse name stands for (RFC 1035 section 3.5:
 * "7.113.0.203.in-addr.arpa"; RFC 3596 section 2.5: 32 nibbles then
 * "ip6.arpa"), in any case, with or without the trailing dot. Sets
 * *family (AF_INET or AF_INET6) and addr (4 or 16 bytes, the rest zero).
 * Returns 0, or -EINVAL for any other name (a zone such as
 * "113.0.203.in-addr.arpa" included). */
int s5_dns_ptr_addr(const char *qname, int *family, uint8_t addr[16]);

/* Walks the answer section of reply (len bytes, QR set) and calls fn for
 * every A and AAAA record of class IN, whatever name it has (a CNAME
 * chain's end included), with AF_INET or AF_INET6 and its 4 or 16 bytes.
 * The header, the questions and every answer record are checked before
 * the first call, so fn sees nothing of a malformed message. fn returns 0
 * to go on, or -errno to stop the walk with that value. Returns the
 * number of addresses, or -EINVAL for a malformed message. */
int s5_dns_reply_addrs(const uint8_t *reply, size_t len,
		       int (*fn)(void *ctx, int family, const uint8_t *addr),
		       void *ctx);

#endif
