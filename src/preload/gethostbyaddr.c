/* gethostbyaddr() and gethostbyaddr_r(): the reverse of gethostbyname for
 * fake addresses, answered from the pool without any query. */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "preload.h"
#include "s5_dns.h"

/* Per-thread storage for the non-reentrant form (see gethostbyname.c). */
struct static_hostent {
	struct hostent he;
	char buf[3 * sizeof(char *) + 16 + S5_NAME_MAX + 1 + sizeof(char *)];
};
static _Thread_local struct static_hostent tls_he
	__attribute__((tls_model("initial-exec")));

/* The name of a fake address: its length, -ENOENT (fake but unknown) or
 * S5_PASS (not a fake address). */
static int fake_name(const void *addr, socklen_t len, int type, char *name)
{
	uint8_t a[16];

	if (addr == NULL || !((type == AF_INET && len == 4) ||
			      (type == AF_INET6 && len == 16)))
		return S5_PASS;
	memcpy(a, addr, len);
	if (!s5_is_fake(type, a))
		return S5_PASS;
	return s5_fake_to_name(type, a, name);
}

S5_EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int type,
			      struct hostent *ret, char *buf, size_t buflen,
			      struct hostent **result, int *h_errnop)
{
	char name[S5_NAME_MAX + 1];
	int n, r;

	if (!s5_guarded())
		s5_init();
	n = s5_guarded() ? S5_PASS : fake_name(addr, len, type, name);
	if (n == S5_PASS)
		return real.gethostbyaddr_r(addr, len, type, ret, buf, buflen,
					    result, h_errnop);
	*result = NULL;
	if (n < 0) {
		*h_errnop = HOST_NOT_FOUND;
		return 0;
	}
	r = s5_hostent_fill(ret, buf, buflen, name, type, addr);
	if (r != 0) {
		*h_errnop = NETDB_INTERNAL;
		return r;
	}
	*result = ret;
	return 0;
}

S5_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len,
					int type)
{
	char name[S5_NAME_MAX + 1];
	struct hostent *result;
	int herr = 0;

	if (!s5_guarded())
		s5_init();
	if (s5_guarded() || fake_name(addr, len, type, name) == S5_PASS)
		return real.gethostbyaddr(addr, len, type);
	gethostbyaddr_r(addr, len, type, &tls_he.he, tls_he.buf,
			sizeof(tls_he.buf), &result, &herr);
	if (result == NULL)
		h_errno = herr;
	return result;
}
