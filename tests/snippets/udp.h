/* Helpers for the UDP snippets: the destination 192.0.2.1:7 (unreachable
 * from the snippets' namespace except through the proxy's relay). */
#ifndef S5_SNIPPET_UDP_H
#define S5_SNIPPET_UDP_H

#include <sys/time.h>

#include "snippet.h"

static inline struct sockaddr_in udp_dst(void)
{
	struct sockaddr_in sin = snippet_dst();

	sin.sin_port = htons(7);
	return sin;
}

/* A UDP socket with a receive timeout, so a lost datagram fails the
 * snippet instead of hanging it. */
static inline int udp_socket(void)
{
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* A UDP socket connect()ed to the destination through the proxy. */
static inline int udp_connected(void)
{
	struct sockaddr_in dst = udp_dst();
	int fd = udp_socket();

	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0)
		return -1;
	return fd;
}

static inline int is_udp_dst(const struct sockaddr_in *a, socklen_t len)
{
	struct sockaddr_in want = udp_dst();

	return len == sizeof(*a) && a->sin_family == AF_INET &&
	       a->sin_port == want.sin_port &&
	       a->sin_addr.s_addr == want.sin_addr.s_addr;
}

#endif
