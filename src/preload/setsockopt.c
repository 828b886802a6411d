/* setsockopt(): passed to libc unchanged; the library only takes note of
 * UDP_SEGMENT, which makes the kernel cut each send into several datagrams
 * (UDP GSO). Through the relay each would need a header of its own, so a
 * proxied send on such a socket fails with EIO (udp.c). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "hook.h"
#include "udp.h"

S5_EXPORT int setsockopt(int fd, int level, int name, const void *val,
			 socklen_t len)
{
	int r;

	switch (s5_hook_begin(setsockopt, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		errno = ENOSYS;
		return -1;
	case S5_HOOK_LIBC:
		return real.setsockopt(fd, level, name, val, len);
	case S5_HOOK_OURS:
		break;
	}
	/* Optimistic data holds TCP_NODELAY on for a moment: the program's
	 * value is kept and applied after. */
	if (level == IPPROTO_TCP && name == TCP_NODELAY && val != NULL &&
	    len >= (socklen_t)sizeof(int) && s5_fd_kind(fd) == S5FD_CONN &&
	    s5_conn_nodelay(fd, (const int *)val, NULL) == 0)
		return 0;
	r = real.setsockopt(fd, level, name, val, len);
	if (r == 0)
		s5_udp_setsockopt(fd, level, name);
	return r;
}
S5_SELF_ALIAS(setsockopt);
S5_TIME64_ALIAS(setsockopt, __setsockopt64);
