/* close() and close_range(): forget the descriptor's proxy state, and keep
 * the library's own descriptors (log file) open when a program closes
 * "everything" the way daemons do. */
#include <errno.h>
#include <linux/close_range.h>
#include <unistd.h>

#include "preload.h"

S5_EXPORT int close(int fd)
{
	if (s5_guarded())
		return real.close(fd);
	s5_init_symbols();
	switch (s5_fd_kind(fd)) {
	case S5FD_INTERNAL:
		/* The program never opened this descriptor: to it, closing
		 * a descriptor that is not its own is a no-op that worked. */
		return 0;
	case S5FD_TCP:
	case S5FD_UDP:
		/* Before the real close: afterwards another thread may
		 * already own the number again. The last descriptor of a
		 * UDP socket closes its association. */
		s5_fd_clear(fd);
		break;
	case S5FD_NONE:
		break;
	}
	return real.close(fd);
}

/* Closes [first, last] in pieces that leave our internal descriptors out. */
static int close_around_internal(unsigned int first, unsigned int last,
				 int flags)
{
	unsigned int from = first;
	int in;

	while (from <= last) {
		in = s5_fd_next_internal(from, last);
		if (in < 0)
			return real.close_range(from, last, flags);
		if ((unsigned int)in > from &&
		    real.close_range(from, (unsigned int)in - 1, flags) < 0)
			return -1;
		if ((unsigned int)in == last)
			return 0;
		from = (unsigned int)in + 1;
	}
	return 0;
}

S5_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (!s5_guarded())
		s5_init_symbols();
	if (real.close_range == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (s5_guarded())
		return real.close_range(first, last, flags);
	/* Marking close-on-exec closes nothing; ours are close-on-exec
	 * already. */
	if (flags & CLOSE_RANGE_CLOEXEC || first > last)
		return real.close_range(first, last, flags);
	s5_fd_clear_range(first, last);
	return close_around_internal(first, last, flags);
}
