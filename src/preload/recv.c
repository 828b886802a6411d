/* recv(), recvfrom() and their fortified forms on a UDP socket with an
 * association: the next valid datagram, header removed, with its real
 * source in the program's address buffer (recv.c's siblings: read.c and
 * recvmsg.c). */
#include <errno.h>

#include "hook.h"
#include "udp.h"

/* glibc declares these only under _FORTIFY_SOURCE. */
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
		       int flags, struct sockaddr *src, socklen_t *alen);

/* S5_PASS, or the payload length / -errno, with *alen updated. */
static ssize_t recvfrom_udp(int fd, void *buf, size_t len, int flags,
			    struct sockaddr *src, socklen_t *alen)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	if (src != NULL && alen != NULL) {
		msg.msg_name = src;
		msg.msg_namelen = *alen;
	}
	r = s5_udp_recvmsg(fd, &msg, flags);
	if (r >= 0 && r != S5_PASS && msg.msg_name != NULL)
		*alen = msg.msg_namelen;
	return r;
}

/* Everything but the fast path of recvfrom() below. */
static __attribute__((noinline)) ssize_t
recvfrom_slow(int fd, void *buf, size_t len, int flags,
			   struct sockaddr *src, socklen_t *alen)
{
	int saved = errno;
	ssize_t r;

	S5_CONN_GATE(fd, (flags & MSG_DONTWAIT) != 0, true, saved);
	switch (s5_udp_hook_begin(recvfrom, fd)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.recvfrom(fd, buf, len, flags, src, alen);
	case S5_HOOK_OURS:
		break;
	}
	r = recvfrom_udp(fd, buf, len, flags, src, alen);
	if (r == S5_PASS) {
		errno = saved;
		return real.recvfrom(fd, buf, len, flags, src, alen);
	}
	return s5_result(r, saved);
}

S5_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
			   struct sockaddr *src, socklen_t *alen)
{
	if (__builtin_expect(real.recvfrom != NULL && !s5_fd_maybe_ours(fd), 1))
		return real.recvfrom(fd, buf, len, flags, src, alen);
	return recvfrom_slow(fd, buf, len, flags, src, alen);
}
S5_SELF_ALIAS(recvfrom);

S5_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	return s5_self_recvfrom(fd, buf, len, flags, NULL, NULL);
}

/* _FORTIFY_SOURCE forms: libc keeps its own overflow check. */
S5_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen,
			     int flags)
{
	S5_CONN_GATE(fd, (flags & MSG_DONTWAIT) != 0, true, errno);
	switch (s5_udp_hook_begin(__recv_chk, fd)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, errno);
	case S5_HOOK_LIBC:
		return real.__recv_chk(fd, buf, len, buflen, flags);
	case S5_HOOK_OURS:
		break;
	}
	if (len > buflen)
		return real.__recv_chk(fd, buf, len, buflen, flags);
	return recvfrom_slow(fd, buf, len, flags, NULL, NULL);
}

S5_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len,
				 size_t buflen, int flags,
				 struct sockaddr *src, socklen_t *alen)
{
	S5_CONN_GATE(fd, (flags & MSG_DONTWAIT) != 0, true, errno);
	switch (s5_udp_hook_begin(__recvfrom_chk, fd)) {
	case S5_HOOK_FAIL:
		return s5_result(-ENOSYS, errno);
	case S5_HOOK_LIBC:
		return real.__recvfrom_chk(fd, buf, len, buflen, flags, src,
					   alen);
	case S5_HOOK_OURS:
		break;
	}
	if (len > buflen)
		return real.__recvfrom_chk(fd, buf, len, buflen, flags, src,
					   alen);
	return recvfrom_slow(fd, buf, len, flags, src, alen);
}
