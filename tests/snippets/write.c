/* write()/read() and writev()/readv() on a connected UDP socket: one
 * datagram each way, header added and removed. */
#include <sys/uio.h>

#include "udp.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	char a[4], b[8], buf[64], p1[] = "two", p2[] = " parts";
	struct iovec out[2] = { { p1, 3 }, { p2, 6 } };
	struct iovec in[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	int fd = udp_connected();

	if (fd < 0)
		FAIL("connect: %s", strerror(errno));
	if (write(fd, "written", 7) != 7)
		FAIL("write: %s", strerror(errno));
	if (read(fd, buf, sizeof(buf)) != 7 || memcmp(buf, "written", 7))
		FAIL("read: %s", strerror(errno));
	if (writev(fd, out, 2) != 9)
		FAIL("writev: %s", strerror(errno));
	if (readv(fd, in, 2) != 9 || memcmp(a, "two ", 4) ||
	    memcmp(b, "parts", 5))
		FAIL("readv: %s", strerror(errno));
	close(fd);
	return 0;
}
