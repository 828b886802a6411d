/* close_range(): a daemon-style "close everything from 3 up" keeps the
 * library's log descriptor and forgets proxied sockets. */
#include <fcntl.h>
#include <linux/close_range.h>

#include "internal.h"
#include "snippet.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	int fd = snippet_connect(), lfd = log_fd(), again;
	long before;

	if (fd < 0)
		FAIL("connect: %s", strerror(errno));
	if (lfd < 0)
		FAIL("log descriptor not found");
	if (close_range(3, ~0U, 0) != 0)
		FAIL("close_range: %s", strerror(errno));
	if (fcntl(fd, F_GETFD) >= 0)
		FAIL("the program's socket was not closed");
	if (fcntl(lfd, F_GETFD) < 0)
		FAIL("the log descriptor was closed");
	before = log_size();
	again = snippet_connect();
	if (again < 0)
		FAIL("connect after close_range: %s", strerror(errno));
	if (snippet_echo(again, "after") != 0)
		FAIL("no echo after close_range");
	close(again);
	if (log_size() <= before)
		FAIL("nothing logged after close_range");
	return 0;
}
