/* close(), close_range(), closefrom() and fclose(): forget the
 * descriptor's proxy state, and keep the library's own descriptors (log
 * file, UDP control connections) open when a program closes "everything"
 * the way daemons do.
 *
 * Closes the hooks cannot see (a raw close_range system call, fclose in
 * code that calls libc's internal close) leave entries behind; the table
 * checks each entry's identity before use, so those are dropped when the
 * number comes back as another file. posix_spawn's file actions close in
 * the child only, whose table starts empty after exec. */
#include <errno.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fd.h"
#include "hook.h"
#include "kind_bind.h"

/* close() once the prologue said the call is ours. */
static int close_ours(int fd)
{
	switch (s5_fd_kind(fd)) {
	case S5FD_INTERNAL:
		/* The program never opened this descriptor: to it, closing
		 * a descriptor that is not its own is a no-op that worked.
		 * Unless the number is no longer ours (closed behind the
		 * hooks' back and given to the program since). */
		if (s5_fd_is_internal(fd))
			return 0;
		break;
	case S5FD_NONE:
		break;
	case S5FD_BIND:
		s5_bind_closing(fd);
		s5_fd_clear(fd);
		break;
	default:
		/* Before the real close: afterwards another thread may
		 * already own the number again. The last descriptor of a
		 * UDP socket closes its association. */
		s5_fd_clear(fd);
		break;
	}
	return real.close(fd);
}

S5_EXPORT int close(int fd)
{
	switch (s5_hook_begin(close, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		errno = ENOSYS;
		return -1;
	case S5_HOOK_LIBC:
		return real.close(fd);
	case S5_HOOK_OURS:
		break;
	}
	return close_ours(fd);
}
S5_SELF_ALIAS(close);

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

static int close_range_ours(unsigned int first, unsigned int last,
			    int flags)
{
	/* Marking close-on-exec closes nothing; ours are close-on-exec
	 * already. */
	if (flags & CLOSE_RANGE_CLOEXEC || first > last)
		return real.close_range(first, last, flags);
	s5_fd_clear_range(first, last);
	return close_around_internal(first, last, flags);
}

S5_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	switch (s5_hook_begin(close_range, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		errno = ENOSYS;
		return -1;
	case S5_HOOK_LIBC:
		return real.close_range(first, last, flags);
	case S5_HOOK_OURS:
		break;
	}
	return close_range_ours(first, last, flags);
}
S5_SELF_ALIAS(close_range);

/* glibc's closefrom() makes the close_range system call itself, which
 * would take our descriptors too. Without close_range (an older kernel),
 * every descriptor up to the limit goes through close() above. */
S5_EXPORT void closefrom(int lowfd)
{
	struct rlimit rl;
	int fd, max, saved = errno;

	if (lowfd < 0)
		return;
	if (!s5_guarded())
		s5_init_symbols();
	if (real.close == NULL)
		return;
	if (s5_guarded()) {
		/* A call from inside the library's own use of libc. */
		if (real.close_range != NULL)
			(void)real.close_range((unsigned int)lowfd, ~0u, 0);
		errno = saved;
		return;
	}
	if (real.close_range != NULL &&
	    (close_range_ours((unsigned int)lowfd, ~0u, 0) == 0 ||
	     errno != ENOSYS)) {
		errno = saved;
		return;
	}
	max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20)
		      ? (int)rl.rlim_cur
		      : 1 << 20;
	for (fd = lowfd; fd < max; fd++)
		close_ours(fd);
	errno = saved;
}

/* fclose() closes its descriptor inside libc, past the close() hook: the
 * state goes first (fdopen() on a proxied socket is how some programs
 * read lines from it). */
S5_EXPORT int fclose(FILE *f)
{
	int fd;

	switch (s5_hook_begin(fclose, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		errno = ENOSYS;
		return EOF;
	case S5_HOOK_LIBC:
		return real.fclose(f);
	case S5_HOOK_OURS:
		break;
	}
	fd = f != NULL ? fileno(f) : -1;
	if (fd >= 0 && s5_fd_maybe_ours(fd)) {
		enum s5_fd_kind k = s5_fd_kind(fd);

		if (k == S5FD_TCP || k == S5FD_UDP)
			s5_fd_clear(fd);
	}
	return real.fclose(f);
}
