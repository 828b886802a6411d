/* EPOLLEXCLUSIVE and the asynchronous connect (async.h):
 *   - the checks of async_poll.c through EPOLLEXCLUSIVE registrations
 *     (level-triggered; such a registration cannot be modified, so the
 *     program deletes and adds it again), made after connect() and, for
 *     the outcomes, before it;
 *   - EPOLL_CTL_MOD on such a registration still fails with EINVAL during
 *     the handshake, as the kernel has it, and the registration still
 *     reports the outcome;
 *   - the socket in two epoll sets, exclusively in each, one thread
 *     waiting on each with an infinite timeout: at least one is woken
 *     with the socket writable after the proxy's reply; both return once
 *     a pipe in both sets is written, with only the data they registered. */
#include <stdatomic.h>

#include "async_waiters.h"

static int mod_refused(void)
{
	struct waiter w;
	struct epoll_event ev;
	double t0;
	int s;

	ASYNC_STEP("exclusive: EPOLL_CTL_MOD refused");
	if (aw_epoll(&w, "epoll EPOLLEXCLUSIVE", EPOLLEXCLUSIVE, 0) != 0)
		FAIL("epoll_create1: %s", strerror(errno));
	s = async_start(PORT_OK(200), &t0);
	if (s < 0 || w.add(&w, s, AW_OUT) != 0)
		FAIL("set-up: %s", async_errname(errno));
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.u64 = aw_tag(s);
	if (epoll_ctl(w.epfd, EPOLL_CTL_MOD, s, &ev) == 0 || errno != EINVAL)
		FAIL("EPOLL_CTL_MOD of an exclusive registration: %s, not "
		     "EINVAL", async_errname(errno));
	if (async_one(&w, 1000, s, AW_OUT, t0, 190, "after the refused MOD") ||
	    async_echo(s, "exclusive") != 0)
		return 1;
	close(s);
	w.fini(&w);
	return 0;
}

struct excl_waiter {
	pthread_t th;
	int ep;
	uint64_t tag; /* the socket's data in this set */
	int r, err;
	struct epoll_event e[4];
	double at;
};

static atomic_int excl_returned;

static void *excl_wait(void *arg)
{
	struct excl_waiter *x = arg;

	x->r = epoll_wait(x->ep, x->e, 4, -1);
	x->err = errno;
	x->at = async_ms();
	atomic_fetch_add(&excl_returned, 1);
	return NULL;
}

static int excl_join(struct excl_waiter *x)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	if (pthread_timedjoin_np(x->th, NULL, &ts) != 0)
		FAIL("a thread in epoll_wait did not return after the pipe "
		     "was written");
	return 0;
}

static int two_sets(void)
{
	struct excl_waiter x[2];
	struct epoll_event ev;
	double t0;
	int s, pp[2], i, k, woken = 0;

	ASYNC_STEP("exclusive: two sets, two threads");
	s = async_start(PORT_OK(300), &t0);
	if (s < 0 || pipe(pp) != 0)
		FAIL("set-up: %s", strerror(errno));
	atomic_store(&excl_returned, 0);
	for (i = 0; i < 2; i++) {
		x[i].ep = epoll_create1(EPOLL_CLOEXEC);
		x[i].tag = aw_tag(s) + ((uint64_t)(i + 1) << 32);
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLOUT | EPOLLEXCLUSIVE;
		ev.data.u64 = x[i].tag;
		if (x[i].ep < 0 ||
		    epoll_ctl(x[i].ep, EPOLL_CTL_ADD, s, &ev) != 0)
			FAIL("exclusive ADD: %s", async_errname(errno));
		ev.events = EPOLLIN;
		ev.data.u64 = 0xfeed;
		if (epoll_ctl(x[i].ep, EPOLL_CTL_ADD, pp[0], &ev) != 0)
			FAIL("ADD pipe: %s", async_errname(errno));
	}
	for (i = 0; i < 2; i++)
		if (pthread_create(&x[i].th, NULL, excl_wait, &x[i]) != 0)
			FAIL("pthread_create");
	for (i = 0; i < 400 && atomic_load(&excl_returned) == 0; i++)
		async_sleep_ms(5);
	if (write(pp[1], "x", 1) != 1)
		FAIL("write: %s", strerror(errno));
	if (excl_join(&x[0]) != 0 || excl_join(&x[1]) != 0)
		return 1;
	for (i = 0; i < 2; i++) {
		if (x[i].r <= 0)
			FAIL("thread %d: epoll_wait returned %d (%s)", i,
			     x[i].r, async_errname(x[i].err));
		for (k = 0; k < x[i].r; k++) {
			if (x[i].e[k].data.u64 == 0xfeed)
				continue;
			if (x[i].e[k].data.u64 != x[i].tag)
				FAIL("thread %d: epoll data %#llx", i,
				     (unsigned long long)x[i].e[k].data.u64);
			if (x[i].e[k].events != EPOLLOUT)
				FAIL("thread %d: events %#x", i,
				     x[i].e[k].events);
			if (x[i].at - t0 < 290)
				FAIL("thread %d: writable before the reply", i);
			woken++;
		}
	}
	if (woken == 0)
		FAIL("no thread was woken for the connected socket");
	if (async_so_error(s) != 0 || async_echo(s, "two sets") != 0)
		return 1;
	for (i = 0; i < 2; i++)
		close(x[i].ep);
	close(pp[0]);
	close(pp[1]);
	close(s);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct waiter w;

	if (async_setup() != 0)
		return 1;
	if (aw_epoll(&w, "epoll EPOLLEXCLUSIVE", EPOLLEXCLUSIVE, 0) != 0)
		FAIL("epoll_create1: %s", strerror(errno));
	if (async_stall_early() != 0 || async_precise(&w) != 0)
		return 1;
	w.before_connect = 1;
	if (async_scenarios(&w, 20) != 0 || mod_refused() != 0 ||
	    two_sets() != 0)
		return 1;
	w.fini(&w);
	return async_blocking_ok();
}
