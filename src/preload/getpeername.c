/* getpeername(): a proxied socket's peer is the destination the program
 * asked for, not the proxy it is really connected to. */
#include <errno.h>
#include <string.h>

#include "preload.h"

S5_EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage peer;
	socklen_t plen, room;
	int r;

	if (s5_guarded())
		return real.getpeername(fd, sa, len);
	s5_init();
	if (real.getpeername == NULL)
		return s5_result(-ENOSYS, errno);
	/* The kernel answers first: a socket that is no longer connected,
	 * a bad pointer or a bad descriptor get its own errno. */
	room = len != NULL ? *len : 0;
	r = real.getpeername(fd, sa, len);
	if (r < 0 || s5_fd_kind(fd) != S5FD_TCP || !s5_fd_peer(fd, &peer, &plen))
		return r;
	/* Same contract as the kernel's: copy at most the room the caller
	 * gave (the real call above already overwrote *len), report the full
	 * length. */
	memcpy(sa, &peer, plen < room ? plen : room);
	*len = plen;
	return 0;
}
