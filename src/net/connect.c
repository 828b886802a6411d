/* Connecting to the proxy on the program's own descriptor, with one
 * deadline for the TCP connect and the whole handshake. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include "s5_net.h"
#include "net_internal.h"

/* Whether a failed connect() is still under way (connect(2)): EINPROGRESS
 * on a non-blocking socket, EINTR when a signal interrupted a blocking one
 * (the kernel keeps connecting), EALREADY when an earlier attempt runs. */
static bool connect_pending(int err)
{
	return err == EINPROGRESS || err == EINTR || err == EALREADY;
}

int s5_connect_wait(int fd, const struct sockaddr *sa, socklen_t len,
		    const struct s5_io *io, int64_t deadline_ms)
{
	short revents = 0;
	int err = 0, r;
	socklen_t elen = sizeof(err);

	if (io->connect(fd, sa, len) == 0)
		return 0;
	err = errno;
	if (!connect_pending(err))
		return -err;
	r = s5_net_wait(fd, POLLOUT, io, deadline_ms, &revents);
	if (r < 0)
		return r;
	/* Writable means finished, well or not; SO_ERROR says which. */
	err = 0;
	if (io->getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -errno;
	return -err;
}

int s5_proxy_start(int fd, const struct sockaddr *proxy, socklen_t plen,
		   struct s5_hs *hs, const struct s5_io *io)
{
	if (hs->state == S5HS_FAILED)
		return hs->err;
	if (io->connect(fd, proxy, plen) == 0)
		return 0;
	if (!connect_pending(errno))
		return s5_hs_fail(hs, -errno, "could not connect to the proxy");
	hs->connecting = true;
	hs->want = POLLOUT;
	return -EINPROGRESS;
}

/* Connects to the proxy and runs the handshake on a non-blocking fd. */
static int connect_and_run(int fd, const struct sockaddr *proxy,
			   socklen_t plen, struct s5_hs *hs,
			   const struct s5_io *io, int64_t deadline_ms)
{
	int r = s5_connect_wait(fd, proxy, plen, io, deadline_ms);

	if (r == -ETIMEDOUT)
		return s5_hs_fail(hs, r, "proxy did not accept the connection in time");
	if (r < 0)
		return s5_hs_fail(hs, r, "could not connect to the proxy");
	return s5_hs_run(hs, fd, io, deadline_ms);
}

int s5_proxy_connect(int fd, const struct sockaddr *proxy, socklen_t plen,
		     struct s5_hs *hs, const struct s5_io *io, int timeout_ms)
{
	int64_t deadline_ms = io->now_ms() + timeout_ms;
	int flags, r;

	flags = io->fcntl(fd, F_GETFL, 0);
	if (flags < 0)
		return s5_hs_fail(hs, -errno, "could not read the socket flags");
	/* Non-blocking so that the deadline holds even on a socket the
	 * program made blocking; the program gets its flags back below. */
	if (!(flags & O_NONBLOCK) &&
	    io->fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return s5_hs_fail(hs, -errno, "could not make the socket non-blocking");
	r = connect_and_run(fd, proxy, plen, hs, io, deadline_ms);
	/* Restore exactly the saved value, on success and failure alike
	 * (DESIGN.md decision 1); nothing else may change the flags. */
	if (!(flags & O_NONBLOCK) && io->fcntl(fd, F_SETFL, flags) < 0 &&
	    r == 0)
		r = s5_hs_fail(hs, -errno, "could not restore the socket flags");
	return r;
}
