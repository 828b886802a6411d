/* libFuzzer target for s5_hostent_fill, the struct hostent that
 * gethostbyname_r and gethostbyaddr_r return for a proxied name.
 *
 * Input: one byte of flags (bit 0: AF_INET6, bits 1..3: how far the
 * caller's buffer is from pointer alignment), two bytes of buffer length
 * (little-endian, below 1024), the 16 bytes of an address (AF_INET uses
 * the first 4), then the name up to a NUL or the end. The buffer is an
 * allocation of exactly that length (plus the misalignment in front), so
 * ASan sees a write past it. Beyond "no crash":
 *  - the result is 0 or ERANGE, and ERANGE exactly when the buffer is
 *    shorter than the layout hostent.c promises: alignment padding, three
 *    pointers (the empty alias list, the address, the list's end), the
 *    address and the name with its NUL;
 *  - after ERANGE neither the buffer nor the hostent was written;
 *  - after 0 the hostent is one address and no aliases, every pointer it
 *    holds and every byte they reach lie inside the buffer, the pointer
 *    arrays are aligned, and the name and address are the ones given.
 */
#include <errno.h>
#include <netdb.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../src/preload/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD 19 /* flags, length, address */
#define CANARY 0xa5

/* [p, p + n) lies inside [lo, hi). */
static bool inside(const void *p, size_t n, const char *lo, const char *hi)
{
	const char *c = p;

	return c >= lo && c <= hi && n <= (size_t)(hi - c);
}

static bool untouched(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != CANARY)
			return false;
	return true;
}

static bool aligned(const void *p)
{
	return (uintptr_t)p % alignof(char *) == 0;
}

static void check_filled(const struct hostent *he, const char *buf,
			 size_t buflen, const char *name, int af,
			 const uint8_t *addr, size_t alen)
{
	const char *end = buf + buflen;
	size_t nlen = strlen(name) + 1;

	if (he->h_addrtype != af || he->h_length != (int)alen)
		__builtin_trap();
	if (!inside(he->h_aliases, sizeof(char *), buf, end) ||
	    !aligned(he->h_aliases) || he->h_aliases[0] != NULL)
		__builtin_trap();
	if (!inside(he->h_addr_list, 2 * sizeof(char *), buf, end) ||
	    !aligned(he->h_addr_list) || he->h_addr_list[1] != NULL)
		__builtin_trap();
	if (!inside(he->h_addr_list[0], alen, buf, end) ||
	    memcmp(he->h_addr_list[0], addr, alen) != 0)
		__builtin_trap();
	if (!inside(he->h_name, nlen, buf, end) ||
	    memcmp(he->h_name, name, nlen) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostent he, he_before;
	size_t skew, buflen, alen, nlen, pad, need;
	uint8_t addr[16];
	char *mem, *buf, *name;
	const uint8_t *nul;
	int af, rc;

	if (size < HEAD)
		return 0;
	af = data[0] & 1 ? AF_INET6 : AF_INET;
	alen = af == AF_INET ? 4 : 16;
	buflen = ((size_t)data[1] | (size_t)data[2] << 8) % 1024;
	memcpy(addr, data + 3, sizeof(addr));
	nul = memchr(data + HEAD, '\0', size - HEAD);
	nlen = nul ? (size_t)(nul - (data + HEAD)) : size - HEAD;
	name = malloc(nlen + 1);
	if (!name)
		abort();
	memcpy(name, data + HEAD, nlen);
	name[nlen] = '\0';

	/* malloc's result is aligned for any pointer; skew moves buf off
	 * that by 0..7 bytes, as a char array on the caller's stack may be. */
	skew = (size_t)(data[0] >> 1 & 7);
	mem = malloc(skew + buflen);
	if (!mem)
		abort();
	buf = mem + skew;
	memset(mem, CANARY, skew + buflen);
	memset(&he, CANARY, sizeof(he));
	memcpy(&he_before, &he, sizeof(he));

	rc = s5_hostent_fill(&he, buf, buflen, name, af, addr);

	pad = (alignof(char *) - (uintptr_t)buf % alignof(char *)) %
	      alignof(char *);
	need = pad + 3 * sizeof(char *) + alen + nlen + 1;
	if (rc != 0 && rc != ERANGE)
		__builtin_trap();
	if ((rc == ERANGE) != (buflen < need))
		__builtin_trap();
	if (!untouched(mem, skew))
		__builtin_trap();
	if (rc == ERANGE && (!untouched(buf, buflen) ||
			     memcmp(&he, &he_before, sizeof(he)) != 0))
		__builtin_trap();
	if (rc == 0)
		check_filled(&he, buf, buflen, name, af, addr, alen);

	free(mem);
	free(name);
	return 0;
}
