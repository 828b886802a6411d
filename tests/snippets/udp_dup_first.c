/* A UDP socket copied (dup, dup2, fcntl) before its first datagram: the
 * copies are one socket, so they share one association whichever sends
 * first. Each copy's datagram comes back whole, from the destination,
 * through any copy; with two associations the reply from the other one's
 * relay (a loopback address, which is direct) reached the program with
 * its SOCKS5 header. */
#include <fcntl.h>

#include "udp.h"

/* One datagram from the destination with exactly this payload. */
static int expect(int fd, const char *msg)
{
	struct sockaddr_in src;
	socklen_t slen = sizeof(src);
	char buf[64];
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src,
			     &slen);

	if (n < 0)
		FAIL("recvfrom: %s", strerror(errno));
	if ((size_t)n != strlen(msg) || memcmp(buf, msg, (size_t)n) != 0)
		FAIL("got %zd bytes, not '%s'", n, msg);
	if (!is_udp_dst(&src, slen))
		FAIL("'%s' came from elsewhere", msg);
	return 0;
}

static int copy_of(int fd, int how)
{
	switch (how) {
	case 0:
		return dup(fd);
	case 1:
		return dup2(fd, 60);
	default:
		return fcntl(fd, F_DUPFD_CLOEXEC, 70);
	}
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in dst = udp_dst();
	int how, fd, copy;

	for (how = 0; how < 3; how++) {
		fd = udp_socket();
		copy = fd < 0 ? -1 : copy_of(fd, how);
		if (copy < 0)
			FAIL("socket or copy %d: %s", how, strerror(errno));
		/* The copy first, then the original: both get replies, the
		 * original reads both. */
		if (sendto(copy, "copy", 4, 0, (struct sockaddr *)&dst,
			   sizeof(dst)) != 4 ||
		    expect(copy, "copy") != 0)
			FAIL("first datagram through copy %d", how);
		if (sendto(fd, "orig", 4, 0, (struct sockaddr *)&dst,
			   sizeof(dst)) != 4 ||
		    sendto(copy, "copy", 4, 0, (struct sockaddr *)&dst,
			   sizeof(dst)) != 4)
			FAIL("sendto (copy %d): %s", how, strerror(errno));
		if (expect(fd, "orig") != 0 || expect(fd, "copy") != 0)
			FAIL("replies read through the original (copy %d)",
			     how);
		close(copy);
		close(fd);
	}
	return 0;
}
