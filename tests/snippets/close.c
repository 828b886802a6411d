/* close(): forgets a proxied socket, so a descriptor number reused for
 * something else has no virtual peer; the library's own log descriptor
 * survives a program closing it. Needs SOCKS5WRAP_LOG_FILE and
 * SOCKS5WRAP_LOG=info. */
#include <fcntl.h>

#include "internal.h"
#include "snippet.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int fd = snippet_connect(), lfd, again, sv[2];
	long before;

	if (fd < 0)
		FAIL("connect: %s", strerror(errno));
	if (close(fd) != 0)
		FAIL("close: %s", strerror(errno));
	/* Reuse the number for a local stream pair: its peer is local. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || sv[0] != fd)
		FAIL("socketpair did not reuse fd %d", fd);
	if (getpeername(sv[0], (struct sockaddr *)&peer, &len) != 0 ||
	    peer.sin_family != AF_UNIX)
		FAIL("reused descriptor still has the old virtual peer");
	close(sv[0]);
	close(sv[1]);

	lfd = log_fd();
	if (lfd < 0)
		FAIL("log descriptor not found");
	if (close(lfd) != 0)
		FAIL("close of the log descriptor failed: %s", strerror(errno));
	if (fcntl(lfd, F_GETFD) < 0)
		FAIL("the log descriptor was really closed");
	before = log_size();
	again = snippet_connect();
	if (again < 0)
		FAIL("connect after closing the log: %s", strerror(errno));
	close(again);
	if (log_size() <= before)
		FAIL("nothing logged after the program closed the log fd");
	return 0;
}
