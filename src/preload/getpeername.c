/* getpeername(): a proxied socket's peer is the destination the program
 * asked for, not the proxy (TCP) or relay (UDP) it is really connected
 * to. */
#include <errno.h>
#include <string.h>

#include "fd.h"
#include "hook.h"
#include "kind_conn.h"
#include "kind_tcp.h"
#include "udp.h"

S5_EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage peer;
	socklen_t plen, room;
	int r;

	switch (s5_hook_begin(getpeername, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, errno);
	case S5_HOOK_LIBC:
		return real.getpeername(fd, sa, len);
	case S5_HOOK_OURS:
		break;
	}
	/* The kernel answers first: a socket that is no longer connected,
	 * a bad pointer or a bad descriptor get its own errno. */
	room = len != NULL ? *len : 0;
	r = real.getpeername(fd, sa, len);
	if (r < 0)
		return r;
	switch (s5_fd_kind(fd)) {
	case S5FD_CONN:
		/* Connected to the proxy, not yet to the peer. */
		r = s5_conn_peer(fd, &peer, &plen);
		if (r == S5_PASS)
			return 0;
		if (r < 0)
			return (int)s5_result(r, errno);
		break;
	case S5FD_TCP:
		if (!s5_tcp_peer(fd, &peer, &plen))
			return r;
		break;
	case S5FD_UDP:
		/* Connected through the proxy: the kernel's peer is the
		 * relay, the program's is the one it asked for. */
		if (!s5_udp_peer(fd, &peer, &plen))
			return r;
		break;
	default:
		return r;
	}
	/* The real call above already overwrote *len. */
	s5_give_addr(sa, len, room, &peer, plen);
	return 0;
}
