/* The plain libc calls for the udp layer's I/O seam. */
#include <sys/socket.h>
#include <unistd.h>

#include "s5_udp.h"

const struct s5_udp_io s5_udp_io_libc = {
	.sendmsg = sendmsg,
	.recvmsg = recvmsg,
	.recv = recv,
	.close = close,
	.now_ms = s5_now_ms,
};
