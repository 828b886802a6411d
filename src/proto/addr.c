/* SOCKS addresses: their wire form (RFC 1928 section 5) and conversions
 * from and to the sockaddr structures the socket calls use.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "s5_proto.h"
#include "wire.h"

/* ::ffff:0:0/96, RFC 4291 section 2.5.5.2. */
static const uint8_t v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

static bool is_v4mapped(const uint8_t v6[16])
{
	return memcmp(v6, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

ssize_t s5_wire_addr_len(const struct s5_addr *a)
{
	switch (a->atyp) {
	case S5_ATYP_IPV4:
		return 1 + 4 + 2;
	case S5_ATYP_IPV6:
		return 1 + 16 + 2;
	case S5_ATYP_DOMAIN:
		/* Section 5: the first octet is the length, no NUL. */
		if (a->u.dom.name_len == 0)
			return -EINVAL;
		return 1 + 1 + (ssize_t)a->u.dom.name_len + 2;
	default:
		return -EINVAL;
	}
}

ssize_t s5_wire_put_addr(uint8_t *buf, size_t cap, const struct s5_addr *a)
{
	ssize_t n = s5_wire_addr_len(a);
	uint8_t *p = buf + 1;

	if (n < 0)
		return n;
	if (cap < (size_t)n)
		return -ENOBUFS;
	buf[0] = a->atyp;
	switch (a->atyp) {
	case S5_ATYP_IPV4:
		memcpy(p, a->u.v4, 4);
		p += 4;
		break;
	case S5_ATYP_IPV6:
		memcpy(p, a->u.v6, 16);
		p += 16;
		break;
	default: /* S5_ATYP_DOMAIN, checked by s5_wire_addr_len */
		*p++ = a->u.dom.name_len;
		memcpy(p, a->u.dom.name, a->u.dom.name_len);
		p += a->u.dom.name_len;
		break;
	}
	s5_wire_put16(p, a->port);
	return n;
}

/* Length of the whole address once its first two bytes (ATYP and, for a
 * name, its length octet) are known; 0 if they are not yet; -EPROTO. */
static ssize_t wire_addr_total(const uint8_t *buf, size_t len)
{
	if (len < 1)
		return 0;
	switch (buf[0]) {
	case S5_ATYP_IPV4:
		return 1 + 4 + 2;
	case S5_ATYP_IPV6:
		return 1 + 16 + 2;
	case S5_ATYP_DOMAIN:
		if (len < 2)
			return 0;
		if (buf[1] == 0)
			return -EPROTO;
		return 1 + 1 + (ssize_t)buf[1] + 2;
	default:
		return -EPROTO;
	}
}

ssize_t s5_wire_get_addr(const uint8_t *buf, size_t len, size_t *need,
			 struct s5_addr *out)
{
	ssize_t n = wire_addr_total(buf, len);
	const uint8_t *p = buf + 1;

	if (n < 0)
		return n;
	if (n == 0 || len < (size_t)n) {
		/* Until the name length is known, assume the shortest name. */
		if (need)
			*need = n ? (size_t)n : S5_WIRE_ADDR_MIN;
		return 0;
	}
	out->atyp = buf[0];
	switch (buf[0]) {
	case S5_ATYP_IPV4:
		memcpy(out->u.v4, p, 4);
		p += 4;
		break;
	case S5_ATYP_IPV6:
		memcpy(out->u.v6, p, 16);
		p += 16;
		break;
	default: /* S5_ATYP_DOMAIN, checked by wire_addr_total */
		out->u.dom.name_len = *p++;
		memcpy(out->u.dom.name, p, out->u.dom.name_len);
		out->u.dom.name[out->u.dom.name_len] = '\0';
		p += out->u.dom.name_len;
		break;
	}
	out->port = s5_wire_get16(p);
	return n;
}

static int from_sin(struct s5_addr *out, const struct sockaddr *sa,
		    socklen_t len)
{
	struct sockaddr_in sin;

	if (len < (socklen_t)sizeof(sin))
		return -EINVAL;
	memcpy(&sin, sa, sizeof(sin));
	memset(out, 0, sizeof(*out));
	out->atyp = S5_ATYP_IPV4;
	out->port = ntohs(sin.sin_port);
	memcpy(out->u.v4, &sin.sin_addr, 4);
	return 0;
}

static int from_sin6(struct s5_addr *out, const struct sockaddr *sa,
		     socklen_t len)
{
	struct sockaddr_in6 sin6;
	const uint8_t *ip;

	if (len < (socklen_t)sizeof(sin6))
		return -EINVAL;
	memcpy(&sin6, sa, sizeof(sin6));
	ip = sin6.sin6_addr.s6_addr;
	memset(out, 0, sizeof(*out));
	out->port = ntohs(sin6.sin6_port);
	/* A dual-stack program connecting to ::ffff:a.b.c.d means the IPv4
	 * host; ATYP IPV4 also works with proxies that have no IPv6. */
	if (is_v4mapped(ip)) {
		out->atyp = S5_ATYP_IPV4;
		memcpy(out->u.v4, ip + 12, 4);
	} else {
		out->atyp = S5_ATYP_IPV6;
		memcpy(out->u.v6, ip, 16);
	}
	return 0;
}

int s5_addr_from_sockaddr(struct s5_addr *out, const struct sockaddr *sa,
			  socklen_t len)
{
	if (!sa || len < (socklen_t)sizeof(sa_family_t))
		return -EINVAL;
	switch (sa->sa_family) {
	case AF_INET:
		return from_sin(out, sa, len);
	case AF_INET6:
		return from_sin6(out, sa, len);
	default:
		return -EAFNOSUPPORT;
	}
}

int s5_addr_from_name(struct s5_addr *out, const char *name, size_t len,
		      uint16_t port)
{
	if (!name || len == 0 || len > S5_NAME_MAX)
		return -EINVAL;
	out->atyp = S5_ATYP_DOMAIN;
	out->port = port;
	out->u.dom.name_len = (uint8_t)len;
	memcpy(out->u.dom.name, name, len);
	out->u.dom.name[len] = '\0';
	return 0;
}

static int to_sin(const uint8_t v4[4], uint16_t port,
		  struct sockaddr_storage *out)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	memcpy(&sin.sin_addr, v4, 4);
	memcpy(out, &sin, sizeof(sin));
	return (int)sizeof(sin);
}

static int to_sin6(const uint8_t v6[16], uint16_t port,
		   struct sockaddr_storage *out)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	memcpy(sin6.sin6_addr.s6_addr, v6, 16);
	memcpy(out, &sin6, sizeof(sin6));
	return (int)sizeof(sin6);
}

int s5_addr_to_sockaddr(const struct s5_addr *a, int family,
			struct sockaddr_storage *out)
{
	uint8_t mapped[16];

	if (family == AF_INET && a->atyp == S5_ATYP_IPV4)
		return to_sin(a->u.v4, a->port, out);
	/* Relays on dual-stack hosts may report an IPv4 source as
	 * ::ffff:a.b.c.d; it is still an IPv4 address. */
	if (family == AF_INET && a->atyp == S5_ATYP_IPV6 &&
	    is_v4mapped(a->u.v6))
		return to_sin(a->u.v6 + 12, a->port, out);
	if (family == AF_INET6 && a->atyp == S5_ATYP_IPV6)
		return to_sin6(a->u.v6, a->port, out);
	if (family == AF_INET6 && a->atyp == S5_ATYP_IPV4) {
		memcpy(mapped, v4mapped_prefix, 12);
		memcpy(mapped + 12, a->u.v4, 4);
		return to_sin6(mapped, a->port, out);
	}
	return -EAFNOSUPPORT;
}

int s5_addr_family(const struct s5_addr *a)
{
	return a->atyp == S5_ATYP_IPV4 ? AF_INET : AF_INET6;
}

const uint8_t *s5_addr_ip(const struct s5_addr *a)
{
	return a->atyp == S5_ATYP_IPV4 ? a->u.v4 : a->u.v6;
}

bool s5_addr_unspecified(const struct s5_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(s5_addr_ip(a), zero,
		      a->atyp == S5_ATYP_IPV4 ? 4 : 16) == 0;
}

void s5_sockaddr_mapped(const struct sockaddr_in *s4,
			struct sockaddr_storage *out, socklen_t *len)
{
	struct sockaddr_in6 s6;

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = s4->sin_port;
	s6.sin6_addr.s6_addr[10] = 0xff;
	s6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&s6.sin6_addr.s6_addr[12], &s4->sin_addr, 4);
	memset(out, 0, sizeof(*out));
	memcpy(out, &s6, sizeof(s6));
	*len = sizeof(s6);
}
