/* libFuzzer target for s5_parse_method_reply (RFC 1928 section 3).
 *
 * Beyond "no crash": every prefix of the input parses consistently with
 * the whole (a reader fed one byte at a time must reach the same answer
 * and must never be told to read past the message), and a parsed reply
 * is exactly VER METHOD.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "s5_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_prefixes(const uint8_t *data, size_t size, ssize_t n)
{
	uint8_t method;
	size_t need, k;
	ssize_t m;

	for (k = 0; k < size && k < 4; k++) {
		need = 0;
		m = s5_parse_method_reply(data, k, &need, &method);
		if (m > 0 && (n <= 0 || m != n))
			__builtin_trap();
		if (m == 0 && (need <= k || (n > 0 && need > (size_t)n)))
			__builtin_trap();
		if (m < 0 && n != m)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t method = 0, again = 0;
	size_t need = 0;
	ssize_t n;

	n = s5_parse_method_reply(data, size, &need, &method);
	if (n != -EPROTO && n < 0)
		__builtin_trap();
	if (n > 0 && (n != 2 || (size_t)n > size || data[0] != S5_VERSION ||
		      method != data[1]))
		__builtin_trap();
	if (n == 0 && (need <= size || need > S5_REPLY_MAX))
		__builtin_trap();
	/* A NULL need is allowed. */
	if (s5_parse_method_reply(data, size, NULL, &again) != n)
		__builtin_trap();
	/* A wrong VER is the only reason to refuse. */
	if (n == -EPROTO && !(size > 0 && data[0] != S5_VERSION))
		__builtin_trap();
	check_prefixes(data, size, n);
	return 0;
}
