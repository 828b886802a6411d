/* dup(), dup2(), dup3(): a copy of a proxied socket reports the same
 * virtual peer, and a program that duplicates onto one of the library's
 * own descriptor numbers gets that number; ours moves elsewhere first. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "preload.h"

S5_EXPORT int dup(int fd)
{
	int r;

	if (s5_guarded())
		return real.dup(fd);
	s5_init_symbols();
	r = real.dup(fd);
	if (r >= 0)
		s5_fd_copy(fd, r);
	return r;
}

static int dup_onto(int oldfd, int newfd, int flags, bool three)
{
	int saved = errno;
	int r;

	if (s5_guarded())
		return three ? real.dup3(oldfd, newfd, flags)
			     : real.dup2(oldfd, newfd);
	s5_init_symbols();
	if (oldfd != newfd && s5_fd_kind(newfd) == S5FD_INTERNAL) {
		r = s5_internal_relocate(newfd);
		if (r < 0)
			return s5_result(r, saved);
	}
	r = three ? real.dup3(oldfd, newfd, flags) : real.dup2(oldfd, newfd);
	if (r >= 0 && oldfd != newfd)
		s5_fd_copy(oldfd, newfd);
	return r;
}

S5_EXPORT int dup2(int oldfd, int newfd)
{
	return dup_onto(oldfd, newfd, 0, false);
}

S5_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return dup_onto(oldfd, newfd, flags, true);
}
