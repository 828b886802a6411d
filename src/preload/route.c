/* Routing decisions (route.h). Fail closed: a destination meant for the
 * proxy is never handed to the kernel, and a destination the library
 * cannot read the way the kernel will is refused rather than passed. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "conf.h"
#include "hook.h"
#include "names.h"
#include "route.h"
#include "s5_config.h"
#include "s5_dns.h"
#include "s5_log.h"

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

/* The shortest IPv6 address the kernel takes (RFC 2133's, without
 * sin6_scope_id). */
#define S5_SIN6_LEN_MIN 24

static int get_int_opt(int fd, int name, int *out)
{
	socklen_t len = sizeof(*out);

	return real.getsockopt(fd, SOL_SOCKET, name, out, &len);
}

int s5_sock_info(int fd, struct s5_sock_info *si)
{
	if (get_int_opt(fd, SO_DOMAIN, &si->domain) < 0 ||
	    get_int_opt(fd, SO_TYPE, &si->type) < 0 ||
	    get_int_opt(fd, SO_PROTOCOL, &si->protocol) < 0)
		return -1;
	return 0;
}

bool s5_sa_port(const struct sockaddr *sa, socklen_t len, uint16_t *port)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;

	/* Copied: a program's sockaddr need not be aligned for its type. */
	if (sa->sa_family == AF_INET && len >= sizeof(s4)) {
		memcpy(&s4, sa, sizeof(s4));
		*port = ntohs(s4.sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(s6)) {
		memcpy(&s6, sa, sizeof(s6));
		*port = ntohs(s6.sin6_port);
		return true;
	}
	return false;
}

bool s5_sock_is_udp(const struct s5_sock_info *si)
{
	return (si->domain == AF_INET || si->domain == AF_INET6) &&
	       si->type == SOCK_DGRAM &&
	       (si->protocol == IPPROTO_UDP || si->protocol == IPPROTO_UDPLITE);
}

bool s5_v6only(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return real.getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, &len) == 0 &&
	       on;
}

/* The family the kernel reads sa as, for this socket and operation (see
 * ip(7), ipv6(7), udp(7), raw(7)); AF_UNSPEC for "no address". Linux
 * takes sin_family 0 as AF_INET on IPv4 datagram and raw sends, and as
 * AF_INET6 on IPv6 raw sends; on IPv6 UDP sends it means no address. An
 * IPv6 UDP socket sends to and connects to IPv4 addresses as such. */
static int kernel_family(const struct s5_sock_info *si, bool connect,
			 int family)
{
	if (family == AF_UNSPEC) {
		if (connect || si->type == SOCK_STREAM)
			return AF_UNSPEC;
		if (si->domain == AF_INET || si->type == SOCK_RAW)
			return si->domain;
		return AF_UNSPEC;
	}
	if (family == si->domain)
		return family;
	if (family == AF_INET && si->domain == AF_INET6 &&
	    si->type == SOCK_DGRAM)
		return AF_INET;
	return -1;
}

int s5_dst_read(int fd, const struct s5_sock_info *si, bool connect,
		const struct sockaddr *sa, socklen_t len,
		struct sockaddr_storage *out, socklen_t *out_len)
{
	sa_family_t given;
	socklen_t need;
	int family;

	if (sa == NULL)
		return S5_DST_NONE;
	if (len < sizeof(given))
		return S5_PASS; /* the kernel: EINVAL */
	memcpy(&given, sa, sizeof(given)); /* sa need not be aligned */
	family = kernel_family(si, connect, given);
	if (family == AF_UNSPEC)
		return S5_DST_NONE;
	if (family < 0)
		return -EAFNOSUPPORT;
	need = family == AF_INET ? sizeof(struct sockaddr_in)
				 : S5_SIN6_LEN_MIN;
	if (len < need)
		return S5_PASS; /* the kernel: EINVAL */
	if (family == AF_INET && si->domain == AF_INET6 && s5_v6only(fd))
		return connect ? -EAFNOSUPPORT : -ENETUNREACH;
	if (len > sizeof(*out))
		len = sizeof(*out);
	if (family == AF_INET6 && len > sizeof(struct sockaddr_in6))
		len = sizeof(struct sockaddr_in6);
	if (family == AF_INET)
		len = sizeof(struct sockaddr_in);
	memset(out, 0, sizeof(*out));
	memcpy(out, sa, len);
	out->ss_family = (sa_family_t)family;
	*out_len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : len;
	return S5_DST_ADDR;
}

/* A fake address becomes its name again. One the pool does not know (the
 * name was resolved before an exec, or recycled) has nowhere to go: it
 * must never reach the network. */
static int fake_to_target(struct s5_addr *target)
{
	char name[S5_NAME_MAX + 1];
	int n = s5_fake_to_name(s5_addr_family(target), s5_addr_ip(target),
				name);

	if (n < 0) {
		s5log_unmapped(target, "resolved in another process?");
		return -EHOSTUNREACH;
	}
	return s5_addr_from_name(target, name, (size_t)n, target->port);
}

int s5_route_dst(const struct sockaddr *sa, socklen_t len,
		 struct s5_addr *target, bool *fake)
{
	*fake = false;
	/* The conversion checks the family and the length; anything it
	 * cannot read is the caller's mistake, and goes nowhere. */
	if (s5_addr_from_sockaddr(target, sa, len) < 0)
		return -EAFNOSUPPORT;
	if (s5_addr_unspecified(target))
		return S5_PASS;
	/* Fake addresses first: no exclusion rule may send one out. */
	if (s5_is_fake(s5_addr_family(target), s5_addr_ip(target))) {
		*fake = true;
		return fake_to_target(target);
	}
	if (s5_exclude_match_addr(&s5_cfg.exclude, sa, len) ||
	    s5_config_is_proxy(&s5_cfg, sa, len) ||
	    s5_is_direct(s5_addr_family(target), s5_addr_ip(target)))
		return S5_PASS;
	return 0;
}

int s5_refuse_other(const struct sockaddr *sa, socklen_t len,
		    const struct s5_sock_info *si)
{
	struct s5_addr target;
	bool fake;
	int r = s5_route_dst(sa, len, &target, &fake);

	if (r != 0)
		return r;
	if (si->type == SOCK_STREAM) {
		/* SCTP also uses SOCK_STREAM; SOCKS5 cannot carry it. */
		s5log_msg(S5LOG_ERROR,
			  "refusing a stream socket that is not TCP (SOCKS5 "
			  "carries only TCP streams)",
			  NULL);
		return -EPROTONOSUPPORT;
	}
	/* Raw sockets, ICMP "ping" sockets, SCTP: SOCKS5 carries none, and
	 * letting them out would go around the proxy. */
	s5log_msg(S5LOG_ERROR,
		  si->type == SOCK_RAW
			  ? "refusing a raw socket to a proxied destination"
			  : si->type == SOCK_DGRAM
				    ? "refusing a datagram socket that is not "
				      "UDP (SOCKS5 carries only UDP datagrams)"
				    : "refusing a socket that is neither TCP "
				      "nor UDP to a proxied destination",
		  NULL);
	return -EPERM;
}

void s5_log_direct(const struct sockaddr *sa, socklen_t len)
{
	struct s5log_line l;

	if (!s5log_enabled(S5LOG_DEBUG))
		return;
	s5log_begin(&l, S5LOG_DEBUG);
	s5log_str(&l, "connect ");
	s5log_sockaddr(&l, sa, len);
	s5log_str(&l, ": direct (excluded, this host, or the proxy itself)");
	s5log_end(&l);
}
