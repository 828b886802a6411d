/* The real resolver functions, called with the reentrancy guard set.
 *
 * When libc answers a name for us (numeric, /etc/hosts, an excluded name,
 * SOCKS5WRAP_DNS=local), its resolver opens sockets and sends queries
 * itself. Those must reach the configured name server directly, as they
 * would without the library: through the UDP relay they would ask the
 * proxy's side of the network, which is not what split DNS or local mode
 * mean. With the guard set, every hook passes them straight to libc. */
#include "hook.h"
#include "names.h"

int s5_libc_getaddrinfo(const char *node, const char *service,
			const struct addrinfo *hints, struct addrinfo **res)
{
	int r;

	s5_guard_enter();
	r = real.getaddrinfo(node, service, hints, res);
	s5_guard_leave();
	return r;
}

int s5_libc_getnameinfo(const struct sockaddr *sa, socklen_t salen,
			char *host, socklen_t hostlen, char *serv,
			socklen_t servlen, int flags)
{
	int r;

	s5_guard_enter();
	r = real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
	s5_guard_leave();
	return r;
}

int s5_libc_gethostbyname2_r(const char *name, int af, struct hostent *ret,
			     char *buf, size_t buflen,
			     struct hostent **result, int *h_errnop)
{
	int r;

	s5_guard_enter();
	r = real.gethostbyname2_r(name, af, ret, buf, buflen, result,
				  h_errnop);
	s5_guard_leave();
	return r;
}

struct hostent *s5_libc_gethostbyname2(const char *name, int af)
{
	struct hostent *r;

	s5_guard_enter();
	r = real.gethostbyname2(name, af);
	s5_guard_leave();
	return r;
}

int s5_libc_gethostbyaddr_r(const void *addr, socklen_t len, int type,
			    struct hostent *ret, char *buf, size_t buflen,
			    struct hostent **result, int *h_errnop)
{
	int r;

	s5_guard_enter();
	r = real.gethostbyaddr_r(addr, len, type, ret, buf, buflen, result,
				 h_errnop);
	s5_guard_leave();
	return r;
}

struct hostent *s5_libc_gethostbyaddr(const void *addr, socklen_t len,
				      int type)
{
	struct hostent *r;

	s5_guard_enter();
	r = real.gethostbyaddr(addr, len, type);
	s5_guard_leave();
	return r;
}
