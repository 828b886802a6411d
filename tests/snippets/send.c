/* send() and recv() on a UDP socket connect()ed through the proxy; its
 * peer is the destination, not the relay. */
#include "udp.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	char buf[64];
	int fd = udp_connected();

	if (fd < 0)
		FAIL("connect: %s", strerror(errno));
	if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0 ||
	    !is_udp_dst(&peer, len))
		FAIL("getpeername is not the destination");
	if (send(fd, "connected", 9, 0) != 9)
		FAIL("send: %s", strerror(errno));
	if (recv(fd, buf, sizeof(buf), 0) != 9 || memcmp(buf, "connected", 9))
		FAIL("recv: %s", strerror(errno));
	close(fd);
	return 0;
}
