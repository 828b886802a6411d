/* Host names as the pool keys them and the proxy receives them.
 *
 * The character set is the one of host names (RFC 952/1123: letters,
 * digits, '-') plus '_', which real names carry (SRV-style labels, some
 * CDN and intranet hosts). Anything else cannot be a name a resolver
 * would look up, and refusing it here keeps odd bytes (spaces, controls,
 * '%', '/') out of SOCKS requests and logs.
 */
#include <errno.h>
#include <string.h>

#include "dns_internal.h"

static bool name_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int s5_name_normalize(const char *name, char *out)
{
	/* One byte past the longest accepted input (253 plus the dot) is
	 * enough to tell that a name is too long, without reading all of a
	 * huge one. */
	size_t n = strnlen(name, S5P_NAME_TEXT_MAX + 2);
	size_t i, label = 0;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > S5P_NAME_TEXT_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (name[i] == '.') {
			if (label == 0) /* leading dot, or ".." */
				return -EINVAL;
			label = 0;
		} else if (!name_byte(name[i]) || ++label > S5P_LABEL_MAX) {
			return -EINVAL;
		}
		out[i] = s5p_fold(name[i]);
	}
	if (label == 0) /* "a.." loses one dot and still ends in one */
		return -EINVAL;
	out[n] = '\0';
	return (int)n;
}
