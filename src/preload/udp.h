/* The UDP policy (udp.c): which datagrams go through the relay, how
 * replies are shown, and connect() on datagram sockets. */
#ifndef S5_UDP_POLICY_H
#define S5_UDP_POLICY_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "fd.h"
#include "hook.h"
#include "kind_conn.h"
#include "route.h"

/* True for a descriptor whose datagrams the library may handle: the
 * first check of every read/write-style hook (one load for all others). */
static inline bool s5_fd_is_udp(int fd)
{
	return s5_fd_maybe_ours(fd) && s5_fd_kind(fd) == S5FD_UDP;
}

/* After the start-up: a descriptor without UDP state is libc's. */
static inline enum s5_hook_mode s5_udp_mode(enum s5_hook_mode m, int fd)
{
	return m == S5_HOOK_OURS && !s5_fd_is_udp(fd) ? S5_HOOK_LIBC : m;
}

/* The prologue of the read/write family's slow paths: S5_HOOK_OURS only
 * for a descriptor with UDP state. One without goes straight to libc,
 * without the start-up check when the symbols are there already: every
 * read() and write() on the program's other descriptors near a proxied
 * socket passes here. */
#define s5_udp_hook_begin(fn, fd)                                             \
	(real.fn != NULL && !s5_fd_is_udp(fd)                                 \
		 ? S5_HOOK_LIBC                                               \
		 : s5_udp_mode(s5_hook_begin(fn, S5_STAGE_SYMBOLS), fd))

/* First in the read/write family's slow paths: on a socket whose connect
 * through the proxy runs on (kind_conn.h) the hook returns from here,
 * with EAGAIN or the failure; once the handshake succeeded the call goes
 * on as for any proxied socket. */
#define S5_CONN_GATE(fd, dontwait, reading, saved)                            \
	do {                                                                  \
		if (s5_fd_kind(fd) == S5FD_CONN && !s5_guarded()) {           \
			int gate_r_ = s5_conn_io(fd, dontwait, reading);      \
			if (gate_r_ != S5_PASS)                               \
				return s5_result(gate_r_, saved);             \
		}                                                             \
	} while (0)

/* Send and receive: S5_PASS (libc does it), or the result (bytes or
 * -errno). */
ssize_t s5_udp_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t s5_udp_recvmsg(int fd, struct msghdr *msg, int flags);

/* connect() on a UDP socket to dst (an address s5_dst_read gave):
 * S5_PASS, 0 or -errno. */
int s5_udp_connect(int fd, const struct sockaddr *dst, socklen_t dlen);

/* connect(AF_UNSPEC) on a socket with UDP state: S5_PASS when it has
 * none, else 0 or -errno. */
int s5_udp_disconnect(int fd, const struct sockaddr *sa, socklen_t len);

/* The virtual peer of a UDP socket connected through the proxy. */
bool s5_udp_peer(int fd, struct sockaddr_storage *peer, socklen_t *len);

/* After a successful setsockopt(): notes the options the relay cannot
 * carry (UDP_SEGMENT) on a UDP socket the library keeps state for. */
void s5_udp_setsockopt(int fd, int level, int name);

#endif
