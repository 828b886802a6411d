/* sendmsg() with MSG_FASTOPEN and a msg_name: through the proxy too. */
#include <sys/uio.h>

#include "snippet.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in dst = snippet_dst();
	char data[] = "fastmsg", buf[16];
	struct iovec iov = { .iov_base = data, .iov_len = 7 };
	struct msghdr msg = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t r;

	if (fd < 0)
		FAIL("socket: %s", strerror(errno));
	msg.msg_name = &dst;
	msg.msg_namelen = sizeof(dst);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	r = sendmsg(fd, &msg, MSG_FASTOPEN);
	if (r != 7)
		FAIL("sendmsg MSG_FASTOPEN: %zd %s", r, strerror(errno));
	if (recv(fd, buf, 7, MSG_WAITALL) != 7 || memcmp(buf, data, 7))
		FAIL("no echo of the fast-open data");
	close(fd);
	return 0;
}
