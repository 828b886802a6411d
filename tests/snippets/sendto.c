/* sendto() with MSG_FASTOPEN: the implicit connection goes through the
 * proxy and the data arrives after the handshake. */
#include "snippet.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in dst = snippet_dst();
	char buf[16];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t r;

	if (fd < 0)
		FAIL("socket: %s", strerror(errno));
	r = sendto(fd, "fastopen", 8, MSG_FASTOPEN, (struct sockaddr *)&dst,
		   sizeof(dst));
	if (r != 8)
		FAIL("sendto MSG_FASTOPEN: %zd %s", r, strerror(errno));
	if (recv(fd, buf, 8, MSG_WAITALL) != 8 || memcmp(buf, "fastopen", 8))
		FAIL("no echo of the fast-open data");
	if (!snippet_peer_is_dst(fd))
		FAIL("peer is not the destination");
	close(fd);
	return 0;
}
