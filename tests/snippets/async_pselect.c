/* pselect() and the asynchronous connect (async.h): the checks of
 * async_select.c through pselect() (a timespec timeout, NULL for the
 * infinite waits), and pselect()'s signal mask: a wait on a socket whose
 * handshake is open, with a mask that lets a blocked signal in, returns
 * EINTR when it arrives, and the old mask is back after the call; the
 * handshake then completes in the next pselect(). */
#include "async_waiters.h"

static int sigmask_wait(void)
{
	fd_set wr;
	pthread_t th;
	sigset_t open;
	double t0, t;
	int fd, r, e;

	ASYNC_STEP("pselect with a signal mask");
	fd = async_start(PORT_OK(300), &t0);
	if (fd < 0 || async_sig_arm(&th, &open) != 0)
		return 1;
	FD_ZERO(&wr);
	FD_SET(fd, &wr);
	t = async_ms();
	r = pselect(fd + 1, NULL, &wr, NULL, NULL, &open);
	e = errno;
	if (async_sig_check(th, "pselect", r, e, async_ms() - t) != 0)
		return 1;
	FD_ZERO(&wr);
	FD_SET(fd, &wr);
	r = pselect(fd + 1, NULL, &wr, NULL, NULL, NULL);
	if (r != 1 || !FD_ISSET(fd, &wr))
		FAIL("pselect after EINTR: %d (%s)", r, async_errname(errno));
	if (async_ms() - t0 < 290)
		FAIL("writable before the proxy's reply");
	if (async_so_error(fd) != 0 || async_echo(fd, "pselect") != 0)
		FAIL("no connection after the interrupted wait");
	close(fd);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct waiter w;

	if (async_setup() != 0)
		return 1;
	aw_select(&w, 1);
	if (async_stall_early() != 0 || async_precise(&w) != 0 ||
	    async_scenarios(&w, 20) != 0 || sigmask_wait() != 0)
		return 1;
	return async_blocking_ok();
}
