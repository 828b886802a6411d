/* connect(): by the socket's kind. TCP streams to destinations that are
 * not excluded go through the proxy (tcp.c); UDP sockets get a virtual
 * peer behind the relay (udp.c); any other socket to a proxied
 * destination is refused (route.c); the rest is libc's. */
#include <errno.h>

#include "hook.h"
#include "route.h"
#include "tcp.h"
#include "udp.h"

/* connect(AF_UNSPEC) dissolves an association (TCP or UDP); a virtual
 * peer goes too. */
static int disconnect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int r = s5_udp_disconnect(fd, sa, len);

	if (r == S5_PASS)
		s5_fd_clear(fd);
	return r;
}

/* S5_PASS (libc connects), 0 (connected by the library) or -errno. */
static int connect_policy(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage dst;
	struct s5_sock_info si;
	socklen_t dlen;
	int r;

	if (sa == NULL || len < sizeof(sa_family_t))
		return S5_PASS;
	if (sa->sa_family == AF_UNSPEC)
		return disconnect(fd, sa, len);
	/* Not a socket, a bad descriptor, another family of socket: the
	 * kernel answers with the errno the program expects. */
	if (s5_sock_info(fd, &si) < 0 ||
	    (si.domain != AF_INET && si.domain != AF_INET6))
		return S5_PASS;
	r = s5_dst_read(fd, &si, true, sa, len, &dst, &dlen);
	if (r == S5_DST_NONE)
		return S5_PASS;
	if (r != S5_DST_ADDR)
		return r;
	if (s5_sock_is_udp(&si))
		return s5_udp_connect(fd, (struct sockaddr *)&dst, dlen);
	if (si.type == SOCK_STREAM)
		return s5_tcp_connect(fd, &si, (struct sockaddr *)&dst, dlen);
	return s5_refuse_other((struct sockaddr *)&dst, dlen, &si);
}

S5_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int saved = errno;
	int r;

	switch (s5_hook_begin(connect, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		return s5_result(-ECONNREFUSED, saved);
	case S5_HOOK_LIBC:
		return real.connect(fd, sa, len);
	case S5_HOOK_OURS:
		break;
	}
	r = connect_policy(fd, sa, len);
	if (r == S5_PASS) {
		errno = saved;
		return real.connect(fd, sa, len);
	}
	return s5_result(r, saved);
}
S5_SELF_ALIAS(connect);
