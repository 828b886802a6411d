/* S5FD_INTERNAL (kind_internal.h). An internal entry's object is the
 * descriptor's owner, held without a reference: the owner closes its
 * descriptor (s5_internal_close) before it goes away. */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "kind_internal.h"
#include "real.h"

/* Internal descriptors live out of the low range programs count on: from
 * 1024 up (also clear of select()'s FD_SETSIZE) when the soft limit allows,
 * else just below the soft limit. */
static int high_base(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 1024;
	if (rl.rlim_cur > 1024 + 64)
		return 1024;
	if (rl.rlim_cur > 128)
		return (int)rl.rlim_cur - 64;
	return (int)rl.rlim_cur / 2;
}

int s5_internal_adopt(int fd, struct s5_obj *owner)
{
	int nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, high_base());

	if (nfd < 0) {
		real.fcntl(fd, F_SETFD, FD_CLOEXEC);
		nfd = fd;
	} else {
		/* The number was never the program's: no entry to clear. */
		real.close(fd);
	}
	/* A descriptor the table cannot cover still works; the program
	 * just could close it. */
	(void)s5_fd_attach(nfd, S5FD_INTERNAL, owner);
	return nfd;
}

void s5_internal_close(int fd)
{
	bool ours = s5_fd_is_internal(fd);

	if (!ours)
		return; /* the check dropped a stale mark */
	s5_fd_clear(fd);
	real.close(fd);
}

int s5_internal_relocate(int fd)
{
	struct s5_obj *owner = s5_fd_owner(fd);
	int nfd;

	if (!s5_fd_is_internal(fd)) {
		if (owner != NULL)
			s5_obj_put(owner);
		return 0; /* stale: the number is the program's already */
	}
	nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, high_base());
	if (nfd < 0) {
		if (owner != NULL)
			s5_obj_put(owner);
		return -errno;
	}
	(void)s5_fd_attach(nfd, S5FD_INTERNAL, owner);
	if (owner != NULL && owner->ops->moved != NULL)
		owner->ops->moved(owner, fd, nfd);
	s5_fd_clear(fd);
	real.close(fd);
	if (owner != NULL)
		s5_obj_put(owner);
	return 0;
}
