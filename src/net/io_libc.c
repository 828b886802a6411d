/* The plain libc I/O seam, for the launcher and the unit tests. Not part
 * of the preloaded library: there these names are its own hooks, and its
 * seam is filled from the real-symbol table instead (preload/io.c). */
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include "s5_net.h"

/* With _GNU_SOURCE, glibc declares connect() with a transparent union for
 * its address argument, so it needs a wrapper to fit the seam's type. */
static int libc_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return connect(fd, sa, len);
}

/* fcntl() is variadic; the seam only needs the int-argument form. */
static int libc_fcntl(int fd, int cmd, int arg)
{
	return fcntl(fd, cmd, arg);
}

const struct s5_io s5_io_libc = {
	.send = send,
	.recv = recv,
	.poll = poll,
	.connect = libc_connect,
	.getsockopt = getsockopt,
	.fcntl = libc_fcntl,
	.now_ms = s5_now_ms,
};

