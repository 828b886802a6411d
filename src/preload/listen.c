/* bind(), listen(), accept(), accept4(): listeners through the proxy
 * (kind_bind.c decides which); every other socket is libc's. */
#include <errno.h>

#include "fd.h"
#include "hook.h"
#include "kind_bind.h"

S5_EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int saved = errno;
	int r;

	switch (s5_hook_begin(bind, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.bind(fd, sa, len);
	case S5_HOOK_OURS:
		break;
	}
	r = s5_bind_bind(fd, sa, len);
	if (r == S5_PASS) {
		errno = saved;
		return real.bind(fd, sa, len);
	}
	return (int)s5_result(r, saved);
}

S5_EXPORT int listen(int fd, int backlog)
{
	int saved = errno;
	int r;

	switch (s5_hook_begin(listen, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.listen(fd, backlog);
	case S5_HOOK_OURS:
		break;
	}
	r = s5_bind_listen(fd);
	if (r == S5_PASS) {
		errno = saved;
		return real.listen(fd, backlog);
	}
	return (int)s5_result(r, saved);
}

/* A listener of ours never reaches the kernel's accept: it is connected
 * to the proxy, and the kernel would say EINVAL. */
S5_EXPORT int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	int saved = errno;
	int r;

	switch (s5_hook_begin(accept4, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.accept4(fd, sa, len, flags);
	case S5_HOOK_OURS:
		break;
	}
	if (!s5_fd_maybe_ours(fd) || s5_fd_kind(fd) != S5FD_BIND)
		return real.accept4(fd, sa, len, flags);
	r = s5_bind_accept(fd, sa, len, flags);
	if (r == S5_PASS) {
		errno = saved;
		return real.accept4(fd, sa, len, flags);
	}
	return (int)s5_result(r, saved);
}

/* accept() is accept4() with no flags, in the kernel too. */
S5_EXPORT int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	return accept4(fd, sa, len, 0);
}
