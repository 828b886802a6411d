/* fcntl(F_DUPFD) and F_DUPFD_CLOEXEC: the copies share the association and
 * the virtual peer of a connected UDP socket. */
#include <fcntl.h>

#include "udp.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	char buf[16];
	int fd = udp_connected(), a, b;

	if (fd < 0)
		FAIL("connect: %s", strerror(errno));
	a = fcntl(fd, F_DUPFD, 50);
	b = fcntl(fd, F_DUPFD_CLOEXEC, 60);
	if (a < 50 || b < 60)
		FAIL("F_DUPFD: %s", strerror(errno));
	close(fd);
	if (getpeername(b, (struct sockaddr *)&peer, &len) != 0 ||
	    !is_udp_dst(&peer, len))
		FAIL("the copy lost the virtual peer");
	if (send(a, "copy", 4, 0) != 4 || recv(b, buf, sizeof(buf), 0) != 4 ||
	    memcmp(buf, "copy", 4))
		FAIL("no echo through the copies: %s", strerror(errno));
	close(a);
	close(b);
	return 0;
}
