/* Where a supervised program's connection or datagram goes: the same
 * policy as the preload's (src/preload/route.c), decided on the bytes we
 * read from the program, which are the bytes we then act on ourselves.
 *
 * Order matters: a name server's port 53 first (its address is often
 * loopback, which is excluded, and its queries must not leave: datagrams
 * go to our responder, TCP is refused), then fake
 * addresses (no exclusion may send one out), then the exclusions, the
 * proxy's own host and the addresses of names resolved locally.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "s5_dns.h"
#include "s5_log.h"
#include "sup.h"

/* The proxy's host, whatever the port: the preload's UDP relay (the
 * address an ASSOCIATE reply names) lives there too. */
static bool proxy_host(const struct s5_config *c, const struct s5_addr *a)
{
	const struct s5_proxy *p;
	unsigned i;

	for (i = 0; i < c->n_proxies && i < S5_PROXY_MAX; i++) {
		p = &c->proxy[i];
		if (a->atyp == S5_ATYP_IPV4 ? p->has4 &&
			    memcmp(&p->addr4.sin_addr, a->u.v4, 4) == 0
					    : p->has6 &&
			    memcmp(&p->addr6.sin6_addr, a->u.v6, 16) == 0)
			return true;
	}
	return false;
}

static int unmapped(struct sup *s, struct s5_addr *target)
{
	char name[S5_NAME_MAX + 1];
	uint16_t port = target->port;
	int n = s5_pool_reverse(s->pool, s5_addr_family(target),
				s5_addr_ip(target),
				(uint32_t)(s5_now_ms() / 1000), name,
				sizeof(name));

	if (n >= 0)
		return s5_addr_from_name(target, name, (size_t)n, port) < 0
			       ? -EHOSTUNREACH
			       : S5S_PROXY;
	s5log_unmapped(target, "resolved outside this supervisor?");
	return -EHOSTUNREACH;
}

int s5s_route(struct sup *s, int domain, int type, const struct sockaddr *sa,
	      socklen_t len, struct s5_addr *target)
{
	const struct s5_config *c = s->cfg;

	/* The kernel reads an IPv4 address on an IPv4 socket, and either
	 * family on an IPv6 one (IPv4 only for datagrams). */
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (domain == AF_INET && sa->sa_family != AF_INET)
		return -EAFNOSUPPORT;
	if (domain == AF_INET6 && sa->sa_family == AF_INET &&
	    type == SOCK_STREAM)
		return -EAFNOSUPPORT;
	if (s5_addr_from_sockaddr(target, sa, len) < 0)
		return sa->sa_family == AF_INET6 && len < sizeof(struct
								 sockaddr_in6)
			       ? -EINVAL
			       : -EAFNOSUPPORT;
	if (c->dns == S5_DNS_REMOTE && s5s_dns_is_ns(&s->dns, target)) {
		if (type == SOCK_DGRAM)
			return S5S_DNS;
		/* DNS over TCP: our answers are never truncated, so only a
		 * resolver set to use TCP asks this way. A name server on
		 * loopback would otherwise take the query, and a proxied
		 * one would be asked through the proxy: neither is remote
		 * resolution. */
		s5log_msg(S5LOG_INFO, "DNS over TCP from a supervised "
			  "program refused (names are resolved by the proxy)",
			  NULL);
		return -ECONNREFUSED;
	}
	/* Linux connects to the unspecified address as to this host. */
	if (s5_addr_unspecified(target))
		return S5S_DIRECT;
	if (s5_pool_in_range(s->pool, s5_addr_family(target), s5_addr_ip(target)))
		return unmapped(s, target);
	if (s5_exclude_match_addr(&c->exclude, sa, len) ||
	    proxy_host(c, target) ||
	    s5_pool_direct_has(s->pool, s5_addr_family(target), s5_addr_ip(target)))
		return S5S_DIRECT;
	return S5S_PROXY;
}
