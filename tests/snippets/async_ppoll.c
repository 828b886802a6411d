/* ppoll() and the asynchronous connect (async.h): the checks of
 * async_poll.c through ppoll() with a timespec timeout (NULL for the
 * infinite waits, so a stall ends at the SOCKS5WRAP_TIMEOUT deadline),
 * and ppoll()'s signal mask: a wait on a socket whose handshake is open,
 * with a mask that lets a blocked signal in, returns EINTR when it
 * arrives (not when the handshake ends), and the old mask is back after
 * the call; the handshake then completes in the next ppoll(). */
#include "async_waiters.h"

static int sigmask_wait(void)
{
	struct pollfd p;
	pthread_t th;
	sigset_t open;
	double t0, t;
	int fd, r, e;

	ASYNC_STEP("ppoll with a signal mask");
	fd = async_start(PORT_OK(300), &t0);
	if (fd < 0 || async_sig_arm(&th, &open) != 0)
		return 1;
	p.fd = fd;
	p.events = POLLOUT;
	p.revents = 0;
	t = async_ms();
	r = ppoll(&p, 1, NULL, &open);
	e = errno;
	if (async_sig_check(th, "ppoll", r, e, async_ms() - t) != 0)
		return 1;
	p.revents = 0;
	r = ppoll(&p, 1, NULL, NULL);
	if (r != 1 || p.revents != POLLOUT)
		FAIL("ppoll after EINTR: %d, revents %#x", r, p.revents);
	if (async_ms() - t0 < 290)
		FAIL("writable before the proxy's reply");
	if (async_so_error(fd) != 0 || async_echo(fd, "ppoll") != 0)
		FAIL("no connection after the interrupted wait");
	close(fd);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct waiter w;

	if (async_setup() != 0)
		return 1;
	aw_poll(&w, 1);
	if (async_stall_early() != 0 || async_precise(&w) != 0 ||
	    async_scenarios(&w, 20) != 0 || sigmask_wait() != 0)
		return 1;
	return async_blocking_ok();
}
