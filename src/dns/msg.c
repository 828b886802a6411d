/* Matching a DNS reply to its query and reading its verdict (RFC 1035
 * section 4). Every field is read only after its length was checked. */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "dns_internal.h"
#include "s5_dnsmsg.h"

/* Header bytes 2 and 3 (RFC 1035 section 4.1.1). */
#define F_QR 0x80
#define F_OPCODE 0x78
#define F_AA 0x04
#define F_TC 0x02
#define F_RA 0x80
#define F_RCODE 0x0f
#define OPCODE_UPDATE 5 /* RFC 2136: replies carry only the header */

/* Pointers must point backwards (dns_internal.h): a loop cannot be
 * written that way, so no hop counter is needed. */
int s5p_read_name(const uint8_t *m, size_t len, size_t *off, uint8_t *out)
{
	size_t pos = *off, limit = *off, n = 0;
	bool jumped = false;
	uint8_t l;

	for (;;) {
		if (pos >= len)
			return -1;
		l = m[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= len)
				return -1;
			to = (size_t)(l & 0x3f) << 8 | m[pos + 1];
			if (to >= limit)
				return -1;
			if (!jumped)
				*off = pos + 2;
			jumped = true;
			limit = to;
			pos = to;
			continue;
		}
		if (l & 0xc0)
			return -1; /* extended label types: not in questions */
		if (pos + 1 + l > len || n + 1 + l > S5_DNS_NAME_WIRE)
			return -1;
		out[n++] = l;
		for (size_t i = 0; i < l; i++)
			out[n++] = (uint8_t)s5p_fold((char)m[pos + 1 + i]);
		pos += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	if (!jumped)
		*off = pos;
	return (int)n;
}

void s5p_put_opt(uint8_t *p, uint16_t payload, bool dnssec)
{
	p[0] = 0;                    /* the root name */
	s5p_put16(p + 1, S5P_TYPE_OPT);
	s5p_put16(p + 3, payload);   /* CLASS: the UDP payload size */
	p[5] = 0;                    /* extended RCODE */
	p[6] = 0;                    /* version 0 */
	s5p_put16(p + 7, dnssec ? 0x8000 : 0); /* DO bit */
	s5p_put16(p + 9, 0);         /* no options */
}

struct question {
	uint8_t name[S5_DNS_NAME_WIRE];
	int name_len;
	uint16_t type, class;
};

/* Reads one question at *off; false when it does not fit. */
static bool read_question(const uint8_t *m, size_t len, size_t *off,
			  struct question *q)
{
	q->name_len = s5p_read_name(m, len, off, q->name);
	if (q->name_len < 0 || *off + 4 > len)
		return false;
	q->type = s5p_get16(m + *off);
	q->class = s5p_get16(m + *off + 2);
	*off += 4;
	return true;
}

static bool same_question(const struct question *a, const struct question *b)
{
	return a->type == b->type && a->class == b->class &&
	       a->name_len == b->name_len &&
	       memcmp(a->name, b->name, (size_t)a->name_len) == 0;
}

/* True when the reply's question section holds q (glibc pairs every
 * question of the query with one in the reply, in any order). */
static bool reply_asks(const uint8_t *r, size_t rlen, unsigned int qdcount,
		       const struct question *q)
{
	struct question rq;
	size_t off = S5_DNS_HDR;

	while (qdcount-- > 0) {
		if (!read_question(r, rlen, &off, &rq))
			return false;
		if (same_question(q, &rq))
			return true;
	}
	return false;
}

static bool questions_match(const uint8_t *q, size_t qlen, const uint8_t *r,
			    size_t rlen)
{
	unsigned int qd = s5p_get16(q + 4);
	struct question one;
	size_t off = S5_DNS_HDR;
	unsigned int i;

	if (s5p_get16(r + 4) != qd)
		return false;
	for (i = 0; i < qd; i++) {
		if (!read_question(q, qlen, &off, &one) ||
		    !reply_asks(r, rlen, qd, &one))
			return false;
	}
	return true;
}

enum s5_dns_verdict s5_dns_check_reply(const uint8_t *query, size_t qlen,
				       const uint8_t *reply, size_t rlen,
				       bool ignore_tc)
{
	unsigned int rcode;

	if (qlen < S5_DNS_HDR || rlen < S5_DNS_HDR)
		return S5_DNS_IGNORE;
	if (s5p_get16(query) != s5p_get16(reply) || !(reply[2] & F_QR) ||
	    (reply[2] & F_OPCODE) != (query[2] & F_OPCODE))
		return S5_DNS_IGNORE;
	rcode = reply[3] & F_RCODE;
	/* A server that does not understand the query (EDNS0, say) may
	 * answer FORMERR without repeating the question: not worth waiting
	 * for another reply from it. */
	if (rcode == S5_RCODE_FORMERR && s5p_get16(reply + 4) == 0)
		return S5_DNS_NEXT;
	if (((query[2] & F_OPCODE) >> 3) != OPCODE_UPDATE &&
	    !questions_match(query, qlen, reply, rlen))
		return S5_DNS_IGNORE;
	if (rcode == S5_RCODE_SERVFAIL || rcode == S5_RCODE_NOTIMP ||
	    rcode == S5_RCODE_REFUSED)
		return S5_DNS_NEXT;
	/* No answer, not authoritative, no recursion, no additional data:
	 * a referral, which a stub resolver cannot follow. */
	if (rcode == S5_RCODE_NOERROR && s5p_get16(reply + 6) == 0 &&
	    !(reply[2] & F_AA) && !(reply[3] & F_RA) &&
	    s5p_get16(reply + 10) == 0)
		return S5_DNS_NEXT;
	if ((reply[2] & F_TC) && !ignore_tc)
		return S5_DNS_TRUNC;
	return S5_DNS_ANSWER;
}

int s5_dns_rcode(const uint8_t *msg, size_t len)
{
	return len < S5_DNS_HDR ? -1 : msg[3] & F_RCODE;
}

int s5_dns_reply_herrno(const uint8_t *reply, size_t rlen)
{
	int rcode = s5_dns_rcode(reply, rlen);

	if (rcode == S5_RCODE_NOERROR)
		return s5p_get16(reply + 6) > 0 ? 0 : NO_DATA;
	if (rcode == S5_RCODE_NXDOMAIN)
		return HOST_NOT_FOUND;
	if (rcode == S5_RCODE_SERVFAIL)
		return TRY_AGAIN;
	return NO_RECOVERY;
}

void s5_dns_set_tc(uint8_t *msg, size_t len)
{
	if (len >= S5_DNS_HDR)
		msg[2] |= F_TC;
}

int s5_dns_add_opt(uint8_t *msg, size_t len, size_t cap, uint16_t payload,
		   bool dnssec)
{
	if (len < S5_DNS_HDR || (msg[2] & F_QR) || len > cap ||
	    cap - len < S5P_OPT_LEN || s5p_get16(msg + 10) == 0xffff)
		return -EMSGSIZE;
	s5p_put_opt(msg + len, payload, dnssec);
	s5p_put16(msg + 10, (uint16_t)(s5p_get16(msg + 10) + 1));
	return (int)(len + S5P_OPT_LEN);
}

int s5_dns_first_question(const uint8_t *msg, size_t len, char *name,
			  size_t cap, uint16_t *type)
{
	uint8_t wire[S5_DNS_NAME_WIRE];
	size_t off = S5_DNS_HDR, n = 0, i = 0;
	int wl;

	if (len < S5_DNS_HDR || s5p_get16(msg + 4) == 0 || cap < 2)
		return -1;
	wl = s5p_read_name(msg, len, &off, wire);
	if (wl < 0 || off + 4 > len)
		return -1;
	*type = s5p_get16(msg + off);
	while (i < (size_t)wl && wire[i] != 0) {
		uint8_t l = wire[i++];

		for (; l > 0; l--, i++) {
			uint8_t c = wire[i];

			if (n + 2 >= cap)
				return -1;
			/* Log text: anything odd shows as '?'. */
			name[n++] = c > ' ' && c < 0x7f ? (char)c : '?';
		}
		name[n++] = '.';
	}
	if (n == 0)
		name[n++] = '.'; /* the root */
	else
		n--;             /* no trailing dot, as programs write names */
	name[n] = '\0';
	return (int)n;
}
