/* Per-socket UDP state: the association with the proxy's relay, the
 * program's virtual peer, and the names it sent to.
 *
 * One struct s5_udp_sock per UDP socket, shared by every descriptor that
 * refers to the socket (dup, dup2, fcntl F_DUPFD): each descriptor holds a
 * reference, each operation takes one for its duration. The structs come
 * from type-stable memory (slabs that are never unmapped, recycled through
 * a free list), and a reference is only taken while the count is above
 * zero, so a thread that races a close() on the same descriptor never
 * touches freed memory.
 *
 * Locks: udp_lock guards the association's state changes and the virtual
 * peer (rare operations), but not the handshake itself: a socket being
 * associated is marked with the associating process's pid, and other
 * threads that need that same socket wait on udp_cond, while other
 * sockets go on (one stalled proxy must not hold up every socket). The
 * send and receive paths read the association without the lock; the
 * relay is stored before ctl_fd, which is published with release
 * semantics. Lock order: udp_lock, then the fd table (lock-free).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "preload.h"
#include "s5_dns.h"
#include "s5_log.h"

static pthread_mutex_t udp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t udp_cond = PTHREAD_COND_INITIALIZER;

/* ---- type-stable allocation ------------------------------------------- */

#define S5_UDP_SLAB (64u * 1024u)

static pthread_mutex_t slab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct s5_udp_sock *free_list; /* guarded by slab_lock */

static struct s5_udp_sock *sock_alloc(void)
{
	struct s5_udp_sock *s;
	size_t i, n = S5_UDP_SLAB / sizeof(*s);
	char *slab;

	pthread_mutex_lock(&slab_lock);
	if (free_list == NULL) {
		slab = mmap(NULL, S5_UDP_SLAB, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (slab == MAP_FAILED) {
			pthread_mutex_unlock(&slab_lock);
			return NULL;
		}
		for (i = 0; i < n; i++) {
			s = (struct s5_udp_sock *)(void *)(slab +
							   i * sizeof(*s));
			s->next_free = free_list;
			free_list = s;
		}
	}
	s = free_list;
	free_list = s->next_free;
	pthread_mutex_unlock(&slab_lock);
	return s;
}

static void sock_free(struct s5_udp_sock *s)
{
	pthread_mutex_lock(&slab_lock);
	s->next_free = free_list;
	free_list = s;
	pthread_mutex_unlock(&slab_lock);
}

struct s5_udp_sock *s5_udp_sock_new(int family)
{
	struct s5_udp_sock *s = sock_alloc();

	if (s == NULL)
		return NULL;
	/* refs last: until it is 1, s5_udp_sock_get cannot take it. */
	memset((char *)s + sizeof(s->refs), 0, sizeof(*s) - sizeof(s->refs));
	s5_udp_init(&s->u, family);
	atomic_store(&s->refs, 1);
	return s;
}

bool s5_udp_sock_ref(struct s5_udp_sock *s)
{
	int r = atomic_load(&s->refs);

	while (r > 0)
		if (atomic_compare_exchange_weak(&s->refs, &r, r + 1))
			return true;
	return false;
}

void s5_udp_sock_put(struct s5_udp_sock *s)
{
	int ctl;

	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	ctl = s->u.ctl_fd;
	if (ctl >= 0) {
		s5_fd_clear(ctl);
		s5_udp_close(&s->u, &s5_udp_io_real);
	}
	sock_free(s);
}

/* ---- association ------------------------------------------------------ */

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

/* A control connection on a fresh internal descriptor, UDP ASSOCIATE on
 * it, and the relay from the reply. The request names 0.0.0.0:0: the
 * client does not know the address the proxy will see (RFC 1928 section
 * 7 allows zeros), and servers match it against their rules as such. */
static int associate(struct s5_udp_sock *s, int fd)
{
	const struct s5_config *c = &s5_cfg;
	struct sockaddr_storage proxy;
	struct s5_addr any = { .atyp = S5_ATYP_IPV4 };
	struct s5_hs hs;
	socklen_t plen;
	int ctl, r;

	/* The request's address family decides the relay's (dante answers
	 * an IPv4 request with its IPv4 relay even over IPv6): an IPv6
	 * socket asks with "::" when the proxy has an IPv6 address, so an
	 * IPV6_V6ONLY socket gets a relay it can reach. */
	if ((s->u.family == AF_INET6 && c->has_proxy6) || !c->has_proxy4) {
		memcpy(&proxy, &c->proxy6, sizeof(c->proxy6));
		plen = sizeof(c->proxy6);
		any.atyp = S5_ATYP_IPV6;
	} else {
		memcpy(&proxy, &c->proxy4, sizeof(c->proxy4));
		plen = sizeof(c->proxy4);
	}
	ctl = socket(proxy.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl < 0)
		return -errno;
	ctl = s5_fd_move_high(ctl);
	s5_fd_set_owner(ctl, s);
	s5_hs_init(&hs, S5_CMD_UDP_ASSOCIATE, &any, c->auth, c->user,
		   c->user_len, c->pass, c->pass_len);
	if (c->pipeline)
		s5_hs_pipeline(&hs);
	r = s5_proxy_connect(ctl, (struct sockaddr *)&proxy, plen, &hs,
			     &s5_io_real, c->timeout_ms);
	s5_hs_wipe(&hs);
	if (r == 0) {
		r = s5_udp_set_relay(&s->u, &hs.reply.bound,
				     (struct sockaddr *)&proxy, plen,
				     s->u.family == AF_INET6 &&
					     s5_v6only(fd));
		if (r < 0)
			hs.why = "the relay address cannot be used from this "
				 "socket";
	}
	log_assoc((struct sockaddr *)&proxy, plen, &hs, r);
	if (r < 0) {
		s5_fd_clear(ctl);
		real.close(ctl);
		return r;
	}
	s->u.checked_ms = s5_now_ms();
	/* Last: a sender that sees the descriptor sees the relay too. */
	__atomic_store_n(&s->u.ctl_fd, ctl, __ATOMIC_RELEASE);
	return 0;
}

static bool live(struct s5_udp_sock *s)
{
	return __atomic_load_n(&s->u.ctl_fd, __ATOMIC_ACQUIRE) >= 0 &&
	       s5_udp_alive(&s->u, &s5_udp_io_real);
}

int s5_udp_sock_ready(struct s5_udp_sock *s, int fd)
{
	pid_t me;
	int r = 0;

	if (live(s))
		return 0;
	me = getpid();
	pthread_mutex_lock(&udp_lock);
	/* Another thread of this process is associating this socket: wait
	 * for its result. (A pid from before a fork is not waited for: that
	 * thread does not exist in the child.) */
	while (s->assoc_pid == me)
		pthread_cond_wait(&udp_cond, &udp_lock);
	if (live(s))
		goto out;
	if (s->associated) {
		/* The control connection went away (proxy restart): one new
		 * association; if that fails too, the send fails. */
		s5log_msg(S5LOG_WARN,
			  "udp association lost; associating again", NULL);
	}
	if (s->refused) {
		r = s->refused;
		goto out;
	}
	s->assoc_pid = me;
	pthread_mutex_unlock(&udp_lock);
	r = associate(s, fd);
	pthread_mutex_lock(&udp_lock);
	s->assoc_pid = 0;
	/* A proxy that refuses UDP ASSOCIATE will refuse it again: remember,
	 * so every later send fails at once without a new connection. */
	if (r == -EOPNOTSUPP || r == -EACCES)
		s->refused = r;
	if (r == 0)
		s->associated = true;
	pthread_cond_broadcast(&udp_cond);
out:
	pthread_mutex_unlock(&udp_lock);
	return r;
}

void s5_udp_sock_drop_assoc(struct s5_udp_sock *s)
{
	int ctl;

	pthread_mutex_lock(&udp_lock);
	ctl = s->u.ctl_fd;
	if (ctl >= 0) {
		s5_fd_clear(ctl);
		s5_udp_close(&s->u, &s5_udp_io_real);
	}
	pthread_mutex_unlock(&udp_lock);
}

void s5_udp_lock(void)
{
	pthread_mutex_lock(&udp_lock);
}

void s5_udp_unlock(void)
{
	pthread_mutex_unlock(&udp_lock);
}

void s5_udp_atfork_child(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	udp_lock = fresh;
	slab_lock = fresh;
	pthread_cond_init(&udp_cond, NULL);
}

void s5_udp_atfork_prepare(void)
{
	pthread_mutex_lock(&udp_lock);
	pthread_mutex_lock(&slab_lock);
}

void s5_udp_atfork_parent(void)
{
	pthread_mutex_unlock(&slab_lock);
	pthread_mutex_unlock(&udp_lock);
}
