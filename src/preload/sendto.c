/* sendto() and send(): datagrams to proxied peers go through the UDP relay
 * (udp.c). On a TCP socket, MSG_FASTOPEN opens a connection without
 * connect(), with the data in the SYN; without this hook it would go
 * around the proxy, so the connection is made through the proxy first,
 * then the data is sent. */
#include <errno.h>

#include "hook.h"
#include "tcp.h"
#include "udp.h"

S5_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *dst, socklen_t dlen)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_name = (void *)dst, .msg_namelen = dlen,
			      .msg_iov = &iov, .msg_iovlen = 1 };
	int saved = errno;
	ssize_t r;

	switch (s5_hook_begin(sendto, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.sendto(fd, buf, len, flags, dst, dlen);
	case S5_HOOK_OURS:
		break;
	}
	S5_CONN_GATE(fd, (flags & MSG_DONTWAIT) != 0, false, saved);
	if (dst == NULL && s5_fd_kind(fd) != S5FD_UDP)
		return real.sendto(fd, buf, len, flags, dst, dlen);
	r = (flags & MSG_FASTOPEN) ? s5_tcp_fastopen(fd, dst, dlen) : S5_PASS;
	if (r == 0) {
		errno = saved;
		return real.sendto(fd, buf, len, flags & ~MSG_FASTOPEN, NULL,
				   0);
	}
	if (r == S5_PASS)
		r = s5_udp_sendmsg(fd, &msg, flags);
	if (r == S5_PASS) {
		errno = saved;
		return real.sendto(fd, buf, len, flags, dst, dlen);
	}
	return s5_result(r, saved);
}
S5_SELF_ALIAS(sendto);

/* Everything but the fast path of send() below. */
static __attribute__((noinline)) ssize_t
send_slow(int fd, const void *buf, size_t len, int flags)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int saved = errno;
	ssize_t r;

	S5_CONN_GATE(fd, (flags & MSG_DONTWAIT) != 0, false, saved);
	switch (s5_udp_hook_begin(send, fd)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.send(fd, buf, len, flags);
	case S5_HOOK_OURS:
		break;
	}
	r = s5_udp_sendmsg(fd, &msg, flags);
	if (r == S5_PASS) {
		errno = saved;
		return real.send(fd, buf, len, flags);
	}
	return s5_result(r, saved);
}

/* One test and a tail call on the fast path (see write.c). */
S5_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	if (__builtin_expect(real.send != NULL && !s5_fd_maybe_ours(fd), 1))
		return real.send(fd, buf, len, flags);
	return send_slow(fd, buf, len, flags);
}
