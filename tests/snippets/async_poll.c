/* poll() and the asynchronous connect (async.h): a non-blocking connect
 * to a proxied destination returns EINPROGRESS at once, and poll() drives
 * the SOCKS5 handshake:
 *   - timeout 0 and 100 ms during the handshake report nothing, and the
 *     100 ms wait does not return early; a 1000 ms wait reports POLLOUT
 *     only when the proxy's reply came (300 ms); POLLIN alone is reported
 *     only for data after the reply, never for handshake bytes;
 *   - every REP code, a malformed reply, hang-ups and a stall past the
 *     deadline (SOCKS5WRAP_TIMEOUT, with an infinite timeout) show as
 *     POLLOUT|POLLERR with the right SO_ERROR, once; replies in pieces
 *     and data in the reply's segment succeed with no byte lost or added;
 *   - 20 more connections delayed 300 ms, all at once, finish by the
 *     deadline (800 ms), not one after another (6 s);
 *   - with events 0 a failure still shows as POLLERR, and an entry with a
 *     negative fd is left alone. */
#include "async_waiters.h"

static int errors_only(void)
{
	struct pollfd p[2];
	double t0;
	int fd, r, e;

	ASYNC_STEP("poll with events 0");
	fd = async_start(PORT_REP(3), &t0);
	if (fd < 0)
		return 1;
	p[0].fd = -1;
	p[0].events = POLLIN;
	p[1].fd = fd;
	p[1].events = 0;
	p[0].revents = p[1].revents = 0x4000;
	r = poll(p, 2, -1);
	if (r != 1)
		FAIL("poll, events 0, failing handshake: %d (%s)", r,
		     async_errname(errno));
	if (p[0].revents != 0)
		FAIL("entry with fd -1 got revents %#x", p[0].revents);
	if (!(p[1].revents & POLLERR) || (p[1].revents & (POLLIN | POLLOUT)))
		FAIL("events 0, REP 3: revents %#x, expected POLLERR (and "
		     "nothing not asked for)", p[1].revents);
	if (async_ms() - t0 < 90)
		FAIL("failure reported before the proxy's reply");
	e = async_so_error(fd);
	if (e != ENETUNREACH)
		FAIL("SO_ERROR %s, expected ENETUNREACH", async_errname(e));
	close(fd);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct waiter w;

	if (async_setup() != 0)
		return 1;
	aw_poll(&w, 0);
	if (async_stall_early() != 0 || async_precise(&w) != 0 ||
	    async_scenarios(&w, 20) != 0 || errors_only() != 0)
		return 1;
	return async_blocking_ok();
}
