/* Optimistic data (SOCKS5WRAP_OPTIMISTIC=1; async.h re-executes the
 * snippet with it): a connect, blocking or not, is done once the request
 * left, the program's first data follows at once, and the replies are
 * taken by its first read.
 *   - A blocking connect returns 0 within 100 ms although the proxy
 *     answers after 300 ms; getpeername shows the destination at once;
 *     the first read gives the echo of the data, not a byte of the
 *     replies, after the proxy's reply.
 *   - TCP_NODELAY: the program sees its own value meanwhile (0, or what
 *     it set), and after the replies the kernel has that value.
 *   - A non-blocking connect: EINPROGRESS, writable within 100 ms, data
 *     written at once, then readable with the echo only.
 *   - A refusal (REP 5, REP 2) shows on the first read, with its errno.
 *   - poll() for input alone on a socket whose replies came but no data:
 *     no POLLIN is reported for the replies. */
#include <netinet/tcp.h>
#include <poll.h>

#include "async.h"

#define PORT_OPT(ms) (7500 + (ms) / 10)
#define PORT_OPT_REP(n) (7600 + (n))

static int nodelay(int fd)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) != 0)
		return -1;
	return v;
}

static int blocking_socket(int port, double *t0)
{
	struct sockaddr_in dst = async_dst(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	*t0 = async_ms();
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0) {
		fprintf(stderr, "FAIL optimistic connect to %d: %s\n", port,
			async_errname(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int blocking(int set_nodelay)
{
	double t0, took;
	char buf[32];
	int fd, one = 1, want = set_nodelay ? 1 : 0;
	ssize_t r;

	ASYNC_STEP("optimistic blocking");
	fd = blocking_socket(PORT_OPT(300), &t0);
	if (fd < 0)
		return 1;
	took = async_ms() - t0;
	if (took > ASYNC_CONNECT_MAX_MS)
		FAIL("optimistic connect took %.0f ms", took);
	if (!async_peer_is(fd, PORT_OPT(300)))
		FAIL("peer before the reply: %s",
		     async_errname(async_peer_errno(fd)));
	if (nodelay(fd) != 0)
		FAIL("TCP_NODELAY shows %d before the program set it",
		     nodelay(fd));
	if (set_nodelay &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		FAIL("setsockopt TCP_NODELAY: %s", strerror(errno));
	if (nodelay(fd) != want)
		FAIL("TCP_NODELAY shows %d, the program's is %d", nodelay(fd),
		     want);
	if (send(fd, "early", 5, MSG_NOSIGNAL) != 5)
		FAIL("send before the reply: %s", async_errname(errno));
	r = recv(fd, buf, 5, MSG_WAITALL);
	if (r != 5 || memcmp(buf, "early", 5) != 0)
		FAIL("first read: %zd bytes \"%.*s\" (%s)", r,
		     r > 0 ? (int)r : 0, buf, async_errname(errno));
	if (async_ms() - t0 < 290)
		FAIL("echo after %.0f ms, before the proxy's reply",
		     async_ms() - t0);
	if (nodelay(fd) != want)
		FAIL("TCP_NODELAY %d after the replies, the program's is %d",
		     nodelay(fd), want);
	close(fd);
	return 0;
}

static int refused(int rep, int want)
{
	double t0;
	char buf[8];
	int fd;
	ssize_t r;

	ASYNC_STEP("optimistic refusal");
	fd = blocking_socket(PORT_OPT_REP(rep), &t0);
	if (fd < 0)
		return 1;
	(void)send(fd, "x", 1, MSG_NOSIGNAL);
	r = recv(fd, buf, sizeof(buf), 0);
	if (r != -1 || errno != want)
		FAIL("first read after REP %d: %zd, %s, not %s", rep, r,
		     async_errname(errno), async_errname(want));
	close(fd);
	return 0;
}

static int nonblocking(void)
{
	struct pollfd p;
	double t0;
	int fd;

	ASYNC_STEP("optimistic non-blocking");
	fd = async_start(PORT_OPT(300), &t0);
	if (fd < 0)
		return 1;
	p.fd = fd;
	p.events = POLLOUT;
	p.revents = 0;
	if (poll(&p, 1, 1000) != 1 || !(p.revents & POLLOUT) ||
	    async_ms() - t0 > ASYNC_CONNECT_MAX_MS)
		FAIL("not writable at once: revents %#x after %.0f ms",
		     p.revents, async_ms() - t0);
	if (async_so_error(fd) != 0)
		FAIL("SO_ERROR %d", async_so_error(fd));
	/* Input alone: the replies are not the program's to see. */
	p.events = POLLIN;
	if (poll(&p, 1, 150) != 0)
		FAIL("POLLIN before any data: revents %#x", p.revents);
	if (async_echo(fd, "optimistic") != 0)
		return 1;
	if (async_ms() - t0 < 290)
		FAIL("echo after %.0f ms, before the proxy's reply",
		     async_ms() - t0);
	close(fd);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	if (setenv("SOCKS5WRAP_OPTIMISTIC", "1", 1) != 0 ||
	    async_setup() != 0)
		return 1;
	if (blocking(0) != 0 || blocking(1) != 0 ||
	    refused(5, ECONNREFUSED) != 0 || refused(2, EACCES) != 0 ||
	    nonblocking() != 0)
		return 1;
	return async_blocking_ok();
}
