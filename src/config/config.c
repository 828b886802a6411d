/* The whole configuration, read once from the environment.
 *
 * Every variable is read and checked even after an error, so that one run
 * reports the first problem and how many more there are, and every field
 * of struct s5_config always holds a usable default.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
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

/* A numeric proxy host needs no lookup: fill the addresses now. */
static void set_proxy_addr(struct s5_config *c)
{
	uint8_t addr[16];
	int family;

	family = s5_parse_ip(c->url.host, strlen(c->url.host), addr);
	if (family == AF_INET) {
		c->proxy4.sin_family = AF_INET;
		c->proxy4.sin_port = htons(c->url.port);
		memcpy(&c->proxy4.sin_addr, addr, 4);
		c->has_proxy4 = true;
	} else if (family == AF_INET6) {
		c->proxy6.sin6_family = AF_INET6;
		c->proxy6.sin6_port = htons(c->url.port);
		memcpy(&c->proxy6.sin6_addr, addr, 16);
		c->has_proxy6 = true;
	} else {
		c->proxy_is_name = true;
	}
}

static void load_proxy(struct loader *ld)
{
	const char *v = env_opt(ld, "SOCKS5_PROXY");
	char err[S5_ERR_MAX];

	if (!v) {
		add_error(ld, "SOCKS5_PROXY is not set", (const char *)NULL);
		return;
	}
	if (s5_url_parse(v, &ld->c->url, err, sizeof(err))) {
		add_error(ld, err, (const char *)NULL);
		return;
	}
	set_proxy_addr(ld->c);
}

static void set_user(struct s5_config *c, const char *s, size_t n)
{
	memcpy(c->user, s, n);
	c->user[n] = '\0';
	c->user_len = (uint8_t)n;
	c->auth = true;
}

static void set_pass(struct s5_config *c, const char *s, size_t n)
{
	memcpy(c->pass, s, n);
	c->pass[n] = '\0';
	c->pass_len = (uint8_t)n;
}

/* SOCKS5_USER and SOCKS5_PASSWORD override the URL's user and password
 * one by one (RFC 1929 limits: user 1..255 bytes, password 0..255). The
 * URL's copies are wiped once taken: only c->user and c->pass remain. */
static void load_credentials(struct loader *ld)
{
	const char *u = env(ld, "SOCKS5_USER");
	const char *p = env(ld, "SOCKS5_PASSWORD");
	struct s5_config *c = ld->c;
	size_t n;

	if (c->url.has_user)
		set_user(c, c->url.user, c->url.user_len);
	if (c->url.has_pass)
		set_pass(c, c->url.pass, c->url.pass_len);
	explicit_bzero(c->url.user, sizeof(c->url.user));
	explicit_bzero(c->url.pass, sizeof(c->url.pass));
	c->url.user_len = c->url.pass_len = 0;
	if (u) {
		n = strnlen(u, S5_CRED_MAX + 1);
		if (n == 0)
			add_error(ld, "SOCKS5_USER is set but empty",
				  (const char *)NULL);
		else if (n > S5_CRED_MAX)
			add_error(ld, "SOCKS5_USER: longer than 255 bytes",
				  (const char *)NULL);
		else
			set_user(c, u, n);
	}
	if (p) {
		n = strnlen(p, S5_CRED_MAX + 1);
		if (n > S5_CRED_MAX)
			add_error(ld, "SOCKS5_PASSWORD: longer than 255 bytes",
				  (const char *)NULL);
		else
			set_pass(c, p, n);
	}
	/* A password nobody will ever send is a mistake worth reporting. */
	if (!c->auth && c->pass_len > 0)
		add_error(ld, "SOCKS5_PASSWORD is set but there is no user "
			      "name (set SOCKS5_USER)", (const char *)NULL);
}

/* Unset: the default list. Bad: the error, and the default list too, so
 * that loopback never goes to the proxy. */
static int load_no_proxy(struct loader *ld)
{
	const char *v = env(ld, "SOCKS5WRAP_NO_PROXY");
	char err[S5_ERR_MAX];
	int rc;

	if (v) {
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
	if (rc)
		add_error(ld, err, (const char *)NULL);
	return rc;
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
static void take_address(struct s5_config *c, const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET && !c->has_proxy4 && ai->ai_addr &&
	    ai->ai_addrlen >= (socklen_t)sizeof(c->proxy4)) {
		memcpy(&c->proxy4, ai->ai_addr, sizeof(c->proxy4));
		c->proxy4.sin_port = htons(c->url.port);
		c->has_proxy4 = true;
	} else if (ai->ai_family == AF_INET6 && !c->has_proxy6 &&
		   ai->ai_addr &&
		   ai->ai_addrlen >= (socklen_t)sizeof(c->proxy6)) {
		memcpy(&c->proxy6, ai->ai_addr, sizeof(c->proxy6));
		c->proxy6.sin6_port = htons(c->url.port);
		c->has_proxy6 = true;
	}
}

static int resolve_failed(struct s5_config *c, const char *why)
{
	struct s5_msg m;

	c->usable = false;
	s5_msg_init(&m, c->error, sizeof(c->error));
	s5_msg_str(&m, "SOCKS5_PROXY: cannot resolve ");
	s5_msg_quote(&m, c->url.host, strlen(c->url.host));
	s5_msg_str(&m, ": ");
	s5_msg_str(&m, why);
	return -EHOSTUNREACH;
}

int s5_config_resolve_proxy(struct s5_config *c, s5_getaddrinfo_fn gai,
			    s5_freeaddrinfo_fn fai)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc;

	/* Nothing to do for a numeric host, a name already looked up, or a
	 * configuration that cannot be used anyway (no lookup for nothing). */
	if (!c->proxy_is_name || c->has_proxy4 || c->has_proxy6 || !c->usable)
		return 0;
	/* No default: inside the preload, plain getaddrinfo is our own hook. */
	if (!gai || !fai)
		return -EINVAL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = gai(c->url.host, NULL, &hints, &res);
	if (rc) {
		resolve_failed(c, gai_strerror(rc));
		return rc == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next)
		take_address(c, ai);
	if (res)
		fai(res);
	if (!c->has_proxy4 && !c->has_proxy6)
		return resolve_failed(c, "no IPv4 or IPv6 address");
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
	struct s5_ip ip, proxy;

	if (!c || !s5_ip_from_sockaddr(&ip, sa, len))
		return false;
	if (c->has_proxy4 &&
	    s5_ip_from_sockaddr(&proxy, (const struct sockaddr *)&c->proxy4,
				sizeof(c->proxy4)) &&
	    same_ip(&ip, &proxy))
		return true;
	return c->has_proxy6 &&
	       s5_ip_from_sockaddr(&proxy, (const struct sockaddr *)&c->proxy6,
				   sizeof(c->proxy6)) &&
	       same_ip(&ip, &proxy);
}

int s5_config_pick_proxy(const struct s5_config *c, int domain, bool v6only,
			 struct sockaddr_storage *out, socklen_t *len)
{
	if (domain == AF_INET && c->has_proxy4) {
		memcpy(out, &c->proxy4, sizeof(c->proxy4));
		*len = sizeof(c->proxy4);
		return 0;
	}
	if (domain == AF_INET6 && c->has_proxy6) {
		memcpy(out, &c->proxy6, sizeof(c->proxy6));
		*len = sizeof(c->proxy6);
		return 0;
	}
	if (domain == AF_INET6 && c->has_proxy4 && !v6only) {
		s5_sockaddr_mapped(&c->proxy4, out, len);
		return 0;
	}
	return -EAFNOSUPPORT;
}

void s5_config_free(struct s5_config *c)
{
	if (!c)
		return;
	s5_exclude_free(&c->exclude);
	explicit_bzero(c->user, sizeof(c->user));
	explicit_bzero(c->pass, sizeof(c->pass));
	explicit_bzero(c->url.user, sizeof(c->url.user));
	explicit_bzero(c->url.pass, sizeof(c->url.pass));
	c->user_len = c->pass_len = 0;
	c->url.user_len = c->url.pass_len = 0;
	c->auth = false;
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
