/* connect(): a TCP connect to a non-excluded address goes through the
 * proxy, keeps the socket's flags, and errno is untouched on success. */
#include <fcntl.h>

#include "snippet.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in dst = snippet_dst();
	int fd, flags;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		FAIL("socket: %s", strerror(errno));
	flags = fcntl(fd, F_GETFL);
	errno = 1234;
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0)
		FAIL("non-blocking connect: %s", strerror(errno));
	if (errno != 1234)
		FAIL("errno changed on success: %d", errno);
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
