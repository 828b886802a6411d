/* The net layer's I/O seam made of the real libc functions, so that the
 * handshake never passes through our own hooks. */
#include <fcntl.h>

#include "preload.h"

static ssize_t io_send(int fd, const void *buf, size_t len, int flags)
{
	return real.send(fd, buf, len, flags);
}

static ssize_t io_recv(int fd, void *buf, size_t len, int flags)
{
	return real.recv(fd, buf, len, flags);
}

static int io_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	return real.poll(fds, n, timeout_ms);
}

static int io_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return real.connect(fd, sa, len);
}

static int io_getsockopt(int fd, int level, int name, void *val,
			 socklen_t *len)
{
	return real.getsockopt(fd, level, name, val, len);
}

static int io_fcntl(int fd, int cmd, int arg)
{
	return real.fcntl(fd, cmd, arg);
}

const struct s5_io s5_io_real = {
	.send = io_send,
	.recv = io_recv,
	.poll = io_poll,
	.connect = io_connect,
	.getsockopt = io_getsockopt,
	.fcntl = io_fcntl,
	.now_ms = s5_now_ms,
};
