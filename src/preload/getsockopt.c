/* getsockopt(): SO_ERROR on a socket whose connect through the proxy runs
 * on (kind_conn.h) advances the handshake and answers as the kernel would
 * for a direct connect in the same state: 0 while it runs and after
 * success, the failure's errno once. TCP_NODELAY shows the program's own
 * value while optimistic data holds it on. SO_ACCEPTCONN is 1 on a listener
 * through the proxy (kind_bind.h). Every other option, and every
 * other descriptor, is the kernel's. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "fd.h"
#include "hook.h"
#include "kind_bind.h"
#include "kind_conn.h"

static __attribute__((noinline)) int
getsockopt_slow(int fd, int level, int name, void *val, socklen_t *len)
{
	int saved = errno, err = 0;

	switch (s5_hook_begin(getsockopt, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.getsockopt(fd, level, name, val, len);
	case S5_HOOK_OURS:
		break;
	}
	/* A short or missing buffer gets the kernel's own answer. */
	if (val == NULL || len == NULL || *len < (socklen_t)sizeof(int))
		return real.getsockopt(fd, level, name, val, len);
	if (s5_fd_kind(fd) == S5FD_BIND) {
		/* A listener through the proxy is connected to it. */
		if (level != SOL_SOCKET || name != SO_ACCEPTCONN ||
		    !s5_bind_listening(fd))
			return real.getsockopt(fd, level, name, val, len);
		err = 1;
	} else if (s5_fd_kind(fd) != S5FD_CONN) {
		return real.getsockopt(fd, level, name, val, len);
	} else if (level == SOL_SOCKET && name == SO_ERROR) {
		if (s5_conn_so_error(fd, &err) == S5_PASS)
			return real.getsockopt(fd, level, name, val, len);
	} else if (level == IPPROTO_TCP && name == TCP_NODELAY) {
		if (s5_conn_nodelay(fd, NULL, &err) == S5_PASS)
			return real.getsockopt(fd, level, name, val, len);
	} else {
		return real.getsockopt(fd, level, name, val, len);
	}
	*(int *)val = err;
	*len = sizeof(int);
	errno = saved;
	return 0;
}

S5_EXPORT int getsockopt(int fd, int level, int name, void *val,
			 socklen_t *len)
{
	if (__builtin_expect(real.getsockopt != NULL &&
				     !s5_fd_maybe_ours(fd), 1))
		return real.getsockopt(fd, level, name, val, len);
	return getsockopt_slow(fd, level, name, val, len);
}
S5_SELF_ALIAS(getsockopt);
S5_TIME64_ALIAS(getsockopt, __getsockopt64);
