/* write() and writev() on a UDP socket connect()ed through the proxy send
 * a datagram to its virtual peer through the relay. For every other
 * descriptor these hooks cost one load from the descriptor table. */
#include <errno.h>
#include <unistd.h>

#include "hook.h"
#include "udp.h"

static ssize_t write_udp(int fd, const struct iovec *iov, int iovcnt)
{
	struct msghdr msg = { .msg_iov = (struct iovec *)iov,
			      .msg_iovlen = (size_t)iovcnt };

	return s5_udp_sendmsg(fd, &msg, 0);
}

/* Out of line, so the fast path below keeps no buffer on the stack. */
static __attribute__((noinline)) ssize_t write_slow(int fd, const void *buf,
						    size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	int saved = errno;
	ssize_t r;

	S5_CONN_GATE(fd, false, false, saved);
	switch (s5_udp_hook_begin(write, fd)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.write(fd, buf, len);
	case S5_HOOK_OURS:
		break;
	}
	r = write_udp(fd, &iov, 1);
	if (r == S5_PASS) {
		errno = saved;
		return real.write(fd, buf, len);
	}
	return s5_result(r, saved);
}

/* The fast path is one test and a tail call, so it saves no registers:
 * every write() of the program passes here. */
S5_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	if (__builtin_expect(real.write != NULL && !s5_fd_maybe_ours(fd), 1))
		return real.write(fd, buf, len);
	return write_slow(fd, buf, len);
}

/* Everything but the fast path of writev() below. */
static __attribute__((noinline)) ssize_t
writev_slow(int fd, const struct iovec *iov, int iovcnt)
{
	int saved = errno;
	ssize_t r;

	S5_CONN_GATE(fd, false, false, saved);
	switch (s5_udp_hook_begin(writev, fd)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.writev(fd, iov, iovcnt);
	case S5_HOOK_OURS:
		break;
	}
	if (iovcnt < 0)
		return real.writev(fd, iov, iovcnt);
	r = write_udp(fd, iov, iovcnt);
	if (r == S5_PASS) {
		errno = saved;
		return real.writev(fd, iov, iovcnt);
	}
	return s5_result(r, saved);
}

S5_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	if (__builtin_expect(real.writev != NULL && !s5_fd_maybe_ours(fd), 1))
		return real.writev(fd, iov, iovcnt);
	return writev_slow(fd, iov, iovcnt);
}
