/* The socket calls themselves during the asynchronous connect (async.h),
 * without any poll or epoll: the handshake advances inside them, and
 * each answers as the kernel does for a connection in progress.
 *   - connect() returns EINPROGRESS within 100 ms (the proxy waits
 *     300 ms); again: EALREADY while the handshake runs, then 0 or
 *     EISCONN once it succeeded, then EISCONN; after a refusal (REP 5),
 *     the stored error, ECONNREFUSED; after a stall, ETIMEDOUT at the
 *     deadline, not before.
 *   - getpeername() gives ENOTCONN until the reply, then the destination
 *     the program asked for; SO_ERROR is 0 while it runs.
 *   - read, recv (also MSG_PEEK), recvfrom, recvmsg, readv, write, send,
 *     sendto, sendmsg and writev give EAGAIN while it runs, and none of
 *     those writes reaches the proxy (the echo afterwards is exact; the
 *     fake proxy reports data sent before its reply).
 *   - getsockopt(SO_ERROR) alone, called in a loop, drives a handshake to
 *     its end: REP 2 gives EACCES once, a reply cut short gives EPROTO.
 *   - read() alone drives it: the data that came in the reply's segment
 *     is returned whole, without a byte of the reply. write() alone
 *     drives it too. The socket made non-blocking with fcntl() or with
 *     ioctl(FIONBIO) instead of SOCK_NONBLOCK behaves the same, and its
 *     file flags stay as the program set them.
 *   - A blocking socket still completes inside connect(): 0 after the
 *     proxy's reply, or the REP errno. */
#include <sys/ioctl.h>
#include <sys/uio.h>

#include "async_waiters.h"

/* Every read and write call on fd must fail with EAGAIN. */
static int all_eagain(int fd, const char *when)
{
	static const char *const names[] = {
		"read", "recv", "recv(MSG_PEEK)", "recvfrom", "recvmsg",
		"readv", "write", "send", "sendto", "sendmsg", "writev",
	};
	char buf[16] = "z";
	struct iovec iov = { buf, 1 };
	struct msghdr mh;
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	ssize_t r = 0;
	int i;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	for (i = 0; i < 11; i++) {
		buf[0] = 'z';
		switch (i) {
		case 0: r = read(fd, buf, sizeof(buf)); break;
		case 1: r = recv(fd, buf, sizeof(buf), 0); break;
		case 2: r = recv(fd, buf, sizeof(buf), MSG_PEEK); break;
		case 3:
			r = recvfrom(fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &flen);
			break;
		case 4: r = recvmsg(fd, &mh, 0); break;
		case 5: r = readv(fd, &iov, 1); break;
		case 6: r = write(fd, buf, 1); break;
		case 7: r = send(fd, buf, 1, MSG_NOSIGNAL); break;
		case 8: r = sendto(fd, buf, 1, MSG_NOSIGNAL, NULL, 0); break;
		case 9: r = sendmsg(fd, &mh, MSG_NOSIGNAL); break;
		default: r = writev(fd, &iov, 1); break;
		}
		if (r != -1 || errno != EAGAIN)
			FAIL("%s: %s returned %zd (%s), not -1/EAGAIN", when,
			     names[i], r, r < 0 ? async_errname(errno) : "");
	}
	return 0;
}

/* connect() again until it stops answering EALREADY (bounded 2 s, 5 ms
 * apart); returns its final errno (0 for success), or -1 (reported). */
static int connect_until(int fd, int port)
{
	struct sockaddr_in dst = async_dst(port);
	int i;

	for (i = 0; i < 400; i++) {
		if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0)
			return 0;
		if (errno != EALREADY)
			return errno;
		async_sleep_ms(5);
	}
	fprintf(stderr, "FAIL connect() answered EALREADY for 2 s\n");
	return -1;
}

/* SO_ERROR until it is not 0 (bounded 2 s); that errno, or -1. */
static int so_error_until(int fd)
{
	int i, e;

	for (i = 0; i < 400; i++) {
		e = async_so_error(fd);
		if (e != 0)
			return e;
		async_sleep_ms(5);
	}
	fprintf(stderr, "FAIL SO_ERROR stayed 0 for 2 s\n");
	return -1;
}

static int repeated_connect(void)
{
	struct sockaddr_in dst = async_dst(PORT_OK(300));
	double t0;
	int fd, e, flags;

	ASYNC_STEP("calls: connect again, getpeername, EAGAIN");
	fd = async_start(PORT_OK(300), &t0);
	if (fd < 0)
		return 1;
	flags = fcntl(fd, F_GETFL);
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0 ||
	    errno != EALREADY)
		FAIL("second connect: %s, not EALREADY", async_errname(errno));
	e = async_peer_errno(fd);
	if (e != ENOTCONN)
		FAIL("getpeername in the handshake: %s, not ENOTCONN",
		     async_errname(e));
	e = async_so_error(fd);
	if (e != 0)
		FAIL("SO_ERROR in the handshake: %s", async_errname(e));
	if (all_eagain(fd, "in the handshake") != 0)
		return 1;
	e = connect_until(fd, PORT_OK(300));
	if (e != 0 && e != EISCONN)
		FAIL("connect again after the reply: %s", async_errname(e));
	if (async_ms() - t0 < 290)
		FAIL("connected after %.0f ms, before the proxy's reply",
		     async_ms() - t0);
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0 ||
	    errno != EISCONN)
		FAIL("connect on a connected socket: %s, not EISCONN",
		     async_errname(errno));
	if (!async_peer_is(fd, PORT_OK(300)) || async_so_error(fd) != 0)
		FAIL("after success: peer %s, SO_ERROR %d",
		     async_errname(async_peer_errno(fd)), async_so_error(fd));
	if (fcntl(fd, F_GETFL) != flags)
		FAIL("file status flags changed");
	if (async_echo(fd, "calls") != 0)
		return 1;
	close(fd);
	return 0;
}

static int failures(void)
{
	double t0, t1, t2, t3;
	int a, b, c, d, e;

	ASYNC_STEP("calls: failures without a wait");
	a = async_start(PORT_REP(2), &t0);
	b = async_start(PORT_REP(5), &t1);
	c = async_start(PORT_HANGUP_MID, &t2);
	d = async_start(PORT_MALFORMED, &t3);
	if (a < 0 || b < 0 || c < 0 || d < 0)
		return 1;
	e = so_error_until(a);
	if (e != EACCES)
		FAIL("SO_ERROR loop, REP 2: %s, not EACCES", async_errname(e));
	if (async_ms() - t0 < 90)
		FAIL("REP 2 reported before the proxy's reply");
	e = async_so_error(a);
	if (e != 0)
		FAIL("second SO_ERROR after REP 2: %s", async_errname(e));
	e = async_peer_errno(a);
	if (e != ENOTCONN)
		FAIL("getpeername after REP 2: %s", async_errname(e));
	e = connect_until(b, PORT_REP(5));
	if (e != ECONNREFUSED)
		FAIL("connect loop, REP 5: %s, not ECONNREFUSED",
		     async_errname(e));
	if (async_ms() - t1 < 90)
		FAIL("REP 5 reported before the proxy's reply");
	e = so_error_until(c);
	if (e != EPROTO)
		FAIL("reply cut short: %s, not EPROTO", async_errname(e));
	e = connect_until(d, PORT_MALFORMED);
	if (e != EPROTO)
		FAIL("malformed reply: %s, not EPROTO", async_errname(e));
	close(a);
	close(b);
	close(c);
	close(d);
	return 0;
}

static int reads_and_writes(void)
{
	char buf[64];
	double t0, t1;
	size_t got = 0, len = strlen(BANNER_7401);
	ssize_t r;
	int rd, wr, i, on = 1, flags;

	ASYNC_STEP("calls: read() and write() drive the handshake");
	/* Non-blocking by ioctl(FIONBIO) and by fcntl(), not SOCK_NONBLOCK. */
	rd = socket(AF_INET, SOCK_STREAM, 0);
	wr = socket(AF_INET, SOCK_STREAM, 0);
	if (rd < 0 || wr < 0 || ioctl(rd, FIONBIO, &on) != 0 ||
	    fcntl(wr, F_SETFL, fcntl(wr, F_GETFL) | O_NONBLOCK) != 0)
		FAIL("set-up: %s", strerror(errno));
	flags = fcntl(wr, F_GETFL);
	if (async_connect(rd, PORT_BANNER, &t0) != 0 ||
	    async_connect(wr, PORT_OK(200), &t1) != 0)
		return 1;
	for (i = 0; i < 400 && got < len; i++) {
		r = (i % 2) ? read(rd, buf + got, sizeof(buf) - got)
			    : recv(rd, buf + got, sizeof(buf) - got,
				   MSG_PEEK);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			FAIL("read loop: %zd (%s)", r, async_errname(errno));
		if (r > 0 && memcmp(buf + got, BANNER_7401 + got,
				    (size_t)r < len - got ? (size_t)r
							  : len - got))
			FAIL("read \"%.*s\": not the banner (handshake "
			     "bytes?)", (int)r, buf + got);
		if (r > 0 && (i % 2))
			got += (size_t)r;
		if (r < 0)
			async_sleep_ms(5);
	}
	if (got != len)
		FAIL("read loop: %zu of %zu banner bytes", got, len);
	if (async_ms() - t0 < 190)
		FAIL("banner read before the proxy's reply");
	for (i = 0; i < 400; i++) {
		r = write(wr, "w", 1);
		if (r == 1)
			break;
		if (r != -1 || errno != EAGAIN)
			FAIL("write loop: %zd (%s)", r, async_errname(errno));
		async_sleep_ms(5);
	}
	if (i == 400)
		FAIL("write loop: EAGAIN for 2 s");
	if (async_ms() - t1 < 190)
		FAIL("write went through before the proxy's reply");
	if (async_expect(wr, "w", 1) != 0 || async_echo(rd, "read") != 0)
		return 1;
	if (fcntl(wr, F_GETFL) != flags)
		FAIL("file status flags changed");
	close(rd);
	close(wr);
	return 0;
}

static int blocking(void)
{
	struct sockaddr_in ok = async_dst(PORT_OK(200));
	struct sockaddr_in no = async_dst(PORT_REP(3));
	double t;
	int a, b, r;

	ASYNC_STEP("calls: blocking sockets");
	a = socket(AF_INET, SOCK_STREAM, 0);
	b = socket(AF_INET, SOCK_STREAM, 0);
	t = async_ms();
	r = connect(a, (struct sockaddr *)&ok, sizeof(ok));
	if (r != 0)
		FAIL("blocking connect: %s", async_errname(errno));
	if (async_ms() - t < 190)
		FAIL("blocking connect returned before the proxy's reply");
	if (!async_peer_is(a, PORT_OK(200)) || snippet_echo(a, "blk") != 0)
		FAIL("blocking connect: no connection");
	if (connect(b, (struct sockaddr *)&no, sizeof(no)) == 0 ||
	    errno != ENETUNREACH)
		FAIL("blocking connect, REP 3: %s", async_errname(errno));
	close(a);
	close(b);
	return 0;
}

static int stall(int fd, double t0)
{
	int e;

	ASYNC_STEP("calls: stall until the deadline");
	if (async_ms() - t0 < ASYNC_DEADLINE_MS - 50 &&
	    all_eagain(fd, "stalled") != 0)
		return 1;
	e = connect_until(fd, PORT_STALL);
	if (e != ETIMEDOUT)
		FAIL("stall: connect gave %s, not ETIMEDOUT", async_errname(e));
	if (async_ms() - t0 < ASYNC_DEADLINE_MS - 50 ||
	    async_ms() - t0 > ASYNC_DEADLINE_MS + 1000)
		FAIL("stall: ETIMEDOUT after %.0f ms, the deadline is %d ms",
		     async_ms() - t0, ASYNC_DEADLINE_MS);
	close(fd);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	double t0;
	int s;

	if (async_setup() != 0)
		return 1;
	/* The stalled one runs to its deadline meanwhile. */
	s = async_start(PORT_STALL, &t0);
	if (s < 0 || repeated_connect() != 0 || failures() != 0 ||
	    reads_and_writes() != 0 || blocking() != 0 || stall(s, t0) != 0)
		return 1;
	return async_blocking_ok();
}
