/* libFuzzer target for s5_url_parse (SOCKS5_PROXY).
 *
 * Beyond "no crash":
 *  - the error text is NUL-terminated inside the buffer it was given,
 *    nothing past the buffer is written, and a short buffer holds the
 *    same text cut short;
 *  - the error text is printable ASCII (values are quoted with '?' for
 *    other bytes, credentials never at all);
 *  - the password never reaches the error text: the same input with every
 *    byte of the password changed (its escapes kept valid or invalid, its
 *    decoded length kept) gives the same result and the same text;
 *  - on success the fields are consistent and the password is what the
 *    userinfo decodes to; on failure *out is wiped.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s5_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CANARY 0x5a

static bool alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex(char c)
{
	if (digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3986 section 3.1, as url.c reads a scheme. */
static bool scheme_syntax(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !alpha(s[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!alpha(s[i]) && !digit(s[i]) && s[i] != '+' &&
		    s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

/* Where the password is in s: [*off, *off + *len). False when there is
 * none ("scheme://", then "user:pass@" up to the last '@'). */
static bool find_pass(const char *s, size_t *off, size_t *len)
{
	const char *rest = s, *sep = strstr(s, "://"), *at, *colon;

	if (sep && scheme_syntax(s, (size_t)(sep - s)))
		rest = sep + 3;
	at = strrchr(rest, '@');
	if (!at)
		return false;
	colon = memchr(rest, ':', (size_t)(at - rest));
	if (!colon)
		return false;
	*off = (size_t)(colon + 1 - s);
	*len = (size_t)(at - colon - 1);
	return true;
}

/* The value of a valid escape at s (3 bytes available), or -1. */
static int escape_at(const char *s, size_t left)
{
	int hi, lo;

	if (left < 3 || s[0] != '%')
		return -1;
	hi = hex(s[1]);
	lo = hex(s[2]);
	if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
		return -1;
	return hi << 4 | lo;
}

/* Rewrites the password in place so that every decoded byte differs
 * while what the parser decides on (escape validity, decoded length, the
 * separators) stays the same. */
static void change_pass(char *s, size_t off, size_t len)
{
	size_t i = off, end = off + len;
	int v;

	while (i < end) {
		v = escape_at(s + i, end - i);
		if (v >= 0) {
			memcpy(s + i, v == 'Q' ? "%52" : "%51", 3);
			i += 3;
		} else if (s[i] == '%') {
			i++; /* an invalid escape stays invalid */
		} else {
			s[i] = s[i] == 'Q' ? 'R' : 'Q';
			i++;
		}
	}
}

/* What the password decodes to, or -1 if it does not. */
static int decode(const char *s, size_t len, char *out)
{
	size_t i = 0, n = 0;
	int v;

	while (i < len) {
		if (n == S5_CRED_MAX)
			return -1;
		v = escape_at(s + i, len - i);
		if (v >= 0) {
			out[n++] = (char)v;
			i += 3;
		} else if (s[i] == '%') {
			return -1;
		} else {
			out[n++] = s[i++];
		}
	}
	out[n] = '\0';
	return (int)n;
}

static void check_text(const char *err, size_t cap)
{
	size_t i;

	if (cap == 0)
		return;
	if (!memchr(err, '\0', cap))
		__builtin_trap();
	for (i = 0; err[i]; i++)
		if (err[i] < 0x20 || err[i] > 0x7e)
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

static void check_url(const char *s, const struct s5_url *u)
{
	char want[S5_CRED_MAX + 1];
	size_t off, len;

	if (!u->host[0] || !memchr(u->host, '\0', sizeof(u->host)) ||
	    u->port == 0)
		__builtin_trap();
	if (u->has_user != (u->user_len > 0) ||
	    strlen(u->user) != u->user_len ||
	    (!u->has_user && u->has_pass) ||
	    (!u->has_pass && u->pass_len) || strlen(u->pass) != u->pass_len)
		__builtin_trap();
	if (!u->has_pass)
		return;
	if (!find_pass(s, &off, &len) || decode(s + off, len, want) < 0 ||
	    strcmp(want, u->pass) != 0)
		__builtin_trap();
}

/* A smaller error buffer: the same result and the same text, cut. */
static void check_short(const char *s, int rc, const char *err, size_t cap)
{
	char small[32];
	struct s5_url u;
	size_t n = strlen(err);

	memset(small, CANARY, sizeof(small));
	if (s5_url_parse(s, &u, small, cap) != rc)
		__builtin_trap();
	explicit_bzero(&u, sizeof(u));
	if (small[cap] != CANARY)
		__builtin_trap();
	if (cap == 0)
		return;
	if (n > cap - 1)
		n = cap - 1;
	if (strlen(small) != n || memcmp(small, err, n) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[S5_ERR_MAX + 1], err2[S5_ERR_MAX];
	struct s5_url u, u2;
	size_t off, len;
	char *s, *t;
	int rc, rc2;

	s = malloc(size + 1);
	t = malloc(size + 1);
	if (!s || !t)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';

	memset(err, CANARY, sizeof(err));
	rc = s5_url_parse(s, &u, err, S5_ERR_MAX);
	if (rc != 0 && rc != -EINVAL)
		__builtin_trap();
	if (err[S5_ERR_MAX] != CANARY)
		__builtin_trap();
	check_text(err, S5_ERR_MAX);
	if (rc == 0 && err[0])
		__builtin_trap();
	if (rc != 0 && (!err[0] || !all_zero(&u, sizeof(u))))
		__builtin_trap();
	if (rc == 0)
		check_url(s, &u);
	check_short(s, rc, err, size % 24);

	if (find_pass(s, &off, &len) && len > 0) {
		memcpy(t, s, size + 1);
		change_pass(t, off, len);
		rc2 = s5_url_parse(t, &u2, err2, sizeof(err2));
		if (rc2 != rc || strcmp(err, err2) != 0)
			__builtin_trap();
		if (rc == 0 && (strcmp(u.host, u2.host) != 0 ||
				u.port != u2.port ||
				u.has_pass != u2.has_pass ||
				u.pass_len != u2.pass_len ||
				(u.pass_len && !memcmp(u.pass, u2.pass,
						       u.pass_len))))
			__builtin_trap();
		explicit_bzero(&u2, sizeof(u2));
	}
	explicit_bzero(&u, sizeof(u));
	free(s);
	free(t);
	return 0;
}
