/* Small text and address helpers for the configuration parsers. No stdio:
 * the library runs inside other programs, and snprintf's behaviour there
 * (locale, allocation on some paths) is not ours to depend on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#include "cfg.h"
#include "s5_log.h"

void s5_msg_init(struct s5_msg *m, char *buf, size_t cap)
{
	m->buf = buf;
	m->cap = buf ? cap : 0;
	m->len = 0;
	if (m->cap)
		buf[0] = '\0';
}

void s5_msg_strn(struct s5_msg *m, const char *s, size_t n)
{
	size_t room;

	if (m->cap == 0)
		return;
	room = m->cap - 1 - m->len;
	if (n > room)
		n = room;
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	m->buf[m->len] = '\0';
}

void s5_msg_str(struct s5_msg *m, const char *s)
{
	s5_msg_strn(m, s, strlen(s));
}

void s5_msg_uint(struct s5_msg *m, unsigned long long v)
{
	char tmp[20];
	size_t i = s5_fmt_uint(tmp, v);

	s5_msg_strn(m, tmp + i, sizeof(tmp) - i);
}

void s5_msg_quote(struct s5_msg *m, const char *s, size_t n)
{
	size_t i;
	char c;

	s5_msg_str(m, "'");
	for (i = 0; i < n && i < S5_QUOTE_MAX; i++) {
		c = s[i];
		if (c < 0x20 || c > 0x7e)
			c = '?';
		s5_msg_strn(m, &c, 1);
	}
	if (n > S5_QUOTE_MAX)
		s5_msg_str(m, "...");
	s5_msg_str(m, "'");
}

void s5_msg_strs(struct s5_msg *m, const char *first, va_list ap)
{
	const char *s;

	for (s = first; s; s = va_arg(ap, const char *))
		s5_msg_str(m, s);
}

void s5_msg_set(char *err, size_t errlen, const char *first, ...)
{
	struct s5_msg m;
	va_list ap;

	s5_msg_init(&m, err, errlen);
	va_start(ap, first);
	s5_msg_strs(&m, first, ap);
	va_end(ap);
}

char s5_ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool s5_ascii_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool s5_ascii_caseeq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s5_ascii_lower(a[i]) != s5_ascii_lower(b[i]))
			return false;
	}
	return true;
}

int s5_parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!s5_ascii_digit(s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 65535) /* checked at every digit: no overflow */
			return -EINVAL;
	}
	if (v == 0)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int s5_parse_ip(const char *s, size_t n, uint8_t addr[16])
{
	char text[INET6_ADDRSTRLEN];

	/* inet_pton wants a C string; anything longer than the longest
	 * IPv6 text cannot be an address. */
	if (n == 0 || n >= sizeof(text))
		return -EINVAL;
	memcpy(text, s, n);
	text[n] = '\0';
	memset(addr, 0, 16);
	/* inet_pton takes only the strict dotted quad (no "10.1", no octal
	 * "010.0.0.1"), unlike inet_aton: a typo is an error, not a
	 * surprise address. */
	if (inet_pton(AF_INET, text, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, text, addr) == 1)
		return AF_INET6;
	return -EINVAL;
}

static bool v4mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

bool s5_ip_from_sockaddr(struct s5_ip *out, const struct sockaddr *sa,
			 socklen_t len)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	sa_family_t family;

	memset(out, 0, sizeof(*out));
	if (!sa || len < (socklen_t)sizeof(family))
		return false;
	/* memcpy, not member access: sa may point into any buffer the
	 * program passed, with no promise of alignment. */
	memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family),
	       sizeof(family));
	if (family == AF_INET && len >= (socklen_t)sizeof(sin)) {
		memcpy(&sin, sa, sizeof(sin));
		out->family = AF_INET;
		out->port = ntohs(sin.sin_port);
		memcpy(out->addr, &sin.sin_addr, 4);
		return true;
	}
	if (family == AF_INET6 && len >= (socklen_t)sizeof(sin6)) {
		memcpy(&sin6, sa, sizeof(sin6));
		out->port = ntohs(sin6.sin6_port);
		if (v4mapped(sin6.sin6_addr.s6_addr)) {
			out->family = AF_INET;
			memcpy(out->addr, sin6.sin6_addr.s6_addr + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->addr, sin6.sin6_addr.s6_addr, 16);
		}
		return true;
	}
	return false;
}
