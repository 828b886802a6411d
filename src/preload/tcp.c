/* TCP through the proxy (tcp.h): the handshake runs on the program's own
 * descriptor, which then carries the stream; the table remembers the peer
 * the program asked for. Fail closed: a destination meant for the proxy
 * is never connected directly, and a failed handshake leaves the socket
 * unusable rather than connected to the proxy. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "conf.h"
#include "fd.h"
#include "hook.h"
#include "kind_conn.h"
#include "kind_tcp.h"
#include "tcp.h"
#include "s5_log.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

int s5_pick_proxy(int fd, int domain, struct sockaddr_storage *out,
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
void s5_tcp_log_outcome(const struct s5_addr *dst,
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

/* A socket the program bound to an address of its choosing keeps showing
 * that address; one the kernel bound at connect shows the proxy's side
 * (kind_tcp.h). */
static bool bound_by_program(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint16_t port;

	return real.getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	       s5_sa_port((struct sockaddr *)&ss, len, &port) && port != 0;
}

static int proxy_connect(int fd, int domain, const struct sockaddr *dst,
			 socklen_t dlen, const struct s5_addr *target,
			 bool async)
{
	const struct s5_config *c = &s5_cfg;
	struct sockaddr_storage proxy;
	struct s5_hs hs;
	socklen_t plen;
	bool show_bnd;
	int64_t t0;
	int r;

	if (s5_pick_proxy(fd, domain, &proxy, &plen) < 0) {
		log_no_route(dst, dlen, domain);
		return -EAFNOSUPPORT;
	}
	show_bnd = !bound_by_program(fd);
	s5_hs_init(&hs, S5_CMD_CONNECT, target, c->auth, c->user,
		   c->user_len, c->pass, c->pass_len);
	if (c->pipeline)
		s5_hs_pipeline(&hs);
	if (async) {
		r = s5_conn_start(fd, (struct sockaddr *)&proxy, plen, dst,
				  dlen, &hs, c->optimistic, show_bnd);
		if (r != S5_PASS) {
			s5_hs_wipe(&hs);
			return r;
		}
	}
	t0 = s5_now_ms();
	r = s5_proxy_connect(fd, (struct sockaddr *)&proxy, plen, &hs,
			     &s5_io_real, c->timeout_ms);
	s5_hs_wipe(&hs);
	s5_tcp_log_outcome(target, (struct sockaddr *)&proxy, plen, &hs, r,
			   s5_now_ms() - t0);
	if (r < 0) {
		/* The socket may be connected to the proxy with the handshake
		 * half done, or still trying: make it unusable so nothing the
		 * program writes next reaches the proxy as raw bytes. */
		real.shutdown(fd, SHUT_RDWR);
		s5_fd_clear(fd);
		return r;
	}
	/* Without the entry, getpeername shows the proxy; nothing else
	 * depends on it. */
	(void)s5_tcp_mark(fd, dst, dlen,
			  show_bnd && hs.state == S5HS_DONE ? &hs.reply.bound
							    : NULL,
			  0);
	return 0;
}

int s5_tcp_connect(int fd, const struct s5_sock_info *si,
		   const struct sockaddr *dst, socklen_t dlen, bool async)
{
	struct s5_addr target;
	bool fake;
	int r = s5_route_dst(dst, dlen, &target, &fake);

	if (r == S5_PASS)
		s5_log_direct(dst, dlen);
	if (r != 0)
		return r;
	if (!s5_ready())
		return -ECONNREFUSED;
	if (si->protocol != IPPROTO_TCP && si->protocol != IPPROTO_MPTCP)
		return s5_refuse_other(dst, dlen, si);
	if (!s5_proxy_ready()) {
		s5_report_config_error();
		return -ECONNREFUSED;
	}
	return proxy_connect(fd, si->domain, dst, dlen, &target, async);
}
