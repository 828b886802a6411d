/* fcntl() with F_DUPFD / F_DUPFD_CLOEXEC makes a copy of a descriptor like
 * dup(): the copy shares the socket's proxy state. fcntl64 is the same
 * function for programs built with _FILE_OFFSET_BITS=64. */
/* This file defines both names itself: with 64-bit file offsets on a
 * 32-bit system (the 32-bit library's build) <fcntl.h> would rename fcntl
 * to fcntl64. Nothing here uses off_t. */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

#include "fd.h"
#include "hook.h"

/* The third argument is an int, a long or a pointer depending on cmd;
 * passing it on as a pointer-sized value is what libc itself does. */
static int fcntl_common(int (*fn)(int, int, ...), enum s5_hook_mode mode,
			int fd, int cmd, void *arg)
{
	int r;

	if (mode == S5_HOOK_FAIL) {
		errno = ENOSYS;
		return -1;
	}
	r = fn(fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) &&
	    mode == S5_HOOK_OURS)
		s5_fd_copy(fd, r);
	return r;
}

S5_EXPORT int fcntl(int fd, int cmd, ...)
{
	enum s5_hook_mode mode = s5_hook_begin(fcntl, S5_STAGE_SYMBOLS);
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(real.fcntl, mode, fd, cmd, arg);
}

S5_EXPORT int fcntl64(int fd, int cmd, ...)
{
	enum s5_hook_mode mode = s5_hook_begin(fcntl, S5_STAGE_SYMBOLS);
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(real.fcntl64 ? real.fcntl64 : real.fcntl, mode,
			    fd, cmd, arg);
}
