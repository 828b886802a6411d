/* dup(), dup2(), dup3(): a copy of a proxied socket shares its state, and
 * a program that duplicates onto one of the library's own descriptor
 * numbers gets that number; ours moves elsewhere first. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fd.h"
#include "hook.h"
#include "kind_internal.h"

S5_EXPORT int dup(int fd)
{
	int r;

	switch (s5_hook_begin(dup, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		errno = ENOSYS;
		return -1;
	case S5_HOOK_LIBC:
		return real.dup(fd);
	case S5_HOOK_OURS:
		break;
	}
	r = real.dup(fd);
	if (r >= 0)
		s5_fd_copy(fd, r);
	return r;
}

/* dup2 or dup3 once the prologue said the call is ours. */
static int dup_onto(int oldfd, int newfd, int flags, bool three)
{
	int saved = errno;
	int r;

	if (oldfd != newfd && s5_fd_kind(newfd) == S5FD_INTERNAL) {
		r = s5_internal_relocate(newfd);
		if (r < 0)
			return (int)s5_result(r, saved);
	}
	r = three ? real.dup3(oldfd, newfd, flags) : real.dup2(oldfd, newfd);
	if (r >= 0 && oldfd != newfd)
		s5_fd_copy(oldfd, newfd);
	return r;
}

S5_EXPORT int dup2(int oldfd, int newfd)
{
	switch (s5_hook_begin(dup2, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		errno = ENOSYS;
		return -1;
	case S5_HOOK_LIBC:
		return real.dup2(oldfd, newfd);
	case S5_HOOK_OURS:
		break;
	}
	return dup_onto(oldfd, newfd, 0, false);
}

S5_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	switch (s5_hook_begin(dup3, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		errno = ENOSYS;
		return -1;
	case S5_HOOK_LIBC:
		return real.dup3(oldfd, newfd, flags);
	case S5_HOOK_OURS:
		break;
	}
	return dup_onto(oldfd, newfd, flags, true);
}
