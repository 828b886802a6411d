/* connect(): TCP streams to destinations that are not excluded go through
 * the proxy (policy.c); everything else is libc's. */
#include <errno.h>

#include "preload.h"

S5_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int saved = errno;
	int r;

	if (s5_guarded())
		return real.connect(fd, sa, len);
	s5_init();
	if (real.connect == NULL)
		return s5_result(-ECONNREFUSED, saved);
	r = s5_tcp_connect(fd, sa, len);
	if (r == S5_PASS) {
		errno = saved;
		return real.connect(fd, sa, len);
	}
	return s5_result(r, saved);
}
