/* The plain libc calls for the udp layer's I/O seam, for the unit tests.
 * Not part of the preloaded library, where these names are its own hooks
 * (preload/udp.c fills its seam from the real-symbol table). */
#include <sys/socket.h>
#include <unistd.h>

#include "s5_udp.h"

const struct s5_udp_io s5_udp_io_libc = {
	.sendmsg = sendmsg,
	.recvmsg = recvmsg,
	.recv = recv,
	.now_ms = s5_now_ms,
};
