/* S5FD_BIND: a TCP socket that listens through the proxy (SOCKS5 BIND,
 * RFC 1928 section 4), and the sockets bound to an ephemeral port that may
 * become one (kind_bind.c).
 *
 * The pattern is active FTP's: a program with a proxied connection opens
 * a listener, tells its peer the listener's address, and waits for the
 * peer to connect back. listen() on such a socket sends BIND to the proxy
 * over the socket itself, which becomes the connection to the proxy;
 * getsockname() shows the address the proxy listens on; the socket turns
 * readable when the proxy's second reply says the peer connected, and
 * accept() returns a second descriptor for the same socket, which from
 * then on carries the peer's stream. */
#ifndef S5_KIND_BIND_H
#define S5_KIND_BIND_H

#include <stdbool.h>
#include <sys/socket.h>

/* bind() of a TCP socket to an internet address: the library binds (0 or
 * -errno) and remembers an ephemeral port, for listen(). An address that
 * only a proxied connection shows (its getsockname: the proxy's side)
 * becomes that connection's own local address. S5_PASS for any other
 * socket or address: libc binds. */
int s5_bind_bind(int fd, const struct sockaddr *sa, socklen_t len);

/* listen(): S5_PASS (a local listener), or 0 / -errno for a listener
 * through the proxy (SOCKS5WRAP_BIND says which sockets). */
int s5_bind_listen(int fd);

/* accept4() on a listener through the proxy: the new descriptor, -errno,
 * or S5_PASS for any other socket. */
int s5_bind_accept(int fd, struct sockaddr *sa, socklen_t *len, int flags);

/* getsockname() of a listener through the proxy: the address the proxy
 * listens on; false for any other socket. */
bool s5_bind_local(int fd, struct sockaddr_storage *out, socklen_t *len);

/* close() of fd, before the real one. */
void s5_bind_closing(int fd);

/* getsockopt(SO_ACCEPTCONN): true for a listener through the proxy. */
bool s5_bind_listening(int fd);

#endif
