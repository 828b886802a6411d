/* getsockname(): a proxied TCP connection shows the address the proxy
 * connected from (what the peer sees; not with SOCKS5WRAP_BIND=off), a
 * listener through the proxy the address the proxy listens at; everything
 * else is the kernel's. */
#include <errno.h>

#include "conf.h"
#include "fd.h"
#include "hook.h"
#include "kind_bind.h"
#include "kind_tcp.h"

S5_EXPORT int getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage local;
	socklen_t llen, room;
	bool ours;
	int r;

	switch (s5_hook_begin(getsockname, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, errno);
	case S5_HOOK_LIBC:
		return real.getsockname(fd, sa, len);
	case S5_HOOK_OURS:
		break;
	}
	/* The kernel answers first: bad pointers and descriptors get its
	 * own errno. */
	room = len != NULL ? *len : 0;
	r = real.getsockname(fd, sa, len);
	if (r < 0 || !s5_fd_maybe_ours(fd))
		return r;
	switch (s5_fd_kind(fd)) {
	case S5FD_TCP:
		/* With BIND off nothing of the proxy's is announced: the
		 * program sees its own address, as before BIND existed. */
		ours = s5_cfg.bind != S5_BIND_OFF &&
		       s5_tcp_local(fd, &local, &llen);
		break;
	case S5FD_BIND:
		ours = s5_bind_local(fd, &local, &llen);
		break;
	default:
		ours = false;
		break;
	}
	if (ours)
		s5_give_addr(sa, len, room, &local, llen);
	return r;
}
