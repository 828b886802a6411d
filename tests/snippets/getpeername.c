/* getpeername(): reports the destination, not the proxy, with the kernel's
 * truncation contract; an unconnected socket still gets ENOTCONN. */
#include "snippet.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in peer;
	socklen_t len = 4;
	int fd = snippet_connect(), fresh;

	if (fd < 0)
		FAIL("connect: %s", strerror(errno));
	if (!snippet_peer_is_dst(fd))
		FAIL("peer is not the destination");
	memset(&peer, 0xee, sizeof(peer));
	if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
		FAIL("short getpeername: %s", strerror(errno));
	if (len != sizeof(peer) || peer.sin_family != AF_INET ||
	    ((unsigned char *)&peer)[4] != 0xee)
		FAIL("truncation contract broken (len %u)", (unsigned)len);
	fresh = socket(AF_INET, SOCK_STREAM, 0);
	len = sizeof(peer);
	if (getpeername(fresh, (struct sockaddr *)&peer, &len) == 0 ||
	    errno != ENOTCONN)
		FAIL("unconnected socket: expected ENOTCONN");
	close(fresh);
	close(fd);
	return 0;
}
