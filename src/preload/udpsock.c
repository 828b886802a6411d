/* S5FD_UDP: per-socket UDP state and its associations (udpsock.h).
 *
 * One struct s5_udp_sock per UDP socket, shared by every descriptor that
 * refers to it (dup, dup2, fcntl F_DUPFD): each descriptor's table entry
 * holds a reference, and each operation takes one for its duration. An
 * association is an object of its own (struct s5_udp_assoc), also
 * reference counted, that owns its control connection: only
 * assoc_kill() closes that descriptor, under udp_lock, through the table
 * (which checks it is still ours).
 *
 * Locks: udp_lock guards association changes and the virtual peer (rare
 * operations), but not the handshake itself: a socket being associated is
 * marked with the associating process's pid, and other threads that need
 * that same socket wait on udp_cond, while other sockets go on (one
 * stalled proxy must not hold up every socket). Lock order: udp_lock,
 * then the fd table (lock-free), then the slab locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fork.h"
#include "hook.h"
#include "kind_internal.h"
#include "names.h"
#include "route.h"
#include "slab.h"
#include "tcp.h"
#include "udpsock.h"
#include "s5_log.h"

static pthread_mutex_t udp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t udp_cond = PTHREAD_COND_INITIALIZER;

static struct s5_slab sock_slab = S5_SLAB_INIT(struct s5_udp_sock);
static struct s5_slab assoc_slab = S5_SLAB_INIT(struct s5_udp_assoc);

void s5_udp_lock(void)
{
	pthread_mutex_lock(&udp_lock);
}

void s5_udp_unlock(void)
{
	pthread_mutex_unlock(&udp_lock);
}

/* ---- associations ----------------------------------------------------- */

/* Closes the control connection (once); the caller holds udp_lock. */
static void assoc_kill_locked(struct s5_udp_assoc *a)
{
	int ctl = atomic_exchange(&a->ctl_fd, -1);

	if (ctl >= 0)
		s5_internal_close(ctl);
}

static void assoc_release(struct s5_obj *o)
{
	struct s5_udp_assoc *a = (struct s5_udp_assoc *)o;

	pthread_mutex_lock(&udp_lock);
	assoc_kill_locked(a);
	pthread_mutex_unlock(&udp_lock);
	s5_slab_free(&assoc_slab, a);
}

/* The control connection moved to another number (a program wanted its
 * number): kind_internal.c tells us. */
static void assoc_moved(struct s5_obj *o, int oldfd, int newfd)
{
	struct s5_udp_assoc *a = (struct s5_udp_assoc *)o;

	pthread_mutex_lock(&udp_lock);
	atomic_compare_exchange_strong(&a->ctl_fd, &oldfd, newfd);
	pthread_mutex_unlock(&udp_lock);
}

static const struct s5_obj_ops assoc_ops = {
	.release = assoc_release,
	.moved = assoc_moved,
};

/* The real libc calls for the udp layer's seam. */
static ssize_t real_recv_fn(int fd, void *buf, size_t len, int flags)
{
	return real.recv(fd, buf, len, flags);
}

static const struct s5_udp_io ctl_io = {
	.recv = real_recv_fn,
	.now_ms = s5_now_ms,
};

/* assoc_live() with udp_lock held. */
static bool assoc_live_locked(struct s5_udp_assoc *a, int64_t now)
{
	int ctl = atomic_load(&a->ctl_fd);
	bool open, ours;

	if (ctl < 0)
		return false;
	if (now - atomic_load(&a->checked_ms) < S5_UDP_CHECK_MS)
		return true;
	/* Section 7: the association ends when the control connection
	 * does, or when it is no longer ours at all (closed behind the
	 * hooks' back, by a raw close_range). */
	ours = s5_fd_is_internal(ctl);
	open = ours && s5_udp_ctl_open(ctl, &ctl_io);
	if (open)
		atomic_store(&a->checked_ms, now);
	else if (ours)
		assoc_kill_locked(a);
	else
		atomic_store(&a->ctl_fd, -1); /* not ours to close */
	return open;
}

/* True while a's control connection is open. Checking costs system
 * calls, so at most every S5_UDP_CHECK_MS; the check itself runs under
 * udp_lock, so the descriptor cannot be closed or moved meanwhile. */
static bool assoc_live(struct s5_udp_assoc *a)
{
	int64_t now = s5_now_ms();
	bool open;

	if (atomic_load(&a->ctl_fd) < 0)
		return false;
	if (now - atomic_load(&a->checked_ms) < S5_UDP_CHECK_MS)
		return true;
	pthread_mutex_lock(&udp_lock);
	open = assoc_live_locked(a, now);
	pthread_mutex_unlock(&udp_lock);
	return open;
}

static void log_assoc(const struct sockaddr *proxy, socklen_t plen,
		      const struct s5_hs *hs, int r)
{
	enum s5log_level lvl = r == 0 ? S5LOG_INFO : S5LOG_ERROR;
	struct s5log_line l;

	if (!s5log_enabled(lvl))
		return;
	s5log_begin(&l, lvl);
	s5log_str(&l, "udp associate via ");
	s5log_sockaddr(&l, proxy, plen);
	s5_log_hs_result(&l, hs, r);
	if (r < 0)
		s5log_str(&l, "; datagrams are not sent");
	s5log_end(&l);
}

/* The proxy address to associate with. The request's address family
 * decides the relay's (dante answers an IPv4 request with its IPv4 relay
 * even over IPv6): an IPv6 socket asks with "::" when the proxy has an
 * IPv6 address, so an IPV6_V6ONLY socket gets a relay it can reach. */
static socklen_t assoc_proxy(const struct s5_proxy *p, int family,
			     struct sockaddr_storage *proxy,
			     struct s5_addr *any)
{
	memset(any, 0, sizeof(*any));
	if ((family == AF_INET6 && p->has6) || !p->has4) {
		memcpy(proxy, &p->addr6, sizeof(p->addr6));
		any->atyp = S5_ATYP_IPV6;
		return sizeof(p->addr6);
	}
	memcpy(proxy, &p->addr4, sizeof(p->addr4));
	any->atyp = S5_ATYP_IPV4;
	return sizeof(p->addr4);
}

/* SOCKS5 has no way to nest UDP ASSOCIATE: the datagrams would go to the
 * last proxy's relay straight from here, around the others. Said once as
 * an error, then at info. */
static bool chain_refuses_udp(void)
{
	static _Atomic bool said;

	if (!s5_cfg.chain || s5_cfg.n_proxies < 2)
		return false;
	s5log_msg(atomic_exchange(&said, true) ? S5LOG_INFO : S5LOG_ERROR,
		  "udp datagram refused: SOCKS5 cannot carry UDP through a "
		  "chain of proxies (SOCKS5WRAP_CHAIN=1)",
		  (const char *)NULL);
	return true;
}

/* One attempt: a control connection on a fresh internal descriptor to
 * the proxy t names, UDP ASSOCIATE on it. Returns 0 or -errno; the
 * descriptor is a's ctl_fd either way. */
static int assoc_try(struct s5_udp_assoc *a, const struct s5_try *t,
		     int family, struct sockaddr_storage *proxy,
		     socklen_t *plen, struct s5_hs *hs)
{
	struct s5_addr any;
	int ctl, old;

	*plen = assoc_proxy(s5_try_proxy(t), family, proxy, &any);
	old = atomic_exchange(&a->ctl_fd, -1);
	if (old >= 0)
		s5_internal_close(old);
	s5_hs_init(hs, 0, NULL, false, NULL, 0, NULL, 0);
	ctl = real.socket(proxy->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl < 0)
		return -errno;
	ctl = s5_internal_adopt(ctl, &a->obj);
	atomic_store(&a->ctl_fd, ctl);
	s5_try_hs(t, hs, S5_CMD_UDP_ASSOCIATE, &any);
	return s5_proxy_connect(ctl, (struct sockaddr *)proxy, *plen, hs,
				&s5_io_real, s5_cfg.timeout_ms);
}

/* A control connection, UDP ASSOCIATE on it, and the relay from the
 * reply; with a failover list, the proxies in turn. The request names
 * 0.0.0.0:0: the client does not know the address the proxy will see
 * (RFC 1928 section 7 allows zeros), and servers match it against their
 * rules as such. */
static struct s5_udp_assoc *associate(int family, int fd, int *err)
{
	struct sockaddr_storage proxy;
	struct s5_udp_assoc *a;
	struct s5_try t;
	struct s5_hs hs;
	socklen_t plen;
	int r;

	if (chain_refuses_udp()) {
		*err = -EPERM;
		return NULL;
	}
	a = s5_slab_alloc(&assoc_slab);
	if (a == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	s5_udp_init(&a->u, family);
	atomic_store(&a->ctl_fd, -1);
	s5_obj_init(&a->obj, &assoc_ops);
	s5_try_begin(&t, &s5_cfg, s5_pool());
	for (;;) {
		r = assoc_try(a, &t, family, &proxy, &plen, &hs);
		s5_hs_wipe(&hs);
		if (r == 0 || !s5_try_failed(&t, &hs, r))
			break;
	}
	if (r == 0) {
		s5_try_alive(&t);
		r = s5_udp_set_relay(&a->u, &hs.reply.bound,
				     (struct sockaddr *)&proxy, plen,
				     family == AF_INET6 && s5_v6only(fd));
		if (r < 0)
			hs.why = "the relay address cannot be used from this "
				 "socket";
	}
	log_assoc((struct sockaddr *)&proxy, plen, &hs, r);
	if (r < 0) {
		*err = r;
		s5_obj_put(&a->obj); /* closes ctl */
		return NULL;
	}
	atomic_store(&a->checked_ms, s5_now_ms());
	return a;
}

/* ---- sockets ---------------------------------------------------------- */

static void sock_release(struct s5_obj *o)
{
	struct s5_udp_sock *s = (struct s5_udp_sock *)o;
	struct s5_udp_assoc *a = atomic_exchange(&s->assoc, NULL);

	if (a != NULL)
		s5_obj_put(&a->obj);
	s5_slab_free(&sock_slab, s);
}

static const struct s5_obj_ops sock_ops = { .release = sock_release };

struct s5_udp_sock *s5_udp_sock_new(int family)
{
	struct s5_udp_sock *s = s5_slab_alloc(&sock_slab);

	if (s == NULL)
		return NULL;
	s->family = family;
	s5_obj_init(&s->obj, &sock_ops);
	return s;
}

struct s5_udp_sock *s5_udp_sock_get(int fd)
{
	return (struct s5_udp_sock *)s5_fd_get(fd, S5FD_UDP);
}

struct s5_udp_assoc *s5_udp_sock_assoc(struct s5_udp_sock *s)
{
	struct s5_udp_assoc *a;
	int tries;

	for (tries = 0; tries < 64; tries++) {
		a = atomic_load(&s->assoc);
		if (a == NULL || !s5_obj_ref(&a->obj))
			return NULL;
		if (atomic_load(&s->assoc) == a)
			return a;
		s5_obj_put(&a->obj);
	}
	return NULL;
}

/* Publishes a as s's association (udp_lock held); returns the old one,
 * its control connection closed, for the caller to drop after unlocking
 * (put_all). */
static struct s5_udp_assoc *replace_locked(struct s5_udp_sock *s,
					   struct s5_udp_assoc *a)
{
	struct s5_udp_assoc *old = atomic_exchange(&s->assoc, a);

	if (old != NULL)
		assoc_kill_locked(old);
	return old;
}

/* Drops the references in drop[] (udp_lock not held: a last one takes
 * it to close its control connection). */
static void put_all(struct s5_udp_assoc **drop, int n)
{
	while (n-- > 0)
		if (drop[n] != NULL)
			s5_obj_put(&drop[n]->obj);
}

struct s5_udp_assoc *s5_udp_sock_ready(struct s5_udp_sock *s, int fd,
				       int *err)
{
	struct s5_udp_assoc *a = s5_udp_sock_assoc(s), *drop[3] = { 0 };
	pid_t me;

	if (a != NULL && assoc_live(a))
		return a;
	drop[0] = a;
	me = getpid();
	pthread_mutex_lock(&udp_lock);
	/* Another thread of this process is associating this socket: wait
	 * for its result. (A pid from before a fork is not waited for: that
	 * thread does not exist in the child.) */
	while (s->assoc_pid == me)
		pthread_cond_wait(&udp_cond, &udp_lock);
	a = s5_udp_sock_assoc(s);
	if (a != NULL && assoc_live_locked(a, s5_now_ms()))
		goto out;
	drop[1] = a;
	a = NULL;
	if (s->refused) {
		*err = s->refused;
		goto out;
	}
	if (atomic_load(&s->associated))
		/* The control connection went away (proxy restart): one new
		 * association; if that fails too, the send fails. */
		s5log_msg(S5LOG_WARN,
			  "udp association lost; associating again", NULL);
	s->assoc_pid = me;
	pthread_mutex_unlock(&udp_lock);
	put_all(drop, 2);
	drop[0] = drop[1] = NULL;
	a = associate(s->family, fd, err);
	pthread_mutex_lock(&udp_lock);
	s->assoc_pid = 0;
	if (a != NULL) {
		/* One reference for the socket, one for the caller. */
		s5_obj_ref(&a->obj);
		drop[2] = replace_locked(s, a);
		atomic_store(&s->associated, true);
	} else if (*err == -EOPNOTSUPP || *err == -EACCES) {
		/* A proxy that refuses UDP ASSOCIATE will refuse it again:
		 * every later send fails at once, without a new connection. */
		s->refused = *err;
	}
	pthread_cond_broadcast(&udp_cond);
out:
	pthread_mutex_unlock(&udp_lock);
	put_all(drop, 3);
	return a;
}

void s5_udp_sock_drop_assoc(struct s5_udp_sock *s)
{
	struct s5_udp_assoc *a = s5_udp_sock_assoc(s);

	if (a == NULL)
		return;
	pthread_mutex_lock(&udp_lock);
	assoc_kill_locked(a);
	pthread_mutex_unlock(&udp_lock);
	s5_obj_put(&a->obj);
}

/* ---- fork --------------------------------------------------------------- */

static void renew_cond(void)
{
	pthread_cond_init(&udp_cond, NULL);
}

__attribute__((constructor)) static void register_fork(void)
{
	s5_fork_lock(S5_FORK_UDP, &udp_lock, renew_cond);
	s5_fork_lock(S5_FORK_SLAB_SOCK, &sock_slab.lock, NULL);
	s5_fork_lock(S5_FORK_SLAB_ASSOC, &assoc_slab.lock, NULL);
}
