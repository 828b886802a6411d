/* read(), readv() and the fortified __read_chk() on a UDP socket that has
 * an association: the next valid datagram from the relay, header removed.
 * For every other descriptor these hooks cost one load. */
#include <errno.h>
#include <unistd.h>

#include "hook.h"
#include "udp.h"

/* glibc declares it only under _FORTIFY_SOURCE. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);

static ssize_t read_udp(int fd, const struct iovec *iov, int iovcnt)
{
	struct msghdr msg = { .msg_iov = (struct iovec *)iov,
			      .msg_iovlen = (size_t)iovcnt };

	return s5_udp_recvmsg(fd, &msg, 0);
}

/* Out of line, so the fast path below keeps no buffer on the stack. */
static __attribute__((noinline)) ssize_t read_slow(int fd, void *buf,
						   size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	int saved = errno;
	ssize_t r;

	S5_CONN_GATE(fd, false, true, saved);
	switch (s5_udp_hook_begin(read, fd)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.read(fd, buf, len);
	case S5_HOOK_OURS:
		break;
	}
	r = read_udp(fd, &iov, 1);
	if (r == S5_PASS) {
		errno = saved;
		return real.read(fd, buf, len);
	}
	return s5_result(r, saved);
}

/* One test and a tail call on the fast path (see write.c). */
S5_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	if (__builtin_expect(real.read != NULL && !s5_fd_maybe_ours(fd), 1))
		return real.read(fd, buf, len);
	return read_slow(fd, buf, len);
}

/* Everything but the fast path of readv() below. */
static __attribute__((noinline)) ssize_t
readv_slow(int fd, const struct iovec *iov, int iovcnt)
{
	int saved = errno;
	ssize_t r;

	S5_CONN_GATE(fd, false, true, saved);
	switch (s5_udp_hook_begin(readv, fd)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.readv(fd, iov, iovcnt);
	case S5_HOOK_OURS:
		break;
	}
	if (iovcnt < 0)
		return real.readv(fd, iov, iovcnt);
	r = read_udp(fd, iov, iovcnt);
	if (r == S5_PASS) {
		errno = saved;
		return real.readv(fd, iov, iovcnt);
	}
	return s5_result(r, saved);
}

S5_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	if (__builtin_expect(real.readv != NULL && !s5_fd_maybe_ours(fd), 1))
		return real.readv(fd, iov, iovcnt);
	return readv_slow(fd, iov, iovcnt);
}

/* _FORTIFY_SOURCE turns read() into this when the buffer size is known;
 * libc's own check (and its abort on overflow) stays libc's. */
S5_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	S5_CONN_GATE(fd, false, true, errno);
	switch (s5_udp_hook_begin(__read_chk, fd)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, errno);
	case S5_HOOK_LIBC:
		return real.__read_chk(fd, buf, len, buflen);
	case S5_HOOK_OURS:
		break;
	}
	if (len > buflen)
		return real.__read_chk(fd, buf, len, buflen);
	return read_slow(fd, buf, len);
}
