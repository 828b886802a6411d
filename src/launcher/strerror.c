/* Error texts that read the same whichever libc the launcher is built
 * with. glibc and musl word some errno values differently (ETIMEDOUT is
 * "Connection timed out" in one, "Operation timed out" in the other); for
 * the ones a launcher message can carry, the wording of errno(3) is used,
 * and strerror(3) for the rest.
 */
#include <errno.h>
#include <string.h>

#include "launcher.h"

static const struct {
	int err;
	const char *text;
} texts[] = {
	{ ENOMEM, "Cannot allocate memory" },
	{ ETIMEDOUT, "Connection timed out" },
	{ EHOSTUNREACH, "No route to host" },
	{ ENETUNREACH, "Network is unreachable" },
	{ EADDRNOTAVAIL, "Cannot assign requested address" },
	{ ELOOP, "Too many levels of symbolic links" },
	{ ENAMETOOLONG, "File name too long" },
};

const char *s5l_strerror(int err)
{
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].err == err)
			return texts[i].text;
	return strerror(err);
}
