/* Edge-triggered epoll and the asynchronous connect (async.h), the way
 * Rust's mio registers a socket: EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET,
 * before connect():
 *   - the checks of async_poll.c through epoll_wait: the readiness a
 *     fresh socket shows when it is registered, and the handshake's own
 *     traffic, never reach the program; the one EPOLLOUT edge comes after
 *     the proxy's reply, with the program's epoll_data;
 *   - data that came in the reply's own segment is announced with
 *     EPOLLIN without the program reading first (an edge-triggered
 *     program waits for it; the kernel saw that segment during the
 *     handshake);
 *   - after the edge, nothing more until new data: then one EPOLLIN;
 *   - registered after connect(), the edge comes all the same. */
#include "async_waiters.h"

static int edges(void)
{
	struct waiter w;
	double t0, t1;
	int s, t;

	ASYNC_STEP("edges: register before connect");
	if (aw_epoll(&w, "epoll EPOLLET", EPOLLET | EPOLLRDHUP, 1) != 0)
		FAIL("epoll_create1: %s", strerror(errno));
	s = async_socket();
	t = async_socket();
	if (s < 0 || t < 0 || w.add(&w, s, AW_IN | AW_OUT) != 0)
		FAIL("set-up: %s", async_errname(errno));
	if (async_connect(s, PORT_OK(200), &t0) != 0)
		return 1;
	if (async_quiet(&w, 0, "edge-triggered, right after connect") != 0 ||
	    async_one(&w, 1000, s, AW_OUT, t0, 190, "the connect edge") != 0 ||
	    async_quiet(&w, 0, "edge-triggered, after the edge") != 0)
		return 1;
	ASYNC_STEP("edges: new data");
	if (send(s, "edge", 4, MSG_NOSIGNAL) != 4)
		FAIL("send: %s", async_errname(errno));
	if (async_one(&w, 1000, s, AW_IN | AW_OUT, t0, 0, "echoed data") != 0)
		return 1;
	if (async_expect(s, "edge", 4) != 0 ||
	    async_quiet(&w, 0, "edge-triggered, all read") != 0)
		return 1;
	ASYNC_STEP("edges: register after connect");
	if (async_connect(t, PORT_OK(100), &t1) != 0 ||
	    w.add(&w, t, AW_IN | AW_OUT) != 0)
		FAIL("register after connect: %s", async_errname(errno));
	if (async_one(&w, 1000, t, AW_OUT, t1, 90, "registered after") != 0 ||
	    async_echo(t, "after") != 0)
		return 1;
	close(s);
	close(t);
	w.fini(&w);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct waiter w;

	if (async_setup() != 0)
		return 1;
	if (aw_epoll(&w, "epoll EPOLLET (mio)", EPOLLET | EPOLLRDHUP, 1) != 0)
		FAIL("epoll_create1: %s", strerror(errno));
	if (async_stall_early() != 0 || async_precise(&w) != 0 ||
	    async_scenarios(&w, 20) != 0 || edges() != 0)
		return 1;
	w.fini(&w);
	return async_blocking_ok();
}
