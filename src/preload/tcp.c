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
#include "names.h"
#include "tcp.h"
#include "s5_log.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

int s5_pick_first(int fd, int domain, struct s5_try *t,
		  struct sockaddr_storage *out, socklen_t *len)
{
	s5_try_begin(t, &s5_cfg, s5_pool());
	return s5_try_pick_any(t, domain, domain == AF_INET6 && s5_v6only(fd),
			       out, len);
}

int s5_pick_next(int fd, int domain, struct s5_try *t, const struct s5_hs *hs,
		 int r, struct sockaddr_storage *out, socklen_t *len)
{
	return s5_try_next(t, hs, r, fd, domain,
			   domain == AF_INET6 && s5_v6only(fd), &s5_io_real,
			   out, len);
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
	struct s5_try t;
	struct s5_hs hs;
	socklen_t plen;
	bool show_bnd;
	int64_t t0;
	int r;

	if (s5_pick_first(fd, domain, &t, &proxy, &plen) < 0) {
		log_no_route(dst, dlen, domain);
		return -EAFNOSUPPORT;
	}
	show_bnd = !bound_by_program(fd);
	s5_try_hs(&t, &hs, S5_CMD_CONNECT, target);
	if (async) {
		r = s5_conn_start(fd, (struct sockaddr *)&proxy, plen, dst,
				  dlen, &hs, &t, c->optimistic, show_bnd);
		if (r != S5_PASS) {
			s5_hs_wipe(&hs);
			return r;
		}
	}
	for (;;) {
		t0 = s5_now_ms();
		r = s5_proxy_connect(fd, (struct sockaddr *)&proxy, plen, &hs,
				     &s5_io_real, c->timeout_ms);
		s5_hs_wipe(&hs);
		/* The next proxy, on the same socket. */
		if (r == 0 || s5_pick_next(fd, domain, &t, &hs, r, &proxy,
					   &plen) < 0)
			break;
		s5_try_hs(&t, &hs, S5_CMD_CONNECT, target);
	}
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
	s5_try_alive(&t);
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
