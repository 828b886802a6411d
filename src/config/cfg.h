/* Helpers shared by the configuration parsers (src/config only).
 *
 * Not part of the public interface: the launcher, the preload and the
 * other layers use s5_config.h. Unit tests include this header to reach
 * s5_config_load_from, the loader with the setuid check made injectable.
 */
#ifndef S5_CFG_H
#define S5_CFG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "s5_config.h"

/* An error text under construction in a caller's buffer: always
 * NUL-terminated, silently cut when full (S5_ERR_MAX is the contract). */
struct s5_msg {
	char *buf;
	size_t cap;
	size_t len;
};

/* Longest part of a user's value quoted in an error text. */
#define S5_QUOTE_MAX 48

/* Starts an empty text in buf (cap 0 or a NULL buf: everything dropped). */
void s5_msg_init(struct s5_msg *m, char *buf, size_t cap);
/* Append a string, or n bytes of one. */
void s5_msg_str(struct s5_msg *m, const char *s);
void s5_msg_strn(struct s5_msg *m, const char *s, size_t n);
/* Append a decimal number. */
void s5_msg_uint(struct s5_msg *m, unsigned long long v);
/* Append 'value': at most S5_QUOTE_MAX bytes, then "...", with bytes that
 * are not printable ASCII shown as '?'. Never use it for credentials. */
void s5_msg_quote(struct s5_msg *m, const char *s, size_t n);
/* Append a NULL-terminated list of strings. */
void s5_msg_strs(struct s5_msg *m, const char *first, va_list ap);
/* err = concatenation of a NULL-terminated list of strings. */
void s5_msg_set(char *err, size_t errlen, const char *first, ...)
	__attribute__((sentinel));

/* Locale-free ASCII helpers: the program's locale must not change how a
 * configuration parses (the Turkish dotless i is the classic trap). */
char s5_ascii_lower(char c);
bool s5_ascii_digit(char c);
/* True when the first n bytes of a and b are equal ignoring ASCII case. */
bool s5_ascii_caseeq(const char *a, const char *b, size_t n);

/* True when the n bytes at s are a URL scheme (RFC 3986 section 3.1:
 * ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), any case). */
bool s5_url_is_scheme(const char *s, size_t n);

/* Parses n bytes as a decimal port 1..65535 (digits only: no sign, no
 * blanks). Returns 0, or -EINVAL. */
int s5_parse_port(const char *s, size_t n, uint16_t *port);

/* Parses n bytes as a numeric IPv4 (dotted quad) or IPv6 address into 16
 * bytes (IPv4 uses the first 4). Returns the family (AF_INET, AF_INET6),
 * or -EINVAL. */
int s5_parse_ip(const char *s, size_t n, uint8_t addr[16]);

/* An address and port as the matchers compare them: network-order bytes,
 * host-order port, IPv4-mapped IPv6 (::ffff:a.b.c.d) folded into IPv4 so
 * that a dual-stack socket cannot slip past an IPv4 rule. */
struct s5_ip {
	sa_family_t family; /* AF_INET (addr[0..3]) or AF_INET6 */
	uint16_t port;
	uint8_t addr[16];
};

/* Fills *out from an AF_INET / AF_INET6 sockaddr of at least the right
 * length. Returns false for anything else. */
bool s5_ip_from_sockaddr(struct s5_ip *out, const struct sockaddr *sa,
			 socklen_t len);

/* Checks the fake range net, read from variable var, against what it must
 * never cover: loopback, unspecified, link-local, multicast and broadcast
 * addresses (and ::ffff:0:0/96 for IPv6), the proxy's addresses known so
 * far, and the address entries of the exclusion list. Returns 0, or
 * -EINVAL with "VAR: RANGE overlaps WHAT (ADDRESS)" in err (err is left
 * alone on success). */
int s5_fake_net_check(const struct s5_config *c, const char *var,
		      const struct s5_cidr *net, char *err, size_t errlen);

/* s5_config_load with the setuid/setgid decision passed in (the public
 * function asks getauxval(AT_SECURE)); tests call it with secure = true. */
int s5_config_load_from(struct s5_config *c, s5_getenv_fn get, void *ctx,
			bool secure);

#endif
