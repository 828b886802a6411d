/* What happens to a TCP connect(): pass it to libc, carry it through the
 * proxy on the program's own descriptor, or refuse it. Fail closed: a
 * destination meant for the proxy is never connected directly. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "preload.h"
#include "s5_log.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

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

/* A connect to 0.0.0.0 or :: reaches this host (Linux treats it as the
 * loopback address), so it never leaves the machine. */
static bool is_unspecified(const struct sockaddr *sa)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;

	/* Copies, not casts: the program's buffer need not be aligned for
	 * the larger structures. */
	if (sa->sa_family == AF_INET) {
		memcpy(&s4, sa, sizeof(s4));
		return s4.sin_addr.s_addr == htonl(INADDR_ANY);
	}
	memcpy(&s6, sa, sizeof(s6));
	return memcmp(&s6.sin6_addr, &any6, sizeof(any6)) == 0;
}

static bool address_complete(const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_INET)
		return len >= sizeof(struct sockaddr_in);
	return len >= sizeof(struct sockaddr_in6);
}

bool s5_v6only(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return real.getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, &len) == 0 &&
	       on;
}

/* The proxy address this socket can reach: its own family, or for an
 * IPv6 socket the IPv4-mapped form of an IPv4 proxy. */
static int pick_proxy(int fd, int domain, struct sockaddr_storage *out,
		      socklen_t *len)
{
	const struct s5_config *c = &s5_cfg;

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
	if (domain == AF_INET6 && c->has_proxy4 && !s5_v6only(fd)) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		memset(s6, 0, sizeof(*s6));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = c->proxy4.sin_port;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &c->proxy4.sin_addr, 4);
		*len = sizeof(*s6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static void log_no_route(const struct sockaddr *dst, socklen_t len,
			 int domain)
{
	struct s5log_line l;

	s5log_begin(&l, S5LOG_ERROR);
	s5log_str(&l, "connect ");
	s5log_sockaddr(&l, dst, len);
	s5log_str(&l, domain == AF_INET
			      ? ": the proxy has no IPv4 address for this "
				"IPv4 socket"
			      : ": the proxy has no IPv6 address and this "
				"IPv6-only socket cannot reach its IPv4 one");
	s5log_end(&l);
}

void s5_log_hs_result(struct s5log_line *l, const struct s5_hs *hs, int r)
{
	if (r == 0) {
		s5log_str(l, ": ok");
		return;
	}
	s5log_str(l, ": ");
	if (hs->reply.rep != S5_REP_SUCCEEDED) {
		s5log_str(l, "proxy answered: ");
		s5log_str(l, s5_rep_str(hs->reply.rep));
	} else {
		s5log_str(l, hs->why != NULL ? hs->why
					     : "cannot reach the proxy");
	}
	s5log_str(l, " (");
	s5log_errno(l, -r);
	s5log_str(l, ")");
}

/* Proxy-side failures (unreachable, timeout, bad bytes, credentials) are
 * errors worth seeing by default; a destination the proxy could not reach
 * is the program's ordinary business and shows with -v. */
static void log_outcome(const struct s5_addr *dst,
			const struct sockaddr *proxy, socklen_t plen,
			const struct s5_hs *hs, int r, int64_t ms)
{
	enum s5log_level lvl = S5LOG_INFO;
	struct s5log_line l;

	if (r < 0 && hs->reply.rep == S5_REP_SUCCEEDED)
		lvl = S5LOG_ERROR;
	if (!s5log_enabled(lvl))
		return;
	s5log_begin(&l, lvl);
	s5log_str(&l, "connect ");
	s5log_s5addr(&l, dst);
	s5log_str(&l, " via ");
	s5log_sockaddr(&l, proxy, plen);
	s5_log_hs_result(&l, hs, r);
	s5log_str(&l, " in ");
	s5log_int(&l, (long long)ms);
	s5log_str(&l, " ms");
	s5log_end(&l);
}

static int proxy_connect(int fd, int domain, const struct sockaddr *dst,
			 socklen_t dlen, const struct s5_addr *target)
{
	const struct s5_config *c = &s5_cfg;
	struct sockaddr_storage proxy;
	struct s5_hs hs;
	socklen_t plen;
	int64_t t0;
	int r;

	if (pick_proxy(fd, domain, &proxy, &plen) < 0) {
		log_no_route(dst, dlen, domain);
		return -EAFNOSUPPORT;
	}
	s5_hs_init(&hs, S5_CMD_CONNECT, target, c->auth, c->user,
		   c->user_len, c->pass, c->pass_len);
	if (c->pipeline)
		s5_hs_pipeline(&hs);
	t0 = s5_now_ms();
	r = s5_proxy_connect(fd, (struct sockaddr *)&proxy, plen, &hs,
			     &s5_io_real, c->timeout_ms);
	s5_hs_wipe(&hs);
	log_outcome(target, (struct sockaddr *)&proxy, plen, &hs, r,
		    s5_now_ms() - t0);
	if (r < 0) {
		/* The socket may be connected to the proxy with the handshake
		 * half done, or still trying: make it unusable so nothing the
		 * program writes next reaches the proxy as raw bytes. */
		real.shutdown(fd, SHUT_RDWR);
		return r;
	}
	s5_fd_set_tcp(fd, dst, dlen);
	return 0;
}

static const uint8_t *addr_bytes(const struct s5_addr *a)
{
	return a->atyp == S5_ATYP_IPV4 ? a->u.v4 : a->u.v6;
}

static int family_of(const struct s5_addr *a)
{
	return a->atyp == S5_ATYP_IPV4 ? AF_INET : AF_INET6;
}

/* A fake address becomes its name again. One the pool does not know (the
 * name was resolved before an exec, or recycled) has nowhere to go: it
 * must never reach the network. */
static int fake_to_target(struct s5_addr *target)
{
	char name[S5_NAME_MAX + 1];
	struct s5log_line l;
	int n = s5_fake_to_name(family_of(target), addr_bytes(target), name);

	if (n < 0) {
		s5log_begin(&l, S5LOG_ERROR);
		s5log_str(&l, "connect ");
		s5log_s5addr(&l, target);
		s5log_str(&l, ": a fake address that no host name maps to "
			      "(resolved in another process?); refused");
		s5log_end(&l);
		return -EHOSTUNREACH;
	}
	return s5_addr_from_name(target, name, (size_t)n, target->port);
}

int s5_route_dst(const struct sockaddr *sa, socklen_t len,
		 struct s5_addr *target, bool *fake)
{
	*fake = false;
	/* The conversion checks the length; only then is the address read. */
	if (s5_addr_from_sockaddr(target, sa, len) < 0 || is_unspecified(sa))
		return S5_PASS;
	/* Fake addresses first: no exclusion rule may send one out. */
	if (s5_is_fake(family_of(target), addr_bytes(target))) {
		*fake = true;
		return fake_to_target(target);
	}
	if (s5_exclude_match_addr(&s5_cfg.exclude, sa, len) ||
	    s5_config_is_proxy(&s5_cfg, sa, len) ||
	    s5_is_direct(family_of(target), addr_bytes(target)))
		return S5_PASS;
	return 0;
}

/* The checks every connect-like call shares: S5_PASS for anything the
 * kernel should judge (other families, short addresses, not a socket, a
 * family that is not the socket's), else 0 with *si filled. */
static int classify(int fd, const struct sockaddr *sa, socklen_t len,
		    struct s5_sock_info *si)
{
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return S5_PASS;
	if (!address_complete(sa, len) || s5_sock_info(fd, si) < 0 ||
	    si->domain != sa->sa_family)
		return S5_PASS;
	return 0;
}

/* With -vv, say which connections the library left alone, so that a user
 * (and the tests) can tell an exclusion from a proxied connection. */
static void log_direct(const struct sockaddr *sa, socklen_t len)
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

/* A stream socket towards sa: S5_PASS, 0 (through the proxy) or -errno. */
static int stream_connect(int fd, const struct sockaddr *sa, socklen_t len,
			  const struct s5_sock_info *si)
{
	struct s5_addr target;
	bool fake;
	int r = s5_route_dst(sa, len, &target, &fake);

	if (r == S5_PASS)
		log_direct(sa, len);
	if (r != 0)
		return r;
	if (!s5_ready())
		return -ECONNREFUSED;
	if (si->protocol != IPPROTO_TCP && si->protocol != IPPROTO_MPTCP) {
		/* SCTP also uses SOCK_STREAM; SOCKS5 cannot carry it. */
		s5log_msg(S5LOG_ERROR,
			  "refusing a stream socket that is not TCP (SOCKS5 "
			  "carries only TCP streams)",
			  NULL);
		return -EPROTONOSUPPORT;
	}
	if (!s5_proxy_ready()) {
		s5_report_config_error();
		return -ECONNREFUSED;
	}
	return proxy_connect(fd, si->domain, sa, len, &target);
}

int s5_tcp_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct s5_sock_info si;

	if (sa == NULL || len < sizeof(sa_family_t))
		return S5_PASS;
	if (sa->sa_family == AF_UNSPEC) {
		/* Dissolves an association (TCP or UDP); a virtual peer goes
		 * too. */
		if (s5_fd_kind(fd) == S5FD_UDP)
			return s5_udp_connect(fd, sa, len);
		s5_fd_clear(fd);
		return S5_PASS;
	}
	/* From here on anything odd is left to the kernel, which reports
	 * it with the errno the program expects. */
	if (classify(fd, sa, len, &si) != 0)
		return S5_PASS;
	if (si.type == SOCK_DGRAM)
		return s5_udp_connect(fd, sa, len);
	if (si.type != SOCK_STREAM)
		return s5_refuse_other(sa, len, &si);
	return stream_connect(fd, sa, len, &si);
}

int s5_refuse_other(const struct sockaddr *sa, socklen_t len,
		    const struct s5_sock_info *si)
{
	struct s5_addr target;
	bool fake;
	int r = s5_route_dst(sa, len, &target, &fake);

	if (r != 0)
		return r;
	/* Raw sockets and ICMP "ping" sockets: SOCKS5 carries neither, and
	 * letting them out would go around the proxy. */
	s5log_msg(S5LOG_ERROR,
		  si->type == SOCK_RAW
			  ? "refusing a raw socket to a proxied destination"
			  : "refusing a datagram socket that is not UDP "
			    "(SOCKS5 carries only UDP datagrams)",
		  NULL);
	return -EPERM;
}

int s5_tcp_fastopen(int fd, const struct sockaddr *dst, socklen_t dlen)
{
	struct s5_sock_info si;

	if (dst == NULL || dlen < sizeof(sa_family_t) ||
	    classify(fd, dst, dlen, &si) != 0 || si.type != SOCK_STREAM)
		return S5_PASS;
	return stream_connect(fd, dst, dlen, &si);
}
