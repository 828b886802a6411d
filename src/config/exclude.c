/* SOCKS5WRAP_NO_PROXY: destinations that are reached directly.
 *
 * Grammar, one entry between commas, blanks around it ignored:
 *   a.b.c.d[/n][:port]          IPv4 address or network; a port after an
 *                               IPv4 CIDR is unambiguous, so no brackets
 *   v6[/n]                      IPv6 address or network, no port
 *   [v6[/n]]:port  or  [v6[/n]] the bracketed form carries a port (an
 *                               IPv4 entry may be bracketed too)
 *   name[:port]                 exactly this host name
 *   .suffix[:port]              suffix itself and every name below it;
 *                               "*.suffix" is read the same way, since
 *                               that is how other tools' no_proxy lists
 *                               often spell it
 *
 * Bits set past the prefix ("10.1.2.3/8") are masked, not rejected: the
 * intent is clear and other tools accept it. An IPv4-mapped IPv6 network
 * (::ffff:0:0/96 and longer) is stored as the IPv4 network it covers,
 * because addresses are matched in that form too.
 *
 * The list may also be marked "all" (struct s5_exclude): config.c sets it
 * for a lone "*" in curl's NO_PROXY, and both matchers then say yes to
 * everything. SOCKS5WRAP_NO_PROXY itself has no such entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

#define VAR "SOCKS5WRAP_NO_PROXY: "
#define NAME_TEXT_MAX 253 /* RFC 1035 section 2.3.4, without the last dot */
#define LABEL_MAX 63

static int bad_entry(const char *e, size_t n, const char *why, char *err,
		     size_t errlen)
{
	struct s5_msg m;

	s5_msg_init(&m, err, errlen);
	s5_msg_str(&m, VAR "bad entry ");
	s5_msg_quote(&m, e, n);
	s5_msg_str(&m, ": ");
	s5_msg_str(&m, why);
	return -EINVAL;
}

static void mask_past_prefix(uint8_t addr[16], unsigned prefix)
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		if (prefix >= 8) {
			prefix -= 8;
			continue;
		}
		addr[i] &= (uint8_t)(0xff00u >> prefix);
		prefix = 0;
	}
}

static bool v4mapped_net(const struct s5_cidr *c)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return c->family == AF_INET6 && c->prefix >= 96 &&
	       memcmp(c->addr, prefix, sizeof(prefix)) == 0;
}

/* "addr" or "addr/n" (n bytes, no port) into *c. Returns why not, or
 * NULL. */
static const char *parse_cidr(const char *s, size_t n, struct s5_cidr *c)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	unsigned prefix = 0, max;
	int family;
	size_t i;

	family = s5_parse_ip(s, alen, c->addr);
	if (family < 0)
		return "not a valid IP address";
	max = family == AF_INET ? 32 : 128;
	if (!slash) {
		prefix = max;
	} else {
		if (alen + 1 == n || n - alen - 1 > 3)
			return "the prefix length must be a number";
		for (i = alen + 1; i < n; i++) {
			if (!s5_ascii_digit(s[i]))
				return "the prefix length must be a number";
			prefix = prefix * 10 + (unsigned)(s[i] - '0');
		}
		if (prefix > max)
			return family == AF_INET ?
				       "the prefix length is more than 32" :
				       "the prefix length is more than 128";
	}
	c->family = (sa_family_t)family;
	c->prefix = (uint8_t)prefix;
	mask_past_prefix(c->addr, prefix);
	if (v4mapped_net(c)) {
		memmove(c->addr, c->addr + 12, 4);
		memset(c->addr + 4, 0, 12);
		c->family = AF_INET;
		c->prefix = (uint8_t)(c->prefix - 96);
	}
	return NULL;
}

int s5_cidr_parse(const char *s, struct s5_cidr *out)
{
	memset(out, 0, sizeof(*out));
	return parse_cidr(s, strlen(s), out) == NULL ? 0 : -EINVAL;
}

static bool name_char(char c)
{
	c = s5_ascii_lower(c);
	return (c >= 'a' && c <= 'z') || s5_ascii_digit(c) || c == '-' ||
	       c == '_';
}

/* A host name or ".suffix" (n bytes, no port) into *h. Returns why not,
 * or NULL. */
static const char *parse_name(const char *s, size_t n, struct s5_hostpat *h)
{
	size_t i, label = 0;

	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		s++;
		n--;
	}
	if (n > 0 && s[0] == '.') {
		h->suffix = true;
		s++;
		n--;
	}
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0)
		return "empty host name";
	if (n > NAME_TEXT_MAX)
		return "host name longer than 253 bytes";
	for (i = 0; i < n; i++) {
		h->name[i] = s5_ascii_lower(s[i]);
		if (s[i] == '.') {
			if (label == 0)
				return "empty label in the host name";
			label = 0;
		} else if (!name_char(s[i])) {
			return "not an IP address or a host name";
		} else if (++label > LABEL_MAX) {
			return "a label of the host name is longer than 63 "
			       "bytes";
		}
	}
	if (label == 0) /* "a.." loses one dot and still ends in one */
		return "empty label in the host name";
	h->name[n] = '\0';
	h->len = (uint8_t)n;
	return NULL;
}

/* An address part made only of digits, dots and a "/n" is meant as an
 * IPv4 address, even when it is not a valid one. */
static bool looks_ipv4(const char *s, size_t n)
{
	bool digit = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s5_ascii_digit(s[i]))
			digit = true;
		else if (s[i] != '.' && s[i] != '/')
			return false;
	}
	return digit;
}

/* Splits off ":port" and the brackets. Sets *body and *blen to what is left,
 * *bracketed when it was inside [ ]. Returns why not, or NULL. */
static const char *split_port(const char *e, size_t n, const char **body,
			      size_t *blen, bool *bracketed, uint16_t *port)
{
	const char *close, *colon, *p = NULL;
	size_t plen = 0, rest;

	*body = e;
	*blen = n;
	*bracketed = e[0] == '[';
	if (*bracketed) {
		close = memchr(e, ']', n);
		if (!close)
			return "'[' without ']'";
		*body = e + 1;
		*blen = (size_t)(close - *body);
		if (close + 1 != e + n) {
			if (close[1] != ':')
				return "expected ':port' after ']'";
			p = close + 2;
			plen = n - (size_t)(p - e);
		}
	} else {
		colon = memchr(e, ':', n);
		rest = colon ? n - (size_t)(colon + 1 - e) : 0;
		/* Two colons or more: a bare IPv6 address, no port. */
		if (colon && !memchr(colon + 1, ':', rest)) {
			*blen = (size_t)(colon - e);
			p = colon + 1;
			plen = n - *blen - 1;
		}
	}
	if (p && s5_parse_port(p, plen, port))
		return "the port must be a number from 1 to 65535";
	return NULL;
}

static int parse_entry(const char *e, size_t n, struct s5_exclude *ex,
		       char *err, size_t errlen)
{
	struct s5_cidr c = { 0 };
	struct s5_hostpat h = { 0 };
	const char *body, *why;
	bool bracketed;
	uint16_t port = 0;
	size_t blen;

	why = split_port(e, n, &body, &blen, &bracketed, &port);
	if (!why && (bracketed || memchr(body, ':', blen) ||
		     looks_ipv4(body, blen))) {
		why = parse_cidr(body, blen, &c);
		c.port = port;
		if (!why)
			ex->cidrs[ex->n_cidrs++] = c;
	} else if (!why) {
		why = parse_name(body, blen, &h);
		h.port = port;
		if (!why)
			ex->hosts[ex->n_hosts++] = h;
	}
	return why ? bad_entry(e, n, why, err, errlen) : 0;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t count_entries(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		n += *s == ',';
	return n;
}

static int parse_list(const char *s, struct s5_exclude *ex, char *err,
		      size_t errlen)
{
	const char *end;
	size_t n;
	int rc;

	while (*s) {
		end = strchr(s, ',');
		if (!end)
			end = s + strlen(s);
		n = (size_t)(end - s);
		while (n > 0 && blank(*s)) {
			s++;
			n--;
		}
		while (n > 0 && blank(s[n - 1]))
			n--;
		if (n > 0) {
			rc = parse_entry(s, n, ex, err, errlen);
			if (rc)
				return rc;
		}
		s = *end ? end + 1 : end;
	}
	return 0;
}

int s5_exclude_parse(const char *s, struct s5_exclude *out, char *err,
		     size_t errlen)
{
	size_t max;
	int rc;

	memset(out, 0, sizeof(*out));
	s5_msg_set(err, errlen, "", (const char *)NULL);
	if (!s)
		return 0;
	/* At most one entry per comma-separated part: allocate for that
	 * once, at startup, rather than grow. */
	max = count_entries(s);
	out->cidrs = calloc(max, sizeof(*out->cidrs));
	out->hosts = calloc(max, sizeof(*out->hosts));
	if (!out->cidrs || !out->hosts) {
		s5_exclude_free(out);
		s5_msg_set(err, errlen, VAR "out of memory",
			   (const char *)NULL);
		return -ENOMEM;
	}
	rc = parse_list(s, out, err, errlen);
	if (rc)
		s5_exclude_free(out);
	return rc;
}

void s5_exclude_free(struct s5_exclude *ex)
{
	if (!ex)
		return;
	free(ex->cidrs);
	free(ex->hosts);
	memset(ex, 0, sizeof(*ex));
}

/* For names, port 0 is "not known yet" (a lookup before the connect). */
static bool port_matches(uint16_t entry, uint16_t port)
{
	return entry == 0 || port == 0 || entry == port;
}

bool s5_prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	uint8_t mask;

	if (memcmp(a, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff00u >> rest);
	return (a[full] & mask) == (net[full] & mask);
}

bool s5_exclude_match_addr(const struct s5_exclude *ex,
			   const struct sockaddr *sa, socklen_t len)
{
	const struct s5_cidr *c;
	struct s5_ip ip;
	size_t i;

	if (!ex || !s5_ip_from_sockaddr(&ip, sa, len))
		return false;
	if (ex->all)
		return true;
	for (i = 0; i < ex->n_cidrs; i++) {
		c = &ex->cidrs[i];
		if (c->family == ip.family &&
		    (c->port == 0 || c->port == ip.port) &&
		    s5_prefix_match(ip.addr, c->addr, c->prefix))
			return true;
	}
	return false;
}

/* name (n bytes, no trailing dot) against one pattern: equal, or for a
 * suffix pattern also ending in "." + pattern. */
static bool name_matches(const struct s5_hostpat *h, const char *name,
			 size_t n)
{
	if (n == h->len)
		return s5_ascii_caseeq(name, h->name, n);
	if (!h->suffix || n <= h->len)
		return false;
	return name[n - h->len - 1] == '.' &&
	       s5_ascii_caseeq(name + n - h->len, h->name, h->len);
}

bool s5_exclude_match_name(const struct s5_exclude *ex, const char *name,
			   uint16_t port)
{
	const struct s5_hostpat *h;
	size_t i, n;

	if (!ex || !name)
		return false;
	if (ex->all)
		return true;
	n = strnlen(name, S5_NAME_MAX + 2);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > S5_NAME_MAX)
		return false;
	for (i = 0; i < ex->n_hosts; i++) {
		h = &ex->hosts[i];
		if (port_matches(h->port, port) && name_matches(h, name, n))
			return true;
	}
	return false;
}
