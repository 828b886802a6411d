/* connect(): a TCP connect to a non-excluded address goes through the
 * proxy and keeps the socket's flags. A blocking socket is connected when
 * connect() returns, errno untouched, and a second connect() gives
 * EISCONN without harm to the stream; a non-blocking one answers
 * EINPROGRESS and is connected once poll() reports it writable, with
 * SO_ERROR 0. */
#include <fcntl.h>
#include <poll.h>

#include "snippet.h"

static int blocking(void)
{
	struct sockaddr_in dst = snippet_dst();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		FAIL("socket: %s", strerror(errno));
	errno = 1234;
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0)
		FAIL("blocking connect: %s", strerror(errno));
	if (errno != 1234)
		FAIL("errno changed on success: %d", errno);
	/* Once more on the connected socket: EISCONN, as for a direct
	 * one, and the stream it carries goes on untouched. */
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0 ||
	    errno != EISCONN)
		FAIL("second connect: %s, not EISCONN", strerror(errno));
	if (snippet_echo(fd, "connect-blocking") != 0)
		FAIL("no echo through the proxy");
	close(fd);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in dst = snippet_dst();
	struct pollfd p;
	socklen_t len = sizeof(int);
	int fd, flags, err = -1;

	if (blocking() != 0)
		return 1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		FAIL("socket: %s", strerror(errno));
	flags = fcntl(fd, F_GETFL);
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0 ||
	    errno != EINPROGRESS)
		FAIL("non-blocking connect: %s", strerror(errno));
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, 5000) != 1 || p.revents != POLLOUT)
		FAIL("not writable: revents %#x", p.revents);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
		FAIL("SO_ERROR %d", err);
	if (fcntl(fd, F_GETFL) != flags)
		FAIL("file status flags changed");
	if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
		FAIL("close-on-exec lost");
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	if (snippet_echo(fd, "connect") != 0)
		FAIL("no echo through the proxy");
	close(fd);
	return 0;
}
