/* sendmsg(): the same TCP Fast Open door as sendto(), with the destination
 * in msg_name. */
#include <errno.h>

#include "preload.h"

S5_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct msghdr copy;
	int saved = errno;
	int r;

	if (s5_guarded())
		return real.sendmsg(fd, msg, flags);
	s5_init();
	if (real.sendmsg == NULL)
		return s5_result(-ENOSYS, saved);
	if (!(flags & MSG_FASTOPEN) || msg == NULL || msg->msg_name == NULL)
		return real.sendmsg(fd, msg, flags);
	r = s5_tcp_connect(fd, msg->msg_name, msg->msg_namelen);
	if (r == S5_PASS) {
		errno = saved;
		return real.sendmsg(fd, msg, flags);
	}
	if (r < 0)
		return s5_result(r, saved);
	copy = *msg;
	copy.msg_name = NULL;
	copy.msg_namelen = 0;
	errno = saved;
	return real.sendmsg(fd, &copy, flags & ~MSG_FASTOPEN);
}
