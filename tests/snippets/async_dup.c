/* close, dup, dup2 and dup3 during the asynchronous connect (async.h):
 * nothing hangs, nothing leaks from one descriptor number to the next.
 *   - dup() of a socket whose handshake is open, the original closed:
 *     the copy settles within a bounded poll(), either connected (not
 *     before the proxy's reply; SO_ERROR 0; an exact echo) or clearly
 *     failed (POLLERR and a nonzero SO_ERROR). The same for a copy made
 *     with dup2() onto a free number, and with dup3().
 *   - dup2() of a pipe over a socket whose handshake is open: the number
 *     is now a pipe, writable at once, with no error and nothing of the
 *     handshake left on it.
 *   - close() of a stalled socket, its number reused by a socket pair:
 *     the pair works, before and after the closed socket's deadline,
 *     without a trace of the handshake (no POLLERR, SO_ERROR 0).
 *   - close() of a socket whose handshake is open, its number reused by
 *     a new connection: that one gets its own handshake and outcome. */
#include <sys/un.h>

#include "async_waiters.h"

/* The copy of a socket whose handshake was open settles, one way or the
 * other, within 2 s. 0, or 1 (reported). */
static int settles(int fd, int port, double t0, int min_ms,
		   const char *what)
{
	struct pollfd p;
	int r, e;

	p.fd = fd;
	p.events = POLLIN | POLLOUT;
	p.revents = 0;
	r = poll(&p, 1, 2000);
	if (r != 1)
		FAIL("%s: poll %d (%s): the copy never settled", what, r,
		     async_errname(errno));
	e = async_so_error(fd);
	if (p.revents & POLLERR) {
		if (e <= 0)
			FAIL("%s: POLLERR with SO_ERROR %d", what, e);
		return 0;
	}
	if (p.revents != POLLOUT)
		FAIL("%s: revents %#x", what, p.revents);
	if (async_ms() - t0 < min_ms)
		FAIL("%s: writable before the proxy's reply", what);
	if (e != 0 || !async_peer_is(fd, port))
		FAIL("%s: writable, SO_ERROR %s, peer %s", what,
		     async_errname(e), async_errname(async_peer_errno(fd)));
	return async_echo(fd, "copy");
}

static int copies(void)
{
	double t[3];
	int s[3], d[3], i;

	ASYNC_STEP("dup, dup2, dup3 during the handshake");
	for (i = 0; i < 3; i++) {
		s[i] = async_start(PORT_OK(300), &t[i]);
		if (s[i] < 0)
			return 1;
	}
	d[0] = dup(s[0]);
	d[1] = dup2(s[1], 200);
	d[2] = dup3(s[2], 201, O_CLOEXEC);
	if (d[0] < 0 || d[1] != 200 || d[2] != 201)
		FAIL("dup: %s", strerror(errno));
	for (i = 0; i < 3; i++)
		close(s[i]);
	if (settles(d[0], PORT_OK(300), t[0], 290, "dup") != 0 ||
	    settles(d[1], PORT_OK(300), t[1], 290, "dup2") != 0 ||
	    settles(d[2], PORT_OK(300), t[2], 290, "dup3") != 0)
		return 1;
	for (i = 0; i < 3; i++)
		close(d[i]);
	return 0;
}

static int pipe_over(void)
{
	struct pollfd p;
	double t0;
	char c;
	int s, pp[2], r;

	ASYNC_STEP("dup2 of a pipe over the socket");
	s = async_start(PORT_OK(300), &t0);
	if (s < 0 || pipe(pp) != 0)
		FAIL("set-up: %s", strerror(errno));
	if (dup2(pp[1], s) != s)
		FAIL("dup2: %s", strerror(errno));
	p.fd = s;
	p.events = POLLOUT;
	p.revents = 0;
	r = poll(&p, 1, 0);
	if (r != 1 || p.revents != POLLOUT)
		FAIL("the pipe on the old number: poll %d revents %#x", r,
		     p.revents);
	if (write(s, "p", 1) != 1 || read(pp[0], &c, 1) != 1 || c != 'p')
		FAIL("the pipe on the old number does not work: %s",
		     strerror(errno));
	close(s);
	close(pp[0]);
	close(pp[1]);
	return 0;
}

/* fd moved to the number want (normally it already is: the lowest free
 * one), or -1. */
static int at_number(int fd, int want)
{
	if (fd < 0 || fd == want)
		return fd;
	if (dup2(fd, want) != want)
		return -1;
	close(fd);
	return want;
}

/* The pair sv works both ways and shows no sign of a handshake. */
static int pair_clean(const int sv[2], const char *when)
{
	struct pollfd p;
	char buf[4];
	int r;

	p.fd = sv[0];
	p.events = POLLIN | POLLOUT;
	p.revents = 0;
	r = poll(&p, 1, 0);
	if (r != 1 || p.revents != POLLOUT)
		FAIL("%s: reused number: poll %d revents %#x", when, r,
		     p.revents);
	if (async_so_error(sv[0]) != 0)
		FAIL("%s: reused number: SO_ERROR %d", when,
		     async_so_error(sv[0]));
	if (write(sv[0], "ab", 2) != 2 || read(sv[1], buf, 2) != 2 ||
	    write(sv[1], "cd", 2) != 2 || read(sv[0], buf, 2) != 2 ||
	    memcmp(buf, "cd", 2) != 0)
		FAIL("%s: the reused number does not carry data", when);
	return 0;
}

/* A stalled socket closed, its number taken by a socket pair, which must
 * work at once; pair_after() checks it again after the old deadline. */
static int reuse_stalled(int sv[2], double *t0)
{
	struct sockaddr_un peer;
	socklen_t len = sizeof(peer);
	int s;

	ASYNC_STEP("close during the handshake, number reused");
	s = async_start(PORT_STALL, t0);
	if (s < 0)
		return 1;
	close(s);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
		FAIL("socketpair: %s", strerror(errno));
	sv[0] = at_number(sv[0], s);
	if (sv[0] != s)
		FAIL("cannot put the pair on fd %d: %s", s, strerror(errno));
	if (getpeername(sv[0], (struct sockaddr *)&peer, &len) != 0 ||
	    peer.sun_family != AF_UNIX)
		FAIL("reused number still has the old destination");
	return pair_clean(sv, "at once");
}

static int pair_after(int sv[2], double t0)
{
	ASYNC_STEP("the reused number after the old deadline");
	async_sleep_ms((int)(t0 + ASYNC_DEADLINE_MS + 100 - async_ms()));
	if (pair_clean(sv, "after the old deadline") != 0)
		return 1;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

/* A new connection on the number of one closed mid-handshake. */
static int renumbered(void)
{
	double t1, t2;
	int n, fresh;

	ASYNC_STEP("close during the handshake, new connection");
	n = async_start(PORT_OK(300), &t1);
	if (n < 0)
		return 1;
	close(n);
	fresh = at_number(async_socket(), n);
	if (fresh != n)
		FAIL("cannot put a new socket on fd %d: %s", n,
		     strerror(errno));
	if (async_connect(fresh, PORT_OK(0), &t2) != 0 ||
	    settles(fresh, PORT_OK(0), t2, 0, "new socket on the number"))
		return 1;
	if (async_ms() - t2 > 250)
		FAIL("the new socket waited for the old one's reply");
	close(fresh);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	double t0;
	int sv[2];

	if (async_setup() != 0 || reuse_stalled(sv, &t0) != 0 ||
	    renumbered() != 0 || copies() != 0 || pipe_over() != 0 ||
	    pair_after(sv, t0) != 0)
		return 1;
	return async_blocking_ok();
}
