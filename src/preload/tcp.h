/* TCP through the proxy: CONNECT on the program's own socket (tcp.c). */
#ifndef S5_TCP_H
#define S5_TCP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "route.h"
#include "s5_net.h"
#include "s5_try.h"

/* The net layer's I/O seam made of real libc functions (io.c); filled by
 * s5_io_real_init() during start-up, read-only afterwards. */
extern struct s5_io s5_io_real;
/* The same with MSG_DONTWAIT on every send and receive (kind_conn.c). */
extern struct s5_io s5_io_real_nb;
void s5_io_real_init(void);

/* Starts t (s5_try.h) for a new connection on fd and picks the address
 * of the first proxy this socket can reach: its own family, or for an
 * IPv6 socket that is not IPV6_V6ONLY the IPv4-mapped form of an IPv4
 * proxy. Returns 0 or -EAFNOSUPPORT (none). */
int s5_pick_first(int fd, int domain, struct s5_try *t,
		  struct sockaddr_storage *out, socklen_t *len);

/* After hs failed with r: when the proxy is not there and another is
 * left that this socket can reach, picks it and readies fd to connect
 * again (s5_try_next) and returns 0; else -1. */
int s5_pick_next(int fd, int domain, struct s5_try *t, const struct s5_hs *hs,
		 int r, struct sockaddr_storage *out, socklen_t *len);

/* A stream socket (si) towards dst, an address s5_dst_read() gave:
 * S5_PASS (let libc connect), 0 (connected through the proxy) or -errno.
 * getpeername() then shows dst. With async, a non-blocking socket gets
 * -EINPROGRESS while the handshake runs on (kind_conn.h). */
int s5_tcp_connect(int fd, const struct s5_sock_info *si,
		   const struct sockaddr *dst, socklen_t dlen, bool async);

/* MSG_FASTOPEN towards dst: on a TCP socket, connects it as connect()
 * would (0 then means "now send without an address"); else S5_PASS.
 * In connect.c, beside connect()'s own policy. */
int s5_tcp_fastopen(int fd, const struct sockaddr *dst, socklen_t dlen);

#endif
