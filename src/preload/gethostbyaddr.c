/* gethostbyaddr() and gethostbyaddr_r(): the reverse of gethostbyname for
 * fake addresses, answered from the pool without any query. */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "hook.h"
#include "names.h"
#include "s5_dns.h"

/* Per-thread storage for the non-reentrant form (see gethostbyname.c). */
struct static_hostent {
	struct hostent he;
	char buf[3 * sizeof(char *) + 16 + S5_NAME_MAX + 1 + sizeof(char *)];
};
static _Thread_local struct static_hostent tls_he
	__attribute__((tls_model("initial-exec")));

/* The name of a fake address: its length; -ENOENT for a fake address the
 * pool does not know, or for an address that may not be looked up (see
 * s5_reverse_allowed); S5_PASS for libc. */
static int fake_name(const void *addr, socklen_t len, int type, char *name)
{
	struct sockaddr_storage ss;
	uint8_t a[16];

	if (addr == NULL || !((type == AF_INET && len == 4) ||
			      (type == AF_INET6 && len == 16)))
		return S5_PASS;
	memcpy(a, addr, len);
	if (s5_is_fake(type, a))
		return s5_fake_to_name(type, a, name);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)type;
	if (type == AF_INET)
		memcpy(&((struct sockaddr_in *)(void *)&ss)->sin_addr, a, 4);
	else
		memcpy(&((struct sockaddr_in6 *)(void *)&ss)->sin6_addr, a, 16);
	return s5_reverse_allowed((struct sockaddr *)&ss, sizeof(ss))
		       ? S5_PASS
		       : -ENOENT;
}

/* gethostbyaddr_r once the prologue said the call is ours. */
static int hostbyaddr_r(const void *addr, socklen_t len, int type,
			struct hostent *ret, char *buf, size_t buflen,
			struct hostent **result, int *h_errnop)
{
	char name[S5_NAME_MAX + 1];
	int n, r;

	n = fake_name(addr, len, type, name);
	if (n == S5_PASS)
		return s5_libc_gethostbyaddr_r(addr, len, type, ret, buf,
					       buflen, result, h_errnop);
	*result = NULL;
	/* Like glibc, the failure goes to h_errno too: some callers read
	 * that instead of *h_errnop (CPython does). */
	if (n < 0) {
		*h_errnop = h_errno = HOST_NOT_FOUND;
		return 0;
	}
	r = s5_hostent_fill(ret, buf, buflen, name, type, addr);
	if (r != 0) {
		*h_errnop = h_errno = NETDB_INTERNAL;
		return r;
	}
	*result = ret;
	return 0;
}

S5_EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int type,
			      struct hostent *ret, char *buf, size_t buflen,
			      struct hostent **result, int *h_errnop)
{
	switch (s5_hook_begin(gethostbyaddr_r, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		*result = NULL;
		*h_errnop = h_errno = NO_RECOVERY;
		return ENOSYS;
	case S5_HOOK_LIBC:
		return real.gethostbyaddr_r(addr, len, type, ret, buf, buflen,
					    result, h_errnop);
	case S5_HOOK_OURS:
		break;
	}
	return hostbyaddr_r(addr, len, type, ret, buf, buflen, result,
			    h_errnop);
}

S5_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len,
					int type)
{
	char name[S5_NAME_MAX + 1];
	struct hostent *result;
	int herr = 0;

	switch (s5_hook_begin(gethostbyaddr, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		h_errno = NO_RECOVERY;
		return NULL;
	case S5_HOOK_LIBC:
		return real.gethostbyaddr(addr, len, type);
	case S5_HOOK_OURS:
		break;
	}
	if (fake_name(addr, len, type, name) == S5_PASS)
		return s5_libc_gethostbyaddr(addr, len, type);
	hostbyaddr_r(addr, len, type, &tls_he.he, tls_he.buf,
		     sizeof(tls_he.buf), &result, &herr);
	if (result == NULL)
		h_errno = herr;
	return result;
}
