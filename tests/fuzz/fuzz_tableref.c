/* libFuzzer target for s5_table_ref_parse (SOCKS5WRAP_TABLE).
 *
 * Beyond "no crash": the parser takes exactly one spelling of each value,
 * so an accepted input is what s5_table_ref_format writes for the result,
 * byte for byte, within S5_TABLE_REF_MAX; its numbers are in range; and
 * *out is left alone on failure. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s5_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s5_table_ref r, before;
	char *s = malloc(size + 1), out[S5_TABLE_REF_MAX + 8];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&r, 0xa5, sizeof(r));
	before = r;
	if (s5_table_ref_parse(s, &r) == 0) {
		if (r.pid < 1 || r.pid > 1 << 22 || r.fd < 0 || r.fd > 1 << 20)
			abort();
		memset(out, 'Z', sizeof(out));
		s5_table_ref_format(&r, out);
		if (memchr(out, '\0', S5_TABLE_REF_MAX) == NULL ||
		    strcmp(out, s) != 0)
			abort();
	} else if (memcmp(&r, &before, sizeof(r)) != 0) {
		abort();
	}
	free(s);
	return 0;
}
