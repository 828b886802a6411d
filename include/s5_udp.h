/* UDP through a SOCKS5 UDP ASSOCIATE relay (RFC 1928 section 7).
 *
 * One association per UDP socket: a control TCP connection that keeps the
 * association alive, and the relay address the proxy named in its reply.
 * Every datagram goes to the relay with the section 7 header in front, in
 * one sendmsg() whose first iovec is the header (no copy of the payload).
 * Every datagram from the relay has its header checked and removed.
 *
 * This layer does the byte work and reports where a datagram came from;
 * the caller (preload) decides policy: which sources are acceptable, how a
 * source is shown to the program. Kernel calls go through struct s5_udp_io
 * so tests can replace them and the preload can pass the real libc ones.
 */
#ifndef S5_UDP_H
#define S5_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "s5_net.h"
#include "s5_proto.h"

struct s5_udp_io {
	ssize_t (*sendmsg)(int fd, const struct msghdr *msg, int flags);
	ssize_t (*recvmsg)(int fd, struct msghdr *msg, int flags);
	ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
	int (*close)(int fd);
	int64_t (*now_ms)(void);
};

/* The plain libc functions (for tests). */
extern const struct s5_udp_io s5_udp_io_libc;

/* Check the control connection at most this often (milliseconds), so a
 * send costs no extra system call in the common case. */
#define S5_UDP_CHECK_MS 100

/* Several threads may send and receive on one socket at once: ctl_fd,
 * checked_ms and hdr_guess are read and written with __atomic builtins
 * only, by any thread, without a lock. ctl_fd is published with release
 * after relay and relay_len are set (s5_udp_set_relay), and taken with an
 * exchange or compare-exchange by the one thread that closes it. A caller
 * that associates a socket again must keep other threads from reading
 * relay while s5_udp_set_relay rewrites it. */
struct s5_udp {
	int family;     /* the UDP socket's family, AF_INET or AF_INET6 */
	int ctl_fd;     /* control connection, -1 when none (atomic) */
	struct sockaddr_storage relay; /* in the socket's family */
	socklen_t relay_len;
	uint16_t hdr_guess;    /* header length the next datagram likely has,
				* 8..S5_UDP_HEADER_MAX (262) (atomic) */
	int64_t checked_ms;    /* when the control connection was last seen
				* alive (atomic) */
};

/* Prepares u for a socket of this family (no association yet). */
void s5_udp_init(struct s5_udp *u, int family);

/* Sets the relay from the UDP ASSOCIATE reply's bound address: an all-zero
 * address means the proxy's own address (proxy, in any family). The relay
 * is stored in the socket's family (IPv4 as IPv4-mapped for an AF_INET6
 * socket). Returns 0, -EAFNOSUPPORT (an IPv6 relay for an AF_INET socket,
 * or v6only and an IPv4 relay), -EPROTO (a name as bound address, port 0). */
int s5_udp_set_relay(struct s5_udp *u, const struct s5_addr *bound,
		     const struct sockaddr *proxy, socklen_t proxy_len,
		     bool v6only);

/* Sends one datagram to dst through the relay: header + iov in one
 * sendmsg to the relay, flags passed on. Returns the payload bytes sent,
 * or -errno (-EMSGSIZE when iovcnt leaves no room for the header iovec). */
ssize_t s5_udp_send(struct s5_udp *u, int fd, const struct s5_addr *dst,
		    const struct iovec *iov, size_t iovcnt, int flags,
		    const struct s5_udp_io *io);

/* Where a received datagram came from. */
enum s5_udp_from {
	S5_UDP_FROM_RELAY, /* header removed; src is the real source */
	S5_UDP_FROM_OTHER, /* not the relay: delivered as is, src_raw says who */
};

struct s5_udp_dgram {
	enum s5_udp_from from;
	struct s5_addr src;              /* FROM_RELAY */
	struct sockaddr_storage src_raw; /* the kernel's source address */
	socklen_t src_raw_len;
	int msg_flags;                   /* MSG_TRUNC / MSG_CTRUNC, for payload */
};

/* Receives one datagram into iov (payload only) with recvmsg(flags);
 * control/controllen are passed to the kernel (ancillary data). Returns the
 * payload length as recvmsg would for the payload alone (the full length
 * when flags has MSG_TRUNC), filling *d; or -errno from the kernel
 * (-EAGAIN...); -EMSGSIZE when iovcnt leaves no room for our two iovecs
 * around iov (header; end of a payload that a longer header than guessed
 * pushed out); or -EBADMSG for a datagram from the relay that is not
 * valid (too short, RSV != 0, FRAG != 0, unknown ATYP), which has been
 * consumed also when flags has MSG_PEEK. The header's bytes never reach the
 * program's buffers: when the header length differs from u->hdr_guess the
 * payload is moved within iov. *controllen_out gets the control length. */
ssize_t s5_udp_recv(struct s5_udp *u, int fd, const struct iovec *iov,
		    size_t iovcnt, void *control, size_t controllen,
		    size_t *controllen_out, int flags, struct s5_udp_dgram *d,
		    const struct s5_udp_io *io);

/* Consumes one pending datagram without looking at it (dropping a
 * datagram that was only peeked at). Returns 0 or -errno. */
int s5_udp_discard(int fd, const struct s5_udp_io *io);

/* True when the control connection is still open: checked with a
 * non-blocking MSG_PEEK recv at most every S5_UDP_CHECK_MS; a closed or
 * failed connection is closed and ctl_fd set to -1. */
bool s5_udp_alive(struct s5_udp *u, const struct s5_udp_io *io);

/* Closes the control connection, if any. */
void s5_udp_close(struct s5_udp *u, const struct s5_udp_io *io);

#endif
