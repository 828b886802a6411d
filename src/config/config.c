/* The whole configuration, read once from the environment.
 *
 * Every variable is read and checked even after an error, so that one run
 * reports the first problem and how many more there are, and every field
 * of struct s5_config always holds a usable default.
 *
 * The proxy list comes from SOCKS5_PROXY, or when that is unset or empty
 * from curl's all_proxy / ALL_PROXY if it names socks5:// proxies; only
 * in that second case are curl's no_proxy / NO_PROXY entries added to the
 * exclusions (unless SOCKS5WRAP_NO_PROXY is set, which always decides
 * alone). What was read but not taken is said in the notice.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "cfg.h"

struct loader {
	struct s5_config *c;
	s5_getenv_fn get;
	void *ctx;
	unsigned errors;
};

static const char *env(const struct loader *ld, const char *name)
{
	return ld->get ? ld->get(name, ld->ctx) : NULL;
}

/* Empty means unset for the optional settings: "VAR= prog" is how a shell
 * drops a variable for one command. */
static const char *env_opt(const struct loader *ld, const char *name)
{
	const char *v = env(ld, name);

	return v && *v ? v : NULL;
}

/* Marks the configuration unusable. The first error's text is kept; later
 * ones are only counted (s5_config_load appends ", and N more"). */
static void add_error(struct loader *ld, const char *first, ...)
	__attribute__((sentinel));
static void add_error(struct loader *ld, const char *first, ...)
{
	struct s5_msg m;
	va_list ap;

	ld->c->usable = false;
	if (ld->errors++)
		return;
	s5_msg_init(&m, ld->c->error, sizeof(ld->c->error));
	va_start(ap, first);
	s5_msg_strs(&m, first, ap);
	va_end(ap);
}

/* "VAR: 'value' what" for settings whose values are not secret. */
static void add_value_error(struct loader *ld, const char *var,
			    const char *value, const char *what)
{
	char text[S5_ERR_MAX];
	struct s5_msg m;

	s5_msg_init(&m, text, sizeof(text));
	s5_msg_str(&m, var);
	s5_msg_str(&m, ": ");
	s5_msg_quote(&m, value, strlen(value));
	s5_msg_str(&m, what);
	add_error(ld, text, (const char *)NULL);
}

static void finish_errors(struct loader *ld)
{
	char more[40];
	struct s5_msg m;
	size_t keep;

	if (ld->errors < 2)
		return;
	s5_msg_init(&m, more, sizeof(more));
	s5_msg_str(&m, ", and ");
	s5_msg_uint(&m, ld->errors - 1);
	s5_msg_str(&m, " more");
	keep = sizeof(ld->c->error) - 1 - m.len;
	if (strlen(ld->c->error) > keep)
		ld->c->error[keep] = '\0';
	strcat(ld->c->error, more);
}

/* A numeric proxy host needs no lookup: fill the addresses now. The
 * hop address (how a chain's previous proxy names this one) is the
 * number, or the name for that proxy to resolve. */
static void set_proxy_addr(struct s5_proxy *p, struct s5_hop *h)
{
	struct s5_addr *a = &h->addr;
	uint8_t addr[16];
	size_t n = strlen(p->url.host);
	struct s5_msg m;
	int family;

	family = s5_parse_ip(p->url.host, n, addr);
	a->port = p->url.port;
	if (family == AF_INET) {
		p->addr4.sin_family = AF_INET;
		p->addr4.sin_port = htons(p->url.port);
		memcpy(&p->addr4.sin_addr, addr, 4);
		p->has4 = true;
		a->atyp = S5_ATYP_IPV4;
		memcpy(a->u.v4, addr, 4);
	} else if (family == AF_INET6) {
		p->addr6.sin6_family = AF_INET6;
		p->addr6.sin6_port = htons(p->url.port);
		memcpy(&p->addr6.sin6_addr, addr, 16);
		p->has6 = true;
		a->atyp = S5_ATYP_IPV6;
		memcpy(a->u.v6, addr, 16);
	} else {
		p->is_name = true;
		a->atyp = S5_ATYP_DOMAIN;
		a->u.dom.name_len = (uint8_t)(n > S5_NAME_MAX ? S5_NAME_MAX : n);
		memcpy(a->u.dom.name, p->url.host, a->u.dom.name_len);
		a->u.dom.name[a->u.dom.name_len] = '\0';
	}
	s5_msg_init(&m, p->label, sizeof(p->label));
	s5_msg_str(&m, family == AF_INET6 ? "[" : "");
	s5_msg_strn(&m, p->url.host, n);
	s5_msg_str(&m, family == AF_INET6 ? "]:" : ":");
	s5_msg_uint(&m, p->url.port);
}

/* Longest entry of a list: a URL with two 255-byte credentials, each
 * byte percent-encoded, and a name. */
#define S5_ENTRY_MAX (16 + 6 * S5_CRED_MAX + S5_NAME_MAX + 16)

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* One entry (n bytes, blanks trimmed) of the list in variable var. */
static int load_entry(struct loader *ld, const char *var, const char *s,
		      size_t n, unsigned idx, unsigned total)
{
	struct s5_proxy *p = &ld->c->proxy[ld->c->n_proxies];
	char buf[S5_ENTRY_MAX + 1], err[S5_ERR_MAX], text[S5_ERR_MAX];
	const char *why;
	struct s5_msg m;
	int rc;

	if (n > S5_ENTRY_MAX) {
		rc = -EINVAL;
		s5_msg_set(err, sizeof(err), var,
			   ": an entry is too long", (const char *)NULL);
	} else {
		memcpy(buf, s, n);
		buf[n] = '\0';
		rc = s5_url_parse_var(var, buf, &p->url, err, sizeof(err));
		explicit_bzero(buf, sizeof(buf));
	}
	if (rc) {
		/* "VAR: proxy 2 of 3: what" for a list. */
		why = err;
		if (total > 1 && strncmp(err, var, strlen(var)) == 0 &&
		    err[strlen(var)] == ':') {
			s5_msg_init(&m, text, sizeof(text));
			s5_msg_str(&m, var);
			s5_msg_str(&m, ": proxy ");
			s5_msg_uint(&m, idx + 1);
			s5_msg_str(&m, " of ");
			s5_msg_uint(&m, total);
			s5_msg_str(&m, err + strlen(var));
			why = text;
		}
		add_error(ld, why, (const char *)NULL);
		return rc;
	}
	set_proxy_addr(p, &ld->c->hop[ld->c->n_proxies]);
	ld->c->n_proxies++;
	return 0;
}

/* The next entry of a comma-separated list at *v, blanks around it
 * trimmed: true with *s and *n (maybe 0 bytes: an empty entry), *v moved
 * past it; false at the end. */
static bool next_entry(const char **v, const char **s, size_t *n)
{
	const char *p = *v, *e;

	if (p == NULL)
		return false;
	while (blank(*p))
		p++;
	e = strchr(p, ',');
	if (!e)
		e = p + strlen(p);
	*s = p;
	*n = (size_t)(e - p);
	while (*n > 0 && blank(p[*n - 1]))
		(*n)--;
	*v = *e ? e + 1 : NULL;
	return true;
}

/* Entries of a comma-separated list, empty ones ignored. */
static unsigned count_entries(const char *v)
{
	unsigned total = 0;
	const char *s;
	size_t n;

	while (next_entry(&v, &s, &n))
		total += n > 0;
	return total;
}

/* A comma-separated list of proxies (a comma inside a user name or
 * password is written %2C), blanks around entries and empty entries
 * ignored. */
static void load_list(struct loader *ld, const char *var, const char *v)
{
	unsigned total = count_entries(v), idx = 0;
	const char *s;
	size_t n;

	if (total == 0) {
		add_error(ld, var, " holds no proxy, only commas and blanks",
			  (const char *)NULL);
		return;
	}
	if (total > S5_PROXY_MAX) {
		char text[S5_ERR_MAX];
		struct s5_msg m;

		s5_msg_init(&m, text, sizeof(text));
		s5_msg_str(&m, var);
		s5_msg_str(&m, ": ");
		s5_msg_uint(&m, total);
		s5_msg_str(&m, " proxies; at most ");
		s5_msg_uint(&m, S5_PROXY_MAX);
		s5_msg_str(&m, " are taken");
		add_error(ld, text, (const char *)NULL);
		return;
	}
	while (next_entry(&v, &s, &n))
		if (n > 0 && load_entry(ld, var, s, n, idx++, total) < 0)
			return;
}

/* Adds "VAR: text" to the notice (one sentence per variable, "; " in
 * between). */
static void add_notice(struct loader *ld, const char *var, const char *a,
		       const char *b, size_t bn, const char *c)
{
	char *notice = ld->c->notice;
	size_t len = strnlen(notice, sizeof(ld->c->notice) - 1);
	struct s5_msg m;

	/* Continue the text already there (s5_msg_init would empty it). */
	s5_msg_init(&m, notice + len, sizeof(ld->c->notice) - len);
	if (len)
		s5_msg_str(&m, "; ");
	s5_msg_str(&m, var);
	s5_msg_str(&m, a);
	if (b)
		s5_msg_quote(&m, b, bn);
	s5_msg_str(&m, c);
}

/* The length of v's "scheme://" prefix when it is a scheme (RFC 3986,
 * s5_url_is_scheme), else 0. Only such a scheme is ever quoted back: the
 * rest of a proxy URL may hold a password. */
static size_t scheme_len(const char *v)
{
	const char *sep = strstr(v, "://");
	size_t n = sep ? (size_t)(sep - v) : 0;

	return n && s5_url_is_scheme(v, n) ? n : 0;
}

/* SOCKS5_PROXY: the list of proxies (load_list). When it is unset or
 * empty, curl's all_proxy and then ALL_PROXY (curl reads the lower-case
 * one first, and so do we; the first one set and not empty is the only
 * one looked at). That value is taken only when it is a socks5:// or
 * socks5h:// URL (or a list of them): both mean the proxy resolves
 * names, which is already our default, and SOCKS5WRAP_DNS=local still
 * applies. An http://, socks4:// or scheme-less value is for other
 * tools: it is ignored with a notice that quotes its scheme only.
 * A non-empty SOCKS5_PROXY always wins, and ALL_PROXY is then not read. */
static void load_proxy(struct loader *ld)
{
	const char *v = env_opt(ld, "SOCKS5_PROXY"), *var = "SOCKS5_PROXY";
	struct s5_config *c = ld->c;
	char text[S5_ERR_MAX];
	const char *lead;
	struct s5_msg m;
	size_t n;

	if (!v) {
		var = "all_proxy";
		v = env_opt(ld, var);
		if (!v) {
			var = "ALL_PROXY";
			v = env_opt(ld, var);
		}
		if (!v) {
			add_error(ld, "SOCKS5_PROXY is not set",
				  (const char *)NULL);
			return;
		}
		for (lead = v; blank(*lead); lead++)
			;
		n = scheme_len(lead);
		if (!((n == 6 && s5_ascii_caseeq(lead, "socks5", 6)) ||
		      (n == 7 && s5_ascii_caseeq(lead, "socks5h", 7)))) {
			if (n) {
				add_notice(ld, var, ": ", lead, n,
					   " is not a socks5:// or socks5h:// "
					   "proxy; ignored");
				s5_msg_init(&m, text, sizeof(text));
				s5_msg_str(&m, "SOCKS5_PROXY is not set; ");
				s5_msg_str(&m, var);
				s5_msg_str(&m, " holds a proxy of scheme ");
				s5_msg_quote(&m, lead, n);
				s5_msg_str(&m, ", which socks5wrap cannot use");
				add_error(ld, text, (const char *)NULL);
			} else {
				add_notice(ld, var, ": not a socks5:// or "
					   "socks5h:// URL; ignored",
					   NULL, 0, "");
				add_error(ld, "SOCKS5_PROXY is not set; ",
					  var, " holds no socks5:// URL",
					  (const char *)NULL);
			}
			return;
		}
		c->source = S5_SRC_ALL_PROXY;
		c->source_var = var;
		add_notice(ld, "using the proxy from ", var, NULL, 0,
			   " (SOCKS5_PROXY is not set)");
	} else {
		c->source = S5_SRC_SOCKS5_PROXY;
		c->source_var = var;
	}
	load_list(ld, var, v);
	if (c->n_proxies == 0)
		c->usable = false;
}

static void set_user(struct s5_hop *h, const char *s, size_t n)
{
	memcpy(h->user, s, n);
	h->user[n] = '\0';
	h->user_len = (uint8_t)n;
	h->auth = true;
}

static void set_pass(struct s5_hop *h, const char *s, size_t n)
{
	memcpy(h->pass, s, n);
	h->pass[n] = '\0';
	h->pass_len = (uint8_t)n;
}

/* SOCKS5_USER and SOCKS5_PASSWORD (RFC 1929 limits: user 1..255 bytes,
 * password 0..255): with one proxy they override the URL's user and
 * password one by one; with a list they go to the proxies whose URL
 * names no user. The URL's copies are wiped once taken: only each
 * proxy's hop keeps them. */
static void load_credentials(struct loader *ld)
{
	const char *u = env(ld, "SOCKS5_USER");
	const char *p = env(ld, "SOCKS5_PASSWORD");
	struct s5_config *c = ld->c;
	bool one = c->n_proxies == 1, bad_u = false, bad_p = false;
	size_t nu = 0, np = 0;
	struct s5_proxy *px;
	struct s5_hop *h;
	unsigned i;

	if (u) {
		nu = strnlen(u, S5_CRED_MAX + 1);
		if (nu == 0)
			add_error(ld, "SOCKS5_USER is set but empty",
				  (const char *)NULL);
		else if (nu > S5_CRED_MAX)
			add_error(ld, "SOCKS5_USER: longer than 255 bytes",
				  (const char *)NULL);
		bad_u = nu == 0 || nu > S5_CRED_MAX;
	}
	if (p) {
		np = strnlen(p, S5_CRED_MAX + 1);
		if (np > S5_CRED_MAX)
			add_error(ld, "SOCKS5_PASSWORD: longer than 255 bytes",
				  (const char *)NULL);
		bad_p = np > S5_CRED_MAX;
	}
	for (i = 0; i < c->n_proxies; i++) {
		px = &c->proxy[i];
		h = &c->hop[i];
		if (px->url.has_user)
			set_user(h, px->url.user, px->url.user_len);
		if (px->url.has_pass)
			set_pass(h, px->url.pass, px->url.pass_len);
		explicit_bzero(px->url.user, sizeof(px->url.user));
		explicit_bzero(px->url.pass, sizeof(px->url.pass));
		px->url.user_len = px->url.pass_len = 0;
		if (one || !px->url.has_user) {
			if (u && !bad_u)
				set_user(h, u, nu);
			if (p && !bad_p)
				set_pass(h, p, np);
		}
		/* A password nobody will ever send is a mistake worth
		 * reporting. */
		if (!h->auth && h->pass_len > 0)
			add_error(ld, "SOCKS5_PASSWORD is set but there is no "
				      "user name (set SOCKS5_USER)",
				  (const char *)NULL);
	}
	if (c->n_proxies == 0 && !u && p && !bad_p && np > 0)
		add_error(ld, "SOCKS5_PASSWORD is set but there is no user "
			      "name (set SOCKS5_USER)", (const char *)NULL);
}

/* Appends what one parsed entry gave to ex (both arrays were sized by
 * s5_exclude_parse for the entries they hold: grow by what is added). */
/* Appends k elements of size bytes at src to the malloc'd array *arr of
 * *n. Returns 0 or -ENOMEM (the array is left as it was). */
static int append(void **arr, size_t *n, const void *src, size_t k,
		  size_t size)
{
	char *grown;

	if (k == 0)
		return 0;
	grown = realloc(*arr, (*n + k) * size);
	if (!grown)
		return -ENOMEM;
	memcpy(grown + *n * size, src, k * size);
	*arr = grown;
	*n += k;
	return 0;
}

static int add_exclusions(struct s5_exclude *ex, const struct s5_exclude *e)
{
	void *cidrs = ex->cidrs, *hosts = ex->hosts;
	int rc;

	rc = append(&cidrs, &ex->n_cidrs, e->cidrs, e->n_cidrs,
		    sizeof(*e->cidrs));
	ex->cidrs = cidrs;
	if (rc == 0)
		rc = append(&hosts, &ex->n_hosts, e->hosts, e->n_hosts,
			    sizeof(*e->hosts));
	ex->hosts = hosts;
	return rc;
}

/* Longest NO_PROXY entry worth parsing: a bracketed IPv6 network with a
 * port, or a name with a leading "*." and a port. */
#define S5_NOPROXY_ENTRY_MAX (S5_NAME_MAX + 16)

static bool no_proxy_sep(char ch)
{
	return ch == ',' || ch == ' ' || ch == '\t' || ch == '\n' ||
	       ch == '\r';
}

/* One entry of curl's no_proxy (n bytes, no separators): 0, 1 when it
 * was skipped, or -ENOMEM. */
static int curl_no_proxy_entry(struct s5_exclude *ex, const char *s,
			       size_t n)
{
	char buf[S5_NOPROXY_ENTRY_MAX + 1], err[S5_ERR_MAX];
	struct s5_exclude e;
	size_t i;
	int rc;

	if (n == 1 && s[0] == '*') {
		ex->all = true;
		return 0;
	}
	if (n > S5_NOPROXY_ENTRY_MAX || memchr(s, '\0', n))
		return 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	rc = s5_exclude_parse(buf, &e, err, sizeof(err));
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return 1;
	/* curl: "example.com" and ".example.com" both cover the domain and
	 * every name below it ("*.example.com" too: the parser reads that
	 * as ".example.com"). */
	for (i = 0; i < e.n_hosts; i++)
		e.hosts[i].suffix = true;
	rc = add_exclusions(ex, &e);
	s5_exclude_free(&e);
	return rc;
}

/* no_proxy, then NO_PROXY (curl's order; the first one set and not empty
 * is read), added to the default exclusions when the proxy came from
 * ALL_PROXY: the environment that names a proxy for every tool also
 * names what must not go through it. curl's syntax: entries separated by
 * commas and (as recent curl accepts) blanks; a host name, with or
 * without a leading dot or "*.", covers that domain and every name below
 * it; an IPv4 or IPv6 address or CIDR (IPv6 bracketed or not) is taken
 * as is; a lone "*" sends nothing through the proxy. curl has no ports
 * there; an entry "host:port" is taken with its port (our parser's
 * meaning: only that port is direct). Dropping the port would send
 * every port direct, where keeping it only sends more through the proxy,
 * the safe side. An entry that does not parse is skipped for the same
 * reason, and the notice names the first and counts them. */
static int load_curl_no_proxy(struct loader *ld)
{
	const char *var = "no_proxy", *v = env_opt(ld, var), *e, *bad = NULL;
	unsigned skipped = 0;
	size_t n, bad_n = 0;
	char num[24];
	struct s5_msg m;
	int rc;

	if (!v) {
		var = "NO_PROXY";
		v = env_opt(ld, var);
	}
	if (!v)
		return 0;
	ld->c->exclude_var = var;
	while (*v) {
		while (no_proxy_sep(*v))
			v++;
		for (e = v; *e && !no_proxy_sep(*e); e++)
			;
		n = (size_t)(e - v);
		if (n == 0)
			break;
		rc = curl_no_proxy_entry(&ld->c->exclude, v, n);
		if (rc < 0) {
			add_error(ld, var, ": out of memory",
				  (const char *)NULL);
			return rc;
		}
		if (rc > 0 && skipped++ == 0) {
			bad = v;
			bad_n = n;
		}
		v = e;
	}
	if (skipped) {
		s5_msg_init(&m, num, sizeof(num));
		s5_msg_str(&m, " (");
		s5_msg_uint(&m, skipped);
		s5_msg_str(&m, skipped == 1 ? " entry)" : " entries)");
		add_notice(ld, var, ": skipped what does not parse, first ",
			   bad, bad_n, num);
	}
	return 0;
}

/* SOCKS5WRAP_NO_PROXY set (even empty): it alone decides. Unset: the
 * default list, plus curl's NO_PROXY when the proxy came from ALL_PROXY.
 * Bad: the error, and the default list too, so that loopback never goes
 * to the proxy. */
static int load_no_proxy(struct loader *ld)
{
	const char *v = env(ld, "SOCKS5WRAP_NO_PROXY");
	char err[S5_ERR_MAX];
	int rc;

	if (v) {
		ld->c->exclude_var = "SOCKS5WRAP_NO_PROXY";
		rc = s5_exclude_parse(v, &ld->c->exclude, err, sizeof(err));
		if (rc != -EINVAL) {
			if (rc)
				add_error(ld, err, (const char *)NULL);
			return rc;
		}
		add_error(ld, err, (const char *)NULL);
	}
	rc = s5_exclude_parse(S5_DEFAULT_NO_PROXY, &ld->c->exclude, err,
			      sizeof(err));
	if (rc) {
		add_error(ld, err, (const char *)NULL);
		return rc;
	}
	if (!v && ld->c->source == S5_SRC_ALL_PROXY)
		return load_curl_no_proxy(ld);
	return 0;
}

static void load_timeout(struct loader *ld)
{
	const char *v = env_opt(ld, "SOCKS5WRAP_TIMEOUT");

	if (v && s5_parse_timeout(v, &ld->c->timeout_ms))
		add_value_error(ld, "SOCKS5WRAP_TIMEOUT", v,
				" is not a number of seconds above 0 and up to "
				"86400, with at most 3 decimals");
}

static void load_log(struct loader *ld)
{
	const char *v = env_opt(ld, "SOCKS5WRAP_LOG");

	if (v && s5log_parse_level(v, &ld->c->log_level))
		add_value_error(ld, "SOCKS5WRAP_LOG", v,
				" is not none, error, warn, info or debug");
	ld->c->log_file = env_opt(ld, "SOCKS5WRAP_LOG_FILE");
}

static void load_dns(struct loader *ld)
{
	const char *v = env_opt(ld, "SOCKS5WRAP_DNS");
	size_t n = v ? strlen(v) : 0;

	if (!v)
		return;
	if (n == 6 && s5_ascii_caseeq(v, "remote", 6))
		ld->c->dns = S5_DNS_REMOTE;
	else if (n == 5 && s5_ascii_caseeq(v, "local", 5))
		ld->c->dns = S5_DNS_LOCAL;
	else
		add_value_error(ld, "SOCKS5WRAP_DNS", v,
				" is not remote or local");
}

static void load_udp(struct loader *ld)
{
	const char *v = env_opt(ld, "SOCKS5WRAP_UDP");
	size_t n = v ? strlen(v) : 0;

	if (!v)
		return;
	if (n == 5 && s5_ascii_caseeq(v, "proxy", 5))
		ld->c->udp = S5_UDP_PROXY;
	else if (n == 5 && s5_ascii_caseeq(v, "block", 5))
		ld->c->udp = S5_UDP_BLOCK;
	else
		add_value_error(ld, "SOCKS5WRAP_UDP", v,
				" is not proxy or block");
}

static void load_bind(struct loader *ld)
{
	static const char *const names[] = {
		[S5_BIND_AUTO] = "auto",
		[S5_BIND_OFF] = "off",
		[S5_BIND_ALL] = "all",
	};
	const char *v = env_opt(ld, "SOCKS5WRAP_BIND");
	size_t i;

	if (!v)
		return;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(v) == strlen(names[i]) &&
		    s5_ascii_caseeq(v, names[i], strlen(v))) {
			ld->c->bind = (enum s5_bind_mode)i;
			return;
		}
	add_value_error(ld, "SOCKS5WRAP_BIND", v, " is not auto, off or all");
}

/* A 0 or 1 switch: *out set for 1, left for 0 or unset. */
static void load_switch(struct loader *ld, const char *var, bool *out)
{
	const char *v = env_opt(ld, var);

	if (!v)
		return;
	if (strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "0") != 0)
		add_value_error(ld, var, v, " is not 0 or 1");
}

/* Optimistic data needs the request pipelined behind the greeting. */
static void load_pipeline(struct loader *ld)
{
	load_switch(ld, "SOCKS5WRAP_PIPELINE", &ld->c->pipeline);
	load_switch(ld, "SOCKS5WRAP_OPTIMISTIC", &ld->c->optimistic);
	if (ld->c->optimistic)
		ld->c->pipeline = true;
}

/* A fake range must hold a few addresses beyond its first and last (never
 * handed out): at most /30 for IPv4, /126 for IPv6. A bad value falls back
 * to the default so that a fake address can still never leak. */
static void load_fake_net(struct loader *ld, const char *var, int family,
			  const char *dflt, struct s5_cidr *out)
{
	const char *v = env_opt(ld, var);
	unsigned int max = family == AF_INET ? 30 : 126;

	if (v && (s5_cidr_parse(v, out) < 0 || out->family != family ||
		  out->prefix == 0 || out->prefix > max))
		add_value_error(ld, var, v,
				family == AF_INET
					? " is not an IPv4 network from /1 to /30"
					: " is not an IPv6 network from /1 to "
					  "/126");
	else if (v)
		return;
	s5_cidr_parse(dflt, out);
}

/* Run once both ranges, the proxy and the exclusions are read. A range
 * that collides goes back to the default, so that what it covers (say
 * loopback) keeps working while proxied connections are refused. */
static void check_fake_net(struct loader *ld, const char *var,
			   const char *dflt, struct s5_cidr *net)
{
	char err[S5_ERR_MAX];

	if (s5_fake_net_check(ld->c, var, net, err, sizeof(err)) == 0)
		return;
	add_error(ld, err, (const char *)NULL);
	s5_cidr_parse(dflt, net);
}

static void set_defaults(struct s5_config *c)
{
	memset(c, 0, sizeof(*c));
	c->usable = true;
	c->timeout_ms = S5_DEFAULT_TIMEOUT_MS;
	c->log_level = S5LOG_ERROR;
	c->dns = S5_DNS_REMOTE;
}

int s5_config_load_from(struct s5_config *c, s5_getenv_fn get, void *ctx,
			bool secure)
{
	struct loader ld = { .c = c, .get = get, .ctx = ctx };
	int rc;

	set_defaults(c);
	if (secure) {
		/* A setuid program must not let its caller choose where its
		 * connections go or which file it appends to (DESIGN.md,
		 * decision 7). */
		ld.get = NULL;
		add_error(&ld, "environment ignored in a setuid/setgid program",
			  (const char *)NULL);
		s5_cidr_parse(S5_DEFAULT_FAKE_NET, &c->fake4);
		s5_cidr_parse(S5_DEFAULT_FAKE_NET6, &c->fake6);
		return load_no_proxy(&ld) == -ENOMEM ? -ENOMEM : 0;
	}
	load_proxy(&ld);
	load_credentials(&ld);
	load_switch(&ld, "SOCKS5WRAP_CHAIN", &c->chain);
	rc = load_no_proxy(&ld);
	load_timeout(&ld);
	load_log(&ld);
	load_dns(&ld);
	load_udp(&ld);
	load_bind(&ld);
	load_pipeline(&ld);
	load_fake_net(&ld, "SOCKS5WRAP_FAKE_NET", AF_INET, S5_DEFAULT_FAKE_NET,
		      &c->fake4);
	load_fake_net(&ld, "SOCKS5WRAP_FAKE_NET6", AF_INET6,
		      S5_DEFAULT_FAKE_NET6, &c->fake6);
	check_fake_net(&ld, "SOCKS5WRAP_FAKE_NET", S5_DEFAULT_FAKE_NET,
		       &c->fake4);
	check_fake_net(&ld, "SOCKS5WRAP_FAKE_NET6", S5_DEFAULT_FAKE_NET6,
		       &c->fake6);
	/* A bad SOCKS5WRAP_LOG leaves the level at error (the default): the
	 * error must still be seen. */
	finish_errors(&ld);
	return rc == -ENOMEM ? -ENOMEM : 0;
}

int s5_config_load(struct s5_config *c, s5_getenv_fn get, void *ctx)
{
	/* AT_SECURE is what the kernel and ld.so use for setuid, setgid and
	 * file-capability programs (getauxval(3)). */
	return s5_config_load_from(c, get, ctx, getauxval(AT_SECURE) != 0);
}

/* First address of each family from the lookup. */
static void take_address(struct s5_proxy *p, const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET && !p->has4 && ai->ai_addr &&
	    ai->ai_addrlen >= (socklen_t)sizeof(p->addr4)) {
		memcpy(&p->addr4, ai->ai_addr, sizeof(p->addr4));
		p->addr4.sin_port = htons(p->url.port);
		p->has4 = true;
	} else if (ai->ai_family == AF_INET6 && !p->has6 && ai->ai_addr &&
		   ai->ai_addrlen >= (socklen_t)sizeof(p->addr6)) {
		memcpy(&p->addr6, ai->ai_addr, sizeof(p->addr6));
		p->addr6.sin6_port = htons(p->url.port);
		p->has6 = true;
	}
}

static int resolve_failed(struct s5_config *c, const struct s5_proxy *p,
			  const char *why)
{
	struct s5_msg m;

	c->usable = false;
	s5_msg_init(&m, c->error, sizeof(c->error));
	s5_msg_str(&m, c->source_var ? c->source_var : "SOCKS5_PROXY");
	s5_msg_str(&m, ": cannot resolve ");
	s5_msg_quote(&m, p->url.host, strlen(p->url.host));
	s5_msg_str(&m, ": ");
	s5_msg_str(&m, why);
	return -EHOSTUNREACH;
}

/* One proxy's name: 0, or -errno with the error text in c->error (c is
 * left usable: the caller decides). */
static int resolve_one(struct s5_config *c, struct s5_proxy *p,
		       s5_getaddrinfo_fn gai, s5_freeaddrinfo_fn fai)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = gai(p->url.host, NULL, &hints, &res);
	if (rc) {
		resolve_failed(c, p, gai_strerror(rc));
		return rc == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next)
		take_address(p, ai);
	if (res)
		fai(res);
	if (!p->has4 && !p->has6)
		return resolve_failed(c, p, "no IPv4 or IPv6 address");
	return 0;
}

int s5_config_resolve_proxy(struct s5_config *c, s5_getaddrinfo_fn gai,
			    s5_freeaddrinfo_fn fai)
{
	char first_err[S5_ERR_MAX] = "";
	unsigned i, n, left = 0;
	struct s5_proxy *p;
	int rc, worst = 0;

	if (!c->usable)
		return 0;
	/* A chain reaches its first proxy only: the others are named to
	 * the proxy before them, which resolves them. */
	n = c->chain ? 1 : c->n_proxies;
	for (i = 0; i < n && i < S5_PROXY_MAX; i++) {
		p = &c->proxy[i];
		/* Nothing to do for a numeric host or a name already
		 * looked up. */
		if (!p->is_name || p->has4 || p->has6 || p->unresolved) {
			left += !p->unresolved;
			continue;
		}
		/* No default: inside the preload, plain getaddrinfo is our
		 * own hook. */
		if (!gai || !fai)
			return -EINVAL;
		rc = resolve_one(c, p, gai, fai);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) {
			p->unresolved = true;
			if (!first_err[0])
				memcpy(first_err, c->error, sizeof(first_err));
			worst = rc;
			c->usable = true;
			continue;
		}
		left++;
	}
	if (left == 0 && worst < 0) {
		memcpy(c->error, first_err, sizeof(c->error));
		c->usable = false;
		return worst;
	}
	/* Some proxy is left: the configuration is usable, and error stays
	 * empty as it is for every usable one (the failed names are marked
	 * unresolved). */
	c->error[0] = '\0';
	/* The check s5_config_load made for a numeric proxy, now that the
	 * addresses are known. */
	if (s5_fake_net_check(c, "SOCKS5WRAP_FAKE_NET", &c->fake4, c->error,
			      sizeof(c->error)) < 0 ||
	    s5_fake_net_check(c, "SOCKS5WRAP_FAKE_NET6", &c->fake6, c->error,
			      sizeof(c->error)) < 0) {
		c->usable = false;
		return -EINVAL;
	}
	return 0;
}

static bool same_ip(const struct s5_ip *a, const struct s5_ip *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, 16) == 0;
}

bool s5_config_is_proxy(const struct s5_config *c, const struct sockaddr *sa,
			socklen_t len)
{
	const struct s5_proxy *p;
	struct s5_ip ip, proxy;
	unsigned i;

	if (!c || !s5_ip_from_sockaddr(&ip, sa, len))
		return false;
	for (i = 0; i < c->n_proxies && i < S5_PROXY_MAX; i++) {
		p = &c->proxy[i];
		if (p->has4 &&
		    s5_ip_from_sockaddr(&proxy,
					(const struct sockaddr *)&p->addr4,
					sizeof(p->addr4)) &&
		    same_ip(&ip, &proxy))
			return true;
		if (p->has6 &&
		    s5_ip_from_sockaddr(&proxy,
					(const struct sockaddr *)&p->addr6,
					sizeof(p->addr6)) &&
		    same_ip(&ip, &proxy))
			return true;
	}
	return false;
}

int s5_config_pick_proxy(const struct s5_proxy *p, int domain, bool v6only,
			 struct sockaddr_storage *out, socklen_t *len)
{
	if (domain == AF_INET && p->has4) {
		memcpy(out, &p->addr4, sizeof(p->addr4));
		*len = sizeof(p->addr4);
		return 0;
	}
	if (domain == AF_INET6 && p->has6) {
		memcpy(out, &p->addr6, sizeof(p->addr6));
		*len = sizeof(p->addr6);
		return 0;
	}
	if (domain == AF_INET6 && p->has4 && !v6only) {
		s5_sockaddr_mapped(&p->addr4, out, len);
		return 0;
	}
	return -EAFNOSUPPORT;
}

void s5_config_free(struct s5_config *c)
{
	if (!c)
		return;
	s5_exclude_free(&c->exclude);
	explicit_bzero(c->proxy, sizeof(c->proxy));
	explicit_bzero(c->hop, sizeof(c->hop));
}

/* Whole seconds, then up to 3 decimals. */
int s5_parse_timeout(const char *s, int *ms)
{
	unsigned long whole = 0, frac = 0;
	unsigned digits = 0, decimals = 0;

	if (!s)
		return -EINVAL;
	for (; s5_ascii_digit(*s); s++, digits++) {
		whole = whole * 10 + (unsigned long)(*s - '0');
		if (whole > 86400)
			return -EINVAL;
	}
	if (digits == 0)
		return -EINVAL;
	if (*s == '.') {
		for (s++; s5_ascii_digit(*s); s++) {
			if (++decimals > 3)
				return -EINVAL;
			frac = frac * 10 + (unsigned long)(*s - '0');
		}
		if (decimals == 0)
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	for (; decimals < 3; decimals++)
		frac *= 10;
	whole = whole * 1000 + frac;
	if (whole == 0 || whole > 86400000)
		return -EINVAL;
	*ms = (int)whole;
	return 0;
}
