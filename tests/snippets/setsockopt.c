/* setsockopt(UDP_SEGMENT): a proxied UDP socket that asks for GSO for
 * every send gets EIO (the relay needs a header on each datagram), also
 * when the option comes after the association; with the option cleared
 * again the socket sends through the relay as before. */
#include <netinet/udp.h>

#include "udp.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static int set_segment(int fd, int size)
{
	return setsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, sizeof(size));
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in dst = udp_dst();
	char big[250], buf[64];
	int fd = udp_socket();
	ssize_t r;

	memset(big, 'g', sizeof(big));
	if (sendto(fd, "before", 6, 0, (struct sockaddr *)&dst,
		   sizeof(dst)) != 6 ||
	    recv(fd, buf, sizeof(buf), 0) != 6 || memcmp(buf, "before", 6))
		FAIL("no echo before the option: %s", strerror(errno));
	if (set_segment(fd, 100) != 0)
		FAIL("setsockopt UDP_SEGMENT: %s", strerror(errno));
	r = sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&dst,
		   sizeof(dst));
	if (r != -1 || errno != EIO)
		FAIL("GSO send: %zd %s, expected EIO", r, strerror(errno));
	if (set_segment(fd, 0) != 0)
		FAIL("setsockopt UDP_SEGMENT 0: %s", strerror(errno));
	if (sendto(fd, "after", 5, 0, (struct sockaddr *)&dst,
		   sizeof(dst)) != 5 ||
	    recv(fd, buf, sizeof(buf), 0) != 5 || memcmp(buf, "after", 5))
		FAIL("no echo after the option: %s", strerror(errno));
	close(fd);
	return 0;
}
