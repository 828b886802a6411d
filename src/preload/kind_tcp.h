/* The state of a TCP socket connected through the proxy: the peer the
 * program asked for (kind_tcp.c). */
#ifndef S5_KIND_TCP_H
#define S5_KIND_TCP_H

#include <stdbool.h>
#include <sys/socket.h>

#include "s5_proto.h"

/* Records that fd carries a proxied TCP connection to peer. bound is the
 * proxy's BND.ADDR:BND.PORT for it (NULL: not known, as with optimistic
 * data), which getsockname() then shows: the address the peer sees. Returns
 * 0 or -errno (then getpeername shows the proxy; nothing else breaks). */
int s5_tcp_mark(int fd, const struct sockaddr *peer, socklen_t len,
		const struct s5_addr *bound, unsigned int flags);
/* flags: the connection came from a listener through the proxy; it is
 * never the one a later listener belongs to (s5_tcp_find_live). */
#define S5_TCP_ACCEPTED 1u

/* The address a proxy reply's BND.ADDR:BND.PORT stands for, as a sockaddr
 * of family (IPv4 as IPv4-mapped for AF_INET6): an unspecified address
 * (0.0.0.0, ::) or a name means the proxy's own address, which fd (a
 * socket connected to the proxy) has as its peer. Returns the length, or
 * -EAFNOSUPPORT (an IPv6 address for an AF_INET socket) or -errno. */
int s5_bnd_sockaddr(int fd, int family, const struct s5_addr *bound,
		    struct sockaddr_storage *out);

/* The local address fd shows (getsockname): the one recorded at
 * s5_tcp_mark, if fd is a proxied TCP socket that has one. */
bool s5_tcp_local(int fd, struct sockaddr_storage *out, socklen_t *len);

/* A proxied TCP connection the program holds (by the table's records:
 * one closed behind the hooks' back may still be found). */
struct s5_tcp_live {
	int fd;
	socklen_t plen;
	struct sockaddr_storage peer;      /* the destination asked for */
	struct sockaddr_storage real_local; /* the kernel's getsockname when
					       it was connected */
	socklen_t real_len;
};

/* With local NULL: the live proxied connection made last. Else the one
 * whose local address, the kernel's or the one it shows, has local's
 * address (any port; IPv4-mapped equals IPv4), the last made if several.
 * False when none is. */
bool s5_tcp_find_live(const struct sockaddr *local, socklen_t llen,
		      struct s5_tcp_live *out);

/* The virtual peer of fd, if it is a proxied TCP socket that is still the
 * same socket as when it was recorded. */
bool s5_tcp_peer(int fd, struct sockaddr_storage *peer, socklen_t *len);

/* True while fd is a proxied TCP socket (the same socket as recorded)
 * that the kernel still sees connected: a second connect() must then give
 * EISCONN, as for a direct one. */
bool s5_tcp_connected(int fd);

#endif
