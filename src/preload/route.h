/* Where a destination goes (route.c): straight to the kernel, through the
 * proxy, or nowhere. Families, exclusions, fake addresses and the proxy's
 * own address are decided here and only here. */
#ifndef S5_ROUTE_H
#define S5_ROUTE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "s5_proto.h"

struct s5_sock_info {
	int domain, type, protocol;
};

/* SO_DOMAIN, SO_TYPE and SO_PROTOCOL of fd. Returns 0 or -1 (not a
 * socket, bad descriptor). */
int s5_sock_info(int fd, struct s5_sock_info *si);

/* The port (host order) of an AF_INET / AF_INET6 address long enough to
 * hold one; false for anything else. */
bool s5_sa_port(const struct sockaddr *sa, socklen_t len, uint16_t *port);

/* True for a UDP (or UDP-Lite) socket of an internet family. */
bool s5_sock_is_udp(const struct s5_sock_info *si);

/* True when an IPv6 socket is IPV6_V6ONLY (cannot reach IPv4 addresses). */
bool s5_v6only(int fd);

/* What the kernel would make of a destination for a socket of the kind
 * si describes (an internet domain), on a send (connect false) or a
 * connect: */
#define S5_DST_ADDR 0 /* *out holds it, AF_INET or AF_INET6 */
#define S5_DST_NONE 1 /* no destination: the socket's connected peer */
/* or S5_PASS: the kernel refuses it on its own (too short), or -errno: a
 * family the kernel would refuse, or would read in a way the library
 * does not carry, refused here. fd is only asked for IPV6_V6ONLY. */
int s5_dst_read(int fd, const struct s5_sock_info *si, bool connect,
		const struct sockaddr *sa, socklen_t len,
		struct sockaddr_storage *out, socklen_t *out_len);

/* Where a destination (AF_INET or AF_INET6, complete) goes: S5_PASS
 * (direct: unspecified, excluded, the proxy, or an address an excluded
 * name resolved to), 0 (through the proxy: target is what to ask for; a
 * fake address turned back into its name, *fake then true), or
 * -EHOSTUNREACH (a fake address no name maps to). */
int s5_route_dst(const struct sockaddr *sa, socklen_t len,
		 struct s5_addr *target, bool *fake);

/* A socket SOCKS5 cannot carry (raw, ICMP, SCTP, any datagram socket
 * that is not UDP) towards sa: S5_PASS when sa is not proxied, else
 * -EPERM (-EPROTONOSUPPORT for streams) with a log line. */
int s5_refuse_other(const struct sockaddr *sa, socklen_t len,
		    const struct s5_sock_info *si);

/* With -vv, says that a connection goes direct. */
void s5_log_direct(const struct sockaddr *sa, socklen_t len);

#endif
