/* syscall(): some programs make socket calls through it rather than
 * through the libc wrappers (libuv sends and receives UDP batches with
 * syscall(__NR_sendmmsg / __NR_recvmmsg), so dig does). Those numbers are
 * handed to our hooks; every other number goes to libc as it came. */
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

S5_EXPORT long syscall(long number, ...)
{
	va_list ap;
	long a[6];
	int i;

	/* Like libc's own syscall(): six register-sized arguments, whether
	 * or not the caller passed them all. */
	va_start(ap, number);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (real.syscall == NULL && !s5_guarded())
		s5_init_symbols();
	if (s5_guarded() || real.syscall == NULL)
		goto pass;
	switch (number) {
	case SYS_connect:
		return connect((int)a[0], (const struct sockaddr *)a[1],
			       (socklen_t)a[2]);
	case SYS_sendto:
		return sendto((int)a[0], (const void *)a[1], (size_t)a[2],
			      (int)a[3], (const struct sockaddr *)a[4],
			      (socklen_t)a[5]);
	case SYS_recvfrom:
		return recvfrom((int)a[0], (void *)a[1], (size_t)a[2],
				(int)a[3], (struct sockaddr *)a[4],
				(socklen_t *)a[5]);
	case SYS_sendmsg:
		return sendmsg((int)a[0], (const struct msghdr *)a[1],
			       (int)a[2]);
	case SYS_recvmsg:
		return recvmsg((int)a[0], (struct msghdr *)a[1], (int)a[2]);
	case SYS_sendmmsg:
		return sendmmsg((int)a[0], (struct mmsghdr *)a[1],
				(unsigned int)a[2], (int)a[3]);
	case SYS_recvmmsg:
		return recvmmsg((int)a[0], (struct mmsghdr *)a[1],
				(unsigned int)a[2], (int)a[3],
				(struct timespec *)a[4]);
	case SYS_setsockopt:
		return setsockopt((int)a[0], (int)a[1], (int)a[2],
				  (const void *)a[3], (socklen_t)a[4]);
	case SYS_close:
		return close((int)a[0]);
#ifdef SYS_close_range
	case SYS_close_range:
		return close_range((unsigned int)a[0], (unsigned int)a[1],
				   (int)a[2]);
#endif
	default:
		break;
	}
pass:
	if (real.syscall == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real.syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
