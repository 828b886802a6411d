/* res_query(), res_search(), res_querydomain() and their res_n* forms
 * (also under the __res_* names older programs link against).
 *
 * glibc answers these through internal calls the preload cannot see, so
 * an MX or SRV lookup would tell the local resolver every name. In remote
 * DNS mode the query is built by libc's own res_nmkquery (no I/O) and
 * sent by res_send.c over the routes any datagram of the program takes.
 * The search list and the h_errno values are glibc's (src/dns/search.c,
 * src/dns/msg.c). In local mode, and for our own calls, libc does it all. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fd.h"
#include "hook.h"
#include "route.h"
#include "tcp.h"
#include "udp.h"
#include "res.h"
#include "s5_dnsmsg.h"
#include "s5_log.h"

#undef res_query
#undef res_search
#undef res_querydomain
#undef res_nquery
#undef res_nsearch
#undef res_nquerydomain

/* What glibc advertises in an EDNS0 OPT record at most
 * (RESOLV_EDNS_BUFFER_SIZE). */
#define EDNS_PAYLOAD_MAX 1200
/* A query: header, one question with the longest name, an OPT record. */
#define QUERY_MAX 512
#define HOSTALIASES_MAX (64 * 1024)

bool s5_res_libc(void)
{
	if (s5_guarded())
		return true;
	s5_init();
	return s5_cfg.dns == S5_DNS_LOCAL;
}

res_state s5_res_default(void)
{
	res_state st = &_res;
	int r;

	if (st->options & RES_INIT)
		return st;
	/* As libc's res_query would: read resolv.conf on first use. A
	 * program that set _res up itself (res_init, then its own name
	 * servers) keeps its settings. */
	if (real.__res_init == NULL) {
		s5log_msg(S5LOG_ERROR, "res_init not found; refusing resolver "
			  "queries", NULL);
		return NULL;
	}
	s5_guard_enter();
	r = real.__res_init();
	s5_guard_leave();
	return r == 0 ? st : NULL;
}

/* Appends text to out (cap bytes, NUL-terminated), cutting it short. */
static void append(char *out, size_t cap, const char *text)
{
	size_t n = strlen(out), t = strlen(text);

	if (n + 1 >= cap)
		return;
	if (t > cap - n - 1)
		t = cap - n - 1;
	memcpy(out + n, text, t);
	out[n + t] = '\0';
}

static const char *type_name(int type, char *buf)
{
	static const struct {
		int type;
		const char *name;
	} names[] = { { 1, "A" },      { 2, "NS" },     { 5, "CNAME" },
		      { 6, "SOA" },    { 12, "PTR" },   { 15, "MX" },
		      { 16, "TXT" },   { 28, "AAAA" },  { 33, "SRV" },
		      { 35, "NAPTR" }, { 43, "DS" },    { 46, "RRSIG" },
		      { 48, "DNSKEY" }, { 52, "TLSA" }, { 64, "SVCB" },
		      { 65, "HTTPS" }, { 255, "ANY" },  { 257, "CAA" } };
	unsigned int v = (unsigned int)type & 0xffff, d = 10000;
	size_t i, n = 4;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].type == type)
			return names[i].name;
	memcpy(buf, "TYPE", 4);
	while (d > 1 && v / d == 0)
		d /= 10;
	for (; d > 0; d /= 10)
		buf[n++] = (char)('0' + v / d % 10);
	buf[n] = '\0';
	return buf;
}

void s5_res_describe(char *out, size_t cap, const char *name, int type)
{
	char tbuf[16];

	append(out, cap, " ");
	append(out, cap, name);
	append(out, cap, " ");
	append(out, cap, type_name(type, tbuf));
}

static void set_herrno(res_state st, int v)
{
	st->res_h_errno = v;
	h_errno = v;
}

/* libc's query for name (no I/O), with the OPT record glibc adds for
 * RES_USE_EDNS0 / RES_USE_DNSSEC: its length or -1. */
static int make_query(res_state st, const char *name, int class, int type,
		      unsigned char *q, int anslen)
{
	int n, payload;

	if (real.res_nmkquery == NULL)
		return -1;
	n = real.res_nmkquery(st, QUERY, name, class, type, NULL, 0, NULL, q,
			      QUERY_MAX);
	if (n <= 0 || !(st->options & (RES_USE_EDNS0 | RES_USE_DNSSEC)))
		return n;
	payload = anslen > EDNS_PAYLOAD_MAX ? EDNS_PAYLOAD_MAX : anslen;
	return s5_dns_add_opt(q, (size_t)n, QUERY_MAX, (uint16_t)payload,
			      (st->options & RES_USE_DNSSEC) != 0);
}

/* res_nquery in remote mode: the answer's length, or -1 with h_errno.
 * *unreachable: no name server could be reached at all. */
static int query(res_state st, const char *name, int class, int type,
		 unsigned char *ans, int anslen, const char *fn,
		 bool *unreachable)
{
	char what[S5_DNS_MAXDNAME + 64];
	unsigned char q[QUERY_MAX];
	int n, r, herr;

	*unreachable = false;
	what[0] = '\0';
	append(what, sizeof(what), fn);
	s5_res_describe(what, sizeof(what), name, type);
	/* glibc's default RCODE, which res_search reads after a failure. */
	if (ans != NULL && anslen >= S5_DNS_HDR)
		ans[3] &= 0xf0;
	n = ans == NULL || anslen < 0 ? -1
				      : make_query(st, name, class, type, q,
						   anslen);
	if (n <= 0) {
		s5log_msg(S5LOG_ERROR, what, ": cannot build the query",
			  NULL);
		set_herrno(st, NO_RECOVERY);
		return -1;
	}
	r = s5_res_send(st, q, n, ans, anslen, what);
	if (r < 0) {
		*unreachable = r == -ECONNREFUSED;
		set_herrno(st, TRY_AGAIN);
		errno = -r;
		return -1;
	}
	herr = s5_dns_reply_herrno(ans, (size_t)(r < anslen ? r : anslen));
	if (herr != 0) {
		set_herrno(st, herr);
		return -1;
	}
	return r;
}

/* A dotless name's alias from the HOSTALIASES file (hostname(7)), unless
 * RES_NOALIASES; the dynamic loader drops the variable for setuid
 * programs. Only the file's first HOSTALIASES_MAX bytes are read. */
static bool host_alias(res_state st, const char *name, char *out, size_t cap)
{
	const char *path;
	char *text;
	ssize_t n;
	size_t len = 0, r = 0;
	int fd;

	if ((st->options & RES_NOALIASES) || strchr(name, '.') != NULL)
		return false;
	path = getenv("HOSTALIASES");
	if (path == NULL)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	text = malloc(HOSTALIASES_MAX);
	while (text != NULL && len < HOSTALIASES_MAX) {
		n = real.read(fd, text + len, HOSTALIASES_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	real.close(fd);
	if (text != NULL)
		r = s5_dns_hostalias(text, len, name, out, cap);
	free(text);
	return r > 0;
}

/* res_nsearch in remote mode. */
static int search(res_state st, const char *name, int class, int type,
		  unsigned char *ans, int anslen, const char *fn)
{
	char cand[S5_DNS_MAXDNAME + 1];
	struct s5_dns_search s;
	bool unreachable = false;
	int n, r, herr, rcode;

	if (name == NULL) {
		set_herrno(st, NO_RECOVERY);
		return -1;
	}
	if (host_alias(st, name, cand, sizeof(cand)))
		return query(st, cand, class, type, ans, anslen, fn,
			     &unreachable);
	s5_dns_search_init(&s, name, st->ndots,
			   (st->options & RES_DEFNAMES) != 0,
			   (st->options & RES_DNSRCH) != 0,
			   (st->options & RES_NOTLDQUERY) != 0,
			   (const char *const *)st->dnsrch);
	while ((n = s5_dns_search_next(&s, cand, sizeof(cand))) != 0) {
		herr = NO_RECOVERY;
		rcode = -1;
		if (n > 0) {
			r = query(st, cand, class, type, ans, anslen, fn,
				  &unreachable);
			if (r >= 0)
				return r;
			herr = st->res_h_errno;
			if (ans != NULL && anslen >= S5_DNS_HDR)
				rcode = s5_dns_rcode(ans, (size_t)anslen);
		}
		if (s5_dns_search_result(&s, herr, rcode, unreachable))
			break;
	}
	set_herrno(st, s5_dns_search_herrno(&s));
	return -1;
}

/* res_nquerydomain in remote mode: name.domain, or name alone. */
static int querydomain(res_state st, const char *name, const char *domain,
		       int class, int type, unsigned char *ans, int anslen,
		       const char *fn)
{
	char full[S5_DNS_MAXDNAME + 1];
	bool unreachable;
	size_t n, d;

	if (name == NULL) {
		set_herrno(st, NO_RECOVERY);
		return -1;
	}
	n = strlen(name);
	d = domain != NULL ? strlen(domain) : 0;
	/* glibc's limits: MAXDNAME characters, and no empty name alone. */
	if (domain == NULL ? n == 0 || n >= S5_DNS_MAXDNAME
			   : n + d >= S5_DNS_MAXDNAME) {
		set_herrno(st, NO_RECOVERY);
		return -1;
	}
	if (domain == NULL)
		return query(st, name, class, type, ans, anslen, fn,
			     &unreachable);
	memcpy(full, name, n);
	full[n] = '.';
	memcpy(full + n + 1, domain, d + 1);
	return query(st, full, class, type, ans, anslen, fn, &unreachable);
}

/* ---- the hooks -------------------------------------------------------- */

enum op { OP_QUERY, OP_SEARCH, OP_DOMAIN };

struct call {
	enum op op;
	const char *fn;
	const char *name, *domain;
	int class, type;
	unsigned char *ans;
	int anslen;
};

/* Remote mode, on statp (NULL: the process-wide _res). */
static int remote(res_state st, const struct call *c)
{
	int saved = errno, r;

	if (st == NULL)
		st = s5_res_default();
	if (st == NULL || !s5_ready()) {
		s5log_msg(S5LOG_ERROR, c->fn, ": resolver not usable; "
			  "refusing the query", NULL);
		if (st != NULL)
			set_herrno(st, NO_RECOVERY);
		else
			h_errno = NO_RECOVERY;
		return -1;
	}
	if (c->op == OP_QUERY)
		r = query(st, c->name, c->class, c->type, c->ans, c->anslen,
			  c->fn, &(bool){ false });
	else if (c->op == OP_SEARCH)
		r = search(st, c->name, c->class, c->type, c->ans, c->anslen,
			   c->fn);
	else
		r = querydomain(st, c->name, c->domain, c->class, c->type,
				c->ans, c->anslen, c->fn);
	if (r >= 0)
		errno = saved;
	return r;
}

static int libc_default(const struct call *c)
{
	int (*q)(const char *, int, int, unsigned char *, int) =
		c->op == OP_QUERY ? real.res_query : real.res_search;

	if (c->op == OP_DOMAIN) {
		if (real.res_querydomain != NULL)
			return real.res_querydomain(c->name, c->domain,
						    c->class, c->type, c->ans,
						    c->anslen);
	} else if (q != NULL) {
		return q(c->name, c->class, c->type, c->ans, c->anslen);
	}
	h_errno = NO_RECOVERY;
	return -1;
}

static int libc_state(res_state st, const struct call *c)
{
	int (*q)(res_state, const char *, int, int, unsigned char *, int) =
		c->op == OP_QUERY ? real.res_nquery : real.res_nsearch;

	if (c->op == OP_DOMAIN) {
		if (real.res_nquerydomain != NULL)
			return real.res_nquerydomain(st, c->name, c->domain,
						     c->class, c->type, c->ans,
						     c->anslen);
	} else if (q != NULL) {
		return q(st, c->name, c->class, c->type, c->ans, c->anslen);
	}
	h_errno = NO_RECOVERY;
	return -1;
}

/* libc's own resolver, with the guard set like every call the library
 * hands to it (libc_resolver.c). */
static int on_default(const struct call *c)
{
	int r;

	if (!s5_res_libc())
		return remote(NULL, c);
	s5_guard_enter();
	r = libc_default(c);
	s5_guard_leave();
	return r;
}

static int on_state(res_state st, const struct call *c)
{
	int r;

	if (s5_res_libc()) {
		s5_guard_enter();
		r = libc_state(st, c);
		s5_guard_leave();
		return r;
	}
	if (st == NULL) {
		h_errno = NO_RECOVERY;
		return -1;
	}
	return remote(st, c);
}

#define CALL(op_, fn_, name_, domain_)                                        \
	(&(const struct call){ .op = (op_), .fn = (fn_), .name = (name_),     \
			       .domain = (domain_), .class = class,           \
			       .type = type, .ans = ans, .anslen = anslen })

int __res_query(const char *, int, int, unsigned char *, int);
int __res_search(const char *, int, int, unsigned char *, int);
int __res_querydomain(const char *, const char *, int, int, unsigned char *,
		      int);
int __res_nquery(res_state, const char *, int, int, unsigned char *, int);
int __res_nsearch(res_state, const char *, int, int, unsigned char *, int);
int __res_nquerydomain(res_state, const char *, const char *, int, int,
		       unsigned char *, int);

S5_EXPORT int res_query(const char *name, int class, int type,
			unsigned char *ans, int anslen)
{
	return on_default(CALL(OP_QUERY, "res_query", name, NULL));
}

S5_EXPORT int __res_query(const char *name, int class, int type,
			  unsigned char *ans, int anslen)
{
	return on_default(CALL(OP_QUERY, "res_query", name, NULL));
}

S5_EXPORT int res_search(const char *name, int class, int type,
			 unsigned char *ans, int anslen)
{
	return on_default(CALL(OP_SEARCH, "res_search", name, NULL));
}

S5_EXPORT int __res_search(const char *name, int class, int type,
			   unsigned char *ans, int anslen)
{
	return on_default(CALL(OP_SEARCH, "res_search", name, NULL));
}

S5_EXPORT int res_querydomain(const char *name, const char *domain,
			      int class, int type, unsigned char *ans,
			      int anslen)
{
	return on_default(CALL(OP_DOMAIN, "res_querydomain", name, domain));
}

S5_EXPORT int __res_querydomain(const char *name, const char *domain,
				int class, int type, unsigned char *ans,
				int anslen)
{
	return on_default(CALL(OP_DOMAIN, "res_querydomain", name, domain));
}

S5_EXPORT int res_nquery(res_state st, const char *name, int class, int type,
			 unsigned char *ans, int anslen)
{
	return on_state(st, CALL(OP_QUERY, "res_nquery", name, NULL));
}

S5_EXPORT int __res_nquery(res_state st, const char *name, int class,
			   int type, unsigned char *ans, int anslen)
{
	return on_state(st, CALL(OP_QUERY, "res_nquery", name, NULL));
}

S5_EXPORT int res_nsearch(res_state st, const char *name, int class,
			  int type, unsigned char *ans, int anslen)
{
	return on_state(st, CALL(OP_SEARCH, "res_nsearch", name, NULL));
}

S5_EXPORT int __res_nsearch(res_state st, const char *name, int class,
			    int type, unsigned char *ans, int anslen)
{
	return on_state(st, CALL(OP_SEARCH, "res_nsearch", name, NULL));
}

S5_EXPORT int res_nquerydomain(res_state st, const char *name,
			       const char *domain, int class, int type,
			       unsigned char *ans, int anslen)
{
	return on_state(st, CALL(OP_DOMAIN, "res_nquerydomain", name,
				 domain));
}

S5_EXPORT int __res_nquerydomain(res_state st, const char *name,
				 const char *domain, int class, int type,
				 unsigned char *ans, int anslen)
{
	return on_state(st, CALL(OP_DOMAIN, "res_nquerydomain", name,
				 domain));
}
