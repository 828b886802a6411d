/* res_send() and res_nsend(), and the transport under every res_* hook.
 *
 * glibc sends the resolver's queries through internal calls the preload
 * never sees, so in remote DNS mode the library sends them itself: each
 * query is a datagram from a socket of ours, routed exactly like one the
 * program would send to that name server (udp.c): through the UDP relay
 * unless the server is excluded (a loopback stub, by default), then
 * direct. A truncated reply (TC) is asked again over TCP, through the
 * proxy with CONNECT unless the server is excluded (tcp policy in
 * policy.c). A proxy that carries no UDP (microsocks, SOCKS5WRAP_UDP=
 * block) gets the query over TCP from the start. Nothing ever falls back
 * to libc's own transport.
 *
 * Timing and order are glibc's (res_send.c): every server in turn, retry
 * rounds, server i waits retrans << i seconds (divided by the number of
 * servers for i > 0); TCP for RES_USEVC and queries over 512 bytes, one
 * attempt per server. A reply must come from one of the servers, carry
 * the query's ID and question; SERVFAIL, NOTIMP and REFUSED move on to
 * the next server. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "conf.h"
#include "fd.h"
#include "hook.h"
#include "route.h"
#include "tcp.h"
#include "udp.h"
#include "res.h"
#include "s5_dnsmsg.h"
#include "s5_log.h"

#undef res_send
#undef res_nsend

/* over_udp: the reply was truncated / the proxy carries no UDP. */
#define R_TRUNC (-100000)
#define R_NO_UDP (-100001)

struct server {
	struct sockaddr_storage sa;
	socklen_t len;
};

struct exchange {
	const unsigned char *q;
	int qlen;
	unsigned char *ans;
	int anslen;
	struct server ns[MAXNS];
	int nns;
	bool ignore_tc;
	int udp_fd[2]; /* AF_INET, AF_INET6; -1 until needed */
	/* for the log line */
	bool reached;  /* a server answered something (glibc: gotsomewhere) */
	bool proxied;  /* the last exchange went through the proxy */
	bool tcp;      /* ... over TCP */
	int err;       /* the last failure */
	const char *why;
};

/* The servers, IPv4 ones from nsaddr_list, IPv6 ones where glibc keeps
 * them (_u._ext.nsaddrs, with nsaddr_list's family 0). */
static int servers(res_state statp, struct server *out)
{
	int i, n = 0;

	for (i = 0; i < statp->nscount && i < MAXNS; i++) {
		const struct sockaddr_in6 *s6 = statp->_u._ext.nsaddrs[i];

		if (statp->nsaddr_list[i].sin_family == AF_INET) {
			memset(&out[n].sa, 0, sizeof(out[n].sa));
			memcpy(&out[n].sa, &statp->nsaddr_list[i],
			       sizeof(struct sockaddr_in));
			out[n++].len = sizeof(struct sockaddr_in);
		} else if (statp->nsaddr_list[i].sin_family == 0 &&
			   s6 != NULL && s6->sin6_family == AF_INET6) {
			memset(&out[n].sa, 0, sizeof(out[n].sa));
			memcpy(&out[n].sa, s6, sizeof(*s6));
			out[n++].len = sizeof(*s6);
		}
	}
	return n;
}

static bool same_server(const struct sockaddr_storage *a,
			const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	       memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

static bool from_a_server(const struct exchange *x,
			  const struct sockaddr_storage *from)
{
	int i;

	for (i = 0; i < x->nns; i++)
		if (same_server(&x->ns[i].sa, from))
			return true;
	return false;
}

/* Closes one of our sockets as close() would: its proxy state first. */
static void drop_fd(int fd)
{
	if (fd < 0)
		return;
	if (s5_fd_kind(fd) != S5FD_NONE)
		s5_fd_clear(fd);
	real.close(fd);
}

static int left_ms(int64_t deadline)
{
	int64_t left = deadline - s5_now_ms();

	return left <= 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

/* Waits until fd is ready for events or the deadline passes: 1, 0 on
 * timeout, or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r, ms;

	for (;;) {
		ms = left_ms(deadline);
		if (ms == 0)
			return 0;
		r = real.poll(&p, 1, ms);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* ---- UDP -------------------------------------------------------------- */

static int udp_socket(struct exchange *x, int family)
{
	int *fd = &x->udp_fd[family == AF_INET ? 0 : 1];

	if (*fd < 0)
		*fd = real.socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			     0);
	return *fd < 0 ? -errno : *fd;
}

/* One datagram to srv, routed as the program's own would be. */
static int send_dgram(struct exchange *x, int fd, const struct server *srv)
{
	struct iovec iov = { .iov_base = (void *)x->q,
			     .iov_len = (size_t)x->qlen };
	struct msghdr m = { .msg_name = (void *)&srv->sa,
			    .msg_namelen = srv->len,
			    .msg_iov = &iov,
			    .msg_iovlen = 1 };
	ssize_t r = s5_udp_sendmsg(fd, &m, MSG_NOSIGNAL);

	x->proxied = r != S5_PASS;
	if (r == S5_PASS)
		r = real.sendmsg(fd, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
	return r < 0 ? (int)r : 0;
}

/* One datagram for us (any source, reported in *from), or -errno. */
static ssize_t recv_dgram(struct exchange *x, int fd,
			  struct sockaddr_storage *from)
{
	struct iovec iov = { .iov_base = x->ans, .iov_len = (size_t)x->anslen };
	struct msghdr m = { .msg_name = from,
			    .msg_namelen = sizeof(*from),
			    .msg_iov = &iov,
			    .msg_iovlen = 1 };
	ssize_t r;

	memset(from, 0, sizeof(*from));
	r = s5_udp_recvmsg(fd, &m, MSG_DONTWAIT);
	if (r == S5_PASS) {
		r = real.recvmsg(fd, &m, MSG_DONTWAIT);
		if (r < 0)
			r = -errno;
	}
	return r;
}

/* The query to server i over UDP, then the wait for its reply: the
 * reply's length, R_TRUNC, R_NO_UDP, or -errno (ETIMEDOUT; EAGAIN for a
 * server that gave up). */
static int over_udp(struct exchange *x, int i, int64_t deadline)
{
	const struct server *srv = &x->ns[i];
	struct sockaddr_storage from;
	enum s5_dns_verdict v;
	int fd = udp_socket(x, srv->sa.ss_family), r;
	ssize_t n;

	x->tcp = false;
	if (fd < 0)
		return fd;
	r = send_dgram(x, fd, srv);
	if (r == -EOPNOTSUPP || r == -EPERM)
		return R_NO_UDP;
	if (r < 0)
		return r;
	for (;;) {
		r = wait_fd(fd, POLLIN, deadline);
		if (r == 0) {
			x->reached = true; /* as glibc counts a timeout */
			return -ETIMEDOUT;
		}
		if (r < 0)
			return r;
		n = recv_dgram(x, fd, &from);
		if (n == -EAGAIN || n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (!from_a_server(x, &from))
			continue;
		x->reached = true;
		v = s5_dns_check_reply(x->q, (size_t)x->qlen, x->ans,
				       (size_t)n, x->ignore_tc);
		if (v == S5_DNS_ANSWER)
			return (int)n;
		if (v == S5_DNS_TRUNC)
			return R_TRUNC;
		if (v == S5_DNS_NEXT)
			return -EAGAIN;
	}
}

/* ---- TCP -------------------------------------------------------------- */

/* A direct connection (excluded server) within the deadline. */
static int connect_direct(int fd, const struct server *srv, int64_t deadline)
{
	socklen_t len = sizeof(int);
	int err = 0, r;

	if (real.connect(fd, (const struct sockaddr *)&srv->sa, srv->len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	r = wait_fd(fd, POLLOUT, deadline);
	if (r <= 0)
		return r == 0 ? -ETIMEDOUT : r;
	if (real.getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

static int write_all(int fd, const unsigned char *p, size_t len,
		     int64_t deadline)
{
	ssize_t n;
	int r;

	while (len > 0) {
		n = real.send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r <= 0)
			return r == 0 ? -ETIMEDOUT : r;
	}
	return 0;
}

/* Reads len bytes into p, or throws them away when p is NULL. */
static int read_all(int fd, unsigned char *p, size_t len, int64_t deadline)
{
	unsigned char junk[512];
	size_t want;
	ssize_t n;
	int r;

	while (len > 0) {
		want = p != NULL ? len : len < sizeof(junk) ? len : sizeof(junk);
		n = real.recv(fd, p != NULL ? p : junk, want, MSG_DONTWAIT);
		if (n > 0) {
			if (p != NULL)
				p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		r = wait_fd(fd, POLLIN, deadline);
		if (r <= 0)
			return r == 0 ? -ETIMEDOUT : r;
	}
	return 0;
}

/* Reads replies (two-byte length, message: RFC 1035 section 4.2.2) until
 * one answers the query. A reply longer than the program's buffer is cut
 * to fit, marked TC and its full length returned, as glibc does. */
static int read_reply(struct exchange *x, int fd, int64_t deadline)
{
	unsigned char len16[2];
	size_t rlen, take;
	enum s5_dns_verdict v;
	int r;

	for (;;) {
		r = read_all(fd, len16, 2, deadline);
		if (r < 0)
			return r;
		rlen = (size_t)len16[0] << 8 | len16[1];
		if (rlen < S5_DNS_HDR)
			return -EMSGSIZE;
		take = rlen < (size_t)x->anslen ? rlen : (size_t)x->anslen;
		r = read_all(fd, x->ans, take, deadline);
		if (r == 0 && take < rlen)
			r = read_all(fd, NULL, rlen - take, deadline);
		if (r < 0)
			return r;
		x->reached = true;
		v = s5_dns_check_reply(x->q, (size_t)x->qlen, x->ans, take,
				       true);
		if (v == S5_DNS_NEXT)
			return -EAGAIN;
		if (v == S5_DNS_IGNORE)
			continue;
		if (take < rlen)
			s5_dns_set_tc(x->ans, take);
		return (int)rlen;
	}
}

/* The query to server i over TCP: through the proxy with CONNECT, or
 * direct to an excluded server. The reply's length or -errno. */
static int over_tcp(struct exchange *x, int i, int64_t deadline)
{
	const struct server *srv = &x->ns[i];
	unsigned char len16[2] = { (unsigned char)(x->qlen >> 8),
				   (unsigned char)x->qlen };
	int fd = real.socket(srv->sa.ss_family,
			     SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct s5_sock_info si;
	int r;

	x->tcp = true;
	if (fd < 0)
		return -errno;
	r = s5_sock_info(fd, &si) < 0
		    ? -errno
		    : s5_tcp_connect(fd, &si, (const struct sockaddr *)&srv->sa,
				     srv->len, false);
	x->proxied = r != S5_PASS;
	if (r == S5_PASS)
		r = connect_direct(fd, srv, deadline);
	if (r == 0)
		r = write_all(fd, len16, 2, deadline);
	if (r == 0)
		r = write_all(fd, x->q, (size_t)x->qlen, deadline);
	if (r == 0)
		r = read_reply(x, fd, deadline);
	drop_fd(fd);
	return r;
}

/* ---- the rounds ------------------------------------------------------- */

/* glibc's wait for server i: retrans << i seconds, divided by the number
 * of servers after the first, at least one second. */
static int64_t wait_for(res_state statp, int i)
{
	int64_t s = (int64_t)(statp->retrans > 0 ? statp->retrans : 0) << i;

	if (i > 0)
		s /= statp->nscount;
	return (s <= 0 ? 1 : s) * 1000;
}

static const char *route_text(const struct exchange *x)
{
	if (x->tcp)
		return x->proxied ? " through the proxy (tcp)" : " direct (tcp)";
	return x->proxied ? " through the proxy (udp relay)" : " direct (udp)";
}

static const char *rcode_text(int rcode)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL",
					      "NXDOMAIN", "NOTIMP", "REFUSED" };

	if (rcode >= 0 && rcode < (int)(sizeof(names) / sizeof(names[0])))
		return names[rcode];
	return "other rcode";
}

static void log_answer(const struct exchange *x, const char *what, int i,
		       int n, int64_t ms)
{
	struct s5log_line l;

	if (!s5log_enabled(S5LOG_INFO))
		return;
	s5log_begin(&l, S5LOG_INFO);
	s5log_str(&l, what);
	s5log_str(&l, ": ");
	s5log_sockaddr(&l, (const struct sockaddr *)&x->ns[i].sa,
		       x->ns[i].len);
	s5log_str(&l, route_text(x));
	s5log_str(&l, ": ");
	s5log_str(&l, rcode_text(s5_dns_rcode(x->ans, (size_t)x->anslen)));
	s5log_str(&l, ", ");
	s5log_int(&l, n);
	s5log_str(&l, " bytes in ");
	s5log_int(&l, (long long)ms);
	s5log_str(&l, " ms");
	s5log_end(&l);
}

static void log_failure(const struct exchange *x, const char *what, int i,
			int64_t ms)
{
	struct s5log_line l;

	s5log_begin(&l, S5LOG_ERROR);
	s5log_str(&l, what);
	s5log_str(&l, ": no answer");
	if (i >= 0) {
		s5log_str(&l, "; last asked ");
		s5log_sockaddr(&l, (const struct sockaddr *)&x->ns[i].sa,
			       x->ns[i].len);
		s5log_str(&l, route_text(x));
	}
	s5log_str(&l, ": ");
	if (x->why != NULL) {
		s5log_str(&l, x->why);
		s5log_str(&l, " (");
		s5log_errno(&l, x->err);
		s5log_str(&l, ")");
	} else {
		s5log_errno(&l, x->err);
	}
	s5log_str(&l, " after ");
	s5log_int(&l, (long long)ms);
	s5log_str(&l, " ms; not sent any other way");
	s5log_end(&l);
}

/* One attempt at server i: over UDP (TCP after a truncated reply, or
 * when the proxy carries no UDP), or over TCP only. */
static int attempt(struct exchange *x, int i, bool *vc, int64_t wait_ms)
{
	int64_t deadline = s5_now_ms() + wait_ms;
	int r;

	if (!*vc) {
		r = over_udp(x, i, deadline);
		if (r == R_NO_UDP) {
			/* Not a direct path: the proxy still carries TCP. */
			s5log_msg(S5LOG_INFO, "name server query: the proxy "
				  "carries no UDP here; using TCP through it",
				  NULL);
			*vc = true;
		}
		if (r != R_TRUNC && r != R_NO_UDP)
			return r;
	}
	return over_tcp(x, i, deadline);
}

int s5_res_send(res_state statp, const unsigned char *q, int qlen,
		unsigned char *ans, int anslen, const char *what)
{
	struct exchange x = { .q = q, .qlen = qlen, .ans = ans,
			      .anslen = anslen, .udp_fd = { -1, -1 },
			      .err = ETIMEDOUT };
	int64_t t0 = s5_now_ms();
	bool vc = (statp->options & RES_USEVC) || qlen > S5_DNS_UDP_MAX;
	int try, i, last = -1, r = -ETIMEDOUT;

	x.ignore_tc = (statp->options & RES_IGNTC) != 0;
	x.nns = servers(statp, x.ns);
	if (x.nns == 0) {
		x.why = "no name server configured";
		x.err = ESRCH;
		log_failure(&x, what, -1, 0);
		return -ESRCH;
	}
	if (anslen < S5_DNS_HDR || qlen < S5_DNS_HDR)
		return -EINVAL;
	for (try = 0; try < statp->retry; try++) {
		for (i = 0; i < x.nns; i++) {
			/* TCP: one attempt per server, as in glibc. */
			if (vc)
				try = statp->retry;
			last = i;
			r = attempt(&x, i, &vc, wait_for(statp, i));
			if (r >= 0)
				goto done;
			x.err = -r;
			x.why = r == -EAGAIN ? "the server refused or failed"
					     : NULL;
			if (r == -EAGAIN)
				x.err = EAGAIN;
		}
	}
done:
	drop_fd(x.udp_fd[0]);
	drop_fd(x.udp_fd[1]);
	if (r >= 0) {
		log_answer(&x, what, last, r, s5_now_ms() - t0);
		return r;
	}
	log_failure(&x, what, last, s5_now_ms() - t0);
	return x.reached ? -ETIMEDOUT : -ECONNREFUSED;
}

/* ---- the hooks -------------------------------------------------------- */

/* "res_send NAME TYPE" for the log, from the message's question. */
static void describe(const unsigned char *msg, int len, const char *fn,
		     char *out, size_t cap)
{
	char name[S5_DNS_MAXDNAME + 1];
	uint16_t type = 0;
	size_t n = strlen(fn);

	if (n + 1 > cap)
		return;
	memcpy(out, fn, n + 1);
	if (len < 0 || s5_dns_first_question(msg, (size_t)len, name,
					     sizeof(name), &type) < 0)
		return;
	s5_res_describe(out, cap, name, type);
}

static int s5_res_nsend(res_state statp, const unsigned char *msg,
			int msglen, unsigned char *ans, int anslen,
			const char *fn)
{
	char what[S5_DNS_MAXDNAME + 64];
	int r;

	if (statp == NULL || msg == NULL || ans == NULL) {
		errno = EINVAL;
		return -1;
	}
	describe(msg, msglen, fn, what, sizeof(what));
	r = s5_res_send(statp, msg, msglen, ans, anslen, what);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

int __res_send(const unsigned char *msg, int msglen, unsigned char *ans,
	       int anslen);
int res_send(const unsigned char *msg, int msglen, unsigned char *ans,
	     int anslen);
int __res_nsend(res_state statp, const unsigned char *msg, int msglen,
		unsigned char *ans, int anslen);

static int send_default(const unsigned char *msg, int msglen,
			unsigned char *ans, int anslen)
{
	res_state st;
	int r;

	if (s5_res_libc()) {
		if (real.res_send == NULL) {
			errno = ENOSYS;
			return -1;
		}
		s5_guard_enter();
		r = real.res_send(msg, msglen, ans, anslen);
		s5_guard_leave();
		return r;
	}
	st = s5_res_default();
	if (st == NULL) {
		errno = ESRCH;
		return -1;
	}
	return s5_res_nsend(st, msg, msglen, ans, anslen, "res_send");
}

static int send_state(res_state statp, const unsigned char *msg, int msglen,
		      unsigned char *ans, int anslen)
{
	int r;

	if (s5_res_libc()) {
		if (real.res_nsend == NULL) {
			errno = ENOSYS;
			return -1;
		}
		s5_guard_enter();
		r = real.res_nsend(statp, msg, msglen, ans, anslen);
		s5_guard_leave();
		return r;
	}
	return s5_res_nsend(statp, msg, msglen, ans, anslen, "res_nsend");
}

S5_EXPORT int res_send(const unsigned char *msg, int msglen,
		       unsigned char *ans, int anslen)
{
	return send_default(msg, msglen, ans, anslen);
}

S5_EXPORT int __res_send(const unsigned char *msg, int msglen,
			 unsigned char *ans, int anslen)
{
	return send_default(msg, msglen, ans, anslen);
}

S5_EXPORT int res_nsend(res_state statp, const unsigned char *msg,
			int msglen, unsigned char *ans, int anslen)
{
	return send_state(statp, msg, msglen, ans, anslen);
}

S5_EXPORT int __res_nsend(res_state statp, const unsigned char *msg,
			  int msglen, unsigned char *ans, int anslen)
{
	return send_state(statp, msg, msglen, ans, anslen);
}
