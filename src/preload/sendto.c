/* sendto(): MSG_FASTOPEN opens a TCP connection without connect(), with the
 * data in the SYN; without this hook it would go around the proxy. The
 * connection is made through the proxy first, then the data is sent. */
#include <errno.h>

#include "preload.h"

S5_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *dst, socklen_t dlen)
{
	int saved = errno;
	int r;

	if (s5_guarded())
		return real.sendto(fd, buf, len, flags, dst, dlen);
	s5_init();
	if (real.sendto == NULL)
		return s5_result(-ENOSYS, saved);
	if (!(flags & MSG_FASTOPEN) || dst == NULL)
		return real.sendto(fd, buf, len, flags, dst, dlen);
	r = s5_tcp_connect(fd, dst, dlen);
	if (r == S5_PASS) {
		errno = saved;
		return real.sendto(fd, buf, len, flags, dst, dlen);
	}
	if (r < 0)
		return s5_result(r, saved);
	errno = saved;
	return real.sendto(fd, buf, len, flags & ~MSG_FASTOPEN, NULL, 0);
}
