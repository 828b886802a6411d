/* Answering a DNS query without a name server (RFC 1035 section 4): the
 * seccomp supervisor reads the supervised program's query, gives proxied
 * names fake addresses and writes the reply itself, so no DNS packet
 * leaves the machine. It also reads the addresses out of replies, for
 * names the exclusion list lets go to the real server. Bytes in, bytes
 * out; every field is read only after its length was checked. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "dns_internal.h"
#include "s5_dnsmsg.h"

/* Header bytes 2 and 3 (RFC 1035 section 4.1.1). */
#define F_QR 0x80
#define F_OPCODE 0x78
#define F_RD 0x01
#define F_RA 0x80

#define RR_FIXED 10   /* TYPE, CLASS, TTL, RDLENGTH after a record's name */
#define PTR_TO_QNAME 0xc00c /* the question's name, at offset 12 */

/* ---- the query ---------------------------------------------------------- */

/* The EDNS0 OPT record at *off, the query's only additional record (RFC
 * 6891 section 6.1.2: owner the root, CLASS the payload size). Options
 * (cookies, client subnet, padding) are skipped unread, and so is the
 * version: a BADVERS answer (section 6.1.3) would take an extended RCODE,
 * and stub resolvers send version 0. */
static int read_opt(const uint8_t *m, size_t len, size_t *off,
		    struct s5_dns_query *q)
{
	size_t p = *off, rdlen;

	if (len - p < 1 + RR_FIXED || m[p] != 0 ||
	    s5p_get16(m + p + 1) != S5P_TYPE_OPT)
		return -EINVAL;
	rdlen = s5p_get16(m + p + 9);
	if (len - p - 1 - RR_FIXED < rdlen)
		return -EINVAL;
	q->edns = true;
	q->edns_payload = s5p_get16(m + p + 3);
	*off = p + 1 + RR_FIXED + rdlen;
	return 0;
}

/* The question's name (wire form, lower case) as the pool's text: labels
 * joined by dots, then s5_name_normalize's checks. A '.' or a NUL inside a
 * label would change the name's meaning as text, so they are refused
 * before; the root (no label) is refused by s5_name_normalize. */
static int name_text(const uint8_t *wire, char *out)
{
	char text[S5_DNS_NAME_WIRE + 1];
	size_t i = 0, n = 0;

	while (wire[i] != 0) {
		uint8_t l = wire[i++];

		if (n > 0)
			text[n++] = '.';
		for (; l > 0; l--, i++) {
			if (wire[i] == '.' || wire[i] == '\0')
				return -EILSEQ;
			text[n++] = (char)wire[i];
		}
	}
	text[n] = '\0';
	if (s5_name_normalize(text, out) < 0) {
		out[0] = '\0'; /* it may have written part of the name */
		return -EILSEQ;
	}
	return 0;
}

int s5_dns_parse_query(const uint8_t *msg, size_t len,
		       struct s5_dns_query *q)
{
	uint8_t wire[S5_DNS_NAME_WIRE];
	size_t off = S5_DNS_HDR;
	int wl;

	memset(q, 0, sizeof(*q));
	if (len < S5_DNS_HDR || (msg[2] & (F_QR | F_OPCODE)) ||
	    s5p_get16(msg + 4) != 1 || s5p_get16(msg + 6) != 0 ||
	    s5p_get16(msg + 8) != 0 || s5p_get16(msg + 10) > 1)
		return -EINVAL;
	/* A pointer would not survive the copy into the reply (it could
	 * point into the header, which differs there): the name must be
	 * written out, as every resolver writes it. */
	wl = s5p_read_name(msg, len, &off, wire);
	if (wl < 0 || off != S5_DNS_HDR + (size_t)wl || len - off < 4)
		return -EINVAL;
	q->id = s5p_get16(msg);
	q->rd = (msg[2] & F_RD) != 0;
	q->qtype = s5p_get16(msg + off);
	q->qclass = s5p_get16(msg + off + 2);
	off += 4;
	q->qoff = S5_DNS_HDR;
	q->qlen = off - S5_DNS_HDR;
	if (s5p_get16(msg + 10) == 1 && read_opt(msg, len, &off, q) < 0)
		return -EINVAL;
	if (off != len)
		return -EINVAL; /* bytes after the last record */
	return name_text(wire, q->name);
}

/* ---- replies ------------------------------------------------------------ */

/* The header and the question of the reply to q, with ancount answers to
 * follow. Returns the length written, or -errno. */
static int put_head(const uint8_t *query, size_t qlen,
		    const struct s5_dns_query *q, int rcode, size_t ancount,
		    uint8_t *out, size_t cap)
{
	if (rcode < 0 || rcode > 15 || q->qoff != S5_DNS_HDR ||
	    q->qlen > qlen || qlen - q->qlen < q->qoff || ancount > 0xffff)
		return -EINVAL;
	if (cap < S5_DNS_HDR + q->qlen)
		return -EMSGSIZE;
	s5p_put16(out, q->id);
	out[2] = F_QR | (q->rd ? F_RD : 0);
	out[3] = F_RA | (uint8_t)rcode;
	s5p_put16(out + 4, 1);
	s5p_put16(out + 6, (uint16_t)ancount);
	s5p_put16(out + 8, 0);
	s5p_put16(out + 10, q->edns ? 1 : 0);
	memcpy(out + S5_DNS_HDR, query + q->qoff, q->qlen);
	return (int)(S5_DNS_HDR + q->qlen);
}

/* An answer record's name (the question's), TYPE, CLASS IN, TTL and
 * RDLENGTH at p: RR_FIXED + 2 bytes. */
static void put_rr(uint8_t *p, uint16_t type, uint32_t ttl, size_t rdlen)
{
	s5p_put16(p, PTR_TO_QNAME);
	s5p_put16(p + 2, type);
	s5p_put16(p + 4, S5_DNS_CLASS_IN);
	s5p_put16(p + 6, (uint16_t)(ttl >> 16));
	s5p_put16(p + 8, (uint16_t)ttl);
	s5p_put16(p + 10, (uint16_t)rdlen);
}

/* Appends our OPT record when the query had one. Returns the final
 * length, or -EMSGSIZE. */
static int put_tail(const struct s5_dns_query *q, uint8_t *out, size_t n,
		    size_t cap)
{
	if (!q->edns)
		return (int)n;
	if (cap - n < S5P_OPT_LEN)
		return -EMSGSIZE;
	s5p_put_opt(out + n, S5_DNS_EDNS_PAYLOAD, false);
	return (int)(n + S5P_OPT_LEN);
}

int s5_dns_build_reply(const uint8_t *query, size_t qlen,
		       const struct s5_dns_query *q, int rcode,
		       const uint8_t *addrs, size_t n_addrs, size_t addr_len,
		       uint32_t ttl, uint8_t *out, size_t cap)
{
	size_t want = q->qtype == S5_DNS_TYPE_A ? 4 : 16, i;
	int n;

	if (n_addrs > 0 && (addr_len != want ||
			    (q->qtype != S5_DNS_TYPE_A &&
			     q->qtype != S5_DNS_TYPE_AAAA)))
		return -EINVAL;
	n = put_head(query, qlen, q, rcode, n_addrs, out, cap);
	if (n < 0)
		return n;
	for (i = 0; i < n_addrs; i++) {
		if (cap - (size_t)n < RR_FIXED + 2 + addr_len)
			return -EMSGSIZE;
		put_rr(out + n, q->qtype, ttl, addr_len);
		memcpy(out + n + RR_FIXED + 2, addrs + i * addr_len, addr_len);
		n += (int)(RR_FIXED + 2 + addr_len);
	}
	return put_tail(q, out, (size_t)n, cap);
}

/* name (text, one trailing dot allowed) as labels at out, after the
 * checks of s5_name_normalize, which also folds it to lower case. Returns
 * the length, -EINVAL for a name it refuses, or -EMSGSIZE. */
static int put_name(const char *name, uint8_t *out, size_t cap)
{
	char text[S5_DNS_NAME_WIRE + 1];
	int n = s5_name_normalize(name, text);
	size_t at = 0;

	if (n < 0)
		return -EINVAL;
	/* Each label gains its length byte, and the root one more. */
	if (cap < (size_t)n + 2)
		return -EMSGSIZE;
	for (size_t i = 0; i <= (size_t)n; i++) {
		if (text[i] != '.' && text[i] != '\0')
			continue;
		out[at] = (uint8_t)(i - at);
		memcpy(out + at + 1, text + at, i - at);
		at = i + 1;
	}
	out[n + 1] = 0;
	return n + 2;
}

int s5_dns_build_ptr_reply(const uint8_t *query, size_t qlen,
			   const struct s5_dns_query *q, const char *name,
			   uint32_t ttl, uint8_t *out, size_t cap)
{
	int n, nl;

	if (q->qtype != S5_DNS_TYPE_PTR)
		return -EINVAL;
	n = put_head(query, qlen, q, S5_RCODE_NOERROR, 1, out, cap);
	if (n < 0)
		return n;
	if (cap - (size_t)n < RR_FIXED + 2)
		return -EMSGSIZE;
	nl = put_name(name, out + n + RR_FIXED + 2,
		      cap - (size_t)n - RR_FIXED - 2);
	if (nl < 0)
		return nl;
	put_rr(out + n, S5_DNS_TYPE_PTR, ttl, (size_t)nl);
	return put_tail(q, out, (size_t)n + RR_FIXED + 2 + (size_t)nl, cap);
}

/* ---- reverse names ------------------------------------------------------ */

/* Longer than any reverse name: 32 nibbles with their dots, "ip6.arpa"
 * and a trailing dot take 73 bytes. */
#define REVERSE_MAX 80

/* True when name (of len bytes, lower case) ends in suffix; *len is then
 * cut to what precedes it. */
static bool cut_suffix(const char *name, size_t *len, const char *suffix)
{
	size_t sl = strlen(suffix);

	if (*len < sl || memcmp(name + *len - sl, suffix, sl) != 0)
		return false;
	*len -= sl;
	return true;
}

/* Four decimal labels, lowest byte first, no leading zeros. */
static int ptr_v4(const char *s, size_t len, uint8_t addr[16])
{
	size_t i = 0;

	for (int b = 3; b >= 0; b--) {
		size_t start = i;
		unsigned int v = 0;

		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			v = v * 10 + (unsigned int)(s[i++] - '0');
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return -EINVAL;
		if (i == len || s[i++] != '.')
			return -EINVAL; /* every label ends in the suffix's dot */
		addr[b] = (uint8_t)v;
	}
	return i == len ? 0 : -EINVAL;
}

/* 32 one-nibble labels, lowest nibble first. */
static int ptr_v6(const char *s, size_t len, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (len != 64)
		return -EINVAL;
	for (size_t i = 0; i < 32; i++) {
		int d = s5p_hex_digit(s[2 * i]);

		if (d < 0 || s[2 * i + 1] != '.')
			return -EINVAL;
		addr[15 - i / 2] |= (uint8_t)(i % 2 ? d << 4 : d);
	}
	return 0;
}

int s5_dns_ptr_addr(const char *qname, int *family, uint8_t addr[16])
{
	char name[REVERSE_MAX];
	size_t all = strnlen(qname, REVERSE_MAX), len;

	memset(addr, 0, 16);
	if (all == REVERSE_MAX)
		return -EINVAL;
	for (size_t i = 0; i < all; i++)
		name[i] = s5p_fold(qname[i]);
	if (all > 0 && name[all - 1] == '.')
		all--;
	/* The suffixes start with a dot, which goes back to what precedes
	 * them (len + 1), so that every label there ends in a dot. */
	len = all;
	if (cut_suffix(name, &len, ".in-addr.arpa") &&
	    ptr_v4(name, len + 1, addr) == 0) {
		*family = AF_INET;
		return 0;
	}
	len = all;
	if (cut_suffix(name, &len, ".ip6.arpa") &&
	    ptr_v6(name, len + 1, addr) == 0) {
		*family = AF_INET6;
		return 0;
	}
	memset(addr, 0, 16);
	return -EINVAL;
}

/* ---- addresses in a reply ----------------------------------------------- */

/* One pass over the questions and answers: checks every record and, when
 * fn is set, calls it for the addresses. Returns their number, -EINVAL,
 * or fn's error. */
static int walk(const uint8_t *m, size_t len,
		int (*fn)(void *ctx, int family, const uint8_t *addr),
		void *ctx)
{
	uint8_t wire[S5_DNS_NAME_WIRE];
	unsigned int qd = s5p_get16(m + 4), an = s5p_get16(m + 6);
	size_t off = S5_DNS_HDR;
	int count = 0;

	for (; qd > 0; qd--) {
		if (s5p_read_name(m, len, &off, wire) < 0 || len - off < 4)
			return -EINVAL;
		off += 4;
	}
	for (; an > 0; an--) {
		uint16_t type, class;
		size_t rdlen;
		int family = 0, rc;

		if (s5p_read_name(m, len, &off, wire) < 0 ||
		    len - off < RR_FIXED)
			return -EINVAL;
		type = s5p_get16(m + off);
		class = s5p_get16(m + off + 2);
		rdlen = s5p_get16(m + off + 8);
		off += RR_FIXED;
		if (len - off < rdlen)
			return -EINVAL;
		if (class == S5_DNS_CLASS_IN && type == S5_DNS_TYPE_A)
			family = AF_INET;
		else if (class == S5_DNS_CLASS_IN && type == S5_DNS_TYPE_AAAA)
			family = AF_INET6;
		if (family != 0) {
			if (rdlen != (family == AF_INET ? 4u : 16u))
				return -EINVAL;
			count++;
			rc = fn ? fn(ctx, family, m + off) : 0;
			if (rc < 0)
				return rc;
		}
		off += rdlen;
	}
	return count;
}

int s5_dns_reply_addrs(const uint8_t *reply, size_t len,
		       int (*fn)(void *ctx, int family, const uint8_t *addr),
		       void *ctx)
{
	int n;

	if (len < S5_DNS_HDR || !(reply[2] & F_QR))
		return -EINVAL;
	n = walk(reply, len, NULL, NULL);
	if (n <= 0 || fn == NULL)
		return n;
	return walk(reply, len, fn, ctx);
}
