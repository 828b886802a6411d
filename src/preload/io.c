/* The net layer's I/O seam made of the real libc functions, so that the
 * handshake never passes through our own hooks. Filled once by s5_init_symbols. */
#include <fcntl.h>

#include "real.h"
#include "tcp.h"

static int io_fcntl(int fd, int cmd, int arg)
{
	return real.fcntl(fd, cmd, arg);
}

struct s5_io s5_io_real;

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
}
