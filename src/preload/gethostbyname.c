/* gethostbyname(), gethostbyname2() and their _r forms: the same routing
 * as getaddrinfo() (names.c). Old programs (and some new ones) still call
 * these; each would otherwise send the name to the local resolver. */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "hook.h"
#include "names.h"
#include "s5_dns.h"

/* The non-reentrant forms return static storage; per thread here, which
 * keeps the promise and removes libc's race between threads. */
struct static_hostent {
	struct hostent he;
	char buf[3 * sizeof(char *) + 16 + S5_NAME_MAX + 1 + sizeof(char *)];
};
static _Thread_local struct static_hostent tls_he
	__attribute__((tls_model("initial-exec")));

static void remember_hostent(const struct hostent *he)
{
	struct sockaddr_storage ss;
	char **a;

	for (a = he->h_addr_list; a != NULL && *a != NULL; a++) {
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)he->h_addrtype;
		if (he->h_addrtype == AF_INET)
			memcpy(&((struct sockaddr_in *)(void *)&ss)->sin_addr,
			       *a, 4);
		else if (he->h_addrtype == AF_INET6)
			memcpy(&((struct sockaddr_in6 *)(void *)&ss)->sin6_addr,
			       *a, 16);
		else
			return;
		s5_remember_direct((struct sockaddr *)&ss);
	}
}

/* One address as a hostent in the _r functions' contract. */
static int filled(struct hostent *ret, char *buf, size_t buflen,
		  const char *name, int af, const uint8_t *addr,
		  struct hostent **result, int *h_errnop)
{
	int r = s5_hostent_fill(ret, buf, buflen, name, af, addr);

	*result = NULL;
	if (r != 0) {
		*h_errnop = NETDB_INTERNAL;
		return r;
	}
	*result = ret;
	return 0;
}

/* 0 with *result set, or the _r functions' failure contract: 0 and NULL
 * with HOST_NOT_FOUND, ERANGE with NETDB_INTERNAL, EAGAIN with TRY_AGAIN. */
static int fake_hostent(const char *norm, int af, struct hostent *ret,
			char *buf, size_t buflen, struct hostent **result,
			int *h_errnop)
{
	struct s5_pool *pool = s5_pool();
	uint8_t v4[4], v6[16];
	int r;

	*result = NULL;
	if (pool == NULL) {
		*h_errnop = NO_RECOVERY;
		return 0;
	}
	r = s5_pool_lookup(pool, norm, s5_now_s(), v4, v6);
	if (r == -ENOSPC) {
		*h_errnop = TRY_AGAIN;
		return EAGAIN;
	}
	if (r < 0) {
		*h_errnop = HOST_NOT_FOUND;
		return 0;
	}
	return filled(ret, buf, buflen, norm, af, af == AF_INET ? v4 : v6,
		      result, h_errnop);
}

/* libc answers an excluded name, then its addresses are remembered. */
#define S5_PASS_DIRECT (S5_PASS - 1)

/* S5_PASS or S5_PASS_DIRECT for libc, else the _r result. */
static int route_r(const char *name, int af, struct hostent *ret, char *buf,
		   size_t buflen, struct hostent **result, int *h_errnop)
{
	char norm[S5_NAME_MAX + 1];

	if (name == NULL || (af != AF_INET && af != AF_INET6))
		return S5_PASS;
	switch (s5_name_route(name, norm)) {
	case S5_NAME_LIBC:
		return S5_PASS;
	case S5_NAME_DIRECT:
		return S5_PASS_DIRECT;
	case S5_NAME_INVALID:
		*result = NULL;
		*h_errnop = HOST_NOT_FOUND;
		return 0;
	case S5_NAME_LOOPBACK:
		return filled(ret, buf, buflen, norm, af,
			      af == AF_INET ? s5_loopback4 : s5_loopback6,
			      result, h_errnop);
	case S5_NAME_FAKE:
		break;
	}
	return fake_hostent(norm, af, ret, buf, buflen, result, h_errnop);
}

static int after_libc_r(int r, struct hostent *result, bool direct)
{
	if (direct && r == 0 && result != NULL)
		remember_hostent(result);
	return r;
}

static struct hostent *after_libc(struct hostent *he, bool direct)
{
	if (direct && he != NULL)
		remember_hostent(he);
	return he;
}

/* The IPv4-only forms are the AF_INET case of the "2" forms; glibc's
 * gethostbyname_r and gethostbyname2_r(AF_INET) answer alike. */
static int hostbyname2_r(const char *name, int af, struct hostent *ret,
			 char *buf, size_t buflen, struct hostent **result,
			 int *h_errnop)
{
	bool direct;
	int r;

	switch (s5_hook_begin(gethostbyname2_r, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		*result = NULL;
		*h_errnop = h_errno = NO_RECOVERY;
		return ENOSYS;
	case S5_HOOK_LIBC:
		return real.gethostbyname2_r(name, af, ret, buf, buflen,
					     result, h_errnop);
	case S5_HOOK_OURS:
		break;
	}
	r = route_r(name, af, ret, buf, buflen, result, h_errnop);
	if (r != S5_PASS && r != S5_PASS_DIRECT) {
		/* Like glibc, failures go to h_errno too (CPython reads it). */
		if (*result == NULL)
			h_errno = *h_errnop;
		return r;
	}
	direct = r == S5_PASS_DIRECT;
	r = s5_libc_gethostbyname2_r(name, af, ret, buf, buflen, result,
				  h_errnop);
	return after_libc_r(r, *result, direct);
}

static struct hostent *hostbyname2(const char *name, int af)
{
	struct hostent *result;
	int herr = 0, r;

	switch (s5_hook_begin(gethostbyname2, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		h_errno = NO_RECOVERY;
		return NULL;
	case S5_HOOK_LIBC:
		return real.gethostbyname2(name, af);
	case S5_HOOK_OURS:
		break;
	}
	r = route_r(name, af, &tls_he.he, tls_he.buf, sizeof(tls_he.buf),
		    &result, &herr);
	if (r == S5_PASS || r == S5_PASS_DIRECT)
		return after_libc(s5_libc_gethostbyname2(name, af),
				  r == S5_PASS_DIRECT);
	if (result == NULL)
		h_errno = herr;
	return result;
}

S5_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret,
			       char *buf, size_t buflen,
			       struct hostent **result, int *h_errnop)
{
	return hostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
}

S5_EXPORT int gethostbyname_r(const char *name, struct hostent *ret,
			      char *buf, size_t buflen,
			      struct hostent **result, int *h_errnop)
{
	return hostbyname2_r(name, AF_INET, ret, buf, buflen, result,
			     h_errnop);
}

S5_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	return hostbyname2(name, af);
}

S5_EXPORT struct hostent *gethostbyname(const char *name)
{
	return hostbyname2(name, AF_INET);
}
