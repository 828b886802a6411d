/* Preloaded after libsocks5wrap.so by test_claims.py on a kernel without
 * SCTP: getsockopt(SO_PROTOCOL) reports IPPROTO_SCTP for TCP sockets, so
 * that the library's refusal of non-TCP stream sockets can be seen at
 * work. Everything else is libc's answer, unchanged. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	static int (*next)(int, int, int, void *, socklen_t *);
	int r;

	if (next == NULL)
		*(void **)&next = dlsym(RTLD_NEXT, "getsockopt");
	r = next(fd, level, name, val, len);
	if (r == 0 && level == SOL_SOCKET && name == SO_PROTOCOL &&
	    *len == sizeof(int) && *(int *)val == IPPROTO_TCP)
		*(int *)val = IPPROTO_SCTP;
	return r;
}
