/* libFuzzer target for the exclusion list (SOCKS5WRAP_NO_PROXY).
 *
 * Input: the list, then a NUL, then queries (see run_queries). Beyond "no
 * crash":
 *  - on failure the list is empty and the error text is printable and
 *    NUL-terminated; on success the error text is empty;
 *  - every parsed network is well formed (bits past the prefix zeroed,
 *    v4-mapped networks folded into IPv4) and matches its own address,
 *    also written as ::ffff:a.b.c.d; every host pattern is lower case
 *    without dots at either end and matches its own name in any case,
 *    with a trailing dot, and (for a suffix) one label below;
 *  - for fuzzed queries, an IPv4 address and its v4-mapped form match
 *    alike, and a name matches regardless of case and one trailing dot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "s5_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_QUERIES 64

static const uint8_t mapped_prefix[12] = { [10] = 0xff, [11] = 0xff };

static void make_sin(struct sockaddr_in *sin, const uint8_t *a,
		     uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	memcpy(&sin->sin_addr, a, 4);
}

static void make_sin6(struct sockaddr_in6 *sin6, const uint8_t *a,
		      uint16_t port)
{
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(sin6->sin6_addr.s6_addr, a, 16);
}

static bool match4(const struct s5_exclude *ex, const uint8_t *a,
		   uint16_t port)
{
	struct sockaddr_in sin;

	make_sin(&sin, a, port);
	return s5_exclude_match_addr(ex, (struct sockaddr *)&sin, sizeof(sin));
}

static bool match6(const struct s5_exclude *ex, const uint8_t *a,
		   uint16_t port)
{
	struct sockaddr_in6 sin6;

	make_sin6(&sin6, a, port);
	return s5_exclude_match_addr(ex, (struct sockaddr *)&sin6,
				     sizeof(sin6));
}

/* An IPv4 address and ::ffff:a.b.c.d must be treated alike. */
static bool match4_both(const struct s5_exclude *ex, const uint8_t *a,
			uint16_t port)
{
	uint8_t m[16];
	bool r = match4(ex, a, port);

	memcpy(m, mapped_prefix, 12);
	memcpy(m + 12, a, 4);
	if (match6(ex, m, port) != r)
		__builtin_trap();
	return r;
}

static bool past_prefix_zero(const uint8_t *a, unsigned prefix)
{
	unsigned i;

	for (i = prefix; i < 128; i++)
		if (a[i / 8] & (0x80u >> (i % 8)))
			return false;
	return true;
}

static void check_cidr(const struct s5_exclude *ex, const struct s5_cidr *c)
{
	uint16_t port = c->port ? c->port : 443;

	if (c->family == AF_INET) {
		if (c->prefix > 32 || !past_prefix_zero(c->addr, c->prefix) ||
		    !match4_both(ex, c->addr, port))
			__builtin_trap();
	} else if (c->family == AF_INET6) {
		if (c->prefix > 128 || !past_prefix_zero(c->addr, c->prefix) ||
		    (c->prefix >= 96 && !memcmp(c->addr, mapped_prefix, 12)) ||
		    !match6(ex, c->addr, port))
			__builtin_trap();
	} else {
		__builtin_trap();
	}
}

static bool match_name(const struct s5_exclude *ex, const char *name,
		       uint16_t port)
{
	char alt[S5_NAME_MAX + 3];
	size_t n = strlen(name), i;
	bool r = s5_exclude_match_name(ex, name, port);

	if (n > S5_NAME_MAX)
		return r;
	for (i = 0; i <= n; i++)
		alt[i] = name[i] >= 'a' && name[i] <= 'z' ?
				 (char)(name[i] - 'a' + 'A') :
				 name[i];
	if (s5_exclude_match_name(ex, alt, port) != r)
		__builtin_trap();
	if (n > 0 && name[n - 1] != '.') {
		alt[n] = '.';
		alt[n + 1] = '\0';
		if (s5_exclude_match_name(ex, alt, port) != r)
			__builtin_trap();
	}
	return r;
}

static void check_host(const struct s5_exclude *ex,
		       const struct s5_hostpat *h)
{
	char below[S5_NAME_MAX + 3];
	uint16_t port = h->port ? h->port : 8080;
	size_t i;

	if (h->len == 0 || h->len > 253 || strlen(h->name) != h->len ||
	    h->name[0] == '.' || h->name[h->len - 1] == '.')
		__builtin_trap();
	for (i = 0; i < h->len; i++)
		if (h->name[i] >= 'A' && h->name[i] <= 'Z')
			__builtin_trap();
	if (!match_name(ex, h->name, port) || !match_name(ex, h->name, 0))
		__builtin_trap();
	if (h->suffix) {
		memcpy(below, "x.", 2);
		memcpy(below + 2, h->name, (size_t)h->len + 1);
		if (!match_name(ex, below, port))
			__builtin_trap();
	}
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Queries: an op byte, then its operands; stops when bytes run out.
 *   0: IPv4 (4 bytes) and port (2)      1: IPv6 (16) and port (2)
 *   2: name length (1), name, port (2)  3: a sockaddr of odd length:
 *      family byte, length byte, 28 bytes of sockaddr_in6 */
static void run_queries(const struct s5_exclude *ex, const uint8_t *q,
			size_t n)
{
	struct sockaddr_in6 raw;
	char name[256 + 1];
	unsigned count = 0;
	size_t len;

	while (n > 0 && count++ < MAX_QUERIES) {
		switch (q[0] % 4) {
		case 0:
			if (n < 7)
				return;
			match4_both(ex, q + 1, get16(q + 5));
			q += 7, n -= 7;
			break;
		case 1:
			if (n < 19)
				return;
			match6(ex, q + 1, get16(q + 17));
			q += 19, n -= 19;
			break;
		case 2:
			if (n < 2 || n < 2 + (size_t)q[1] + 2)
				return;
			len = q[1];
			memcpy(name, q + 2, len);
			name[len] = '\0';
			match_name(ex, name, get16(q + 2 + len));
			q += 4 + len, n -= 4 + len;
			break;
		default:
			if (n < 3 + sizeof(raw))
				return;
			memcpy(&raw, q + 3, sizeof(raw));
			raw.sin6_family = q[1] & 1 ? AF_INET6 : AF_INET;
			s5_exclude_match_addr(ex, (struct sockaddr *)&raw,
					      q[2] % (sizeof(raw) + 1));
			q += 3 + sizeof(raw), n -= 3 + sizeof(raw);
			break;
		}
	}
}

static void check_text(const char *err, size_t cap)
{
	size_t i;

	if (!memchr(err, '\0', cap))
		__builtin_trap();
	for (i = 0; err[i]; i++)
		if (err[i] < 0x20 || err[i] > 0x7e)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t slen = nul ? (size_t)(nul - data) : size, i;
	struct s5_exclude ex;
	char err[S5_ERR_MAX];
	char *s;
	int rc;

	s = malloc(slen + 1);
	if (!s)
		abort();
	memcpy(s, data, slen);
	s[slen] = '\0';

	memset(&ex, 0x5a, sizeof(ex));
	rc = s5_exclude_parse(s, &ex, err, sizeof(err));
	free(s);
	check_text(err, sizeof(err));
	if (rc == -ENOMEM)
		return 0;
	if (rc != 0 && rc != -EINVAL)
		__builtin_trap();
	if (rc != 0) {
		if (!err[0] || ex.n_cidrs || ex.n_hosts || ex.cidrs ||
		    ex.hosts)
			__builtin_trap();
		/* An empty list matches nothing and frees cleanly. */
		if (match4(&ex, (const uint8_t *)"\x7f\0\0\1", 80) ||
		    s5_exclude_match_name(&ex, "localhost", 0))
			__builtin_trap();
		s5_exclude_free(&ex);
		return 0;
	}
	if (err[0] || ex.n_cidrs + ex.n_hosts > slen)
		__builtin_trap();
	for (i = 0; i < ex.n_cidrs; i++)
		check_cidr(&ex, &ex.cidrs[i]);
	for (i = 0; i < ex.n_hosts; i++)
		check_host(&ex, &ex.hosts[i]);
	if (nul)
		run_queries(&ex, nul + 1, size - slen - 1);
	s5_exclude_free(&ex);
	if (ex.cidrs || ex.hosts || ex.n_cidrs || ex.n_hosts)
		__builtin_trap();
	return 0;
}
