/* select() and the asynchronous connect (async.h): the checks of
 * async_poll.c through select() (a timeval timeout, NULL for the infinite
 * waits): nothing is marked during the handshake, writable only after the
 * proxy's reply, readable only for data after it; select cannot show
 * POLLERR, so a failure is the write set plus SO_ERROR. And as in the
 * kernel (an error is in select's read and write sets alike), a failed
 * handshake marks a socket that is only in the read set. */
#include "async_waiters.h"

static int failure_reads(void)
{
	fd_set rd;
	double t0;
	int fd, r, e;

	ASYNC_STEP("select, read set only, failing handshake");
	fd = async_start(PORT_REP(4), &t0);
	if (fd < 0)
		return 1;
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	r = select(fd + 1, &rd, NULL, NULL, NULL);
	if (r != 1 || !FD_ISSET(fd, &rd))
		FAIL("select on a failing handshake: %d (%s)", r,
		     async_errname(errno));
	if (async_ms() - t0 < 90)
		FAIL("failure marked before the proxy's reply");
	e = async_so_error(fd);
	if (e != EHOSTUNREACH)
		FAIL("SO_ERROR %s, expected EHOSTUNREACH", async_errname(e));
	close(fd);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct waiter w;

	if (async_setup() != 0)
		return 1;
	aw_select(&w, 0);
	if (async_stall_early() != 0 || async_precise(&w) != 0 ||
	    async_scenarios(&w, 20) != 0 || failure_reads() != 0)
		return 1;
	return async_blocking_ok();
}
