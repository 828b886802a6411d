/* Helpers for the asynchronous connect snippets (async_*.c).
 *
 * A connect() on a non-blocking TCP socket to a proxied destination must
 * return -1/EINPROGRESS at once; the SOCKS5 handshake then advances inside
 * the program's own waits and socket calls, and the socket turns writable
 * only when the proxy's CONNECT reply has arrived (or reports the failure
 * with POLLERR and SO_ERROR, once).
 *
 * The destinations are 192.0.2.1 on the scripted ports of fake_socks.py
 * (its docstring has the map): a delayed success, each REP code, a stall,
 * hang-ups, a reply in pieces, data in the reply's segment.
 *
 * The configuration is read once at start-up, so async_setup() re-executes
 * the snippet with SOCKS5WRAP_TIMEOUT set to a short deadline before
 * anything else happens; that works from main() and from the library
 * constructor of libctor.so alike (the new image runs the snippet at the
 * same place). A watchdog alarm turns a hang into a failure that names the
 * step that hung.
 *
 * async_waiters.h adapts poll, ppoll, select, pselect and epoll to one
 * small interface, so async_precise() and async_scenarios() below run the
 * same checks through each readiness API. */
#ifndef S5_SNIPPET_ASYNC_H
#define S5_SNIPPET_ASYNC_H

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "snippet.h"

/* SOCKS5WRAP_TIMEOUT for every async snippet, and the same in ms. The
 * delayed successes (300 ms at most, 400 ms for a late banner) fit well
 * inside it; a stall ends there with ETIMEDOUT. */
#define ASYNC_TIMEOUT "0.8"
#define ASYNC_DEADLINE_MS 800
/* A hung snippet fails after this many seconds (run.sh kills at 30). */
#define ASYNC_WATCHDOG_S 12
/* connect() must return at once: generous, the proxy waits 300 ms. */
#define ASYNC_CONNECT_MAX_MS 100
/* A finite wait may return 0 this much before its timeout (clocks). */
#define ASYNC_SLACK_MS 10

/* fake_socks.py's scripted ports on 192.0.2.1. */
#define PORT_OK(ms) (7000 + (ms) / 10)	/* success after ms, then echo */
#define PORT_REP(n) (7100 + (n))	/* REP n after 100 ms */
#define PORT_STALL 7200			/* never replies */
#define PORT_HANGUP 7300		/* hangs up instead of replying */
#define PORT_HANGUP_MID 7301		/* 4 bytes of the reply, hang-up */
#define PORT_MALFORMED 7302		/* reply with VER 4 */
#define PORT_HANGUP_LATE 7303		/* hangs up after 100 ms */
#define PORT_SPLIT 7400			/* reply in two pieces, 150 ms apart */
#define PORT_BANNER 7401		/* 200 ms, reply + banner together */
#define PORT_LATE_BANNER 7402		/* reply at 100 ms, banner at 400 */
#define PORT_SPLIT_BANNER 7403		/* split reply, banner with the tail */
#define BANNER_7401 "banner-7401\n"
#define LATE_7402 "late-7402\n"
#define SPLIT_7403 "split-7403\n"

/* The step in progress, for the watchdog's message. */
static const char *volatile async_step = "start";

#define ASYNC_STEP(name) (async_step = (name))

static inline double async_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline void async_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	if (ms <= 0)
		return;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static inline void async_watchdog(int sig)
{
	const char *step = async_step;
	char msg[200];
	int n;

	(void)sig;
	n = snprintf(msg, sizeof(msg), "FAIL hung for %d s in: %s\n",
		     ASYNC_WATCHDOG_S, step);
	if (n > 0)
		(void)!write(2, msg, (size_t)n);
	_exit(3);
}

/* Arms the watchdog (an alarm does not survive fork: a forked child is
 * bounded by its parent, which kills it). */
static inline void async_arm_watchdog(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = async_watchdog;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(ASYNC_WATCHDOG_S);
}

/* Re-executes the snippet with the short deadline unless it has it, then
 * arms the watchdog. Returns 0, or 1 (reported) when exec failed. */
static inline int async_setup(void)
{
	const char *t = getenv("SOCKS5WRAP_TIMEOUT");
	char self[PATH_MAX];
	char *argv[2];
	ssize_t n;

	if (t == NULL || strcmp(t, ASYNC_TIMEOUT) != 0) {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			FAIL("readlink /proc/self/exe: %s", strerror(errno));
		self[n] = '\0';
		if (setenv("SOCKS5WRAP_TIMEOUT", ASYNC_TIMEOUT, 1) != 0)
			FAIL("setenv: %s", strerror(errno));
		argv[0] = self;
		argv[1] = NULL;
		fflush(NULL);
		execv(self, argv);
		FAIL("re-exec with SOCKS5WRAP_TIMEOUT: %s", strerror(errno));
	}
	/* Writes to a connection the proxy dropped must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	async_arm_watchdog();
	return 0;
}

static inline struct sockaddr_in async_dst(int port)
{
	struct sockaddr_in sin = snippet_dst();

	sin.sin_port = htons((uint16_t)port);
	return sin;
}

static inline const char *async_errname(int e)
{
	switch (e) {
	case 0: return "0";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EACCES: return "EACCES";
	case ENETUNREACH: return "ENETUNREACH";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EPROTO: return "EPROTO";
	case EINPROGRESS: return "EINPROGRESS";
	case EALREADY: return "EALREADY";
	case EISCONN: return "EISCONN";
	case EAGAIN: return "EAGAIN";
	case ENOTCONN: return "ENOTCONN";
	case EINTR: return "EINTR";
	case EPIPE: return "EPIPE";
	case ECONNRESET: return "ECONNRESET";
	case ECONNABORTED: return "ECONNABORTED";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	default: return strerror(e);
	}
}

/* SO_ERROR, or -1 when getsockopt itself failed. */
static inline int async_so_error(int fd)
{
	int e = -1;
	socklen_t len = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
		return -1;
	return e;
}

/* True when getpeername(fd) is 192.0.2.1:port. */
static inline int async_peer_is(int fd, int port)
{
	struct sockaddr_in peer, want = async_dst(port);
	socklen_t len = sizeof(peer);

	if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
		return 0;
	return len == sizeof(peer) && peer.sin_family == AF_INET &&
	       peer.sin_port == want.sin_port &&
	       peer.sin_addr.s_addr == want.sin_addr.s_addr;
}

/* errno of getpeername(fd), 0 when it succeeded. */
static inline int async_peer_errno(int fd)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);

	return getpeername(fd, (struct sockaddr *)&peer, &len) == 0 ? 0
								      : errno;
}

static inline int async_socket(void)
{
	return socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/* connect() of the non-blocking fd to 192.0.2.1:port: must fail with
 * EINPROGRESS within ASYNC_CONNECT_MAX_MS. *t0 gets the time of the call.
 * Returns 0, or 1 (reported). */
static inline int async_connect(int fd, int port, double *t0)
{
	struct sockaddr_in dst = async_dst(port);
	double took;
	int r, e;

	*t0 = async_ms();
	r = connect(fd, (struct sockaddr *)&dst, sizeof(dst));
	e = errno;
	took = async_ms() - *t0;
	if (r == 0)
		FAIL("non-blocking connect to port %d returned 0 after %.0f ms,"
		     " not -1/EINPROGRESS", port, took);
	if (e != EINPROGRESS)
		FAIL("non-blocking connect to port %d: %s after %.0f ms, not "
		     "EINPROGRESS", port, async_errname(e), took);
	if (took > ASYNC_CONNECT_MAX_MS)
		FAIL("non-blocking connect to port %d took %.0f ms", port,
		     took);
	return 0;
}

/* A new non-blocking socket whose connect to port is in progress; -1
 * (reported) on failure. */
static inline int async_start(int port, double *t0)
{
	int fd = async_socket();

	if (fd < 0) {
		fprintf(stderr, "FAIL socket: %s\n", strerror(errno));
		return -1;
	}
	if (async_connect(fd, port, t0) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads exactly len bytes equal to want from the non-blocking fd, waiting
 * with poll() up to 2 s; and nothing more is there. 0, or 1 (reported). */
static inline int async_expect(int fd, const char *want, size_t len)
{
	char buf[128];
	double end = async_ms() + 2000;
	size_t got = 0;
	ssize_t r;
	struct pollfd p;

	if (len > sizeof(buf))
		FAIL("expected text too long");
	while (got < len) {
		p.fd = fd;
		p.events = POLLIN;
		p.revents = 0;
		if (async_ms() > end)
			FAIL("only %zu of %zu bytes arrived on fd %d", got, len,
			     fd);
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			FAIL("poll: %s", strerror(errno));
		r = recv(fd, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (r == 0)
			FAIL("end of stream after %zu of %zu bytes", got, len);
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			FAIL("recv: %s", async_errname(errno));
		if (r > 0)
			got += (size_t)r;
		if (memcmp(buf, want, got < len ? got : len) != 0 ||
		    got > len)
			FAIL("read \"%.*s\" where \"%.*s\" was due (handshake "
			     "bytes?)", (int)got, buf, (int)len, want);
	}
	if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0 || errno != EAGAIN)
		FAIL("more bytes than \"%.*s\" on fd %d", (int)len, want, fd);
	return 0;
}

/* Sends msg on the connected non-blocking fd and expects exactly it back
 * from the echoing proxy. 0, or 1 (reported). */
static inline int async_echo(int fd, const char *msg)
{
	size_t n = strlen(msg);
	ssize_t r = send(fd, msg, n, MSG_NOSIGNAL);

	if (r != (ssize_t)n)
		FAIL("send on fd %d: %zd, %s", fd, r, async_errname(errno));
	return async_expect(fd, msg, n);
}

/* A blocking connect to the plain destination still completes inside
 * connect() and echoes (this also leaves the "via ...: ok" line run.sh
 * looks for in the log). 0, or 1 (reported). */
static inline int async_blocking_ok(void)
{
	int fd;

	ASYNC_STEP("blocking connect");
	fd = snippet_connect();
	if (fd < 0)
		FAIL("blocking connect: %s", strerror(errno));
	if (snippet_echo(fd, "blocking") != 0)
		FAIL("blocking socket: no echo");
	close(fd);
	return 0;
}

/* ---- waits with a signal mask (ppoll, pselect, epoll_pwait[2]) ---- */

static volatile sig_atomic_t async_sig_hits;
static pthread_t async_sig_target;

static inline void async_sig_handler(int sig)
{
	(void)sig;
	async_sig_hits++;
}

static inline void *async_sig_sender(void *arg)
{
	(void)arg;
	async_sleep_ms(100);
	pthread_kill(async_sig_target, SIGUSR1);
	return NULL;
}

/* Blocks SIGUSR1 in this thread, catches it without SA_RESTART, and
 * starts a thread that sends it here in 100 ms. *open gets this thread's
 * mask without SIGUSR1: the mask to wait with. 0, or 1 (reported). */
static inline int async_sig_arm(pthread_t *th, sigset_t *open)
{
	struct sigaction sa;
	sigset_t usr1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = async_sig_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, open);
	sigdelset(open, SIGUSR1);
	async_sig_hits = 0;
	async_sig_target = pthread_self();
	if (pthread_create(th, NULL, async_sig_sender, NULL) != 0)
		FAIL("pthread_create");
	return 0;
}

/* After a wait with the mask from async_sig_arm() that returned r (errno
 * e) after took ms: it must have failed with EINTR when the signal came
 * (at 100 ms), the handler must have run, and SIGUSR1 must be blocked
 * again. Then SIGUSR1 is unblocked. 0, or 1 (reported). */
static inline int async_sig_check(pthread_t th, const char *api, int r,
				  int e, double took)
{
	sigset_t cur;
	int blocked;

	pthread_join(th, NULL);
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	blocked = sigismember(&cur, SIGUSR1);
	sigemptyset(&cur);
	sigaddset(&cur, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &cur, NULL);
	if (r != -1 || e != EINTR)
		FAIL("%s with a mask that lets SIGUSR1 in: returned %d (%s) "
		     "after %.0f ms, not EINTR at the signal", api, r,
		     async_errname(e), took);
	if (async_sig_hits != 1)
		FAIL("%s: the handler ran %d times", api, (int)async_sig_hits);
	if (took > 250)
		FAIL("%s: EINTR only after %.0f ms (signal at 100)", api, took);
	if (!blocked)
		FAIL("%s: the thread's signal mask was not restored", api);
	return 0;
}

/* ---- the readiness APIs behind one interface (async_waiters.h) ---- */

enum { AW_IN = 1, AW_OUT = 2, AW_ERR = 4, AW_HUP = 8, AW_RDHUP = 16 };
#define AW_MAX 64

struct aw_ev {
	int fd;
	unsigned ev;
};

struct waiter {
	const char *name;
	/* Register a socket before its connect() (as mio does), or after. */
	int before_connect;
	/* select reports readiness only; the others show POLLERR. */
	int shows_err;
	/* Level-triggered: a writable socket is reported again and again. */
	int level;
	/* One report per registration until re-armed (EPOLLONESHOT). */
	int oneshot;
	int (*add)(struct waiter *w, int fd, unsigned want);
	int (*mod)(struct waiter *w, int fd, unsigned want);
	int (*del)(struct waiter *w, int fd);
	/* Returns events (or -1 and errno); timeout_ms -1 waits forever. */
	int (*wait)(struct waiter *w, int timeout_ms, struct aw_ev *ev,
		    int max);
	void (*fini)(struct waiter *w);
	/* backend state */
	int epfd;
	uint32_t flags;
	unsigned calls;
	int rotate;
	int n;
	int fds[AW_MAX];
	unsigned want[AW_MAX];
};

static inline void aw_evstr(unsigned ev, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s%s", ev == 0 ? "none" : "",
		 ev & AW_IN ? "IN " : "", ev & AW_OUT ? "OUT " : "",
		 ev & AW_ERR ? "ERR " : "", ev & AW_HUP ? "HUP " : "",
		 ev & AW_RDHUP ? "RDHUP " : "");
}

/* ---- precise timing on two sockets ---- */

/* One wait that must time out: returns 0 events, and not before its
 * timeout. 0, or 1 (reported). */
static inline int async_quiet(struct waiter *w, int timeout_ms,
			      const char *why)
{
	struct aw_ev ev[8];
	char s[64];
	double t = async_ms(), took;
	int r = w->wait(w, timeout_ms, ev, 8);

	took = async_ms() - t;
	if (r < 0)
		FAIL("%s (%s): %s", w->name, why, async_errname(errno));
	if (r > 0) {
		aw_evstr(ev[0].ev, s, sizeof(s));
		FAIL("%s (%s): reported fd %d %s", w->name, why, ev[0].fd, s);
	}
	if (took < timeout_ms - ASYNC_SLACK_MS)
		FAIL("%s (%s): returned 0 after %.0f of %d ms", w->name, why,
		     took, timeout_ms);
	return 0;
}

/* One wait that must report exactly fd with exactly ev (ignoring
 * AW_HUP/RDHUP only when allowed), at least min_ms after t0 and before
 * the timeout ran out. 0, or 1 (reported). */
static inline int async_one(struct waiter *w, int timeout_ms, int fd,
			    unsigned want, double t0, int min_ms,
			    const char *why)
{
	struct aw_ev ev[8];
	char s[64], ws[64];
	double t = async_ms(), now;
	int r = w->wait(w, timeout_ms, ev, 8);

	now = async_ms();
	if (r < 0)
		FAIL("%s (%s): %s", w->name, why, async_errname(errno));
	if (r == 0)
		FAIL("%s (%s): nothing reported in %.0f ms (timeout %d)",
		     w->name, why, now - t, timeout_ms);
	aw_evstr(ev[0].ev, s, sizeof(s));
	aw_evstr(want, ws, sizeof(ws));
	if (r != 1 || ev[0].fd != fd)
		FAIL("%s (%s): %d reports, the first fd %d %s; expected fd %d",
		     w->name, why, r, ev[0].fd, s, fd);
	if (ev[0].ev != want)
		FAIL("%s (%s): fd %d reported %s, expected %s", w->name, why,
		     fd, s, ws);
	if (now - t0 < min_ms)
		FAIL("%s (%s): reported %.0f ms after connect, before the "
		     "proxy's reply (%d ms)", w->name, why, now - t0, min_ms);
	if (timeout_ms > 2 * ASYNC_SLACK_MS &&
	    now - t >= timeout_ms - ASYNC_SLACK_MS)
		FAIL("%s (%s): reported only at the timeout", w->name, why);
	return 0;
}

/* The finer points on two sockets connected at once:
 *   P: the proxy answers after 300 ms, then echoes; watched for IN|OUT.
 *   L: the proxy answers after 100 ms and sends a banner at 400 ms;
 *      watched for IN only.
 * A wait with timeout 0 and one with 100 ms see nothing (the handshake's
 * own traffic is not reported, and the 100 ms wait does not return 0
 * early because of it); a wait with 1000 ms reports P writable (and only
 * writable) right after its reply; the next reports L readable only when
 * its banner came, and reading it gives exactly the banner. P then has
 * SO_ERROR 0 (twice), the destination as its peer, and echoes. */
static inline int async_precise(struct waiter *w)
{
	double tp, tl;
	int p, l;

	ASYNC_STEP("precise: connect");
	p = async_socket();
	l = async_socket();
	if (p < 0 || l < 0)
		FAIL("socket: %s", strerror(errno));
	if (w->before_connect &&
	    (w->add(w, p, AW_IN | AW_OUT) != 0 || w->add(w, l, AW_IN) != 0))
		FAIL("%s: register before connect: %s", w->name,
		     async_errname(errno));
	if (async_connect(p, PORT_OK(300), &tp) != 0 ||
	    async_connect(l, PORT_LATE_BANNER, &tl) != 0)
		return 1;
	if (!w->before_connect &&
	    (w->add(w, p, AW_IN | AW_OUT) != 0 || w->add(w, l, AW_IN) != 0))
		FAIL("%s: register: %s", w->name, async_errname(errno));
	if (async_peer_errno(p) != ENOTCONN)
		FAIL("getpeername during the handshake: %s, not ENOTCONN",
		     async_errname(async_peer_errno(p)));
	ASYNC_STEP("precise: waits during the handshake");
	if (async_quiet(w, 0, "timeout 0 right after connect") != 0 ||
	    async_quiet(w, 100, "timeout 100 during the handshake") != 0)
		return 1;
	ASYNC_STEP("precise: wait for the reply");
	if (async_one(w, 1000, p, AW_OUT, tp, 290,
		      "timeout 1000, reply at 300 ms") != 0)
		return 1;
	if (async_so_error(p) != 0 || async_so_error(p) != 0)
		FAIL("SO_ERROR after success: %s",
		     async_errname(async_so_error(p)));
	if (!async_peer_is(p, PORT_OK(300)))
		FAIL("getpeername after success: not 192.0.2.1:%d (%s)",
		     PORT_OK(300), async_errname(async_peer_errno(p)));
	if (w->del(w, p) != 0)
		FAIL("%s: unregister: %s", w->name, async_errname(errno));
	ASYNC_STEP("precise: wait for the late banner");
	if (async_one(w, 1000, l, AW_IN, tl, 390,
		      "read interest only, banner at 400 ms") != 0)
		return 1;
	if (async_expect(l, LATE_7402, strlen(LATE_7402)) != 0)
		return 1;
	if (w->del(w, l) != 0)
		FAIL("%s: unregister: %s", w->name, async_errname(errno));
	ASYNC_STEP("precise: echo");
	if (async_echo(p, "precise") != 0 || async_echo(l, "late") != 0)
		return 1;
	close(p);
	close(l);
	return 0;
}

/* ---- many outcomes at once ---- */

enum { SC_HANDSHAKE, SC_BANNER, SC_DONE };

struct async_scen {
	int port;
	int want;	    /* SO_ERROR expected; 0 for success */
	const char *banner; /* what the proxy sends first, or NULL */
	int min_ms;	    /* earliest outcome, from connect() */
	int max_ms;	    /* latest outcome */
	int banner_ms;	    /* earliest the whole banner can be there */
	int fd;
	double t0;
	int phase;
	size_t got;
	char buf[64];
};

/* Every scripted outcome, REP codes with the errnos of the README's
 * table. Returns how many entries it filled. */
static inline int async_table(struct async_scen *s)
{
	static const struct async_scen t[] = {
		{ .port = PORT_OK(300), .min_ms = 290 },
		{ .port = PORT_OK(0) },
		{ .port = PORT_SPLIT, .min_ms = 140 },
		{ .port = PORT_BANNER, .banner = BANNER_7401, .min_ms = 190 },
		{ .port = PORT_LATE_BANNER, .banner = LATE_7402, .min_ms = 90,
		  .banner_ms = 390 },
		{ .port = PORT_SPLIT_BANNER, .banner = SPLIT_7403,
		  .min_ms = 140 },
		{ .port = PORT_REP(1), .want = ECONNREFUSED, .min_ms = 90 },
		{ .port = PORT_REP(2), .want = EACCES, .min_ms = 90 },
		{ .port = PORT_REP(3), .want = ENETUNREACH, .min_ms = 90 },
		{ .port = PORT_REP(4), .want = EHOSTUNREACH, .min_ms = 90 },
		{ .port = PORT_REP(5), .want = ECONNREFUSED, .min_ms = 90 },
		{ .port = PORT_REP(6), .want = ETIMEDOUT, .min_ms = 90 },
		{ .port = PORT_REP(7), .want = EOPNOTSUPP, .min_ms = 90 },
		{ .port = PORT_REP(8), .want = EAFNOSUPPORT, .min_ms = 90 },
		{ .port = PORT_HANGUP, .want = EPROTO },
		{ .port = PORT_HANGUP_MID, .want = EPROTO },
		{ .port = PORT_MALFORMED, .want = EPROTO },
		{ .port = PORT_HANGUP_LATE, .want = EPROTO, .min_ms = 90 },
		{ .port = PORT_STALL, .want = ETIMEDOUT,
		  .min_ms = ASYNC_DEADLINE_MS - 50,
		  .max_ms = ASYNC_DEADLINE_MS + 1000 },
	};
	int i, n = (int)(sizeof(t) / sizeof(t[0]));

	for (i = 0; i < n; i++) {
		s[i] = t[i];
		if (s[i].max_ms == 0)
			s[i].max_ms = ASYNC_DEADLINE_MS;
	}
	return n;
}

/* The stalled connection of async_scenarios(), when async_stall_early()
 * started it: its deadline counts from its connect(), so it can run out
 * while other checks run, and the scenarios need not wait for all of it. */
static struct {
	int fd;
	double t0;
} async_early = { -1, 0 };

/* Starts the stalled connection for async_scenarios() now; it is
 * registered with the waiter only there (after connect(), whatever the
 * waiter's habit). 0, or 1 (reported). */
static inline int async_stall_early(void)
{
	async_early.fd = async_start(PORT_STALL, &async_early.t0);
	return async_early.fd < 0;
}

/* Reads what is there (until EAGAIN: edge-triggered waiters report once)
 * and checks it against the banner. 0, or 1 (reported). */
static inline int async_take_banner(struct waiter *w, struct async_scen *c)
{
	size_t len = strlen(c->banner);
	ssize_t r;
	int i;

	for (i = 0; i < 64; i++) {
		r = recv(c->fd, c->buf + c->got, sizeof(c->buf) - c->got,
			 MSG_DONTWAIT);
		if (r == 0)
			FAIL("port %d: end of stream in the banner", c->port);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (r < 0)
			FAIL("port %d: recv: %s", c->port,
			     async_errname(errno));
		c->got += (size_t)r;
		if (c->got > len ||
		    memcmp(c->buf, c->banner, c->got) != 0)
			FAIL("%s: port %d: read \"%.*s\", the banner is "
			     "\"%s\" (handshake bytes?)", w->name, c->port,
			     (int)c->got, c->buf, c->banner);
	}
	if (c->got < len)
		return w->oneshot ? w->mod(w, c->fd, AW_IN) : 0;
	if (async_ms() - c->t0 < c->banner_ms)
		FAIL("port %d: banner after %.0f ms, it is sent at %d ms",
		     c->port, async_ms() - c->t0, c->banner_ms);
	c->phase = SC_DONE;
	return w->del(w, c->fd);
}

/* The first report for a socket: the handshake's outcome. */
static inline int async_outcome(struct waiter *w, struct async_scen *c,
				unsigned ev)
{
	double t = async_ms() - c->t0;
	char s[64];
	int e;

	aw_evstr(ev, s, sizeof(s));
	if (!(ev & AW_OUT))
		FAIL("%s: port %d: first report %s lacks OUT", w->name,
		     c->port, s);
	if (t < c->min_ms)
		FAIL("%s: port %d reported %s after %.0f ms, before the "
		     "proxy's answer (%d ms)", w->name, c->port, s, t,
		     c->min_ms);
	if (t > c->max_ms)
		FAIL("%s: port %d reported only after %.0f ms", w->name,
		     c->port, t);
	if (c->want != 0 && w->shows_err && !(ev & AW_ERR))
		FAIL("%s: port %d failed, reported %s without ERR", w->name,
		     c->port, s);
	if (c->want == 0 && (ev & (AW_ERR | AW_HUP | AW_RDHUP)))
		FAIL("%s: port %d succeeded, reported %s", w->name, c->port,
		     s);
	if (c->want == 0 && c->banner == NULL && (ev & AW_IN))
		FAIL("%s: port %d readable with nothing sent (handshake "
		     "bytes?)", w->name, c->port);
	e = async_so_error(c->fd);
	if (e != c->want)
		FAIL("%s: port %d: SO_ERROR %s, expected %s", w->name,
		     c->port, async_errname(e), async_errname(c->want));
	if (c->want != 0) {
		e = async_so_error(c->fd);
		if (e != 0)
			FAIL("port %d: second SO_ERROR %s, expected 0",
			     c->port, async_errname(e));
		e = async_peer_errno(c->fd);
		if (e != ENOTCONN)
			FAIL("port %d: getpeername after failure: %s", c->port,
			     async_errname(e));
		c->phase = SC_DONE;
		return w->del(w, c->fd);
	}
	if (!async_peer_is(c->fd, c->port))
		FAIL("port %d: getpeername is not the destination (%s)",
		     c->port, async_errname(async_peer_errno(c->fd)));
	if (c->banner == NULL) {
		c->phase = SC_DONE;
		return w->del(w, c->fd);
	}
	c->phase = SC_BANNER;
	/* Level-triggered: stop the endless OUT; oneshot: re-arm. */
	if ((w->level || w->oneshot) && w->mod(w, c->fd, AW_IN) != 0)
		FAIL("%s: port %d: re-register: %s", w->name, c->port,
		     async_errname(errno));
	return (ev & AW_IN) ? async_take_banner(w, c) : 0;
}

/* Connects every socket of s[0..n) (registered before or after connect
 * as the waiter says), then waits until each has its outcome: with an
 * infinite timeout while any handshake is open (the deadline ends the
 * stalled one), then with 1000 ms for banners still due. Each report must
 * come in its scripted window and carry the right flags, SO_ERROR must
 * give the errno once, banners arrive whole without handshake bytes, and
 * every success echoes afterwards. 0, or 1 (reported). */
static inline int async_run(struct waiter *w, struct async_scen *s, int n)
{
	struct aw_ev ev[AW_MAX];
	double start = async_ms();
	int i, k, r, open, left, iter;
	struct async_scen *c;

	ASYNC_STEP("scenarios: connect");
	for (i = 0; i < n; i++) {
		s[i].phase = SC_HANDSHAKE;
		s[i].got = 0;
		if (s[i].port == PORT_STALL && async_early.fd >= 0) {
			s[i].fd = async_early.fd;
			s[i].t0 = async_early.t0;
			async_early.fd = -1;
			if (w->add(w, s[i].fd, AW_IN | AW_OUT) != 0)
				FAIL("%s: register: %s", w->name,
				     async_errname(errno));
			continue;
		}
		s[i].fd = async_socket();
		if (s[i].fd < 0)
			FAIL("socket: %s", strerror(errno));
		if (w->before_connect &&
		    w->add(w, s[i].fd, AW_IN | AW_OUT) != 0)
			FAIL("%s: register: %s", w->name, async_errname(errno));
		if (async_connect(s[i].fd, s[i].port, &s[i].t0) != 0)
			return 1;
		if (!w->before_connect &&
		    w->add(w, s[i].fd, AW_IN | AW_OUT) != 0)
			FAIL("%s: register: %s", w->name, async_errname(errno));
	}
	ASYNC_STEP("scenarios: wait for every outcome");
	for (iter = 0;; iter++) {
		for (i = open = left = 0; i < n; i++) {
			open += s[i].phase == SC_HANDSHAKE;
			left += s[i].phase != SC_DONE;
		}
		if (left == 0)
			break;
		if (iter > 500 || async_ms() - start > 4000)
			FAIL("%s: %d sockets unfinished after %d waits, %.0f "
			     "ms", w->name, left, iter, async_ms() - start);
		r = w->wait(w, open > 0 ? -1 : 1000, ev, AW_MAX);
		if (r < 0)
			FAIL("%s: %s", w->name, async_errname(errno));
		if (r == 0 && open > 0)
			FAIL("%s returned 0 with an infinite timeout", w->name);
		if (r == 0)
			FAIL("%s: %d sockets never reported their banner as "
			     "readable", w->name, left);
		for (k = 0; k < r; k++) {
			for (c = NULL, i = 0; i < n && c == NULL; i++)
				if (s[i].fd == ev[k].fd &&
				    s[i].phase != SC_DONE)
					c = &s[i];
			if (c == NULL)
				FAIL("%s reported fd %d, not an open one",
				     w->name, ev[k].fd);
			if (c->phase == SC_HANDSHAKE
				    ? async_outcome(w, c, ev[k].ev) != 0
				    : (ev[k].ev & AW_IN) &&
					      async_take_banner(w, c) != 0)
				return 1;
		}
	}
	ASYNC_STEP("scenarios: echo");
	for (i = 0; i < n; i++) {
		if (s[i].want == 0 && async_echo(s[i].fd, "scenario") != 0)
			return 1;
		close(s[i].fd);
	}
	return 0;
}

/* async_run() on every scripted outcome, plus many more connections
 * delayed 300 ms each: they all finish in their window (by the deadline,
 * 800 ms), not one after another (many * 300 ms). */
static inline int async_scenarios(struct waiter *w, int many)
{
	struct async_scen s[AW_MAX];
	int i, n = async_table(s);

	if (n + many > AW_MAX)
		FAIL("too many connections");
	for (i = n; i < n + many; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].port = PORT_OK(300);
		s[i].min_ms = 290;
		s[i].max_ms = ASYNC_DEADLINE_MS;
	}
	return async_run(w, s, n + many);
}

#endif
