/* Threads and the asynchronous connect (async.h):
 *   - One thread waits in epoll_wait with an infinite timeout on a set
 *     holding a stalled socket and a pipe; another closes the socket,
 *     then writes the pipe. The waiter returns with the pipe only (under
 *     the kernel a closed socket leaves the set; nothing is reported for
 *     it), and nothing is reported for it after its deadline either.
 *   - Two threads wait in epoll_wait, infinite timeout, on one set: at
 *     least one is woken with the socket writable after the proxy's
 *     reply, with the program's data; both return once a pipe in the
 *     set is written.
 *   - One thread waits in poll() and another in epoll_wait() on the same
 *     socket, both with infinite timeouts: both are woken after the
 *     reply.
 *   - A thread in poll() with a 400 ms timeout on a stalled socket that
 *     another thread closes returns within the timeout and a margin.
 *   - Eight threads connect and wait at once: all connect and echo.
 * Joins are bounded: a thread that does not return fails the snippet. */
#include <stdatomic.h>

#include "async_waiters.h"

#define TAG_PIPE 0xfeedULL

struct waiter_th {
	pthread_t th;
	int ep, fd;   /* epoll set, or -1 for poll() on fd */
	int timeout;
	int r, err;
	struct epoll_event e[4];
	short revents;
	double at;
};

static atomic_int returned;

static void *wait_th(void *arg)
{
	struct waiter_th *x = arg;
	struct pollfd p;

	if (x->ep >= 0) {
		x->r = epoll_wait(x->ep, x->e, 4, x->timeout);
	} else {
		p.fd = x->fd;
		p.events = POLLOUT;
		p.revents = 0;
		x->r = poll(&p, 1, x->timeout);
		x->revents = p.revents;
	}
	x->err = errno;
	x->at = async_ms();
	atomic_fetch_add(&returned, 1);
	return NULL;
}

static int start_th(struct waiter_th *x, int ep, int fd, int timeout)
{
	memset(x, 0, sizeof(*x));
	x->ep = ep;
	x->fd = fd;
	x->timeout = timeout;
	if (pthread_create(&x->th, NULL, wait_th, x) != 0)
		FAIL("pthread_create");
	return 0;
}

static int join_th(struct waiter_th *x, int ms, const char *what)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(x->th, NULL, &ts) != 0)
		FAIL("%s: the thread did not return within %d ms", what, ms);
	return 0;
}

/* The set of close_while_waiting(), checked again later. */
static struct {
	int ep, pp[2];
	double t0;
} closed;

static int close_while_waiting(void)
{
	struct waiter_th x;
	double t0;
	char c;
	int ep, s, pp[2];

	ASYNC_STEP("threads: close during epoll_wait");
	ep = epoll_create1(EPOLL_CLOEXEC);
	s = async_start(PORT_STALL, &t0);
	if (ep < 0 || s < 0 || pipe(pp) != 0 ||
	    async_ep_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLOUT, aw_tag(s)) ||
	    async_ep_ctl(ep, EPOLL_CTL_ADD, pp[0], EPOLLIN, TAG_PIPE))
		FAIL("set-up: %s", strerror(errno));
	if (start_th(&x, ep, -1, -1) != 0)
		return 1;
	async_sleep_ms(100);
	close(s);
	async_sleep_ms(50);
	if (write(pp[1], "x", 1) != 1)
		FAIL("write: %s", strerror(errno));
	if (join_th(&x, 1500, "epoll_wait, socket closed") != 0)
		return 1;
	if (x.r != 1 || x.e[0].data.u64 != TAG_PIPE)
		FAIL("epoll_wait after close: %d events, data %#llx (%s)", x.r,
		     x.r > 0 ? (unsigned long long)x.e[0].data.u64 : 0ULL,
		     async_errname(x.err));
	if (read(pp[0], &c, 1) != 1)
		FAIL("read: %s", strerror(errno));
	closed.ep = ep;
	closed.pp[0] = pp[0];
	closed.pp[1] = pp[1];
	closed.t0 = t0;
	return 0;
}

/* Once the closed socket's deadline has passed (the other checks run
 * meanwhile), its set still reports nothing. */
static int closed_stays_quiet(void)
{
	ASYNC_STEP("threads: the closed socket's deadline");
	async_sleep_ms((int)(closed.t0 + ASYNC_DEADLINE_MS + 100 - async_ms()));
	if (async_ep_quiet(closed.ep, 0, "the closed socket's deadline "
					 "passed") != 0)
		return 1;
	close(closed.pp[0]);
	close(closed.pp[1]);
	close(closed.ep);
	return 0;
}

static int two_waiters(void)
{
	struct waiter_th x[2];
	double t0;
	int ep, s, pp[2], i, k, woken = 0;

	ASYNC_STEP("threads: two in epoll_wait on one set");
	ep = epoll_create1(EPOLL_CLOEXEC);
	s = async_start(PORT_OK(300), &t0);
	if (ep < 0 || s < 0 || pipe(pp) != 0 ||
	    async_ep_ctl(ep, EPOLL_CTL_ADD, s, EPOLLOUT, aw_tag(s)) ||
	    async_ep_ctl(ep, EPOLL_CTL_ADD, pp[0], EPOLLIN, TAG_PIPE))
		FAIL("set-up: %s", strerror(errno));
	atomic_store(&returned, 0);
	if (start_th(&x[0], ep, -1, -1) != 0 ||
	    start_th(&x[1], ep, -1, -1) != 0)
		return 1;
	for (i = 0; i < 400 && atomic_load(&returned) == 0; i++)
		async_sleep_ms(5);
	if (write(pp[1], "x", 1) != 1)
		FAIL("write: %s", strerror(errno));
	if (join_th(&x[0], 2000, "two waiters") != 0 ||
	    join_th(&x[1], 2000, "two waiters") != 0)
		return 1;
	for (i = 0; i < 2; i++) {
		if (x[i].r <= 0)
			FAIL("waiter %d: %d (%s)", i, x[i].r,
			     async_errname(x[i].err));
		for (k = 0; k < x[i].r; k++) {
			if (x[i].e[k].data.u64 == TAG_PIPE)
				continue;
			if (x[i].e[k].data.u64 != aw_tag(s) ||
			    x[i].e[k].events != EPOLLOUT)
				FAIL("waiter %d: data %#llx events %#x", i,
				     (unsigned long long)x[i].e[k].data.u64,
				     x[i].e[k].events);
			if (x[i].at - t0 < 290)
				FAIL("waiter %d: writable before the reply", i);
			woken++;
		}
	}
	if (woken == 0)
		FAIL("neither waiter saw the socket connect");
	if (async_so_error(s) != 0 || async_echo(s, "two waiters") != 0)
		return 1;
	close(s);
	close(pp[0]);
	close(pp[1]);
	close(ep);
	return 0;
}

static int poll_and_epoll(void)
{
	struct waiter_th x[2];
	double t0;
	int ep, s;

	ASYNC_STEP("threads: poll and epoll_wait on one socket");
	ep = epoll_create1(EPOLL_CLOEXEC);
	s = async_start(PORT_OK(300), &t0);
	if (ep < 0 || s < 0 ||
	    async_ep_ctl(ep, EPOLL_CTL_ADD, s, EPOLLOUT, aw_tag(s)))
		FAIL("set-up: %s", strerror(errno));
	if (start_th(&x[0], -1, s, -1) != 0 || start_th(&x[1], ep, s, -1))
		return 1;
	if (join_th(&x[0], 2000, "poll on the socket") != 0 ||
	    join_th(&x[1], 2000, "epoll_wait on the socket") != 0)
		return 1;
	if (x[0].r != 1 || x[0].revents != POLLOUT)
		FAIL("poll: %d, revents %#x (%s)", x[0].r, x[0].revents,
		     async_errname(x[0].err));
	if (x[1].r != 1 || x[1].e[0].data.u64 != aw_tag(s) ||
	    x[1].e[0].events != EPOLLOUT)
		FAIL("epoll_wait: %d (%s)", x[1].r, async_errname(x[1].err));
	if (x[0].at - t0 < 290 || x[1].at - t0 < 290)
		FAIL("writable before the reply");
	if (async_so_error(s) != 0 || async_echo(s, "both") != 0)
		return 1;
	close(s);
	close(ep);
	return 0;
}

static int poll_close(void)
{
	struct waiter_th x;
	double t;
	int s;

	ASYNC_STEP("threads: close during poll");
	s = async_start(PORT_STALL, &t);
	if (s < 0 || start_th(&x, -1, s, 400) != 0)
		return 1;
	async_sleep_ms(100);
	close(s);
	if (join_th(&x, 1500, "poll, socket closed") != 0)
		return 1;
	if (x.at - t > 400 + 300)
		FAIL("poll with 400 ms returned after %.0f ms", x.at - t);
	return 0;
}

struct connector {
	pthread_t th;
	char why[120];
};

static void *connect_th(void *arg)
{
	struct connector *c = arg;
	struct pollfd p;
	double t0;
	int fd = async_start(PORT_OK(100), &t0), r;

	if (fd < 0) {
		snprintf(c->why, sizeof(c->why), "connect failed");
		return NULL;
	}
	p.fd = fd;
	p.events = POLLOUT;
	p.revents = 0;
	r = poll(&p, 1, 2000);
	if (r != 1 || p.revents != POLLOUT || async_so_error(fd) != 0 ||
	    async_ms() - t0 < 90)
		snprintf(c->why, sizeof(c->why), "poll %d revents %#x", r,
			 p.revents);
	else if (async_echo(fd, "thread") != 0)
		snprintf(c->why, sizeof(c->why), "no echo");
	close(fd);
	return NULL;
}

static int many_threads(void)
{
	struct connector c[8];
	struct timespec ts;
	int i;

	ASYNC_STEP("threads: eight connect at once");
	memset(c, 0, sizeof(c));
	for (i = 0; i < 8; i++)
		if (pthread_create(&c[i].th, NULL, connect_th, &c[i]) != 0)
			FAIL("pthread_create");
	for (i = 0; i < 8; i++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 3;
		if (pthread_timedjoin_np(c[i].th, NULL, &ts) != 0)
			FAIL("connecting thread %d hangs", i);
		if (c[i].why[0] != '\0')
			FAIL("connecting thread %d: %s", i, c[i].why);
	}
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	if (async_setup() != 0 || close_while_waiting() != 0 ||
	    two_waiters() != 0 || poll_and_epoll() != 0 ||
	    poll_close() != 0 || many_threads() != 0 ||
	    closed_stays_quiet() != 0)
		return 1;
	return async_blocking_ok();
}
