/* EPOLLONESHOT and the asynchronous connect (async.h):
 *   - the checks of async_poll.c through a oneshot registration that the
 *     program re-arms with EPOLL_CTL_MOD after each event, registered
 *     after connect() and (for the outcomes) before it: the handshake's
 *     own traffic must not use up the one event (a program that waits
 *     for EPOLLIN only, as for the late banner, would never hear again);
 *   - after its one event the registration stays disarmed: data echoed
 *     meanwhile is not reported until the program re-arms it, and then
 *     at once, with the program's epoll_data. */
#include "async_waiters.h"

static int disarmed(void)
{
	struct waiter w;
	double t0;
	int s;

	ASYNC_STEP("oneshot: disarmed after its event");
	if (aw_epoll(&w, "epoll EPOLLONESHOT", EPOLLONESHOT, 1) != 0)
		FAIL("epoll_create1: %s", strerror(errno));
	s = async_socket();
	if (s < 0 || w.add(&w, s, AW_IN | AW_OUT) != 0)
		FAIL("set-up: %s", async_errname(errno));
	if (async_connect(s, PORT_OK(200), &t0) != 0)
		return 1;
	if (async_quiet(&w, 0, "oneshot, right after connect") != 0 ||
	    async_one(&w, 1000, s, AW_OUT, t0, 190, "the one event") != 0)
		return 1;
	if (send(s, "once", 4, MSG_NOSIGNAL) != 4)
		FAIL("send: %s", async_errname(errno));
	if (async_quiet(&w, 300, "disarmed, echoed data waiting") != 0)
		return 1;
	if (w.mod(&w, s, AW_IN) != 0)
		FAIL("re-arm: %s", async_errname(errno));
	if (async_one(&w, 1000, s, AW_IN, t0, 0, "re-armed") != 0 ||
	    async_expect(s, "once", 4) != 0 ||
	    async_quiet(&w, 0, "disarmed again") != 0)
		return 1;
	close(s);
	w.fini(&w);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct waiter w;

	if (async_setup() != 0)
		return 1;
	if (aw_epoll(&w, "epoll EPOLLONESHOT", EPOLLONESHOT, 0) != 0)
		FAIL("epoll_create1: %s", strerror(errno));
	if (async_stall_early() != 0 || async_precise(&w) != 0)
		return 1;
	w.before_connect = 1;
	if (async_scenarios(&w, 20) != 0 || disarmed() != 0)
		return 1;
	w.fini(&w);
	return async_blocking_ok();
}
