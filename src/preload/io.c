/* The net layer's I/O seam made of the real libc functions, so that the
 * handshake never passes through our own hooks. Filled once by s5_init_symbols. */
#include <fcntl.h>
#include <sys/socket.h>

#include "real.h"
#include "tcp.h"

static int io_fcntl(int fd, int cmd, int arg)
{
	return real.fcntl(fd, cmd, arg);
}

struct s5_io s5_io_real;
struct s5_io s5_io_real_nb;

/* Never waits, whatever the socket's flags: a handshake driven from the
 * program's calls must not block in them, also on a socket the program
 * made blocking meanwhile. */
static ssize_t send_nb(int fd, const void *buf, size_t len, int flags)
{
	return real.send(fd, buf, len, flags | MSG_DONTWAIT);
}

static ssize_t recv_nb(int fd, void *buf, size_t len, int flags)
{
	return real.recv(fd, buf, len, flags | MSG_DONTWAIT);
}

/* Every function but fcntl has the seam's exact type; fcntl is variadic
 * and needs the wrapper above. */
void s5_io_real_init(void)
{
	s5_io_real.send = real.send;
	s5_io_real.recv = real.recv;
	s5_io_real.poll = real.poll;
	s5_io_real.connect = real.connect;
	s5_io_real.getsockopt = real.getsockopt;
	s5_io_real.fcntl = io_fcntl;
	s5_io_real.now_ms = s5_now_ms;
	s5_io_real_nb = s5_io_real;
	s5_io_real_nb.send = send_nb;
	s5_io_real_nb.recv = recv_nb;
}
