/* fcntl() with F_DUPFD / F_DUPFD_CLOEXEC makes a copy of a descriptor like
 * dup(): the copy shares the socket's proxy state. fcntl64 is the same
 * function for programs built with _FILE_OFFSET_BITS=64. */
#include <fcntl.h>
#include <stdarg.h>

#include "preload.h"

/* The third argument is an int, a long or a pointer depending on cmd;
 * passing it on as a pointer-sized value is what libc itself does. */
static int fcntl_common(int (*fn)(int, int, ...), int fd, int cmd, void *arg)
{
	int r = fn(fd, cmd, arg);

	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) &&
	    !s5_guarded())
		s5_fd_copy(fd, r);
	return r;
}

S5_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (real.fcntl == NULL)
		s5_init_symbols();
	return fcntl_common(real.fcntl, fd, cmd, arg);
}

S5_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (real.fcntl == NULL)
		s5_init_symbols();
	return fcntl_common(real.fcntl64 ? real.fcntl64 : real.fcntl, fd, cmd,
			    arg);
}
