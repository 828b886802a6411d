/* S5FD_BIND (kind_bind.h): listeners through the proxy, SOCKS5 BIND.
 *
 * Which listeners (SOCKS5WRAP_BIND=auto, the default): a TCP socket with
 * an ephemeral port (never bound, or bound to port 0), bound to the
 * wildcard address or to the address of a live proxied connection, in a
 * process that has a live proxied connection. Loopback, a fixed port, or
 * no proxied connection: a local listener, as always. `all` takes every
 * TCP listener, `off` none.
 *
 * listen() runs the BIND handshake on the program's own socket, which is
 * then connected to the proxy: the program's descriptor is the one the
 * second reply arrives on, so poll, select and epoll see it turn readable
 * with no help from the library. The request names the destination of
 * the proxied connection the listener belongs to (the one whose address
 * it is bound to; for the wildcard, the last one made), by name when the
 * program connected by name, with port 0: the peer connects from a port
 * of its own choosing (FTP's 20, or any). A socket bound to a proxied
 * connection's address sends BIND at the first getsockname() already:
 * curl asks for the port to announce between bind() and listen().
 *
 * getsockname() on a proxied connection shows the address the proxy
 * connected from (kind_tcp.c), which is what the peer sees and what a
 * program announcing "my address" must name; bind() to that address binds
 * the connection's real local address instead, and marks the socket as
 * belonging to that connection.
 *
 * accept() reads the second reply, never past its end, and returns a
 * duplicate of the descriptor: one BIND gives one connection, and the
 * stream after the reply is the peer's. The listener's number then gets
 * a listening socket of its own that no one can connect to (loopback, a
 * filter that drops every packet), with the listener's flags and epoll
 * registrations: what the program kept as its listener is an idle one
 * again, never readable because of the connection. It takes no further
 * connection (EAGAIN when non-blocking, EINVAL when blocking). Where the
 * program's epoll sets cannot be read the listener stays the connection's
 * other descriptor (same file, same flags), and its close takes it out of
 * those sets. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "conf.h"
#include "fd.h"
#include "fork.h"
#include "hook.h"
#include "kind_bind.h"
#include "kind_conn.h"
#include "kind_tcp.h"
#include "route.h"
#include "s5_log.h"
#include "slab.h"
#include "tcp.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define QUIET_REGS 8 /* epoll registrations a listener's move takes */
#define QUIET_NUMS 8 /* numbers of one listener (its copies) it takes */

enum bind_state {
	B_BOUND,     /* bound to an ephemeral port, not listening yet */
	B_LISTENING, /* the first reply came: waiting for the second */
	B_ACCEPTED,  /* the one connection went to the program */
	B_FAILED,    /* the handshake or the second reply failed */
};

struct s5_bind {
	struct s5_obj obj; /* first */
	pthread_mutex_t lock; /* over hs and the state's changes */
	_Atomic int state;    /* enum bind_state */
	int err;              /* B_FAILED: its -errno */
	bool was_nonblock;    /* B_ACCEPTED: the listener was non-blocking */
	bool quiet;           /* B_ACCEPTED: the listener is a socket of its
				 own again (quiet_listener) */
	bool forked_out;      /* a fork child's: the parent takes the peer */
	/* B_BOUND to the address a proxied connection shows (as_len > 0):
	 * that address will be announced. */
	socklen_t as_len;
	struct sockaddr_storage bound_as;
	/* Set before state becomes B_LISTENING, then never changed. */
	socklen_t local_len;
	struct sockaddr_storage local; /* where the proxy listens */
	struct s5_addr bound;          /* the same, as the first reply said */
	struct s5_addr dst;            /* what the request named */
	struct s5_hs hs;               /* reads the second reply */
};

static struct s5_slab slab = S5_SLAB_INIT(struct s5_bind);

static void release(struct s5_obj *o)
{
	struct s5_bind *b = (struct s5_bind *)o;

	s5_hs_wipe(&b->hs);
	pthread_mutex_destroy(&b->lock);
	s5_slab_free(&slab, o);
}

static const struct s5_obj_ops bind_ops = { .release = release };

static void fork_child(void);

__attribute__((constructor)) static void register_fork(void)
{
	s5_fork_lock(S5_FORK_SLAB_BIND, &slab.lock, fork_child);
}

static struct s5_bind *bind_get(int fd)
{
	return (struct s5_bind *)s5_fd_get(fd, S5FD_BIND);
}

static void bind_put(struct s5_bind *b)
{
	s5_obj_put(&b->obj);
}

/* A TCP socket of an internet family. */
static bool tcp_socket(int fd, struct s5_sock_info *si)
{
	return s5_sock_info(fd, si) == 0 &&
	       (si->domain == AF_INET || si->domain == AF_INET6) &&
	       si->type == SOCK_STREAM &&
	       (si->protocol == IPPROTO_TCP || si->protocol == IPPROTO_MPTCP);
}

/* 1: the wildcard address; 2: loopback; 0: another. IPv4-mapped IPv6
 * counts as IPv4. */
static int addr_class(const struct sockaddr *sa, socklen_t len)
{
	struct s5_addr a;
	static const uint8_t zero[16];
	static const uint8_t one6[16] = { [15] = 1 };

	if (s5_addr_from_sockaddr(&a, sa, len) < 0)
		return 0;
	if (a.atyp == S5_ATYP_IPV4)
		return memcmp(a.u.v4, zero, 4) == 0 ? 1 : a.u.v4[0] == 127 ? 2 : 0;
	return memcmp(a.u.v6, zero, 16) == 0	 ? 1
	       : memcmp(a.u.v6, one6, 16) == 0 ? 2
					       : 0;
}

static int through_proxy(int fd, bool early);

/* Records that fd is bound to an ephemeral port. */
static void remember_bound(int fd, const struct sockaddr *as,
			   socklen_t as_len)
{
	struct s5_bind *b = s5_slab_alloc(&slab);

	if (b == NULL)
		return; /* listen() then sees a fixed port: a local listener */
	pthread_mutex_init(&b->lock, NULL);
	atomic_store(&b->state, B_BOUND);
	b->as_len = 0;
	if (as != NULL && as_len <= sizeof(b->bound_as)) {
		memcpy(&b->bound_as, as, as_len);
		b->as_len = as_len;
	}
	s5_obj_init(&b->obj, &bind_ops);
	(void)s5_fd_attach(fd, S5FD_BIND, &b->obj);
}

int s5_bind_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage mine;
	struct s5_sock_info si;
	struct s5_tcp_live live;
	const struct sockaddr *use = sa;
	socklen_t ulen = len;
	struct s5_addr a;
	bool conn_bound = false;
	uint16_t port;
	int n;

	if (s5_cfg.bind == S5_BIND_OFF || sa == NULL ||
	    len < sizeof(sa_family_t) || !s5_sa_port(sa, len, &port) ||
	    !tcp_socket(fd, &si) || si.domain != sa->sa_family)
		return S5_PASS;
	/* dante's client shows a proxied connection's address as the proxy
	 * gave it (what the peer sees), and so does this library; a program
	 * that binds its listener to that address (curl --ftp-port -)
	 * means the connection's own side. */
	if (addr_class(sa, len) == 0 && s5_tcp_find_live(sa, len, &live) &&
	    s5_addr_from_sockaddr(&a, (struct sockaddr *)&live.real_local,
				  live.real_len) == 0) {
		conn_bound = true;
		a.port = port;
		n = s5_addr_to_sockaddr(&a, si.domain, &mine);
		if (n > 0) {
			use = (struct sockaddr *)&mine;
			ulen = (socklen_t)n;
		}
	}
	if (real.bind(fd, use, ulen) < 0)
		return -errno;
	if (port == 0)
		remember_bound(fd, conn_bound ? sa : NULL, len);
	return 0;
}

bool s5_bind_local(int fd, struct sockaddr_storage *out, socklen_t *len)
{
	struct s5_bind *b;
	bool ok;

	b = bind_get(fd);
	if (b == NULL)
		return false;
	if (b->as_len > 0 && atomic_load(&b->state) == B_BOUND)
		(void)through_proxy(fd, true);
	ok = atomic_load(&b->state) == B_LISTENING ||
	     atomic_load(&b->state) == B_ACCEPTED;
	if (ok) {
		memcpy(out, &b->local, b->local_len);
		*len = b->local_len;
	}
	bind_put(b);
	return ok;
}

void s5_bind_closing(int fd)
{
	struct s5_bind *b = bind_get(fd);
	struct s5_obj *other;

	if (b == NULL)
		return;
	/* The connection the listener gave holds the same file open, so the
	 * kernel will not drop the listener's epoll registrations: events of
	 * the connection would come with the listener's data after its
	 * close. Unless another copy of the listener stays. */
	if (atomic_load(&b->state) == B_ACCEPTED && !b->quiet) {
		other = s5_fd_find_same(fd, S5FD_BIND);
		if (other != NULL)
			s5_obj_put(other);
		else
			s5_epoll_forget(fd);
	}
	bind_put(b);
}

bool s5_bind_listening(int fd)
{
	struct s5_bind *b = bind_get(fd);
	int st;

	if (b == NULL)
		return false;
	st = atomic_load(&b->state);
	bind_put(b);
	return st == B_LISTENING || st == B_ACCEPTED;
}

/* What listen() does with fd: true for BIND, with *live the proxied
 * connection it belongs to (live->fd -1 for none). */
static bool wants_bind(int fd, const struct s5_bind *b,
		       struct s5_tcp_live *live)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);
	bool ephemeral = b != NULL;
	uint16_t port;
	int cls;

	live->fd = -1;
	if (real.getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    real.getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
		return false; /* the kernel answers (EINVAL when connected) */
	cls = addr_class((struct sockaddr *)&local, llen);
	/* Bound to the address one connection shows: that one, even when
	 * several share the real local address. */
	if (b != NULL && b->as_len > 0 &&
	    s5_tcp_find_live((const struct sockaddr *)&b->bound_as, b->as_len,
			     live))
		cls = 0;
	else if (cls == 1)
		(void)s5_tcp_find_live(NULL, 0, live);
	else if (cls == 0)
		(void)s5_tcp_find_live((struct sockaddr *)&local, llen, live);
	if (s5_cfg.bind == S5_BIND_ALL)
		return true;
	/* A socket never bound has port 0 here. */
	if (s5_sa_port((struct sockaddr *)&local, llen, &port) && port == 0)
		ephemeral = true;
	return ephemeral && cls != 2 && live->fd >= 0;
}

/* The request's destination: the connection's peer as the program named
 * it (a fake address becomes its name again), port 0. */
static void request_dst(const struct s5_tcp_live *live, struct s5_addr *dst)
{
	bool fake;

	memset(dst, 0, sizeof(*dst));
	dst->atyp = S5_ATYP_IPV4;
	if (live->fd < 0)
		return;
	if (s5_route_dst((struct sockaddr *)&live->peer, live->plen, dst,
			 &fake) != 0 &&
	    s5_addr_from_sockaddr(dst, (struct sockaddr *)&live->peer,
				  live->plen) < 0) {
		memset(dst, 0, sizeof(*dst));
		dst->atyp = S5_ATYP_IPV4;
	}
	dst->port = 0;
}

static void log_listen(const struct s5_bind *b, const struct sockaddr *proxy,
		       socklen_t plen, int r, int64_t ms)
{
	enum s5log_level lvl = r < 0 ? S5LOG_ERROR : S5LOG_INFO;
	struct s5log_line l;

	if (!s5log_enabled(lvl))
		return;
	s5log_begin(&l, lvl);
	s5log_str(&l, "listen: BIND for ");
	s5log_s5addr(&l, &b->dst);
	s5log_str(&l, " via ");
	s5_log_via(&l, proxy, plen, &b->hs);
	if (r == 0) {
		s5log_str(&l, ": the proxy listens at ");
		s5log_sockaddr(&l, (const struct sockaddr *)&b->local,
			       b->local_len);
	} else if (b->hs.state == S5HS_DONE) {
		s5log_str(&l, ": the address the proxy listens at cannot be "
			      "shown on this socket (");
		s5log_errno(&l, -r);
		s5log_str(&l, ")");
	} else {
		s5_log_hs_result(&l, &b->hs, r);
	}
	s5log_str(&l, " in ");
	s5log_int(&l, (long long)ms);
	s5log_str(&l, " ms");
	s5log_end(&l);
}

/* The BIND handshake on fd, up to the first reply. b->lock held. */
static int run_bind(struct s5_bind *b, int fd, int domain,
		    const struct s5_tcp_live *live)
{
	const struct s5_config *c = &s5_cfg;
	struct sockaddr_storage proxy;
	struct s5_try t;
	socklen_t plen;
	int64_t t0 = s5_now_ms();
	int r;

	request_dst(live, &b->dst);
	if (!s5_proxy_ready()) {
		s5_report_config_error();
		return -ECONNREFUSED;
	}
	if (s5_pick_first(fd, domain, &t, &proxy, &plen) < 0) {
		s5log_msg(S5LOG_ERROR, "listen: the proxy has no address this "
				       "socket's family can reach",
			  (const char *)NULL);
		return -EAFNOSUPPORT;
	}
	for (;;) {
		s5_try_hs(&t, &b->hs, S5_CMD_BIND, &b->dst);
		r = s5_proxy_connect(fd, (struct sockaddr *)&proxy, plen,
				     &b->hs, &s5_io_real, c->timeout_ms);
		s5_hs_wipe(&b->hs);
		if (r == 0 || s5_pick_next(fd, domain, &t, &b->hs, r, &proxy,
					   &plen) < 0)
			break;
	}
	if (r == 0) {
		s5_try_alive(&t);
		b->bound = b->hs.reply.bound;
		r = s5_bnd_sockaddr(fd, domain, &b->bound, &b->local);
		if (r > 0) {
			b->local_len = (socklen_t)r;
			r = 0;
		}
	}
	log_listen(b, (struct sockaddr *)&proxy, plen, r, s5_now_ms() - t0);
	if (r < 0)
		return r;
	s5_hs_await_peer(&b->hs);
	b->hs.give_eintr = true;
	return 0;
}

/* listen(), or (early) getsockname() before listen() on a socket bound
 * to a proxied connection's address: curl asks for the port it will
 * announce before it listens. S5_PASS: a local listener (or, early, not
 * yet known). */
static int through_proxy(int fd, bool early)
{
	struct s5_tcp_live live;
	struct s5_sock_info si;
	struct s5_bind *b;
	int r = 0, st;

	if (s5_cfg.bind == S5_BIND_OFF || !tcp_socket(fd, &si))
		return S5_PASS;
	b = bind_get(fd);
	if (early && (b == NULL || b->as_len == 0 ||
		      atomic_load(&b->state) != B_BOUND)) {
		if (b != NULL)
			bind_put(b);
		return S5_PASS;
	}
	st = b != NULL ? atomic_load(&b->state) : B_BOUND;
	if (st == B_LISTENING || st == B_ACCEPTED) {
		bind_put(b); /* listen() again: only the backlog changes */
		return 0;
	}
	if (st == B_FAILED) {
		r = b->err; /* never a local listener after a failed BIND */
		bind_put(b);
		return r;
	}
	if (!wants_bind(fd, b, &live)) {
		if (b != NULL)
			bind_put(b);
		return S5_PASS;
	}
	if (b == NULL) {
		remember_bound(fd, NULL, 0);
		b = bind_get(fd);
		if (b == NULL)
			return -ENOMEM;
	}
	pthread_mutex_lock(&b->lock);
	if (atomic_load(&b->state) == B_BOUND) {
		r = run_bind(b, fd, si.domain, &live);
		if (r < 0) {
			/* Nothing half done may reach the proxy as data. */
			real.shutdown(fd, SHUT_RDWR);
			b->err = r;
		}
		atomic_store(&b->state, r < 0 ? B_FAILED : B_LISTENING);
	} else if (atomic_load(&b->state) == B_FAILED) {
		r = b->err;
	}
	pthread_mutex_unlock(&b->lock);
	bind_put(b);
	return r;
}

int s5_bind_listen(int fd)
{
	return through_proxy(fd, false);
}

static void log_accept(const struct s5_bind *b, const struct sockaddr *peer,
		       socklen_t plen, int r)
{
	enum s5log_level lvl = r < 0 && b->hs.reply.rep == S5_REP_SUCCEEDED
				       ? S5LOG_ERROR
				       : S5LOG_INFO;
	struct s5log_line l;

	if (!s5log_enabled(lvl))
		return;
	s5log_begin(&l, lvl);
	s5log_str(&l, "accept: BIND for ");
	s5log_s5addr(&l, &b->dst);
	if (r >= 0) {
		s5log_str(&l, ": ");
		s5log_sockaddr(&l, peer, plen);
		s5log_str(&l, " connected");
	} else {
		s5_log_hs_result(&l, &b->hs, r);
	}
	s5log_end(&l);
}

/* A listening socket nobody can connect to: bound to loopback, with a
 * socket filter that drops every packet (a SYN too), with file status
 * flags fl (the listener's). -1 if not made. */
static int inert_listener(int domain, int fl)
{
	static struct sock_filter drop[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { .len = 1, .filter = drop };
	struct sockaddr_storage lo;
	socklen_t llen;
	int s;

	memset(&lo, 0, sizeof(lo));
	if (domain == AF_INET) {
		struct sockaddr_in *l4 = (struct sockaddr_in *)&lo;

		l4->sin_family = AF_INET;
		l4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		llen = sizeof(*l4);
	} else {
		struct sockaddr_in6 *l6 = (struct sockaddr_in6 *)&lo;

		l6->sin6_family = AF_INET6;
		l6->sin6_addr = in6addr_loopback;
		llen = sizeof(*l6);
	}
	s = real.socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (real.setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			    sizeof(prog)) < 0 ||
	    real.bind(s, (struct sockaddr *)&lo, llen) < 0 ||
	    real.listen(s, 1) < 0 || real.fcntl(s, F_SETFL, fl) < 0) {
		real.close(s);
		return -1;
	}
	return s;
}

/* The program's numbers for the listener: fd, and the copies it made
 * (dup and friends share the entry's object). */
static int listener_numbers(struct s5_bind *b, int fd, int *nums)
{
	struct s5_obj *o;
	int n = 1, x = -1;

	nums[0] = fd;
	while (n < QUIET_NUMS &&
	       (x = s5_fd_next((unsigned int)(x + 1), S5FD_BIND)) >= 0) {
		if (x == fd)
			continue;
		/* The record first: other listeners' numbers are other
		 * threads' business; only the copies of this one are
		 * looked at (s5_fd_get checks the file). */
		o = s5_fd_peek(x, S5FD_BIND);
		if (o == NULL)
			continue;
		s5_obj_put(o);
		if (o != &b->obj)
			continue;
		o = s5_fd_get(x, S5FD_BIND);
		if (o == &b->obj)
			nums[n++] = x;
		if (o != NULL)
			s5_obj_put(o);
	}
	return x >= 0 && n == QUIET_NUMS ? -1 : n;
}

/* Puts inert under the program's number num (its close-on-exec flag
 * kept), and b's entry on it. False when num stays what it was. */
static bool put_inert(struct s5_bind *b, int inert, int num)
{
	int fdfl = real.fcntl(num, F_GETFD);

	if (fdfl < 0 ||
	    real.dup3(inert, num, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
		return false;
	/* The entry now stands for the new file. */
	if (s5_obj_ref(&b->obj))
		(void)s5_fd_attach(num, S5FD_BIND, &b->obj);
	return true;
}

/* After the accept: the listener's number gets a listening socket of its
 * own that never takes a connection, so the listener behaves as one that
 * took its one connection: never readable again (the connection's data
 * and end are the connection's), its file status flags its own, ENOTCONN
 * and SO_ACCEPTCONN from the kernel. Its registrations in the program's
 * epoll sets move along (the kernel keys them by file: left alone they
 * would report the connection). Not done when a set cannot be read: the
 * listener then stays the connection's other descriptor. fl: the
 * listener's file status flags; its copies (dup) move too. b->lock
 * held. */
static void quiet_listener(struct s5_bind *b, int fd, int domain, int fl)
{
	struct s5_epoll_at regs[QUIET_NUMS][QUIET_REGS];
	int nums[QUIET_NUMS], nregs[QUIET_NUMS];
	struct epoll_event ev;
	int inert, n, i, k;

	n = listener_numbers(b, fd, nums);
	if (n < 0 || fl < 0)
		return; /* too many copies: they stay the connection's */
	for (i = 0; i < n; i++) {
		nregs[i] = s5_epoll_regs(nums[i], regs[i], QUIET_REGS);
		if (nregs[i] < 0)
			return;
	}
	inert = inert_listener(domain, fl);
	if (inert < 0)
		return;
	for (i = 0; i < n; i++) {
		for (k = 0; k < nregs[i]; k++)
			(void)real.epoll_ctl(regs[i][k].epfd, EPOLL_CTL_DEL,
					     nums[i], NULL);
		/* Not moved: it stays the connection's, registered again. */
		if (put_inert(b, inert, nums[i]) && nums[i] == fd)
			b->quiet = true;
		for (k = 0; k < nregs[i]; k++) {
			ev.events = regs[i][k].events;
			ev.data.u64 = regs[i][k].data;
			(void)real.epoll_ctl(regs[i][k].epfd, EPOLL_CTL_ADD,
					     nums[i], &ev);
		}
	}
	real.close(inert);
}

/* In a fork child, a listener still waiting for its peer: the parent
 * takes the connection (it may be waiting in accept() already), and the
 * child's copy must not hold the socket that becomes the connection, or
 * the peer would not see the parent close it. The child's numbers get an
 * idle listener of their own; its epoll sets are the parent's too, and
 * stay as they are. Only system calls: this runs right after fork. */
static void fork_child(void)
{
	struct s5_sock_info si;
	struct s5_bind *b;
	int fd = -1, inert, fl;

	while ((fd = s5_fd_next((unsigned int)(fd + 1), S5FD_BIND)) >= 0) {
		b = bind_get(fd);
		if (b == NULL)
			continue;
		/* A thread of the parent's may have held it (accept). */
		pthread_mutex_init(&b->lock, NULL);
		if ((atomic_load(&b->state) == B_LISTENING || b->forked_out) &&
		    s5_sock_info(fd, &si) == 0 &&
		    (fl = real.fcntl(fd, F_GETFL)) >= 0 &&
		    (inert = inert_listener(si.domain, fl)) >= 0) {
			if (put_inert(b, inert, fd))
				b->forked_out = true;
			real.close(inert);
		}
		bind_put(b);
	}
	/* Copies share one object: its state changes once all moved. */
	for (fd = s5_fd_next(0, S5FD_BIND); fd >= 0;
	     fd = s5_fd_next((unsigned int)fd + 1, S5FD_BIND)) {
		b = bind_get(fd);
		if (b == NULL)
			continue;
		if (b->forked_out) {
			b->quiet = true;
			atomic_store(&b->state, B_ACCEPTED);
		}
		bind_put(b);
	}
}

/* The connection, once the second reply came: a new descriptor for the
 * socket, with accept4's flags. b->lock held. */
static int take_connection(struct s5_bind *b, int fd, int domain,
			   struct sockaddr *sa, socklen_t *len, int flags)
{
	struct sockaddr_storage peer;
	socklen_t plen, room = len != NULL ? *len : 0;
	int nfd, fl, n;

	n = s5_addr_to_sockaddr(&b->hs.reply.bound, domain, &peer);
	if (n < 0) { /* a name, or IPv6 on an IPv4 socket: unspecified */
		memset(&peer, 0, sizeof(peer));
		peer.ss_family = (sa_family_t)domain;
		n = domain == AF_INET ? (int)sizeof(struct sockaddr_in)
				      : (int)sizeof(struct sockaddr_in6);
	}
	plen = (socklen_t)n;
	nfd = real.fcntl(fd, (flags & SOCK_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD,
			 0);
	if (nfd < 0)
		return -errno; /* EMFILE: the reply is in; accept may retry */
	fl = real.fcntl(fd, F_GETFL);
	b->was_nonblock = fl >= 0 && (fl & O_NONBLOCK);
	quiet_listener(b, fd, domain, fl);
	if (fl >= 0)
		(void)real.fcntl(nfd, F_SETFL,
				 (flags & SOCK_NONBLOCK) ? fl | O_NONBLOCK
							 : fl & ~O_NONBLOCK);
	(void)s5_tcp_mark(nfd, (struct sockaddr *)&peer, plen, &b->bound,
			  S5_TCP_ACCEPTED);
	atomic_store(&b->state, B_ACCEPTED);
	log_accept(b, (struct sockaddr *)&peer, plen, nfd);
	if (sa != NULL && len != NULL)
		s5_give_addr(sa, len, room, &peer, plen);
	return nfd;
}

int s5_bind_accept(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	struct s5_bind *b = bind_get(fd);
	struct s5_sock_info si;
	bool nonblock;
	int r, fl;

	if (b == NULL)
		return S5_PASS;
	if (atomic_load(&b->state) == B_BOUND || !tcp_socket(fd, &si)) {
		bind_put(b);
		return S5_PASS; /* not listening: the kernel's EINVAL */
	}
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
		bind_put(b);
		return -EINVAL;
	}
	fl = real.fcntl(fd, F_GETFL);
	nonblock = fl >= 0 && (fl & O_NONBLOCK);
	if (nonblock ? pthread_mutex_trylock(&b->lock) != 0
		     : pthread_mutex_lock(&b->lock) != 0) {
		bind_put(b);
		return -EAGAIN; /* another thread is taking it */
	}
	switch (atomic_load(&b->state)) {
	case B_LISTENING:
		r = s5_hs_step(&b->hs, fd,
			       nonblock ? &s5_io_real_nb : &s5_io_real);
		/* -EAGAIN: not yet (or SO_RCVTIMEO ran out); -EINTR: a
		 * signal; both leave what was read for the next call. */
		if (r == 0) {
			r = take_connection(b, fd, si.domain, sa, len, flags);
		} else if (r != -EAGAIN && r != -EINTR) {
			b->err = r;
			atomic_store(&b->state, B_FAILED);
			log_accept(b, NULL, 0, r);
			real.shutdown(fd, SHUT_RDWR);
		}
		break;
	case B_ACCEPTED:
		/* Unless it moved, the listener's flags are the connection's
		 * too: what it had at the accept counts then. */
		if (!b->quiet)
			nonblock = nonblock || b->was_nonblock;
		r = nonblock ? -EAGAIN : -EINVAL;
		if (r == -EINVAL)
			s5log_msg(S5LOG_ERROR, "accept: a listener through the "
					       "proxy takes one connection",
				  (const char *)NULL);
		break;
	default: /* B_FAILED: reported once, by the call that failed */
		r = -EINVAL;
		break;
	}
	pthread_mutex_unlock(&b->lock);
	bind_put(b);
	return r;
}
