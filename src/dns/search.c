/* The domain search list of res_search (resolver(3), resolv.conf(5)), in
 * the order glibc tries it:
 *
 *  1. a name with at least ndots dots, or with a trailing dot, is asked
 *     for as it is first; a trailing dot also ends the search there;
 *  2. then name.domain for each search domain, when the name has no dot
 *     and RES_DEFNAMES is set, or has dots (no trailing one) and
 *     RES_DNSRCH is set; NXDOMAIN and NODATA go on to the next domain,
 *     and so does a SERVFAIL reply; any other failure stops the list;
 *     without RES_DNSRCH only the first domain is tried;
 *  3. last, the name as it is, unless that was tried already, the root
 *     domain was on the list, or RES_NOTLDQUERY forbids it for a dotless
 *     name that was searched.
 *
 * A search that fails reports the first try's error if the name was tried
 * as it is first, else NODATA if any domain had the name, else TRY_AGAIN
 * if a server failed, else the last error. */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "dns_internal.h"
#include "s5_dnsmsg.h"

enum { FIRST, LIST, LAST, DONE };

void s5_dns_search_init(struct s5_dns_search *s, const char *name,
			unsigned int ndots, bool defnames, bool dnsrch,
			bool notldquery, const char *const *domains)
{
	size_t len = strlen(name), i;

	memset(s, 0, sizeof(*s));
	s->name = name;
	for (i = 0; i < len; i++)
		s->dots += name[i] == '.';
	s->trailing_dot = len > 0 && name[len - 1] == '.';
	s->ndots = ndots;
	s->defnames = defnames;
	s->dnsrch = dnsrch;
	s->notldquery = notldquery;
	for (i = 0; domains != NULL && i < S5_DNS_SEARCH_MAX &&
		    domains[i] != NULL;
	     i++)
		s->domains[i] = domains[i];
	s->saved_herrno = -1;
	/* What a search that never asks anything reports. */
	s->last_herrno = HOST_NOT_FOUND;
	s->stage = FIRST;
}

static bool list_applies(const struct s5_dns_search *s)
{
	return (s->dots == 0 && s->defnames) ||
	       (s->dots > 0 && !s->trailing_dot && s->dnsrch);
}

static bool last_applies(const struct s5_dns_search *s)
{
	return (s->dots > 0 || !s->searched || !s->notldquery) &&
	       !s->tried_as_is && !s->root_on_list;
}

/* The name as it is; glibc refuses an empty one and one of MAXDNAME or
 * more characters with NO_RECOVERY. */
static int as_is(const struct s5_dns_search *s, char *out, size_t cap)
{
	size_t n = strlen(s->name);

	if (n == 0 || n >= S5_DNS_MAXDNAME || n + 1 > cap)
		return -ENAMETOOLONG;
	memcpy(out, s->name, n + 1);
	return (int)n;
}

static int joined(const struct s5_dns_search *s, const char *domain,
		  char *out, size_t cap)
{
	size_t n = strlen(s->name), d = strlen(domain);

	if (n + d >= S5_DNS_MAXDNAME || n + 1 + d + 1 > cap)
		return -ENAMETOOLONG;
	memcpy(out, s->name, n);
	out[n] = '.';
	memcpy(out + n + 1, domain, d + 1);
	return (int)(n + 1 + d);
}

int s5_dns_search_next(struct s5_dns_search *s, char *out, size_t cap)
{
	const char *d;

	switch (s->stage) {
	case FIRST:
		s->stage = LIST;
		if (s->dots >= s->ndots || s->trailing_dot) {
			s->tried_as_is = true;
			s->last_was_as_is = true;
			return as_is(s, out, cap);
		}
		/* fall through */
	case LIST:
		if (list_applies(s) && s->next_domain < S5_DNS_SEARCH_MAX &&
		    s->domains[s->next_domain] != NULL) {
			d = s->domains[s->next_domain++];
			s->searched = true;
			/* "." and "" both mean the root: the name itself with
			 * a trailing dot. */
			if (d[0] == '.')
				d++;
			if (d[0] == '\0')
				s->root_on_list = true;
			s->last_was_as_is = false;
			return joined(s, d, out, cap);
		}
		s->stage = LAST;
		/* fall through */
	case LAST:
		s->stage = DONE;
		if (last_applies(s)) {
			s->last_was_as_is = true;
			return as_is(s, out, cap);
		}
		/* fall through */
	default:
		s->stage = DONE;
		return 0;
	}
}

/* After a failed candidate from the list: whether the list goes on. */
static bool list_goes_on(struct s5_dns_search *s, int herrno, int rcode)
{
	if (herrno == NO_DATA)
		s->got_nodata = true;
	if (herrno == TRY_AGAIN && rcode == S5_RCODE_SERVFAIL)
		s->got_servfail = true;
	else if (herrno != NO_DATA && herrno != HOST_NOT_FOUND)
		return false;
	return s->dnsrch;
}

bool s5_dns_search_result(struct s5_dns_search *s, int herrno, int rcode,
			  bool unreachable)
{
	s->last_herrno = herrno;
	if (herrno == 0) {
		s->stage = DONE;
		return true;
	}
	if (s->stage == LIST && s->last_was_as_is) {
		/* The first try, as it is. */
		if (s->trailing_dot) {
			s->stage = DONE;
			return true;
		}
		s->saved_herrno = herrno;
		return false;
	}
	if (s->stage == LIST) {
		if (unreachable) {
			/* No server to ask: the other domains cannot do
			 * better (glibc: ECONNREFUSED ends the search). */
			s->last_herrno = TRY_AGAIN;
			s->saved_herrno = -1;
			s->got_nodata = s->got_servfail = false;
			s->stage = DONE;
			return true;
		}
		if (!list_goes_on(s, herrno, rcode))
			s->stage = LAST;
		return false;
	}
	return s->stage == DONE;
}

int s5_dns_search_herrno(const struct s5_dns_search *s)
{
	if (s->last_herrno == 0)
		return 0;
	if (s->saved_herrno != -1)
		return s->saved_herrno;
	if (s->got_nodata)
		return NO_DATA;
	if (s->got_servfail)
		return TRY_AGAIN;
	return s->last_herrno;
}

/* ---- HOSTALIASES ------------------------------------------------------ */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Names equal without regard to case or one trailing dot (the test of
 * ns_samename, without its escapes). */
static bool same_name(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b), i;

	if (alen > 0 && a[alen - 1] == '.')
		alen--;
	if (blen > 0 && b[blen - 1] == '.')
		blen--;
	if (alen != blen)
		return false;
	for (i = 0; i < alen; i++)
		if (s5p_fold(a[i]) != s5p_fold(b[i]))
			return false;
	return true;
}

size_t s5_dns_hostalias(const char *text, size_t len, const char *name,
			char *out, size_t cap)
{
	size_t pos = 0, a, e, n;

	while (pos < len && cap > 0) {
		/* The alias: up to the first white space (the end of the
		 * line counts). A last line without any ends the scan. */
		for (a = pos; pos < len && !is_space(text[pos]); pos++)
			;
		if (pos == len)
			return 0;
		if (same_name(text + a, pos - a, name)) {
			while (pos < len && is_space(text[pos]) &&
			       text[pos] != '\n')
				pos++;
			if (pos == len || text[pos] == '\n')
				return 0;
			for (e = pos; e < len && !is_space(text[e]); e++)
				;
			n = e - pos < cap - 1 ? e - pos : cap - 1;
			memcpy(out, text + pos, n);
			out[n] = '\0';
			return n;
		}
		while (pos < len && text[pos] != '\n')
			pos++;
		pos++;
	}
	return 0;
}
