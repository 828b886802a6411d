/* The state of a TCP socket connected through the proxy: the peer the
 * program asked for (kind_tcp.c). */
#ifndef S5_KIND_TCP_H
#define S5_KIND_TCP_H

#include <stdbool.h>
#include <sys/socket.h>

/* Records that fd carries a proxied TCP connection to peer. Returns 0 or
 * -errno (then getpeername shows the proxy; nothing else breaks). */
int s5_tcp_mark(int fd, const struct sockaddr *peer, socklen_t len);

/* The virtual peer of fd, if it is a proxied TCP socket that is still the
 * same socket as when it was recorded. */
bool s5_tcp_peer(int fd, struct sockaddr_storage *peer, socklen_t *len);

/* True while fd is a proxied TCP socket (the same socket as recorded)
 * that the kernel still sees connected: a second connect() must then give
 * EISCONN, as for a direct one. */
bool s5_tcp_connected(int fd);

#endif
