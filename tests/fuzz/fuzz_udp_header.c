/* libFuzzer target for s5_parse_udp_header (RFC 1928 section 7).
 *
 * Beyond "no crash":
 *  - a header is accepted only with RSV 0, FRAG 0, a known ATYP, a
 *    non-empty name and every byte present, and its length is within the
 *    datagram;
 *  - rebuilding the parsed source with s5_build_udp_header gives the same
 *    header bytes;
 *  - the answer does not depend on the payload after the header.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "s5_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The header length the bytes announce, or 0 when they cannot be one. */
static size_t expected_len(const uint8_t *d, size_t size)
{
	size_t n;

	if (size < 4 || d[0] || d[1] || d[2])
		return 0;
	switch (d[3]) {
	case S5_ATYP_IPV4:
		n = 3 + 1 + 4 + 2;
		break;
	case S5_ATYP_IPV6:
		n = 3 + 1 + 16 + 2;
		break;
	case S5_ATYP_DOMAIN:
		if (size < 5 || d[4] == 0)
			return 0;
		n = 3 + 1 + 1 + (size_t)d[4] + 2;
		break;
	default:
		return 0;
	}
	return n <= size ? n : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t built[S5_UDP_HEADER_MAX + 1];
	struct s5_addr src, again;
	size_t want = expected_len(data, size);
	ssize_t n, b;

	memset(&src, 0, sizeof(src));
	n = s5_parse_udp_header(data, size, &src);
	if (n == 0 || (n < 0 && n != -EPROTO))
		__builtin_trap();
	if (n < 0) {
		if (want != 0)
			__builtin_trap();
		return 0;
	}
	if ((size_t)n != want || src.atyp != data[3])
		__builtin_trap();
	if (src.atyp == S5_ATYP_DOMAIN &&
	    (src.u.dom.name_len != data[4] ||
	     src.u.dom.name[src.u.dom.name_len] != '\0'))
		__builtin_trap();

	b = s5_build_udp_header(built, sizeof(built), &src);
	if (b != n || memcmp(built, data, (size_t)n) != 0)
		__builtin_trap();
	if (s5_build_udp_header(built, (size_t)n - 1, &src) != -ENOBUFS)
		__builtin_trap();

	/* The header alone, without its payload, parses the same. */
	memset(&again, 0, sizeof(again));
	if (s5_parse_udp_header(data, (size_t)n, &again) != n ||
	    s5_build_udp_header(built, sizeof(built), &again) != n ||
	    memcmp(built, data, (size_t)n) != 0)
		__builtin_trap();
	/* One byte fewer is a truncated header. */
	if (s5_parse_udp_header(data, (size_t)n - 1, &again) != -EPROTO)
		__builtin_trap();
	return 0;
}
