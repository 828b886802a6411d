/* SOCKS5_PROXY: the proxy as a bare "host[:port]" or as a URL in the form
 * curl and most tools accept, "socks5://user:pass@host:port".
 *
 * socks5:// and socks5h:// are both accepted and mean the same here: where
 * names are resolved is SOCKS5WRAP_DNS's business, and refusing the other
 * spelling would only make users rewrite a URL they copied from a tool.
 *
 * Error texts never quote the credentials, and never quote the host or
 * port either: when the input is malformed (say "socks5://user:pass"
 * without "@host"), what looks like a port may be the password.
 */
#include <errno.h>
#include <string.h>

#include "cfg.h"


/* The variable error texts name; set per parse (s5_url_parse_var). */
static _Thread_local const char *var_name = "SOCKS5_PROXY";

static int fail(struct s5_url *out, char *err, size_t errlen, const char *a,
		const char *b)
{
	explicit_bzero(out, sizeof(*out));
	s5_msg_set(err, errlen, var_name, ": ", a, b, (const char *)NULL);
	return -EINVAL;
}

/* RFC 3986 section 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
bool s5_url_is_scheme(const char *s, size_t n)
{
	size_t i;
	char c;

	if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') ||
			(s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 1; i < n; i++) {
		c = s5_ascii_lower(s[i]);
		if (!((c >= 'a' && c <= 'z') || s5_ascii_digit(c) || c == '+' ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* Sets *rest past "scheme://" when there is one. A "://" after something
 * that cannot be a scheme (a password holding "://", say) is not one. */
static int skip_scheme(const char *s, const char **rest, struct s5_url *out,
		       char *err, size_t errlen)
{
	const char *sep = strstr(s, "://");
	struct s5_msg m;
	size_t n;

	*rest = s;
	if (!sep || !s5_url_is_scheme(s, (size_t)(sep - s)))
		return 0;
	n = (size_t)(sep - s);
	if ((n == 6 && s5_ascii_caseeq(s, "socks5", 6)) ||
	    (n == 7 && s5_ascii_caseeq(s, "socks5h", 7))) {
		*rest = sep + 3;
		return 0;
	}
	explicit_bzero(out, sizeof(*out));
	s5_msg_init(&m, err, errlen);
	s5_msg_str(&m, var_name);
	s5_msg_str(&m, ": unsupported scheme ");
	s5_msg_quote(&m, s, n);
	s5_msg_str(&m, " (use socks5:// or socks5h://)");
	return -EINVAL;
}

static int hex_value(char c)
{
	if (s5_ascii_digit(c))
		return c - '0';
	c = s5_ascii_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decodes n bytes into dst (room for S5_CRED_MAX bytes and a NUL).
 * Returns 0, -EINVAL for a bad escape or %00 (a NUL cannot travel through
 * a C string, and RFC 1929 fields are not meant to hold one), or -E2BIG. */
static int pct_decode(const char *s, size_t n, char *dst, uint8_t *len)
{
	size_t i, out = 0;
	int hi, lo;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '%') {
			if (n - i < 3)
				return -EINVAL;
			hi = hex_value(s[i + 1]);
			lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (out == S5_CRED_MAX)
			return -E2BIG;
		dst[out++] = c;
	}
	dst[out] = '\0';
	*len = (uint8_t)out;
	return 0;
}

/* "user" or "user:pass" (the first ':' splits: a password may hold more).
 * RFC 1929: the user name is 1..255 bytes, the password 0..255. */
static int parse_userinfo(const char *s, size_t n, struct s5_url *out,
			  char *err, size_t errlen)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon ? (size_t)(colon - s) : n;
	int rc;

	rc = pct_decode(s, ulen, out->user, &out->user_len);
	if (rc == -EINVAL)
		return fail(out, err, errlen,
			    "bad percent escape in the user name",
			    " (%XX with two hex digits, not %00)");
	if (rc)
		return fail(out, err, errlen,
			    "the user name is longer than 255 bytes", "");
	if (out->user_len == 0)
		return fail(out, err, errlen, "the user name is empty", "");
	out->has_user = true;
	if (!colon)
		return 0;
	rc = pct_decode(colon + 1, n - ulen - 1, out->pass, &out->pass_len);
	if (rc == -EINVAL)
		return fail(out, err, errlen,
			    "bad percent escape in the password",
			    " (%XX with two hex digits, not %00)");
	if (rc)
		return fail(out, err, errlen,
			    "the password is longer than 255 bytes", "");
	out->has_pass = true;
	return 0;
}

static bool host_char(char c)
{
	c = s5_ascii_lower(c);
	return (c >= 'a' && c <= 'z') || s5_ascii_digit(c) || c == '.' ||
	       c == '-' || c == '_';
}

/* Why a host name is not acceptable, or NULL. All digits and dots means
 * someone meant an IPv4 address: "10.1" is a typo here, not a name. */
static const char *bad_host(const char *s, size_t n)
{
	uint8_t addr[16];
	bool numeric = true;
	size_t i;

	if (n == 0)
		return "no host";
	if (n > S5_NAME_MAX)
		return "the host name is longer than 255 bytes";
	for (i = 0; i < n; i++) {
		if (!host_char(s[i]))
			return "the host name may hold only letters, digits, "
			       "'.', '-' and '_'";
		if (s[i] == '.' && (i == 0 || s[i - 1] == '.'))
			return "the host name has an empty label";
		if (!s5_ascii_digit(s[i]) && s[i] != '.')
			numeric = false;
	}
	if (numeric && s5_parse_ip(s, n, addr) != AF_INET)
		return "not a valid IPv4 address";
	return NULL;
}

/* Splits "host", "host:port", "[v6]" or "[v6]:port". */
static int split_hostport(const char *s, size_t n, const char **host,
			  size_t *hlen, const char **port, size_t *plen)
{
	const char *close, *colon;
	size_t rest;

	*port = NULL;
	*plen = 0;
	if (n > 0 && s[0] == '[') {
		close = memchr(s, ']', n);
		if (!close)
			return -EINVAL;
		*host = s + 1;
		*hlen = (size_t)(close - *host);
		rest = n - (size_t)(close + 1 - s);
		if (rest == 0)
			return 0;
		if (close[1] != ':')
			return -EINVAL;
		*port = close + 2;
		*plen = rest - 1;
		return 0;
	}
	*host = s;
	colon = memchr(s, ':', n);
	*hlen = colon ? (size_t)(colon - s) : n;
	if (colon) {
		*port = colon + 1;
		*plen = n - *hlen - 1;
	}
	return 0;
}

static int parse_hostport(const char *s, struct s5_url *out, char *err,
			  size_t errlen)
{
	const char *host, *port, *why;
	size_t n = strlen(s), hlen, plen, colons = 0, i;
	uint8_t addr[16];

	/* One trailing '/' is how many tools print a proxy URL. */
	if (n > 0 && s[n - 1] == '/')
		n--;
	if (memchr(s, '/', n) || memchr(s, '?', n) || memchr(s, '#', n))
		return fail(out, err, errlen,
			    "nothing may follow host:port but one '/'", "");
	for (i = 0; i < n; i++)
		colons += s[i] == ':';
	if (s[0] != '[' && colons > 1)
		return fail(out, err, errlen,
			    "write an IPv6 address in brackets, as [addr]:port",
			    "");
	if (split_hostport(s, n, &host, &hlen, &port, &plen))
		return fail(out, err, errlen,
			    "expected [addr] or [addr]:port for an IPv6 "
			    "address",
			    "");
	if (s[0] == '[') {
		if (s5_parse_ip(host, hlen, addr) != AF_INET6)
			return fail(out, err, errlen,
				    "not a valid IPv6 address inside [ ]", "");
	} else if ((why = bad_host(host, hlen))) {
		return fail(out, err, errlen, why, "");
	}
	out->port = S5_DEFAULT_PORT;
	if (port && s5_parse_port(port, plen, &out->port))
		return fail(out, err, errlen,
			    "the port must be a number from 1 to 65535", "");
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	return 0;
}

int s5_url_parse(const char *s, struct s5_url *out, char *err, size_t errlen)
{
	return s5_url_parse_var("SOCKS5_PROXY", s, out, err, errlen);
}

int s5_url_parse_var(const char *var, const char *s, struct s5_url *out,
		     char *err, size_t errlen)
{
	const char *rest, *at;
	int rc;

	var_name = var ? var : "SOCKS5_PROXY";
	memset(out, 0, sizeof(*out));
	s5_msg_set(err, errlen, "", (const char *)NULL);
	if (!s || !*s)
		return fail(out, err, errlen, "empty value", "");
	rc = skip_scheme(s, &rest, out, err, errlen);
	if (rc)
		return rc;
	/* The last '@' ends the user information: a password may hold an
	 * unescaped '@', a host name never does. */
	at = strrchr(rest, '@');
	if (at) {
		rc = parse_userinfo(rest, (size_t)(at - rest), out, err,
				    errlen);
		if (rc)
			return rc;
		rest = at + 1;
	}
	return parse_hostport(rest, out, err, errlen);
}
