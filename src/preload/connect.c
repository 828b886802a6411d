/* connect(): by the socket's kind. TCP streams to destinations that are
 * not excluded go through the proxy (tcp.c); UDP sockets get a virtual
 * peer behind the relay (udp.c); any other socket to a proxied
 * destination is refused (route.c); the rest is libc's. */
#include <errno.h>

#include "hook.h"
#include "kind_bind.h"
#include "kind_conn.h"
#include "kind_tcp.h"
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

/* A connect to sa on an internet socket si, by its kind. */
static int by_kind(int fd, const struct s5_sock_info *si,
		   const struct sockaddr *sa, socklen_t len, bool async)
{
	struct sockaddr_storage dst;
	socklen_t dlen;
	int r = s5_dst_read(fd, si, true, sa, len, &dst, &dlen);

	if (r == S5_DST_NONE)
		return S5_PASS;
	if (r != S5_DST_ADDR)
		return r;
	if (s5_sock_is_udp(si))
		return s5_udp_connect(fd, (struct sockaddr *)&dst, dlen);
	if (si->type == SOCK_STREAM)
		return s5_tcp_connect(fd, si, (struct sockaddr *)&dst, dlen,
				      async);
	return s5_refuse_other((struct sockaddr *)&dst, dlen, si);
}

/* Not a socket, a bad descriptor, another family of socket: false, and
 * the kernel answers with the errno the program expects. */
static bool inet_socket(int fd, struct s5_sock_info *si)
{
	return s5_sock_info(fd, si) == 0 &&
	       (si->domain == AF_INET || si->domain == AF_INET6);
}

/* S5_PASS (libc connects), 0 (connected by the library) or -errno. */
static int connect_policy(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct s5_sock_info si;

	if (sa == NULL || len < sizeof(sa_family_t))
		return S5_PASS;
	if (sa->sa_family == AF_UNSPEC)
		return disconnect(fd, sa, len);
	/* A connect under way or done answers for itself: never a second
	 * handshake on a stream that carries one already. */
	switch (s5_fd_kind(fd)) {
	case S5FD_CONN: {
		int r = s5_conn_connect(fd);

		if (r != S5_PASS)
			return r;
		break;
	}
	case S5FD_TCP:
		if (s5_tcp_connected(fd))
			return -EISCONN;
		break;
	case S5FD_BIND:
		/* Bound, and now connecting: it will never listen (one that
		 * listens through the proxy is connected: EISCONN). */
		if (!s5_bind_listening(fd))
			s5_fd_clear(fd);
		break;
	default:
		break;
	}
	if (!inet_socket(fd, &si))
		return S5_PASS;
	return by_kind(fd, &si, sa, len, true);
}

/* MSG_FASTOPEN connects a TCP socket as connect() would (tcp.h). */
int s5_tcp_fastopen(int fd, const struct sockaddr *dst, socklen_t dlen)
{
	struct s5_sock_info si;

	if (dst == NULL || !inet_socket(fd, &si) || si.type != SOCK_STREAM)
		return S5_PASS;
	return by_kind(fd, &si, dst, dlen, false);
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
