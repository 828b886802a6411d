/* sendmsg() and recvmsg(): MSG_PEEK leaves the datagram, MSG_TRUNC and
 * msg_flags describe the payload alone. */
#include <sys/uio.h>

#include "udp.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in dst = udp_dst(), src;
	char data[] = "0123456789", buf[64];
	struct iovec iov = { data, 10 };
	struct msghdr msg = { .msg_name = &dst, .msg_namelen = sizeof(dst),
			      .msg_iov = &iov, .msg_iovlen = 1 };
	int fd = udp_socket();
	ssize_t n;

	if (sendmsg(fd, &msg, 0) != 10)
		FAIL("sendmsg: %s", strerror(errno));
	iov.iov_base = buf;
	iov.iov_len = 4;
	msg.msg_name = &src;
	msg.msg_namelen = sizeof(src);
	n = recvmsg(fd, &msg, MSG_PEEK | MSG_TRUNC);
	if (n != 10 || !(msg.msg_flags & MSG_TRUNC) || memcmp(buf, "0123", 4))
		FAIL("peek: %zd flags %x", n, msg.msg_flags);
	if (!is_udp_dst(&src, msg.msg_namelen))
		FAIL("the source is not the destination");
	iov.iov_len = sizeof(buf);
	n = recvmsg(fd, &msg, 0);
	if (n != 10 || (msg.msg_flags & MSG_TRUNC) || memcmp(buf, data, 10))
		FAIL("recvmsg after peek: %zd flags %x", n, msg.msg_flags);
	close(fd);
	return 0;
}
