/* closefrom(): glibc's closes with a raw close_range system call; the hook
 * keeps the library's log descriptor and forgets proxied sockets, and a
 * UDP socket that had an association leaves no state behind for the TCP
 * socket that gets its number next. */
#include <fcntl.h>

#include "internal.h"
#include "udp.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in dst = udp_dst();
	int lfd, u = udp_socket(), t;

	/* First a hook: from a constructor that runs before the library's
	 * own, the log file is opened by it. */
	if (u < 0 || sendto(u, "x", 1, 0, (struct sockaddr *)&dst,
			    sizeof(dst)) != 1)
		FAIL("udp sendto: %s", strerror(errno));
	lfd = log_fd();
	if (lfd < 0)
		FAIL("log descriptor not found");
	closefrom(3);
	if (fcntl(u, F_GETFD) >= 0)
		FAIL("the program's socket was not closed");
	if (fcntl(lfd, F_GETFD) < 0)
		FAIL("the log descriptor was closed");
	t = snippet_connect();
	if (t < 0)
		FAIL("connect after closefrom: %s", strerror(errno));
	/* Whatever number it got, it is a plain proxied stream: the echo
	 * comes back exactly, with no datagram header in front. */
	if (snippet_echo(t, "stream") != 0)
		FAIL("no exact echo after closefrom");
	close(t);
	return 0;
}
