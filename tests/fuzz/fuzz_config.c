/* libFuzzer target for s5_config_load: the whole environment at once.
 *
 * Input: two bytes of flags (bit i: variable i is set; bits 10..11 pick
 * what the fake getaddrinfo answers), then the values of the variables in
 * the order of vars[], separated by NUL bytes. Beyond "no crash":
 *  - every field holds a usable value, whatever the input; the error text
 *    is NUL-terminated and printable ASCII, and empty exactly when the
 *    configuration is usable;
 *  - the URLs' copies of the credentials are wiped once taken (only the
 *    hops keep them);
 *  - loopback stays excluded unless SOCKS5WRAP_NO_PROXY is a valid list;
 *  - SOCKS5_PASSWORD never shows in the outcome: a password of the same
 *    length with every byte changed gives the same error text;
 *  - s5_config_free wipes the credentials and frees the list (ASan checks
 *    for leaks);
 *  - a usable configuration's fake ranges hold neither loopback nor any
 *    proxy's addresses, before and after the proxy lookup.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "s5_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const vars[] = {
	"SOCKS5_PROXY",	       "SOCKS5_USER",	       "SOCKS5_PASSWORD",
	"SOCKS5WRAP_NO_PROXY", "SOCKS5WRAP_TIMEOUT",   "SOCKS5WRAP_LOG",
	"SOCKS5WRAP_DNS",      "SOCKS5WRAP_FAKE_NET",  "SOCKS5WRAP_FAKE_NET6",
	"SOCKS5WRAP_LOG_FILE",
};

#define NVARS (sizeof(vars) / sizeof(vars[0]))
#define V_PASSWORD 2
#define V_NO_PROXY 3

struct env {
	char *val[NVARS]; /* NULL: unset; each its own allocation */
};

static const char *fake_getenv(const char *name, void *ctx)
{
	const struct env *e = ctx;
	size_t i;

	for (i = 0; i < NVARS; i++)
		if (strcmp(name, vars[i]) == 0)
			return e->val[i];
	return NULL;
}

/* The proxy host lookup: fails, or answers an IPv4 and an IPv6 address,
 * or only ones of a family the loader does not keep. */
static unsigned gai_mode;
static struct sockaddr_in gai_sin;
static struct sockaddr_in6 gai_sin6;
static struct addrinfo gai_ai6, gai_ai4;

static int fake_gai(const char *node, const char *service,
		    const struct addrinfo *hints, struct addrinfo **res)
{
	(void)service;
	(void)hints;
	if (!node || !*node)
		__builtin_trap();
	if (gai_mode == 0)
		return EAI_NONAME;
	memset(&gai_sin, 0, sizeof(gai_sin));
	gai_sin.sin_family = AF_INET;
	gai_sin.sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
	memset(&gai_sin6, 0, sizeof(gai_sin6));
	gai_sin6.sin6_family = AF_INET6;
	gai_sin6.sin6_addr.s6_addr[0] = 0x20;
	gai_sin6.sin6_addr.s6_addr[1] = 0x01;
	gai_sin6.sin6_addr.s6_addr[15] = 1;
	memset(&gai_ai4, 0, sizeof(gai_ai4));
	memset(&gai_ai6, 0, sizeof(gai_ai6));
	gai_ai4.ai_family = AF_INET;
	gai_ai4.ai_addr = (struct sockaddr *)&gai_sin;
	gai_ai4.ai_addrlen = sizeof(gai_sin);
	gai_ai6.ai_family = AF_INET6;
	gai_ai6.ai_addr = (struct sockaddr *)&gai_sin6;
	gai_ai6.ai_addrlen = sizeof(gai_sin6);
	gai_ai6.ai_next = &gai_ai4;
	if (gai_mode == 3)
		gai_ai4.ai_family = gai_ai6.ai_family = AF_UNIX;
	*res = gai_mode == 2 ? &gai_ai4 : &gai_ai6;
	return 0;
}

static void fake_freeaddrinfo(struct addrinfo *res)
{
	if (res != &gai_ai4 && res != &gai_ai6)
		__builtin_trap();
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

static bool excludes_loopback(const struct s5_config *c)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(80);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(80);
	sin6.sin6_addr = in6addr_loopback;
	return s5_exclude_match_addr(&c->exclude, (struct sockaddr *)&sin,
				     sizeof(sin)) &&
	       s5_exclude_match_addr(&c->exclude, (struct sockaddr *)&sin6,
				     sizeof(sin6));
}

static bool no_proxy_valid(const struct env *e)
{
	struct s5_exclude ex;
	char err[S5_ERR_MAX];
	int rc;

	if (!e->val[V_NO_PROXY])
		return false;
	rc = s5_exclude_parse(e->val[V_NO_PROXY], &ex, err, sizeof(err));
	s5_exclude_free(&ex);
	return rc == 0;
}

static bool in_cidr(const struct s5_cidr *net, const struct sockaddr *sa)
{
	const uint8_t *a;

	if (sa->sa_family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)
			    ->sin_addr;
	else
		a = ((const struct sockaddr_in6 *)(const void *)sa)
			    ->sin6_addr.s6_addr;
	return net->family == sa->sa_family &&
	       s5_prefix_match(a, net->addr, net->prefix);
}

/* A usable configuration never takes loopback or a proxy for fake. */
static void check_fake_clear(const struct s5_config *c)
{
	struct sockaddr_in lo4 = { .sin_family = AF_INET };
	struct sockaddr_in6 lo6 = { .sin6_family = AF_INET6 };
	const struct s5_proxy *p;
	unsigned i;

	if (!c->usable)
		return;
	lo4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lo6.sin6_addr = in6addr_loopback;
	if (in_cidr(&c->fake4, (const struct sockaddr *)&lo4) ||
	    in_cidr(&c->fake6, (const struct sockaddr *)&lo6))
		__builtin_trap();
	for (i = 0; i < c->n_proxies; i++) {
		p = &c->proxy[i];
		if (p->has4 &&
		    in_cidr(&c->fake4, (const struct sockaddr *)&p->addr4))
			__builtin_trap();
		if (p->has6 &&
		    in_cidr(&c->fake6, (const struct sockaddr *)&p->addr6))
			__builtin_trap();
	}
}

/* Proxies the lookup asks for: every one of a failover list, the first
 * of a chain. */
static unsigned looked_up(const struct s5_config *c)
{
	return c->chain && c->n_proxies ? 1 : c->n_proxies;
}

/* Before the lookup a proxy is a name or has addresses; after it, a name
 * that was looked up has them too, or is marked unresolved. */
static void check_proxy(const struct s5_config *c, bool resolved)
{
	const struct s5_proxy *p;
	unsigned i;

	if (c->n_proxies > S5_PROXY_MAX || (c->usable && c->n_proxies == 0))
		__builtin_trap();
	for (i = 0; i < c->n_proxies; i++) {
		p = &c->proxy[i];
		if (p->has4 &&
		    !s5_config_is_proxy(c, (const struct sockaddr *)&p->addr4,
					sizeof(p->addr4)))
			__builtin_trap();
		if (p->has6 &&
		    !s5_config_is_proxy(c, (const struct sockaddr *)&p->addr6,
					sizeof(p->addr6)))
			__builtin_trap();
		if (!p->url.host[0] || p->url.port == 0 || !p->label[0] ||
		    c->hop[i].addr.port != p->url.port)
			__builtin_trap();
		if (p->is_name != (c->hop[i].addr.atyp == S5_ATYP_DOMAIN))
			__builtin_trap();
		if (!c->usable)
			continue;
		if (resolved && p->is_name && i < looked_up(c) ?
			    !(p->has4 || p->has6 || p->unresolved) :
			    p->is_name == (p->has4 || p->has6))
			__builtin_trap();
	}
}

static void check_config(const struct s5_config *c, const struct env *e)
{
	const struct s5_hop *h;
	unsigned i;

	if (!memchr(c->error, '\0', sizeof(c->error)) ||
	    !printable(c->error) || c->usable != !c->error[0])
		__builtin_trap();
	if (!memchr(c->notice, '\0', sizeof(c->notice)))
		__builtin_trap();
	if (c->timeout_ms <= 0 || c->timeout_ms > 86400000 ||
	    c->log_level > S5LOG_DEBUG ||
	    (c->dns != S5_DNS_REMOTE && c->dns != S5_DNS_LOCAL))
		__builtin_trap();
	if (c->fake4.family != AF_INET || c->fake4.prefix < 1 ||
	    c->fake4.prefix > 30 || c->fake6.family != AF_INET6 ||
	    c->fake6.prefix < 1 || c->fake6.prefix > 126)
		__builtin_trap();
	for (i = 0; i < c->n_proxies && i < S5_PROXY_MAX; i++) {
		/* Only the hops hold credentials after loading. */
		if (c->proxy[i].url.user_len || c->proxy[i].url.pass_len ||
		    !all_zero(c->proxy[i].url.user,
			      sizeof(c->proxy[i].url.user)) ||
		    !all_zero(c->proxy[i].url.pass,
			      sizeof(c->proxy[i].url.pass)))
			__builtin_trap();
		h = &c->hop[i];
		if (h->auth != (h->user_len > 0) ||
		    strlen(h->user) != h->user_len ||
		    strlen(h->pass) != h->pass_len ||
		    (c->usable && h->pass_len && !h->auth))
			__builtin_trap();
	}
	if (!no_proxy_valid(e) && !excludes_loopback(c))
		__builtin_trap();
	check_proxy(c, false);
	check_fake_clear(c);
}

static void check_freed(const struct s5_config *c)
{
	if (c->exclude.cidrs || c->exclude.hosts || c->exclude.n_cidrs ||
	    c->exclude.n_hosts || !all_zero(c->hop, sizeof(c->hop)) ||
	    !all_zero(c->proxy, sizeof(c->proxy)))
		__builtin_trap();
}

static void resolve(struct s5_config *c)
{
	bool was_usable = c->usable, names = false, numbers = false;
	unsigned i;
	int rc;

	for (i = 0; i < looked_up(c); i++) {
		names |= c->proxy[i].is_name;
		numbers |= !c->proxy[i].is_name;
	}
	rc = s5_config_resolve_proxy(c, fake_gai, fake_freeaddrinfo);
	if (!was_usable || !names) {
		if (rc != 0)
			__builtin_trap();
		return;
	}
	if ((gai_mode == 1 || gai_mode == 2) &&
	    (in_cidr(&c->fake4, (const struct sockaddr *)&gai_sin) ||
	     (gai_mode == 1 &&
	      in_cidr(&c->fake6, (const struct sockaddr *)&gai_sin6)))) {
		/* The answer lies in a fake range: refused like a numeric
		 * proxy there. */
		if (rc != -EINVAL || c->usable || !printable(c->error) ||
		    strncmp(c->error, "SOCKS5WRAP_FAKE_NET", 19) != 0)
			__builtin_trap();
	} else if (gai_mode == 1 || gai_mode == 2) {
		if (rc != 0 || !c->usable)
			__builtin_trap();
		for (i = 0; i < looked_up(c); i++)
			if (c->proxy[i].is_name &&
			    (!c->proxy[i].has4 ||
			     c->proxy[i].has6 != (gai_mode == 1)))
				__builtin_trap();
	} else if (numbers) {
		/* Failover: the numeric proxies are left. */
		if (rc != 0 || !c->usable)
			__builtin_trap();
	} else if (rc != -EHOSTUNREACH || c->usable || !printable(c->error)) {
		__builtin_trap();
	}
	check_proxy(c, true);
	check_fake_clear(c);
}

/* The same environment with SOCKS5_PASSWORD's bytes all changed. */
static void check_password_hidden(struct env *e, const struct s5_config *c)
{
	char *p = e->val[V_PASSWORD];
	struct s5_config c2;
	size_t i;

	if (!p || !*p)
		return;
	for (i = 0; p[i]; i++)
		p[i] = p[i] == 'Q' ? 'R' : 'Q';
	if (s5_config_load(&c2, fake_getenv, e) != 0) {
		s5_config_free(&c2);
		return;
	}
	if (c2.usable != c->usable || strcmp(c2.error, c->error) != 0 ||
	    strcmp(c2.notice, c->notice) != 0 ||
	    c2.n_proxies != c->n_proxies ||
	    (c->n_proxies && c2.hop[0].pass_len != c->hop[0].pass_len))
		__builtin_trap();
	s5_config_free(&c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s5_config c;
	struct env e;
	unsigned flags;
	const uint8_t *p, *end = data + size, *nul;
	size_t i, n;
	int rc;

	if (size < 2)
		return 0;
	flags = (unsigned)data[0] | (unsigned)data[1] << 8;
	gai_mode = flags >> 10 & 3;
	memset(&e, 0, sizeof(e));
	for (i = 0, p = data + 2; i < NVARS && p <= end; i++) {
		nul = memchr(p, '\0', (size_t)(end - p));
		n = nul ? (size_t)(nul - p) : (size_t)(end - p);
		if (flags & 1u << i) {
			e.val[i] = malloc(n + 1);
			if (!e.val[i])
				abort();
			memcpy(e.val[i], p, n);
			e.val[i][n] = '\0';
		}
		p += n + 1;
	}

	memset(&c, 0x5a, sizeof(c));
	rc = s5_config_load(&c, fake_getenv, &e);
	if (rc != 0 && rc != -ENOMEM)
		__builtin_trap();
	if (rc == 0) {
		check_config(&c, &e);
		check_password_hidden(&e, &c);
		resolve(&c);
	}
	s5_config_free(&c);
	check_freed(&c);
	for (i = 0; i < NVARS; i++)
		free(e.val[i]);
	return 0;
}
