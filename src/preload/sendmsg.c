/* sendmsg() and sendmmsg(): datagrams through the UDP relay, and the same
 * TCP Fast Open door as sendto(), with the destination in msg_name. */
#include <errno.h>

#include "hook.h"
#include "tcp.h"
#include "udp.h"

/* One message: S5_PASS or the result. */
static ssize_t one_msg(int fd, const struct msghdr *msg, int flags)
{
	struct msghdr copy;
	ssize_t r;

	if ((flags & MSG_FASTOPEN) && msg->msg_name != NULL) {
		r = s5_tcp_fastopen(fd, msg->msg_name, msg->msg_namelen);
		if (r != 0)
			return r;
		copy = *msg;
		copy.msg_name = NULL;
		copy.msg_namelen = 0;
		r = real.sendmsg(fd, &copy, flags & ~MSG_FASTOPEN);
		return r < 0 ? -errno : r;
	}
	if (msg->msg_name == NULL && s5_fd_kind(fd) != S5FD_UDP)
		return S5_PASS;
	return s5_udp_sendmsg(fd, msg, flags);
}

S5_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	int saved = errno;
	ssize_t r;

	switch (s5_hook_begin(sendmsg, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.sendmsg(fd, msg, flags);
	case S5_HOOK_OURS:
		break;
	}
	S5_CONN_GATE(fd, (flags & MSG_DONTWAIT) != 0, false, saved);
	if (msg == NULL)
		return real.sendmsg(fd, msg, flags);
	r = one_msg(fd, msg, flags);
	if (r == S5_PASS) {
		errno = saved;
		return real.sendmsg(fd, msg, flags);
	}
	return s5_result(r, saved);
}
S5_SELF_ALIAS(sendmsg);
S5_TIME64_ALIAS(sendmsg, __sendmsg64);

/* True when no message of the batch names a destination. */
static bool no_names(const struct mmsghdr *vec, unsigned int vlen)
{
	unsigned int i;

	for (i = 0; i < vlen; i++)
		if (vec[i].msg_hdr.msg_name != NULL)
			return false;
	return true;
}

/* Each message on its own through the same policy: one batch may mix
 * proxied and excluded destinations, and any message may name one. Like the kernel, the count of
 * messages sent, or -1 when the first one failed. */
S5_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen,
		       int flags)
{
	int saved = errno;
	unsigned int i;
	ssize_t r;

	switch (s5_hook_begin(sendmmsg, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.sendmmsg(fd, vec, vlen, flags);
	case S5_HOOK_OURS:
		break;
	}
	S5_CONN_GATE(fd, (flags & MSG_DONTWAIT) != 0, false, saved);
	if (vec == NULL || (s5_fd_kind(fd) != S5FD_UDP && no_names(vec, vlen)))
		return real.sendmmsg(fd, vec, vlen, flags);
	for (i = 0; i < vlen; i++) {
		r = one_msg(fd, &vec[i].msg_hdr, flags);
		if (r == S5_PASS) {
			r = real.sendmsg(fd, &vec[i].msg_hdr, flags);
			if (r < 0)
				r = -errno;
		}
		if (r < 0) {
			if (i == 0)
				return (int)s5_result(r, saved);
			break;
		}
		vec[i].msg_len = (unsigned int)r;
	}
	errno = saved;
	return (int)i;
}
S5_SELF_ALIAS(sendmmsg);
S5_TIME64_ALIAS(sendmmsg, __sendmmsg64);
