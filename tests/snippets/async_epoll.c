/* Level-triggered epoll and the asynchronous connect (async.h), through
 * epoll_wait, epoll_pwait and epoll_pwait2 in turn:
 *   - the checks of async_poll.c (nothing reported during the handshake,
 *     a 100 ms wait that sees only handshake traffic does not return 0
 *     early, EPOLLOUT only after the proxy's reply, EPOLLIN only for data
 *     after it; every failure as EPOLLOUT|EPOLLERR with SO_ERROR once; a
 *     stall ends at the deadline even with an infinite timeout), with the
 *     socket registered after connect() and, for the outcomes and the 20
 *     concurrent connections, before it;
 *   - the program's epoll_data comes back unchanged in every event;
 *   - level-triggered: a connected socket is reported again and again;
 *   - epoll_pwait and epoll_pwait2 with a signal mask that lets a blocked
 *     signal in return EINTR when it arrives, with the old mask back. */
#include "async_waiters.h"

static int check_out(const struct epoll_event *e, int r, int fd,
		     const char *why)
{
	if (r != 1)
		FAIL("%s: %d events (%s)", why, r, async_errname(errno));
	if (e->data.u64 != aw_tag(fd))
		FAIL("%s: epoll data %#llx, registered %#llx", why,
		     (unsigned long long)e->data.u64,
		     (unsigned long long)aw_tag(fd));
	if (e->events != EPOLLOUT)
		FAIL("%s: events %#x, expected EPOLLOUT", why, e->events);
	return 0;
}

static int sigmask_waits(void)
{
	struct epoll_event ev, e[4];
	pthread_t th;
	sigset_t open;
	double t0, t;
	int fd, ep, r, err, i;

	ASYNC_STEP("epoll_pwait/epoll_pwait2 with a signal mask");
	fd = async_start(PORT_OK(300), &t0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0 || ep < 0)
		FAIL("set-up: %s", strerror(errno));
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.u64 = aw_tag(fd);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		FAIL("EPOLL_CTL_ADD: %s", async_errname(errno));
	if (async_sig_arm(&th, &open) != 0)
		return 1;
	t = async_ms();
	r = epoll_pwait(ep, e, 4, -1, &open);
	err = errno;
	if (async_sig_check(th, "epoll_pwait", r, err, async_ms() - t) != 0)
		return 1;
	if (async_sig_arm(&th, &open) != 0)
		return 1;
	t = async_ms();
	r = epoll_pwait2(ep, e, 4, NULL, &open);
	err = errno;
	if (async_sig_check(th, "epoll_pwait2", r, err, async_ms() - t) != 0)
		return 1;
	r = epoll_wait(ep, e, 4, -1);
	if (check_out(e, r, fd, "epoll_wait after EINTR") != 0)
		return 1;
	if (async_ms() - t0 < 290)
		FAIL("writable before the proxy's reply");
	ASYNC_STEP("level-triggered: reported again");
	for (i = 0; i < 3; i++) {
		r = epoll_wait(ep, e, 4, 0);
		if (check_out(e, r, fd, "level-triggered, again") != 0)
			return 1;
	}
	if (async_so_error(fd) != 0 || async_echo(fd, "epoll") != 0)
		FAIL("no connection after the interrupted waits");
	close(ep);
	close(fd);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct waiter w;

	if (async_setup() != 0)
		return 1;
	if (aw_epoll(&w, "epoll (level-triggered)", 0, 0) != 0)
		FAIL("epoll_create1: %s", strerror(errno));
	w.rotate = 1;
	if (async_stall_early() != 0 || async_precise(&w) != 0)
		return 1;
	w.before_connect = 1;
	if (async_scenarios(&w, 20) != 0 || sigmask_waits() != 0)
		return 1;
	w.fini(&w);
	return async_blocking_ok();
}
