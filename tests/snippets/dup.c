/* dup(), dup2(), dup3(): copies of a proxied socket report the virtual
 * peer; dup2 onto the library's log descriptor gives the program that
 * number and the log moves elsewhere. */
#include <fcntl.h>

#include "internal.h"
#include "snippet.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	int fd = snippet_connect(), a, b, c, lfd, nlfd;
	long before;

	if (fd < 0)
		FAIL("connect: %s", strerror(errno));
	a = dup(fd);
	b = dup2(fd, 40);
	c = dup3(fd, 41, O_CLOEXEC);
	if (a < 0 || b != 40 || c != 41)
		FAIL("dup family failed: %s", strerror(errno));
	if (!snippet_peer_is_dst(a) || !snippet_peer_is_dst(b) ||
	    !snippet_peer_is_dst(c))
		FAIL("a copy lost the virtual peer");
	if (snippet_echo(c, "dup3") != 0)
		FAIL("no echo through a copy");

	lfd = log_fd();
	if (lfd < 0)
		FAIL("log descriptor not found");
	if (dup2(fd, lfd) != lfd)
		FAIL("dup2 onto the log descriptor number: %s", strerror(errno));
	if (!snippet_peer_is_dst(lfd))
		FAIL("the program does not own the number it asked for");
	nlfd = log_fd();
	if (nlfd < 0 || nlfd == lfd)
		FAIL("the log did not move (now %d)", nlfd);
	before = log_size();
	close(a);
	a = snippet_connect();
	if (a < 0)
		FAIL("connect after the move: %s", strerror(errno));
	if (log_size() <= before)
		FAIL("nothing logged after the log moved");
	close(a);
	close(b);
	close(c);
	close(lfd);
	close(fd);
	return 0;
}
