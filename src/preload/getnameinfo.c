/* getnameinfo(): a fake address is answered with its name from the pool,
 * without any query. In remote DNS mode no other address is looked up
 * either, unless it is loopback or excluded: a PTR query would tell the
 * local resolver whom the program talks to. */
#include <errno.h>
#include <string.h>

#include "hook.h"
#include "names.h"
#include "s5_dns.h"

/* The fake address inside sa, as family and bytes (an IPv4-mapped IPv6
 * address counts as IPv4). False when sa is not a fake address. */
bool s5_sockaddr_fake(const struct sockaddr *sa, socklen_t len, int *family,
		      uint8_t addr[16])
{
	struct s5_addr a;

	if (sa == NULL || s5_addr_from_sockaddr(&a, sa, len) < 0)
		return false;
	*family = a.atyp == S5_ATYP_IPV4 ? AF_INET : AF_INET6;
	memcpy(addr, a.atyp == S5_ATYP_IPV4 ? a.u.v4 : a.u.v6,
	       a.atyp == S5_ATYP_IPV4 ? 4 : 16);
	return s5_is_fake(*family, addr);
}

S5_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen,
			  char *host, socklen_t hostlen, char *serv,
			  socklen_t servlen, int flags)
{
	char name[S5_NAME_MAX + 1];
	uint8_t addr[16];
	int family, n, r;

	switch (s5_hook_begin(getnameinfo, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		return EAI_FAIL;
	case S5_HOOK_LIBC:
		return real.getnameinfo(sa, salen, host, hostlen, serv,
					servlen, flags);
	case S5_HOOK_OURS:
		break;
	}
	if (host == NULL || hostlen == 0 || (flags & NI_NUMERICHOST))
		return s5_libc_getnameinfo(sa, salen, host, hostlen, serv,
					servlen, flags);
	if (!s5_sockaddr_fake(sa, salen, &family, addr)) {
		if (s5_reverse_allowed(sa, salen))
			return s5_libc_getnameinfo(sa, salen, host, hostlen,
						   serv, servlen, flags);
		/* No PTR query: the host has no name we may look up. */
		if (flags & NI_NAMEREQD)
			return EAI_NONAME;
		return s5_libc_getnameinfo(sa, salen, host, hostlen, serv,
					servlen, flags | NI_NUMERICHOST);
	}
	n = s5_fake_to_name(family, addr, name);
	if (n < 0) {
		/* Unknown fake address: no name, as for any unnamed host. */
		if (flags & NI_NAMEREQD)
			return EAI_NONAME;
		return s5_libc_getnameinfo(sa, salen, host, hostlen, serv,
					servlen, flags | NI_NUMERICHOST);
	}
	if ((socklen_t)n + 1 > hostlen)
		return EAI_OVERFLOW;
	/* The service part is libc's, exactly. */
	if (serv != NULL && servlen > 0) {
		r = s5_libc_getnameinfo(sa, salen, NULL, 0, serv, servlen,
					flags);
		if (r != 0)
			return r;
	}
	memcpy(host, name, (size_t)n + 1);
	return 0;
}
