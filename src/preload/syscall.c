/* syscall(): some programs make socket calls through it rather than
 * through the libc wrappers (libuv sends and receives UDP batches with
 * syscall(__NR_sendmmsg / __NR_recvmmsg), so dig does). Those numbers are
 * handed to our hooks; every other number goes to libc as it came. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"

/* One of ours: true with the hook's result in *r. */
static bool dispatch(long number, const long *a, long *r)
{
	switch (number) {
	case SYS_connect:
		*r = s5_self_connect((int)a[0], (const struct sockaddr *)a[1],
				       (socklen_t)a[2]);
		return true;
	case SYS_sendto:
		*r = s5_self_sendto((int)a[0], (const void *)a[1],
				      (size_t)a[2], (int)a[3],
				      (const struct sockaddr *)a[4],
				      (socklen_t)a[5]);
		return true;
	case SYS_recvfrom:
		*r = s5_self_recvfrom((int)a[0], (void *)a[1], (size_t)a[2],
					(int)a[3], (struct sockaddr *)a[4],
					(socklen_t *)a[5]);
		return true;
	case SYS_sendmsg:
		*r = s5_self_sendmsg((int)a[0], (const struct msghdr *)a[1],
				       (int)a[2]);
		return true;
	case SYS_recvmsg:
		*r = s5_self_recvmsg((int)a[0], (struct msghdr *)a[1],
				       (int)a[2]);
		return true;
	case SYS_sendmmsg:
		*r = s5_self_sendmmsg((int)a[0], (struct mmsghdr *)a[1],
					(unsigned int)a[2], (int)a[3]);
		return true;
	case SYS_recvmmsg:
		*r = s5_self_recvmmsg((int)a[0], (struct mmsghdr *)a[1],
					(unsigned int)a[2], (int)a[3],
					(struct timespec *)a[4]);
		return true;
	case SYS_setsockopt:
		*r = s5_self_setsockopt((int)a[0], (int)a[1], (int)a[2],
					  (const void *)a[3],
					  (socklen_t)a[4]);
		return true;
	case SYS_getsockopt:
		*r = s5_self_getsockopt((int)a[0], (int)a[1], (int)a[2],
					  (void *)a[3], (socklen_t *)a[4]);
		return true;
	case SYS_close:
		*r = s5_self_close((int)a[0]);
		return true;
#ifdef SYS_close_range
	case SYS_close_range:
		*r = s5_self_close_range((unsigned int)a[0],
					   (unsigned int)a[1], (int)a[2]);
		return true;
#endif
	default:
		return false;
	}
}

S5_EXPORT long syscall(long number, ...)
{
	va_list ap;
	long a[6], r;
	int i;

	/* Like libc's own syscall(): six register-sized arguments, whether
	 * or not the caller passed them all. */
	va_start(ap, number);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (s5_hook_begin(syscall, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		errno = ENOSYS;
		return -1;
	case S5_HOOK_LIBC:
		break;
	case S5_HOOK_OURS:
		if (dispatch(number, a, &r))
			return r;
		break;
	}
	return real.syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
