/* libFuzzer target for s5_parse_reply (RFC 1928 section 6).
 *
 * Beyond "no crash":
 *  - every prefix parses consistently with the whole, and a reader is
 *    never told to read past the end of the message (the bytes after a
 *    reply belong to the program);
 *  - a parsed reply rebuilt with s5_build_request gives the same bytes
 *    (but RSV, which the parser does not check);
 *  - an IPv4 or IPv6 bound address survives the trip through a sockaddr.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "s5_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Would a correct parser refuse these bytes? */
static bool invalid(const uint8_t *data, size_t size)
{
	if (size >= 1 && data[0] != S5_VERSION)
		return true;
	if (size >= 4 && data[3] != S5_ATYP_IPV4 && data[3] != S5_ATYP_IPV6 &&
	    data[3] != S5_ATYP_DOMAIN)
		return true;
	return size >= 5 && data[3] == S5_ATYP_DOMAIN && data[4] == 0;
}

static size_t wire_len(const struct s5_addr *a)
{
	switch (a->atyp) {
	case S5_ATYP_IPV4:
		return 3 + 1 + 4 + 2;
	case S5_ATYP_IPV6:
		return 3 + 1 + 16 + 2;
	default:
		return 3 + 1 + 1 + (size_t)a->u.dom.name_len + 2;
	}
}

static void check_prefixes(const uint8_t *data, size_t size, ssize_t n)
{
	struct s5_reply r;
	size_t need, k, end = n > 0 ? (size_t)n + 1 : size;
	ssize_t m;

	for (k = 0; k < end && k < size; k++) {
		need = 0;
		m = s5_parse_reply(data, k, &need, &r);
		if (m > 0 && m != n)
			__builtin_trap();
		if (m == 0 && (need <= k || need > S5_REPLY_MAX ||
			       (n > 0 && need > (size_t)n)))
			__builtin_trap();
		if (m < 0 && (m != -EPROTO || n != m))
			__builtin_trap();
	}
}

static bool same_addr(const struct s5_addr *a, const struct s5_addr *b)
{
	if (a->atyp != b->atyp || a->port != b->port)
		return false;
	if (a->atyp == S5_ATYP_IPV4)
		return memcmp(a->u.v4, b->u.v4, 4) == 0;
	return memcmp(a->u.v6, b->u.v6, 16) == 0;
}

/* IPv4 and IPv6 to a sockaddr of either family and back. */
static void check_sockaddr(const struct s5_addr *a)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	struct sockaddr_storage ss;
	struct s5_addr back, want = *a;
	int len;

	if (a->atyp == S5_ATYP_DOMAIN) {
		if (s5_addr_to_sockaddr(a, AF_INET, &ss) != -EAFNOSUPPORT ||
		    s5_addr_to_sockaddr(a, AF_INET6, &ss) != -EAFNOSUPPORT)
			__builtin_trap();
		return;
	}
	/* Reading a v4-mapped address back gives ATYP IPV4. */
	if (a->atyp == S5_ATYP_IPV6 && !memcmp(a->u.v6, mapped, 12)) {
		want.atyp = S5_ATYP_IPV4;
		memmove(want.u.v4, a->u.v6 + 12, 4);
	}
	len = s5_addr_to_sockaddr(a, AF_INET6, &ss);
	if (len != (int)sizeof(struct sockaddr_in6) ||
	    s5_addr_from_sockaddr(&back, (struct sockaddr *)&ss,
				  (socklen_t)len) != 0 ||
	    !same_addr(&back, &want))
		__builtin_trap();
	/* One byte short is refused. */
	if (s5_addr_from_sockaddr(&back, (struct sockaddr *)&ss,
				  (socklen_t)len - 1) != -EINVAL)
		__builtin_trap();
	len = s5_addr_to_sockaddr(a, AF_INET, &ss);
	if (want.atyp == S5_ATYP_IPV6) {
		if (len != -EAFNOSUPPORT)
			__builtin_trap();
		return;
	}
	if (len != (int)sizeof(struct sockaddr_in) ||
	    s5_addr_from_sockaddr(&back, (struct sockaddr *)&ss,
				  (socklen_t)len) != 0 ||
	    !same_addr(&back, &want))
		__builtin_trap();
}

static void check_parsed(const uint8_t *data, size_t size, ssize_t n,
			 const struct s5_reply *r)
{
	uint8_t built[S5_REQUEST_MAX + 1];
	ssize_t b;

	if ((size_t)n > size || (size_t)n != wire_len(&r->bound) ||
	    r->rep != data[1] || r->bound.atyp != data[3])
		__builtin_trap();
	if (r->bound.atyp == S5_ATYP_DOMAIN &&
	    (r->bound.u.dom.name_len != data[4] ||
	     r->bound.u.dom.name[r->bound.u.dom.name_len] != '\0'))
		__builtin_trap();
	if (!s5_rep_str(r->rep) || (r->rep == S5_REP_SUCCEEDED) !=
					   (s5_rep_errno(r->rep) == 0))
		__builtin_trap();

	/* The request has the reply's layout: VER CMD RSV ATYP ADDR PORT. */
	b = s5_build_request(built, sizeof(built), r->rep, &r->bound);
	if (b != n)
		__builtin_trap();
	built[2] = data[2];
	if (memcmp(built, data, (size_t)n) != 0)
		__builtin_trap();
	/* Exactly n bytes of room is enough; one less is not. */
	if (s5_build_request(built, (size_t)n, r->rep, &r->bound) != n ||
	    s5_build_request(built, (size_t)n - 1, r->rep, &r->bound) !=
		    -ENOBUFS)
		__builtin_trap();
	check_sockaddr(&r->bound);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s5_reply r, again;
	size_t need = 0;
	ssize_t n;

	memset(&r, 0, sizeof(r));
	n = s5_parse_reply(data, size, &need, &r);
	if (n < 0 && n != -EPROTO)
		__builtin_trap();
	if ((n == -EPROTO) != invalid(data, size))
		__builtin_trap();
	if (n == 0 && (need <= size || need > S5_REPLY_MAX))
		__builtin_trap();
	if (s5_parse_reply(data, size, NULL, &again) != n)
		__builtin_trap();
	if (n > 0)
		check_parsed(data, size, n, &r);
	check_prefixes(data, size, n);
	return 0;
}
