/* __read_chk, __recv_chk and __recvfrom_chk: what read(), recv() and
 * recvfrom() become under _FORTIFY_SOURCE when the buffer size is known,
 * as in most distribution builds. */
#undef _FORTIFY_SOURCE
#define _FORTIFY_SOURCE 2
#include "udp.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in src;
	socklen_t len = sizeof(src);
	char buf[32];
	/* A length the compiler cannot see makes glibc's inline wrappers call
	 * the checking functions instead of the plain ones. */
	volatile size_t room = sizeof(buf);
	int fd = udp_connected();

	if (fd < 0)
		FAIL("connect: %s", strerror(errno));
	send(fd, "one", 3, 0);
	if (read(fd, buf, room) != 3 || memcmp(buf, "one", 3))
		FAIL("fortified read: %s", strerror(errno));
	send(fd, "two", 3, 0);
	if (recv(fd, buf, room, 0) != 3 || memcmp(buf, "two", 3))
		FAIL("fortified recv: %s", strerror(errno));
	send(fd, "three", 5, 0);
	if (recvfrom(fd, buf, room, 0, (struct sockaddr *)&src,
		     &len) != 5 || !is_udp_dst(&src, len))
		FAIL("fortified recvfrom: %s", strerror(errno));
	close(fd);
	return 0;
}
