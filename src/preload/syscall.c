/* syscall(): some programs make socket calls through it rather than
 * through the libc wrappers (libuv sends and receives UDP batches with
 * syscall(__NR_sendmmsg / __NR_recvmmsg), so dig does). Those numbers are
 * handed to our hooks; every other number goes to libc as it came.
 *
 * 32-bit x86 (and other older ABIs) also has socketcall(2), one system
 * call for every socket call, the only one before Linux 4.3:
 * syscall(SYS_socketcall, SYS_CONNECT, args) is a connect as much as
 * syscall(SYS_connect, ...) is, so it takes the same way. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_socketcall
#include <linux/net.h>
#endif

#include "hook.h"

static bool dispatch(long number, const long *a, long *r);

#ifdef SYS_socketcall
/* socketcall(call, args): args points to the call's arguments, an array
 * of longs. The calls dispatch() takes become the system call of their
 * own number (send and recv are sendto and recvfrom without an address,
 * as the kernel makes them); false for the others, which go to libc. */
static bool socketcall(const long *a, long *r)
{
	static const struct {
		long number;
		unsigned char nargs;
	} calls[] = {
		[SYS_CONNECT] = { SYS_connect, 3 },
		[SYS_SEND] = { SYS_sendto, 4 },
		[SYS_RECV] = { SYS_recvfrom, 4 },
		[SYS_SENDTO] = { SYS_sendto, 6 },
		[SYS_RECVFROM] = { SYS_recvfrom, 6 },
		[SYS_SETSOCKOPT] = { SYS_setsockopt, 5 },
		[SYS_GETSOCKOPT] = { SYS_getsockopt, 5 },
		[SYS_SENDMSG] = { SYS_sendmsg, 3 },
		[SYS_RECVMSG] = { SYS_recvmsg, 3 },
		[SYS_RECVMMSG] = { SYS_recvmmsg, 5 },
		[SYS_SENDMMSG] = { SYS_sendmmsg, 4 },
	};
	const long *args = (const long *)a[1];
	long own[6] = { 0 };
	unsigned long call = (unsigned long)a[0];
	int i;

	if (call >= sizeof(calls) / sizeof(calls[0]) ||
	    calls[call].nargs == 0)
		return false;
	if (args == NULL) {
		errno = EFAULT;
		*r = -1;
		return true;
	}
	for (i = 0; i < calls[call].nargs; i++)
		own[i] = args[i];
	return dispatch(calls[call].number, own, r);
}
#endif

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
#ifdef SYS_socketcall
	case SYS_socketcall:
		return socketcall(a, r);
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
