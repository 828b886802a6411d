/* recvmsg() and recvmmsg() on a UDP socket with an association. */
#include <errno.h>

#include "hook.h"
#include "udp.h"

/* Everything but the fast path of recvmsg() below. */
static __attribute__((noinline)) ssize_t
recvmsg_slow(int fd, struct msghdr *msg, int flags)
{
	int saved = errno;
	ssize_t r;

	S5_CONN_GATE(fd, (flags & MSG_DONTWAIT) != 0, true, saved);
	switch (s5_udp_hook_begin(recvmsg, fd)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.recvmsg(fd, msg, flags);
	case S5_HOOK_OURS:
		break;
	}
	if (msg == NULL)
		return real.recvmsg(fd, msg, flags);
	r = s5_udp_recvmsg(fd, msg, flags);
	if (r == S5_PASS) {
		errno = saved;
		return real.recvmsg(fd, msg, flags);
	}
	return s5_result(r, saved);
}

S5_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (__builtin_expect(real.recvmsg != NULL && !s5_fd_maybe_ours(fd), 1))
		return real.recvmsg(fd, msg, flags);
	return recvmsg_slow(fd, msg, flags);
}
S5_SELF_ALIAS(recvmsg);

/* The first message waits as the flags say; the rest are taken while
 * they are already there (as MSG_WAITFORONE does). The timeout is not
 * applied: a known difference, documented in README. */
S5_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen,
		       int flags, struct timespec *timeout)
{
	int saved = errno, f = flags & ~MSG_WAITFORONE;
	unsigned int i;
	ssize_t r;

	S5_CONN_GATE(fd, (flags & MSG_DONTWAIT) != 0, true, saved);
	switch (s5_udp_hook_begin(recvmmsg, fd)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.recvmmsg(fd, vec, vlen, flags, timeout);
	case S5_HOOK_OURS:
		break;
	}
	if (vec == NULL)
		return real.recvmmsg(fd, vec, vlen, flags, timeout);
	for (i = 0; i < vlen; i++) {
		r = s5_udp_recvmsg(fd, &vec[i].msg_hdr, f);
		if (r == S5_PASS) {
			errno = saved;
			return real.recvmmsg(fd, vec, vlen, flags, timeout);
		}
		if (r < 0) {
			if (i == 0)
				return (int)s5_result(r, saved);
			break;
		}
		vec[i].msg_len = (unsigned int)r;
		f |= MSG_DONTWAIT;
	}
	errno = saved;
	return (int)i;
}
S5_SELF_ALIAS(recvmmsg);
