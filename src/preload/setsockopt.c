/* setsockopt(): passed to libc unchanged; the library only takes note of
 * UDP_SEGMENT, which makes the kernel cut each send into several datagrams
 * (UDP GSO). Through the relay each would need a header of its own, so a
 * proxied send on such a socket fails with EIO (udp.c). */
#include <errno.h>

#include "preload.h"

S5_EXPORT int setsockopt(int fd, int level, int name, const void *val,
			 socklen_t len)
{
	int r;

	if (!s5_guarded())
		s5_init_symbols();
	if (real.setsockopt == NULL) {
		errno = ENOSYS;
		return -1;
	}
	r = real.setsockopt(fd, level, name, val, len);
	if (r == 0 && !s5_guarded())
		s5_udp_setsockopt(fd, level, name);
	return r;
}
