/* sendto() and recvfrom() on an unconnected UDP socket: the datagram goes
 * through the relay and comes back with its header removed and the
 * destination reported as its source. recv() too, on the next one. */
#include "udp.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in dst = udp_dst(), src;
	socklen_t len = sizeof(src);
	char buf[64];
	int fd = udp_socket();
	ssize_t n;

	if (sendto(fd, "datagram", 8, 0, (struct sockaddr *)&dst,
		   sizeof(dst)) != 8)
		FAIL("sendto: %s", strerror(errno));
	n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &len);
	if (n != 8 || memcmp(buf, "datagram", 8) != 0)
		FAIL("recvfrom: %zd %s", n, strerror(errno));
	if (!is_udp_dst(&src, len))
		FAIL("the source is not the destination");
	sendto(fd, "again", 5, 0, (struct sockaddr *)&dst, sizeof(dst));
	if (recv(fd, buf, sizeof(buf), 0) != 5 || memcmp(buf, "again", 5))
		FAIL("recv: %s", strerror(errno));
	close(fd);
	return 0;
}
