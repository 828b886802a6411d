/* epoll_ctl during the asynchronous connect (async.h): what the program
 * changes while the handshake runs is what counts afterwards, and
 * epoll_ctl answers as the kernel would whatever the library registered
 * for itself.
 *   - MOD from EPOLLIN to EPOLLOUT, with new data: the outcome comes with
 *     the new interest and the new data, after the proxy's reply.
 *   - DEL of a socket registered (edge-triggered) before connect: DEL
 *     again and MOD give ENOENT; ADD again works (no EEXIST), and a
 *     second ADD gives EEXIST; the outcome comes with the last data.
 *   - DEL, then wait on the set: nothing is reported for the socket,
 *     not even when its handshake ends; poll() on it then finds it
 *     connected.
 *   - A failure on a socket registered for EPOLLIN only shows as EPOLLERR
 *     (always reported), without EPOLLOUT (not asked for).
 *   - MOD from edge- to level-triggered during the handshake: the
 *     outcome is then reported again and again. */
#include "async_waiters.h"

#define TAG(n, fd) (((uint64_t)(n) << 40) | (uint32_t)(fd))

static int mod_interest(int ep)
{
	double t0;
	int s = async_start(PORT_OK(300), &t0);

	ASYNC_STEP("MOD from EPOLLIN to EPOLLOUT");
	if (s < 0 || async_ep_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN, TAG(1, s)))
		FAIL("set-up: %s", async_errname(errno));
	if (async_ep_quiet(ep, 100, "EPOLLIN during the handshake") != 0)
		return 1;
	if (async_ep_ctl(ep, EPOLL_CTL_MOD, s, EPOLLOUT, TAG(2, s)) != 0)
		FAIL("MOD during the handshake: %s", async_errname(errno));
	if (async_ep_one(ep, 1000, TAG(2, s), EPOLLOUT, 0, t0, 290,
			 "after MOD") != 0 ||
	    async_so_error(s) != 0 || async_echo(s, "mod") != 0)
		return 1;
	if (async_ep_ctl(ep, EPOLL_CTL_DEL, s, 0, 0) != 0)
		FAIL("DEL: %s", async_errname(errno));
	close(s);
	return 0;
}

static int del_readd(int ep)
{
	double t0;
	int s = async_socket();

	ASYNC_STEP("DEL and ADD again");
	if (s < 0 || async_ep_ctl(ep, EPOLL_CTL_ADD, s,
				  EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  TAG(3, s)) != 0)
		FAIL("set-up: %s", async_errname(errno));
	if (async_connect(s, PORT_OK(200), &t0) != 0)
		return 1;
	if (async_ep_ctl(ep, EPOLL_CTL_DEL, s, 0, 0) != 0)
		FAIL("DEL during the handshake: %s", async_errname(errno));
	if (async_ep_ctl(ep, EPOLL_CTL_DEL, s, 0, 0) == 0 || errno != ENOENT)
		FAIL("second DEL: %s, not ENOENT", async_errname(errno));
	if (async_ep_ctl(ep, EPOLL_CTL_MOD, s, EPOLLOUT, TAG(4, s)) == 0 ||
	    errno != ENOENT)
		FAIL("MOD after DEL: %s, not ENOENT", async_errname(errno));
	if (async_ep_quiet(ep, 0, "after DEL") != 0)
		return 1;
	if (async_ep_ctl(ep, EPOLL_CTL_ADD, s, EPOLLOUT, TAG(5, s)) != 0)
		FAIL("ADD after DEL: %s", async_errname(errno));
	if (async_ep_ctl(ep, EPOLL_CTL_ADD, s, EPOLLOUT, TAG(6, s)) == 0 ||
	    errno != EEXIST)
		FAIL("second ADD: %s, not EEXIST", async_errname(errno));
	if (async_ep_one(ep, 1000, TAG(5, s), EPOLLOUT, 0, t0, 190,
			 "added again") != 0 ||
	    async_so_error(s) != 0 || async_echo(s, "readd") != 0)
		return 1;
	if (async_ep_ctl(ep, EPOLL_CTL_DEL, s, 0, 0) != 0)
		FAIL("DEL: %s", async_errname(errno));
	close(s);
	return 0;
}

static int del_then_poll(int ep)
{
	struct pollfd p;
	double t0;
	int s = async_start(PORT_OK(200), &t0), r;

	ASYNC_STEP("DEL, then nothing reported");
	if (s < 0 || async_ep_ctl(ep, EPOLL_CTL_ADD, s, EPOLLOUT, TAG(7, s)))
		FAIL("set-up: %s", async_errname(errno));
	if (async_ep_quiet(ep, 50, "before DEL") != 0)
		return 1;
	if (async_ep_ctl(ep, EPOLL_CTL_DEL, s, 0, 0) != 0)
		FAIL("DEL during the handshake: %s", async_errname(errno));
	if (async_ep_quiet(ep, 300, "deleted, across its reply") != 0)
		return 1;
	p.fd = s;
	p.events = POLLOUT;
	p.revents = 0;
	r = poll(&p, 1, 1000);
	if (r != 1 || p.revents != POLLOUT)
		FAIL("poll after DEL: %d, revents %#x", r, p.revents);
	if (async_so_error(s) != 0 || async_echo(s, "deleted") != 0)
		return 1;
	close(s);
	return 0;
}

static int failure_in_only(int ep)
{
	double t0;
	int s = async_start(PORT_REP(3), &t0), e;

	ASYNC_STEP("failure, EPOLLIN only");
	if (s < 0 || async_ep_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN, TAG(8, s)))
		FAIL("set-up: %s", async_errname(errno));
	if (async_ep_one(ep, 1000, TAG(8, s), EPOLLERR,
			 EPOLLHUP | EPOLLIN, t0, 90, "REP 3, EPOLLIN") != 0)
		return 1;
	e = async_so_error(s);
	if (e != ENETUNREACH)
		FAIL("SO_ERROR %s, expected ENETUNREACH", async_errname(e));
	close(s); /* leaves the set with it */
	return 0;
}

static int et_to_lt(int ep)
{
	double t0;
	int s = async_socket();

	ASYNC_STEP("MOD from edge- to level-triggered");
	if (s < 0 || async_ep_ctl(ep, EPOLL_CTL_ADD, s,
				  EPOLLIN | EPOLLOUT | EPOLLET, TAG(9, s)))
		FAIL("set-up: %s", async_errname(errno));
	if (async_connect(s, PORT_OK(100), &t0) != 0)
		return 1;
	if (async_ep_ctl(ep, EPOLL_CTL_MOD, s, EPOLLOUT, TAG(10, s)) != 0)
		FAIL("MOD during the handshake: %s", async_errname(errno));
	if (async_ep_one(ep, 1000, TAG(10, s), EPOLLOUT, 0, t0, 90,
			 "now level-triggered") != 0 ||
	    async_ep_one(ep, 0, TAG(10, s), EPOLLOUT, 0, t0, 90,
			 "level-triggered, again") != 0)
		return 1;
	if (async_so_error(s) != 0 || async_echo(s, "lt") != 0)
		return 1;
	close(s);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	int ep;

	if (async_setup() != 0)
		return 1;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		FAIL("epoll_create1: %s", strerror(errno));
	if (mod_interest(ep) != 0 || del_readd(ep) != 0 ||
	    del_then_poll(ep) != 0 || failure_in_only(ep) != 0 ||
	    et_to_lt(ep) != 0)
		return 1;
	close(ep);
	return async_blocking_ok();
}
