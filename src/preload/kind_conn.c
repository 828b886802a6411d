/* S5FD_CONN and S5FD_EPOLL (kind_conn.h): handshakes that run while the
 * program waits.
 *
 * One object per non-blocking connect. It holds the handshake (the net
 * layer's resumable state machine, the same one the blocking path runs),
 * the deadline, and a private copy of the socket (an internal descriptor)
 * that all the library's I/O goes through: a program that closes or
 * reuses its number while another thread waits never has the library
 * write to the wrong file. The object sits in a slot of a small global
 * table while the handshake runs; epoll events of the library carry the
 * slot's tag.
 *
 * epoll. Registrations follow the open file, so the program's epoll sets
 * would report the socket writable as soon as the TCP connect to the proxy
 * finished. While the handshake runs, every registration of the socket
 * (found in /proc/self/fdinfo of each epoll instance the program made, or
 * made by the program through epoll_ctl) is replaced by one of the
 * library's: level-triggered, for what the handshake waits for next, with
 * the slot's tag as data (an event one waiter could not use, a fork child
 * sharing the set or a thread that found the handshake busy, stays ready
 * for the next, where an edge would be lost); the program's events and
 * data are kept here and put back when the
 * handshake ends (EPOLL_CTL_MOD, or DEL and ADD for EPOLLEXCLUSIVE, which
 * cannot be modified). The kernel then reports the outcome in the
 * program's terms: on success the socket is writable; on failure the
 * socket is disconnected (connect AF_UNSPEC: the kernel records an error
 * and wakes the waiters) and shut down, so it reports
 * POLLOUT|POLLERR|POLLHUP like a direct connect that failed, and SO_ERROR
 * gives the library's errno once.
 *
 * Locks: each object's lock guards its handshake and registrations; it is
 * only held over non-blocking calls. Wait hooks only try it: a thread that
 * finds it taken sets kick, and the holder runs another step before it
 * leaves. slots_lock guards taking and freeing slots (object lock first).
 *
 * fork: the child's copies of handshakes in progress belong to the parent,
 * which drives the shared socket on. In the child they fail
 * (ECONNABORTED) without touching the socket, and their tags, which may
 * still be in shared epoll sets, are dropped from its waits. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd.h"
#include "fork.h"
#include "hook.h"
#include "kind_conn.h"
#include "kind_internal.h"
#include "kind_tcp.h"
#include "slab.h"
#include "conf.h"
#include "tcp.h"

#define CONN_SLOTS 4096 /* handshakes in progress at once */
#define CONN_REGS 8     /* epoll registrations of one socket */
#define EPOLL_SEEN 1024 /* epoll instances looked into per connect */
#define FORGET_REGS 64  /* registrations s5_epoll_forget removes */

/* C_OPT: optimistic data; the request left, the program was told it is
 * connected, the replies are still to be read (by its first read). */
enum conn_state { C_RUN, C_OPT, C_DONE, C_FAILED };

struct reg {
	int epfd;          /* the program's epoll descriptor */
	uint64_t ep;       /* that instance's serial (0: not tracked) */
	int tfd;           /* the number the socket is registered under */
	uint32_t events;   /* the program's */
	uint64_t data;     /* the program's */
};

struct s5_conn {
	struct s5_obj obj; /* first */
	pthread_mutex_t lock;
	_Atomic int state;      /* enum conn_state */
	_Atomic int ifd;        /* our copy of the socket while C_RUN */
	_Atomic bool kick;      /* a step was asked for while locked */
	_Atomic short want;     /* hs.want after the last step */
	short reg_want;         /* what the registrations wait for */
	bool inherited;         /* a fork child's copy: not ours to drive */
	bool optimistic;        /* C_OPT once the request left */
	bool started;           /* the TCP connect to the proxy began */
	bool show_bnd;          /* getsockname shows the reply's BND */
	/* Optimistic data: TCP_NODELAY is on until the replies came, so the
	 * program's first write does not wait behind the request for its
	 * acknowledgement (Nagle); the program sees and sets its own value. */
	bool nodelay_forced;
	int nodelay_prog;
	_Atomic bool reported;  /* the failure went to the program */
	int err;                /* the failure's -errno */
	unsigned int slot;
	uint64_t tag;
	int64_t t0, deadline;
	struct s5_try try;      /* failover: the proxies left */
	struct s5_hs hs;
	socklen_t dlen, plen;
	struct sockaddr_storage dst, proxy;
	int nregs;
	struct reg regs[CONN_REGS];
};

struct s5_epoll {
	struct s5_obj obj; /* first */
	uint64_t serial;
};

_Atomic uint64_t s5_conn_word;

static struct s5_slab conn_slab = S5_SLAB_INIT(struct s5_conn);
static struct s5_slab epoll_slab = S5_SLAB_INIT(struct s5_epoll);
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct s5_conn *_Atomic slots[CONN_SLOTS];
static unsigned int slots_high;   /* slots below it may be used */
static uint16_t tag_gen;          /* slots_lock */
static _Atomic uint64_t epoll_serial;
static _Atomic uint32_t tag_magic; /* set once, see magic() */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void register_fork(void);

/* In a fork child: the program's registrations of the handshakes it
 * inherited (the parent restores them when it is done): their events
 * show the failure here. Written by the child handler only. */
#define INHERITED_REGS 64
static struct {
	int epfd;
	uint64_t data;
} inherited[INHERITED_REGS];
static int n_inherited;

/* ---- the global word --------------------------------------------------- */

static void word_started(void)
{
	atomic_fetch_add_explicit(&s5_conn_word, 1 + ((uint64_t)1 << 32),
				  memory_order_acq_rel);
}

static void word_ended(void)
{
	atomic_fetch_sub_explicit(&s5_conn_word, 1, memory_order_acq_rel);
}

/* A tag may stay behind in an epoll set the library can no longer reach:
 * from now on every wait filters. */
static _Atomic bool lingering;

static void word_lingering(void)
{
	if (!atomic_exchange(&lingering, true))
		atomic_fetch_add_explicit(&s5_conn_word, 1,
					  memory_order_acq_rel);
}

/* ---- tags --------------------------------------------------------------- */

/* The high half of every tag: random per process, top bit set, so the
 * program's data (pointers, descriptor numbers) never looks like one. */
static uint32_t magic(void)
{
	const unsigned char *r;
	uint32_t m = atomic_load_explicit(&tag_magic, memory_order_relaxed);

	if (m != 0)
		return m;
	r = (const unsigned char *)getauxval(AT_RANDOM);
	if (r != NULL)
		memcpy(&m, r + 12, sizeof(m));
	m |= 0x80000000u;
	atomic_store_explicit(&tag_magic, m, memory_order_relaxed);
	return m;
}

static bool is_tag(uint64_t data)
{
	return (uint32_t)(data >> 32) == magic();
}

static bool take_slot(struct s5_conn *c)
{
	unsigned int i;

	pthread_mutex_lock(&slots_lock);
	for (i = 0; i < CONN_SLOTS; i++)
		if (atomic_load_explicit(&slots[i], memory_order_relaxed) ==
		    NULL)
			break;
	if (i == CONN_SLOTS) {
		pthread_mutex_unlock(&slots_lock);
		return false;
	}
	tag_gen++;
	c->slot = i;
	c->tag = (uint64_t)magic() << 32 | (uint64_t)tag_gen << 16 | i;
	if (i >= slots_high)
		slots_high = i + 1;
	atomic_store_explicit(&slots[i], c, memory_order_release);
	pthread_mutex_unlock(&slots_lock);
	return true;
}

static void free_slot(struct s5_conn *c)
{
	pthread_mutex_lock(&slots_lock);
	if (atomic_load_explicit(&slots[c->slot], memory_order_relaxed) == c)
		atomic_store_explicit(&slots[c->slot], NULL,
				      memory_order_release);
	pthread_mutex_unlock(&slots_lock);
}

/* The handshake in slot i with a reference, or NULL. */
static struct s5_conn *slot_get(unsigned int i)
{
	struct s5_conn *c = atomic_load_explicit(&slots[i],
						 memory_order_acquire);

	if (c == NULL || !s5_obj_ref(&c->obj))
		return NULL;
	if (atomic_load_explicit(&slots[i], memory_order_acquire) == c)
		return c;
	s5_obj_put(&c->obj);
	return NULL;
}

static unsigned int high_water(void)
{
	unsigned int h;

	pthread_mutex_lock(&slots_lock);
	h = slots_high;
	pthread_mutex_unlock(&slots_lock);
	return h;
}

/* ---- objects ------------------------------------------------------------ */

/* The handshake still holds a slot: running, or optimistic and waiting
 * for its replies. */
static bool running(struct s5_conn *c)
{
	int st = atomic_load(&c->state);

	return st == C_RUN || st == C_OPT;
}

static void release(struct s5_obj *o);

/* Our copy of the socket moved (the program took its number). */
static void moved(struct s5_obj *o, int oldfd, int newfd)
{
	struct s5_conn *c = (struct s5_conn *)o;

	atomic_compare_exchange_strong(&c->ifd, &oldfd, newfd);
}

static const struct s5_obj_ops conn_ops = { .release = release,
					    .moved = moved };

static void epoll_release(struct s5_obj *o)
{
	s5_slab_free(&epoll_slab, o);
}

static const struct s5_obj_ops epoll_ops = { .release = epoll_release };

static void close_copy(struct s5_conn *c)
{
	int ifd = atomic_exchange(&c->ifd, -1);

	if (ifd >= 0)
		s5_internal_close(ifd);
}

/* The last descriptor went. A handshake still running just stops: its
 * registrations went with the socket. */
static void release(struct s5_obj *o)
{
	struct s5_conn *c = (struct s5_conn *)o;

	if (running(c) && !c->inherited) {
		free_slot(c);
		word_ended();
	}
	close_copy(c);
	s5_hs_wipe(&c->hs);
	pthread_mutex_destroy(&c->lock);
	s5_slab_free(&conn_slab, c);
}

/* ---- epoll registrations ------------------------------------------------ */

/* By the record alone (s5_fd_peek): a number closed and reused meanwhile
 * shows no registration of the socket, or fails the epoll_ctl. */
static uint64_t epoll_serial_of(int epfd)
{
	struct s5_obj *o = s5_fd_peek(epfd, S5FD_EPOLL);
	uint64_t s;

	if (o == NULL)
		return 0;
	s = ((struct s5_epoll *)o)->serial;
	s5_obj_put(o);
	return s;
}

void s5_epoll_track(int epfd)
{
	struct s5_epoll *e = s5_slab_alloc(&epoll_slab);

	if (e == NULL)
		return;
	e->serial = atomic_fetch_add(&epoll_serial, 1) + 1;
	s5_obj_init(&e->obj, &epoll_ops);
	(void)s5_fd_attach(epfd, S5FD_EPOLL, &e->obj);
}

/* What read_fdinfo collects into: a handshake's registrations, or (c
 * NULL) a list for s5_epoll_regs. */
struct found {
	struct s5_conn *c;
	int epfd;
	uint64_t serial, ino;
	int fd;
	struct s5_epoll_at *at;
	int n, max;
};

static int found_reg(void *ctx, const struct s5_epoll_reg *r)
{
	struct found *f = ctx;
	struct s5_conn *c = f->c;

	if (r->ino != f->ino)
		return 0;
	if (c == NULL) {
		if (r->tfd != f->fd)
			return 0; /* another copy of the file */
		if (f->n == f->max)
			return -1;
		f->at[f->n++] = (struct s5_epoll_at){ .epfd = f->epfd,
						      .events = r->events,
						      .data = r->data };
		return 0;
	}
	if (c->nregs == CONN_REGS)
		return -1;
	c->regs[c->nregs++] = (struct reg){ .epfd = f->epfd, .ep = f->serial,
					    .tfd = r->tfd, .events = r->events,
					    .data = r->data };
	return 0;
}

/* Hands fn each registration listed in epfd's fdinfo (read by its path:
 * the descriptor itself, which another thread may be closing, is not
 * touched). -1 when it cannot be read or fn stopped; 0 when epfd was
 * closed meanwhile (its registrations went with it). */
static int read_fdinfo(int epfd,
		       int (*fn)(void *ctx, const struct s5_epoll_reg *r),
		       void *ctx)
{
	struct s5_fdinfo info;
	char path[48], buf[4096];
	ssize_t n;
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	s5_fdinfo_init(&info);
	for (;;) {
		n = real.read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* ENOENT: closed after the open; nothing of it left */
			r = errno == ENOENT ? 0 : -1;
			break;
		}
		if (s5_fdinfo_feed(&info, buf, (size_t)n, n == 0, fn, ctx) <
		    0) {
			r = -1;
			break;
		}
		if (n == 0)
			break;
	}
	real.close(fd);
	return r;
}

/* Reads every epoll instance the program made for the registrations of
 * fd's file into *f (c, or at/max, set by the caller). -1 when one cannot
 * be read or there are too many. */
static int scan_sets(int fd, struct found *f)
{
	uint64_t seen[EPOLL_SEEN], serial;
	struct stat st;
	int epfd, nseen = 0, i;

	if (fstat(fd, &st) != 0)
		return -1;
	for (epfd = s5_fd_next(0, S5FD_EPOLL); epfd >= 0;
	     epfd = s5_fd_next((unsigned int)epfd + 1, S5FD_EPOLL)) {
		serial = epoll_serial_of(epfd);
		if (serial == 0)
			continue;
		for (i = 0; i < nseen && seen[i] != serial; i++)
			;
		if (i < nseen)
			continue; /* the same instance under another number */
		if (nseen == EPOLL_SEEN)
			return -1;
		seen[nseen++] = serial;
		f->epfd = epfd;
		f->serial = serial;
		f->ino = (uint64_t)st.st_ino;
		f->fd = fd;
		if (read_fdinfo(epfd, found_reg, f) < 0)
			return -1;
	}
	return 0;
}

/* Finds every registration of fd in the epoll instances the program made.
 * -1 when one cannot be read or there are too many. */
static int find_regs(struct s5_conn *c, int fd)
{
	struct found f = { .c = c };

	return scan_sets(fd, &f);
}

int s5_epoll_regs(int fd, struct s5_epoll_at *at, int max)
{
	struct found f = { .at = at, .max = max };

	return scan_sets(fd, &f) < 0 ? -1 : f.n;
}

void s5_epoll_forget(int fd)
{
	struct s5_epoll_at at[FORGET_REGS];
	int n = s5_epoll_regs(fd, at, FORGET_REGS), i;

	for (i = 0; i < n; i++)
		(void)real.epoll_ctl(at[i].epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Installs ev for registration g: MOD, or DEL and ADD where the old or
 * the new one is exclusive (those cannot be modified). */
static int reg_set(const struct reg *g, uint32_t old_events,
		   struct epoll_event *ev)
{
	if (!((old_events | ev->events) & EPOLLEXCLUSIVE))
		return real.epoll_ctl(g->epfd, EPOLL_CTL_MOD, g->tfd, ev);
	if (real.epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->tfd, NULL) < 0)
		return -1;
	return real.epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->tfd, ev);
}

static uint32_t tag_events(uint32_t program, short want)
{
	uint32_t ev = want == POLLIN ? EPOLLIN : EPOLLOUT;

	/* EPOLLRDHUP cannot go with EPOLLEXCLUSIVE. */
	if (program & EPOLLEXCLUSIVE)
		return ev | EPOLLEXCLUSIVE;
	return ev | EPOLLRDHUP;
}

/* Puts the tag in place of each registration found; drops those where
 * that failed (the program's registration stays). */
static void regs_tag(struct s5_conn *c)
{
	struct epoll_event ev;
	int i, j = 0;

	for (i = 0; i < c->nregs; i++) {
		struct reg *g = &c->regs[i];

		ev.events = tag_events(g->events, c->reg_want);
		ev.data.u64 = c->tag;
		if (reg_set(g, g->events, &ev) == 0) {
			c->regs[j++] = *g;
			continue;
		}
		/* A DEL that went through before the ADD failed: put the
		 * program's back. */
		ev.events = g->events;
		ev.data.u64 = g->data;
		(void)real.epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->tfd, &ev);
	}
	c->nregs = j;
}

/* The handshake waits for something else now: so do its registrations.
 * One that cannot follow is left as it is (a stale wake-up costs a step
 * that finds nothing to do). c->lock held. */
static void regs_follow(struct s5_conn *c, short want)
{
	struct epoll_event ev;
	int i;

	if (want == c->reg_want || want == 0)
		return;
	for (i = 0; i < c->nregs; i++) {
		struct reg *g = &c->regs[i];

		ev.events = tag_events(g->events, want);
		ev.data.u64 = c->tag;
		(void)reg_set(g, tag_events(g->events, c->reg_want), &ev);
	}
	c->reg_want = want;
}

/* The handshake ended: the program's registrations come back. One that
 * cannot (its epoll descriptor was closed or now means another instance)
 * may leave a tag behind: every wait filters from then on. */
static void regs_restore(struct s5_conn *c)
{
	struct epoll_event ev;
	int i;

	for (i = 0; i < c->nregs; i++) {
		struct reg *g = &c->regs[i];

		if (g->ep != 0 && epoll_serial_of(g->epfd) != g->ep) {
			word_lingering();
			continue;
		}
		ev.events = g->events;
		ev.data.u64 = g->data;
		if (reg_set(g, tag_events(g->events, c->reg_want), &ev) < 0 &&
		    errno != ENOENT && errno != EBADF)
			word_lingering();
	}
	c->nregs = 0;
}

static struct reg *reg_find(struct s5_conn *c, int epfd, uint64_t ep, int tfd)
{
	int i;

	for (i = 0; i < c->nregs; i++)
		if (c->regs[i].epfd == epfd && c->regs[i].ep == ep &&
		    c->regs[i].tfd == tfd)
			return &c->regs[i];
	return NULL;
}

/* ---- the driver ---------------------------------------------------------- */

/* The failure leaves the socket as a failed direct connect would: the
 * kernel reports an error (connect AF_UNSPEC records ECONNRESET and wakes
 * the waiters), reads end, writes fail. A socket whose TCP connect to the
 * proxy failed is in that state already. */
static void break_socket(int ifd)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	(void)real.connect(ifd, &sa, sizeof(sa));
	(void)real.shutdown(ifd, SHUT_RDWR);
}

/* Optimistic data: the request left, so the program may write; its
 * registrations come back now, the replies are read later. */
static void go_optimistic(struct s5_conn *c)
{
	int ifd = atomic_load(&c->ifd), v = 0, one = 1;
	socklen_t len = sizeof(v);

	regs_restore(c);
	if (real.getsockopt(ifd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 &&
	    v == 0 &&
	    real.setsockopt(ifd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one)) == 0) {
		c->nodelay_forced = true;
		c->nodelay_prog = 0;
	}
	atomic_store(&c->state, C_OPT);
}

/* The program's TCP_NODELAY back once the replies came. c->lock held. */
static void nodelay_back(struct s5_conn *c, int ifd)
{
	if (!c->nodelay_forced)
		return;
	c->nodelay_forced = false;
	(void)real.setsockopt(ifd, IPPROTO_TCP, TCP_NODELAY,
			      &c->nodelay_prog, sizeof(c->nodelay_prog));
}

/* The handshake ended with r (0 or -errno). c->lock held. */
static void finish(struct s5_conn *c, int r)
{
	int ifd = atomic_load(&c->ifd);
	/* The TCP connect to the proxy never began or itself failed: the
	 * socket is not connected (the error went to whoever saw it). */
	bool closed = !c->started || (c->hs.connecting && r != -ETIMEDOUT);

	if (r < 0 && ifd >= 0 && !closed)
		break_socket(ifd);
	if (ifd >= 0)
		nodelay_back(c, ifd);
	c->err = r;
	s5_tcp_log_outcome(&c->hs.dst, (struct sockaddr *)&c->proxy, c->plen,
			   &c->hs, r, s5_now_ms() - c->t0);
	s5_hs_wipe(&c->hs);
	regs_restore(c);
	atomic_store(&c->state, r == 0 ? C_DONE : C_FAILED);
	free_slot(c);
	word_ended();
	close_copy(c);
}

/* Failover: the proxy tried is not there (refused, unreachable, silent
 * until the deadline) and the program was told nothing yet (C_RUN): the
 * same socket starts again towards the next proxy, with a deadline of
 * its own. Returns 0 or -EINPROGRESS when the connect to another proxy
 * began (step on), or the failure when no other proxy is left (r, or
 * the last one's). c->lock held. */
static int next_proxy(struct s5_conn *c, int ifd, int r)
{
	struct sockaddr_storage proxy;
	struct s5_addr dst = c->hs.dst;
	uint8_t cmd = c->hs.cmd;
	socklen_t plen, dl = sizeof(int);
	int domain = AF_INET;

	while (r < 0 && r != -EINPROGRESS && r != -EAGAIN &&
	       atomic_load(&c->state) == C_RUN) {
		(void)real.getsockopt(ifd, SOL_SOCKET, SO_DOMAIN, &domain, &dl);
		if (s5_pick_next(ifd, domain, &c->try, &c->hs, r, &proxy,
				 &plen) < 0)
			return r;
		s5_hs_wipe(&c->hs);
		c->plen = plen;
		memcpy(&c->proxy, &proxy, plen);
		s5_try_hs(&c->try, &c->hs, cmd, &dst);
		c->t0 = s5_now_ms();
		c->deadline = c->t0 + s5_cfg.timeout_ms;
		r = s5_proxy_start(ifd, (struct sockaddr *)&proxy, plen,
				   &c->hs, &s5_io_real_nb);
	}
	return r;
}

/* One step as far as the socket allows. c->lock held. */
static void step(struct s5_conn *c)
{
	int ifd = atomic_load(&c->ifd);
	int r;

	if (!running(c) || c->inherited || ifd < 0)
		return;
	for (;;) {
		r = s5_hs_step(&c->hs, ifd, &s5_io_real_nb);
		if (r == -EAGAIN && s5_now_ms() >= c->deadline)
			r = s5_hs_expire(&c->hs);
		if (r == 0 || r == -EAGAIN)
			break;
		r = next_proxy(c, ifd, r);
		if (r != 0 && r != -EINPROGRESS)
			break;
	}
	atomic_store(&c->want, c->hs.want);
	if (r != -EAGAIN)
		finish(c, r);
	else if (c->optimistic && atomic_load(&c->state) == C_RUN &&
		 s5_hs_sent_all(&c->hs))
		go_optimistic(c);
	else
		regs_follow(c, c->hs.want);
}

/* Unlocks c, and runs the step another thread asked for meanwhile. */
static void unlock(struct s5_conn *c)
{
	pthread_mutex_unlock(&c->lock);
	if (atomic_load(&c->kick))
		s5_conn_drive(c);
}

void s5_conn_drive(struct s5_conn *c)
{
	atomic_store(&c->kick, true);
	while (atomic_load(&c->kick)) {
		if (pthread_mutex_trylock(&c->lock) != 0)
			return; /* the holder sees kick before it leaves */
		atomic_store(&c->kick, false);
		step(c);
		pthread_mutex_unlock(&c->lock);
	}
}

static bool blocking(int fd)
{
	int fl = real.fcntl(fd, F_GETFL);

	return fl >= 0 && !(fl & O_NONBLOCK);
}

/* Waits (without the lock) while the handshake runs, or with opt also
 * while its replies are missing, until it ends or the deadline passes:
 * for a program that waits on a blocking socket. */
static bool waits(struct s5_conn *c, bool opt)
{
	int st = atomic_load(&c->state);

	return !c->inherited && (st == C_RUN || (opt && st == C_OPT));
}

static void wait_while(struct s5_conn *c, int fd, bool opt)
{
	struct pollfd p;
	int64_t left;

	/* Not a step further than asked: an optimistic connect returns once
	 * the request left, whatever came since. */
	while (waits(c, opt)) {
		s5_conn_drive(c);
		if (!waits(c, opt))
			return;
		p.fd = fd;
		p.events = atomic_load(&c->want);
		p.revents = 0;
		left = c->deadline - s5_now_ms();
		if (left < 0)
			left = 0;
		if (real.poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left) < 0 &&
		    errno != EINTR)
			return;
	}
}

/* ---- starting ------------------------------------------------------------ */

/* A start that cannot go on before anything reached the socket: undo it
 * and drop the caller's reference (the blocking path takes over). */
static int abandon(struct s5_conn *c, bool started)
{
	free_slot(c);
	if (started)
		word_ended();
	atomic_store(&c->state, C_DONE); /* nothing left for release */
	close_copy(c);
	s5_obj_put(&c->obj);
	return S5_PASS;
}

static void became_tcp(struct s5_conn *c, int fd);
static int report(struct s5_conn *c, int fd);

/* A blocking connect in optimistic mode waits here until the request
 * left (or the handshake ended): 0 or the failure. */
static int wait_started(struct s5_conn *c, int fd)
{
	int r = 0;

	wait_while(c, fd, false);
	pthread_mutex_lock(&c->lock);
	switch (atomic_load(&c->state)) {
	case C_DONE:
		became_tcp(c, fd);
		break;
	case C_FAILED:
		(void)report(c, fd);
		r = c->err;
		break;
	default: /* C_OPT, or C_RUN for a socket of another process */
		r = c->inherited ? -ECONNABORTED : 0;
		break;
	}
	unlock(c);
	return r;
}

int s5_conn_start(int fd, const struct sockaddr *proxy, socklen_t plen,
		  const struct sockaddr *dst, socklen_t dlen,
		  const struct s5_hs *hs, const struct s5_try *t,
		  bool optimistic, bool show_bnd)
{
	const struct s5_config *cfg = &s5_cfg;
	int flags = real.fcntl(fd, F_GETFL);
	bool block = !(flags & O_NONBLOCK);
	struct s5_conn *c;
	int copy, r;

	/* A blocking socket runs its handshake inside connect() (the
	 * caller's path, which also reports unreadable flags), unless
	 * optimistic data returns it early: then it is made non-blocking
	 * while the connect to the proxy starts, so the deadline holds. */
	if (flags < 0 || (block && !optimistic))
		return S5_PASS;
	c = s5_slab_alloc(&conn_slab);
	if (c == NULL)
		return S5_PASS;
	pthread_mutex_init(&c->lock, NULL);
	atomic_store(&c->ifd, -1);
	c->hs = *hs;
	c->try = *t;
	c->t0 = s5_now_ms();
	c->deadline = c->t0 + cfg->timeout_ms;
	c->dlen = dlen < sizeof(c->dst) ? dlen : sizeof(c->dst);
	memcpy(&c->dst, dst, c->dlen);
	c->plen = plen < sizeof(c->proxy) ? plen : sizeof(c->proxy);
	memcpy(&c->proxy, proxy, c->plen);
	s5_obj_init(&c->obj, &conn_ops);
	pthread_once(&fork_once, register_fork);
	if (find_regs(c, fd) < 0 || !take_slot(c)) {
		/* Never started: nothing for release to end. */
		atomic_store(&c->state, C_DONE);
		s5_obj_put(&c->obj);
		return S5_PASS;
	}
	copy = real.fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (copy < 0)
		return abandon(c, false);
	c->optimistic = optimistic;
	c->show_bnd = show_bnd;
	atomic_store(&c->ifd, s5_internal_adopt(copy, &c->obj));
	word_started();
	/* The table's entry holds one reference; this call keeps its own. */
	(void)s5_obj_ref(&c->obj);
	if (s5_fd_attach(fd, S5FD_CONN, &c->obj) < 0)
		return abandon(c, true);
	if (block && real.fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		r = abandon(c, true);
		s5_fd_clear(fd);
		return r;
	}
	pthread_mutex_lock(&c->lock);
	c->reg_want = POLLOUT; /* the connect to the proxy, first */
	regs_tag(c);
	r = s5_proxy_start(atomic_load(&c->ifd), proxy, plen, &c->hs,
			   &s5_io_real_nb);
	if (r != 0 && r != -EINPROGRESS)
		r = next_proxy(c, atomic_load(&c->ifd), r);
	c->started = r == 0 || r == -EINPROGRESS;
	if (c->started) {
		/* As far as the socket allows now: the greeting leaves at
		 * once if the proxy is that near. Whatever happens, the
		 * program hears of it as of a direct connect: in progress,
		 * then the outcome from the next call it makes. */
		step(c);
		r = -EINPROGRESS;
	} else {
		/* The connect to the proxy failed at once: so does this. */
		finish(c, r);
		atomic_store(&c->reported, true);
	}
	unlock(c);
	if (block) {
		if (r == -EINPROGRESS)
			r = wait_started(c, fd);
		/* Exactly the saved flags, as the blocking path does. */
		(void)real.fcntl(fd, F_SETFL, flags);
	}
	if (r != -EINPROGRESS && r != 0)
		s5_fd_clear(fd); /* a failed connect leaves nothing */
	s5_obj_put(&c->obj);
	return r;
}

/* ---- per descriptor -------------------------------------------------------- */

struct s5_conn *s5_conn_get(int fd)
{
	return (struct s5_conn *)s5_fd_get(fd, S5FD_CONN);
}

void s5_conn_put(struct s5_conn *c)
{
	s5_obj_put(&c->obj);
}

/* fd's entry after the handshake succeeded: a proxied TCP socket from now
 * on (its other copies change when they are next used). */
static void became_tcp(struct s5_conn *c, int fd)
{
	(void)s5_tcp_mark(fd, (struct sockaddr *)&c->dst, c->dlen,
			  c->show_bnd && c->hs.state == S5HS_DONE
				  ? &c->hs.reply.bound
				  : NULL,
			  0);
}

/* Reports the failure once; the kernel's own error (ECONNRESET from the
 * disconnect) goes with it. c->lock held. Returns the failure's -errno,
 * or 1 when it was reported before. */
static int report(struct s5_conn *c, int fd)
{
	int kerr = 0;
	socklen_t len = sizeof(kerr);

	if (atomic_exchange(&c->reported, true))
		return 1;
	if (!c->inherited)
		(void)real.getsockopt(fd, SOL_SOCKET, SO_ERROR, &kerr, &len);
	return c->err;
}

int s5_conn_io(int fd, bool dontwait, bool reading)
{
	struct s5_conn *c = s5_conn_get(fd);
	int r = S5_PASS, st;

	if (c == NULL)
		return S5_PASS;
	s5_conn_drive(c);
	st = atomic_load(&c->state);
	/* A blocking socket waits as a direct one would: for the connect
	 * to end, and with optimistic data a read for the replies too. */
	if ((st == C_RUN || (st == C_OPT && reading)) && !dontwait &&
	    blocking(fd))
		wait_while(c, fd, reading);
	pthread_mutex_lock(&c->lock);
	switch (atomic_load(&c->state)) {
	case C_RUN:
		r = c->inherited ? -ECONNABORTED : -EAGAIN;
		break;
	case C_OPT:
		/* Writes follow the request; reads wait for the replies. */
		r = reading ? -EAGAIN : S5_PASS;
		break;
	case C_DONE:
		became_tcp(c, fd);
		break;
	case C_FAILED:
		r = report(c, fd);
		if (r == 1)
			r = c->inherited ? -ENOTCONN : S5_PASS;
		break;
	}
	unlock(c);
	s5_conn_put(c);
	return r;
}

/* fd's handshake, advanced as far as it goes now, locked (done_with
 * when finished); NULL for none. */
static struct s5_conn *settled(int fd)
{
	struct s5_conn *c = s5_conn_get(fd);

	if (c == NULL)
		return NULL;
	s5_conn_drive(c);
	pthread_mutex_lock(&c->lock);
	return c;
}

static void done_with(struct s5_conn *c)
{
	unlock(c);
	s5_conn_put(c);
}

int s5_conn_connect(int fd)
{
	struct s5_conn *c = settled(fd);
	int r = S5_PASS;

	if (c == NULL)
		return S5_PASS;
	switch (atomic_load(&c->state)) {
	case C_RUN:
		r = -EALREADY;
		break;
	case C_OPT:
		r = -EISCONN;
		break;
	case C_DONE:
		became_tcp(c, fd);
		r = -EISCONN;
		break;
	case C_FAILED:
		r = report(c, fd);
		if (r == 1)
			r = c->inherited ? c->err : S5_PASS;
		break;
	}
	done_with(c);
	if (r == S5_PASS)
		s5_fd_clear(fd); /* connects afresh */
	return r;
}

int s5_conn_so_error(int fd, int *err)
{
	struct s5_conn *c = settled(fd);
	int r = S5_PASS;

	if (c == NULL)
		return S5_PASS;
	switch (atomic_load(&c->state)) {
	case C_RUN:
	case C_OPT:
		/* A connect in progress has no error yet. */
		*err = 0;
		r = 0;
		break;
	case C_DONE:
		became_tcp(c, fd);
		break;
	case C_FAILED:
		r = report(c, fd);
		if (r == 1) {
			r = c->inherited ? 0 : S5_PASS;
			*err = 0;
		} else {
			*err = -r;
			r = 0;
		}
		break;
	}
	done_with(c);
	return r;
}

int s5_conn_nodelay(int fd, const int *set, int *get)
{
	struct s5_conn *c = s5_conn_get(fd);
	int r = S5_PASS;

	if (c == NULL)
		return S5_PASS;
	pthread_mutex_lock(&c->lock);
	if (c->nodelay_forced) {
		r = 0;
		if (get != NULL) {
			*get = c->nodelay_prog;
		} else if (*set == 0) {
			c->nodelay_prog = 0;
		} else {
			c->nodelay_forced = false; /* on: the kernel's is right */
			r = S5_PASS;
		}
	}
	unlock(c);
	s5_conn_put(c);
	return r;
}

int s5_conn_peer(int fd, struct sockaddr_storage *peer, socklen_t *len)
{
	struct s5_conn *c = s5_conn_get(fd);
	int r = -ENOTCONN;

	if (c == NULL)
		return S5_PASS;
	s5_conn_drive(c);
	switch (atomic_load(&c->state)) {
	case C_DONE:
		became_tcp(c, fd);
		/* fall through */
	case C_OPT:
		memcpy(peer, &c->dst, c->dlen);
		*len = c->dlen;
		r = 0;
		break;
	default:
		break;
	}
	s5_conn_put(c);
	return r;
}

/* ---- readiness ------------------------------------------------------------ */

short s5_conn_want(struct s5_conn *c)
{
	short w;

	if (atomic_load(&c->state) != C_RUN || c->inherited)
		return 0;
	/* A stale value only costs one more wake-up, and the step after
	 * it reads the real one. */
	w = atomic_load_explicit(&c->want, memory_order_relaxed);
	return w != 0 ? w : POLLOUT;
}

short s5_conn_extra(struct s5_conn *c)
{
	if (c->inherited)
		return POLLOUT | POLLERR | POLLHUP;
	if (atomic_load(&c->state) == C_FAILED && !atomic_load(&c->reported))
		return POLLERR;
	return 0;
}

bool s5_conn_inherited(struct s5_conn *c)
{
	return c->inherited;
}

bool s5_conn_optimistic(struct s5_conn *c)
{
	return atomic_load(&c->state) == C_OPT;
}

int64_t s5_conn_expire(void)
{
	unsigned int i, h = high_water();
	int64_t now = s5_now_ms(), t = INT64_MAX;
	struct s5_conn *c;

	for (i = 0; i < h; i++) {
		c = slot_get(i);
		if (c == NULL)
			continue;
		if (running(c) && c->deadline <= now)
			s5_conn_drive(c);
		if (running(c) && c->deadline < t)
			t = c->deadline;
		s5_conn_put(c);
	}
	return t;
}

uint32_t s5_conn_epoll_inherited(int epfd, uint64_t data)
{
	int i;

	for (i = 0; i < n_inherited; i++)
		if (inherited[i].epfd == epfd && inherited[i].data == data)
			return EPOLLERR | EPOLLHUP;
	return 0;
}

int s5_conn_epoll_event(uint64_t data)
{
	struct s5_conn *c;
	int r = S5_TAG_STALE;

	if (!is_tag(data))
		return S5_TAG_NONE;
	c = slot_get((unsigned int)(data & 0xffff) % CONN_SLOTS);
	if (c == NULL)
		return S5_TAG_STALE; /* ended, or the parent's (fork) */
	if (c->tag == data) {
		s5_conn_drive(c);
		r = S5_TAG_OURS;
	}
	s5_conn_put(c);
	return r;
}

int s5_conn_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct s5_conn *c = s5_conn_get(fd);
	struct epoll_event tev;
	uint64_t ep;
	struct reg *g;
	int r = S5_PASS;

	if (c == NULL)
		return S5_PASS;
	ep = epoll_serial_of(epfd);
	pthread_mutex_lock(&c->lock);
	if (atomic_load(&c->state) != C_RUN || c->inherited)
		goto out;
	g = reg_find(c, epfd, ep, fd);
	switch (op) {
	case EPOLL_CTL_ADD:
		if (ev == NULL)
			break; /* the kernel's EFAULT */
		if (c->nregs == CONN_REGS) {
			r = -ENOMEM;
			break;
		}
		tev.events = tag_events(ev->events, c->reg_want);
		tev.data.u64 = c->tag;
		r = real.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &tev) < 0 ? -errno
								     : 0;
		if (r == 0)
			c->regs[c->nregs++] = (struct reg){
				.epfd = epfd, .ep = ep, .tfd = fd,
				.events = ev->events, .data = ev->data.u64 };
		break;
	case EPOLL_CTL_MOD:
		if (g == NULL || ev == NULL)
			break; /* the kernel's ENOENT or EFAULT */
		if ((g->events | ev->events) & EPOLLEXCLUSIVE) {
			r = -EINVAL;
			break;
		}
		/* Ours stays; the program's comes back at the end. */
		g->events = ev->events;
		g->data = ev->data.u64;
		r = 0;
		break;
	case EPOLL_CTL_DEL:
		r = real.epoll_ctl(epfd, EPOLL_CTL_DEL, fd, ev) < 0 ? -errno : 0;
		if (g != NULL)
			*g = c->regs[--c->nregs];
		break;
	default:
		break;
	}
out:
	unlock(c);
	s5_conn_put(c);
	return r;
}

/* ---- fork ----------------------------------------------------------------- */

/* In the child: the parent drives its handshakes on; here they fail
 * without a word to the shared socket, and any tag of theirs that shows
 * up in a shared epoll set is dropped. */
static void fork_child(void)
{
	unsigned int i;
	struct s5_conn *c;
	bool any = false;
	int k;

	for (i = 0; i < slots_high; i++) {
		c = atomic_load_explicit(&slots[i], memory_order_relaxed);
		if (c == NULL)
			continue;
		any = true;
		for (k = 0; k < c->nregs && n_inherited < INHERITED_REGS; k++) {
			inherited[n_inherited].epfd = c->regs[k].epfd;
			inherited[n_inherited++].data = c->regs[k].data;
		}
		pthread_mutex_init(&c->lock, NULL);
		c->inherited = true;
		c->err = -ECONNABORTED;
		c->nregs = 0;
		atomic_store(&c->state, C_FAILED);
		atomic_store(&slots[i], NULL);
		/* the copy is close-on-exec, and gone with the object */
	}
	if (any) {
		/* Nothing runs here any more, but tags may show up. */
		atomic_store(&s5_conn_word, 1);
		atomic_store(&lingering, true);
	}
}

static void register_fork(void)
{
	s5_fork_lock(S5_FORK_CONN, &slots_lock, fork_child);
	s5_fork_lock(S5_FORK_SLAB_CONN, &conn_slab.lock, NULL);
	s5_fork_lock(S5_FORK_SLAB_EPOLL, &epoll_slab.lock, NULL);
}
