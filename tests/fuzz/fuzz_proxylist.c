/* libFuzzer target for the proxy list: SOCKS5_PROXY, its ALL_PROXY
 * fallback, curl's NO_PROXY, the credentials and SOCKS5WRAP_CHAIN, read
 * by s5_config_load through the getenv callback.
 *
 * Input: a byte of flags (bit i: variable i of vars[] is set), a byte of
 * options (bits 0..1: what the fake getaddrinfo answers; bit 2:
 * SOCKS5WRAP_NO_PROXY is set to a fixed list), then the values in the
 * order of vars[], separated by NUL bytes (an environment value cannot
 * hold one). Beyond "no crash":
 *  - usable implies 1 <= n_proxies <= S5_PROXY_MAX, and never more;
 *  - every proxy has a label, and has4 / has6 / is_name agree with the
 *    address type of its hop;
 *  - the error and the notice are NUL-terminated within S5_ERR_MAX, the
 *    error empty exactly when usable (after the lookup too), and neither
 *    depends on SOCKS5_PASSWORD when it is at least 4 bytes long;
 *  - the list came from SOCKS5_PROXY whenever that is set and not empty;
 *    from ALL_PROXY / all_proxy otherwise, and only then is NO_PROXY's
 *    "*" honoured;
 *  - loopback stays excluded unless SOCKS5WRAP_NO_PROXY replaces the
 *    default;
 *  - after the lookup, every proxy looked up has an address or is marked
 *    unresolved;
 *  - s5_config_free wipes the proxies and the hops (ASan checks leaks).
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
	"SOCKS5_PROXY", "ALL_PROXY",   "all_proxy",	  "NO_PROXY",
	"no_proxy",	"SOCKS5_USER", "SOCKS5_PASSWORD", "SOCKS5WRAP_CHAIN",
};

#define NVARS (sizeof(vars) / sizeof(vars[0]))
enum { V_PROXY, V_ALL, V_ALL_LC, V_NO, V_NO_LC, V_USER, V_PASSWORD };

struct env {
	char *val[NVARS]; /* NULL: unset; each its own allocation */
	bool own_no_proxy;
};

static const char *fake_getenv(const char *name, void *ctx)
{
	const struct env *e = ctx;
	size_t i;

	if (e->own_no_proxy && strcmp(name, "SOCKS5WRAP_NO_PROXY") == 0)
		return "10.0.0.0/8";
	for (i = 0; i < NVARS; i++)
		if (strcmp(name, vars[i]) == 0)
			return e->val[i];
	return NULL;
}

static bool set_nonempty(const struct env *e, unsigned v)
{
	return e->val[v] && e->val[v][0];
}

/* The lookup: fails, answers 192.0.2.1 and 2001::1, only 192.0.2.1, or
 * answers with a family the loader does not keep. */
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
	gai_sin.sin_addr.s_addr = htonl(0xc0000201);
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

static void check_texts(const struct s5_config *c)
{
	if (!memchr(c->error, '\0', sizeof(c->error)) ||
	    !memchr(c->notice, '\0', sizeof(c->notice)) ||
	    c->usable != !c->error[0])
		__builtin_trap();
}

/* SOCKS5_PASSWORD never shows: the same environment with every byte of
 * a password of 4 bytes or more changed gives the same texts. (Looking
 * for the bytes themselves would find a password such as "sock" in the
 * quoted scheme of SOCKS5_PROXY, or "prox" in "proxy 2 of 3".) */
static void check_password_hidden(struct env *e, const struct s5_config *c)
{
	char *p = e->val[V_PASSWORD];
	struct s5_config c2;
	size_t i;

	if (!p || strlen(p) < 4)
		return;
	for (i = 0; p[i]; i++)
		p[i] = p[i] == 'Q' ? 'R' : 'Q';
	if (s5_config_load(&c2, fake_getenv, e) == 0 &&
	    (c2.usable != c->usable || strcmp(c2.error, c->error) != 0 ||
	     strcmp(c2.notice, c->notice) != 0))
		__builtin_trap();
	s5_config_free(&c2);
}

static void check_source(const struct s5_config *c, const struct env *e)
{
	if (set_nonempty(e, V_PROXY)) {
		if (c->source != S5_SRC_SOCKS5_PROXY ||
		    strcmp(c->source_var, "SOCKS5_PROXY") != 0)
			__builtin_trap();
	} else if (c->source == S5_SRC_ALL_PROXY) {
		/* The lower-case one when set, as in curl. */
		if (strcmp(c->source_var, set_nonempty(e, V_ALL_LC) ?
						  "all_proxy" :
						  "ALL_PROXY") != 0)
			__builtin_trap();
	} else if (c->source != S5_SRC_NONE || c->usable) {
		__builtin_trap();
	}
	if (c->exclude.all &&
	    (c->source != S5_SRC_ALL_PROXY || e->own_no_proxy ||
	     !(set_nonempty(e, V_NO) || set_nonempty(e, V_NO_LC))))
		__builtin_trap();
	if (!e->own_no_proxy && !excludes_loopback(c))
		__builtin_trap();
}

/* Before the lookup: the addresses are exactly what the hop says. */
static void check_proxies(const struct s5_config *c, bool resolved)
{
	const struct s5_proxy *p;
	const struct s5_hop *h;
	unsigned i, first = c->chain ? 1 : c->n_proxies;

	if (c->n_proxies > S5_PROXY_MAX || (c->usable && c->n_proxies == 0))
		__builtin_trap();
	for (i = 0; i < c->n_proxies; i++) {
		p = &c->proxy[i];
		h = &c->hop[i];
		if (!p->label[0] ||
		    !memchr(p->label, '\0', sizeof(p->label)) ||
		    h->addr.port != p->url.port || p->url.port == 0)
			__builtin_trap();
		if (h->auth != (h->user_len > 0) ||
		    strlen(h->user) != h->user_len ||
		    strlen(h->pass) != h->pass_len)
			__builtin_trap();
		switch (h->addr.atyp) {
		case S5_ATYP_IPV4:
			if (!p->has4 || p->has6 || p->is_name)
				__builtin_trap();
			break;
		case S5_ATYP_IPV6:
			if (p->has4 || !p->has6 || p->is_name)
				__builtin_trap();
			break;
		case S5_ATYP_DOMAIN:
			if (!p->is_name || h->addr.u.dom.name_len == 0)
				__builtin_trap();
			if (resolved && c->usable && i < first) {
				if (!(p->has4 || p->has6 || p->unresolved))
					__builtin_trap();
			} else if (p->has4 || p->has6) {
				__builtin_trap();
			}
			break;
		default:
			__builtin_trap();
		}
		if (p->has4 &&
		    !s5_config_is_proxy(c, (const struct sockaddr *)&p->addr4,
					sizeof(p->addr4)))
			__builtin_trap();
		if (p->has6 &&
		    !s5_config_is_proxy(c, (const struct sockaddr *)&p->addr6,
					sizeof(p->addr6)))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s5_config c;
	struct env e;
	unsigned flags, n_before;
	bool was_usable;
	const uint8_t *p, *end = data + size, *nul;
	size_t i, n;
	int rc;

	if (size < 2)
		return 0;
	flags = data[0];
	gai_mode = data[1] & 3;
	memset(&e, 0, sizeof(e));
	e.own_no_proxy = data[1] & 4;
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
		check_texts(&c);
		check_password_hidden(&e, &c);
		check_source(&c, &e);
		check_proxies(&c, false);
		n_before = c.n_proxies;
		was_usable = c.usable;
		rc = s5_config_resolve_proxy(&c, fake_gai, fake_freeaddrinfo);
		if (c.n_proxies != n_before || (rc != 0 && c.usable) ||
		    (rc == 0 && c.usable != was_usable))
			__builtin_trap();
		check_texts(&c);
		check_proxies(&c, true);
	}
	s5_config_free(&c);
	if (c.exclude.cidrs || c.exclude.hosts || c.exclude.all ||
	    !all_zero(c.proxy, sizeof(c.proxy)) ||
	    !all_zero(c.hop, sizeof(c.hop)))
		__builtin_trap();
	for (i = 0; i < NVARS; i++)
		free(e.val[i]);
	return 0;
}
