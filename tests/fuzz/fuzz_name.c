/* libFuzzer target for s5_name_normalize.
 *
 * Beyond "no crash": whatever is accepted must be a name the pool and a
 * SOCKS DOMAINNAME can carry, normalising it again must change nothing,
 * and it must be the input with case folded and at most one dot dropped.
 * A broken property traps, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "s5_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX 600 /* well past the longest accepted name */

static bool pool_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_' || c == '.';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Lower case, allowed bytes only, no empty label, labels of 63 at most. */
static bool well_formed(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		if (!pool_byte(s[i]))
			return false;
		if (s[i] != '.') {
			if (++label > 63)
				return false;
		} else if (label == 0) {
			return false;
		} else {
			label = 0;
		}
	}
	return label > 0;
}

/* out is in, folded, less at most one trailing dot. */
static bool same_as_input(const char *in, const char *out, size_t n)
{
	size_t in_len = strlen(in), i;

	if (in_len != n && !(in_len == n + 1 && in[n] == '.'))
		return false;
	for (i = 0; i < n; i++)
		if (lower(in[i]) != out[i])
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[INPUT_MAX + 1], out[S5_NAME_MAX + 1], again[S5_NAME_MAX + 1];
	int n, m;

	if (size > INPUT_MAX)
		size = INPUT_MAX;
	memcpy(in, data, size);
	in[size] = '\0';
	/* A canary: on success nothing past the name's NUL is written. */
	memset(out, 0x7e, sizeof(out));

	n = s5_name_normalize(in, out);
	if (n < 0) {
		if (n != -EINVAL)
			__builtin_trap();
		return 0;
	}
	if (out[n] != '\0' || strlen(out) != (size_t)n ||
	    !well_formed(out, (size_t)n) || !same_as_input(in, out, (size_t)n))
		__builtin_trap();
	for (m = n + 1; m < (int)sizeof(out); m++)
		if (out[m] != 0x7e)
			__builtin_trap();
	m = s5_name_normalize(out, again);
	if (m != n || memcmp(out, again, (size_t)n + 1) != 0)
		__builtin_trap();
	return 0;
}
