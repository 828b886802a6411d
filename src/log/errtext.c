/* errno values as text. strerror would do, but its text follows the
 * program's locale and it is not async-signal-safe; a log line from inside
 * someone else's process needs neither. Only errnos that socket, resolver
 * and handshake code meet are listed; the rest print as "errno N".
 */
#include <errno.h>

#include "s5_log.h"

static const struct {
	int err;
	const char *text;
} errtext[] = {
	{ EPERM, "operation not permitted" },
	{ ENOENT, "no such file or directory" },
	{ EINTR, "interrupted system call" },
	{ EIO, "input/output error" },
	{ EBADF, "bad file descriptor" },
	{ EAGAIN, "resource temporarily unavailable" },
	{ ENOMEM, "out of memory" },
	{ EACCES, "permission denied" },
	{ EFAULT, "bad address" },
	{ EINVAL, "invalid argument" },
	{ ENFILE, "too many open files in system" },
	{ EMFILE, "too many open files" },
	{ EPIPE, "broken pipe" },
	{ ENOSYS, "function not implemented" },
	{ EPROTO, "protocol error" },
	{ ENOTSOCK, "not a socket" },
	{ EDESTADDRREQ, "destination address required" },
	{ EMSGSIZE, "message too long" },
	{ EPROTOTYPE, "wrong protocol type for socket" },
	{ ENOPROTOOPT, "protocol not available" },
	{ EPROTONOSUPPORT, "protocol not supported" },
	{ EOPNOTSUPP, "operation not supported" },
	{ EAFNOSUPPORT, "address family not supported" },
	{ EADDRINUSE, "address already in use" },
	{ EADDRNOTAVAIL, "cannot assign requested address" },
	{ ENETDOWN, "network is down" },
	{ ENETUNREACH, "network is unreachable" },
	{ ECONNABORTED, "connection aborted" },
	{ ECONNRESET, "connection reset by peer" },
	{ ENOBUFS, "no buffer space available" },
	{ EISCONN, "socket is already connected" },
	{ ENOTCONN, "socket is not connected" },
	{ ETIMEDOUT, "connection timed out" },
	{ ECONNREFUSED, "connection refused" },
	{ EHOSTUNREACH, "no route to host" },
	{ EALREADY, "operation already in progress" },
	{ EINPROGRESS, "operation in progress" },
};

#define ERRTEXT_COUNT (sizeof(errtext) / sizeof(errtext[0]))

void s5log_errno(struct s5log_line *l, int err)
{
	/* Internal functions return -errno; accept either sign (in a wider
	 * type, since -INT_MIN overflows an int). */
	long long e = err < 0 ? -(long long)err : err;

	for (size_t i = 0; i < ERRTEXT_COUNT; i++) {
		if (errtext[i].err == e) {
			s5log_str(l, errtext[i].text);
			return;
		}
	}
	s5log_str(l, "errno ");
	s5log_int(l, e);
}
