/* A struct hostent for one address, laid out in a caller's buffer: the
 * shape the gethostby*_r functions return, shared by the name and the
 * address lookups. */
#include <errno.h>
#include <stdalign.h>
#include <string.h>

#include "names.h"

int s5_hostent_fill(struct hostent *he, char *buf, size_t buflen,
		    const char *name, int af, const uint8_t *addr)
{
	size_t alen = af == AF_INET ? 4 : 16, nlen = strlen(name) + 1;
	size_t pad = (alignof(char *) -
		      (size_t)((uintptr_t)buf % alignof(char *))) %
		     alignof(char *);
	char **ptrs, *a, *n;

	if (buflen < pad || buflen - pad < 3 * sizeof(char *) + alen + nlen)
		return ERANGE;
	ptrs = (char **)(void *)(buf + pad);
	a = (char *)(ptrs + 3);
	n = a + alen;
	memcpy(a, addr, alen);
	memcpy(n, name, nlen);
	ptrs[0] = NULL; /* no aliases */
	ptrs[1] = a;    /* the address list: one address */
	ptrs[2] = NULL;
	he->h_name = n;
	he->h_aliases = &ptrs[0];
	he->h_addrtype = af;
	he->h_length = (int)alen;
	he->h_addr_list = &ptrs[1];
	return 0;
}
