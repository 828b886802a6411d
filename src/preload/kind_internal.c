/* S5FD_INTERNAL (kind_internal.h). An internal entry's object is the
 * descriptor's owner, held without a reference: the owner closes its
 * descriptor (s5_internal_close) before it goes away. */
#include <errno.h>
#include <fcntl.h>

#include "kind_internal.h"
#include "s5_dns.h"
#include "real.h"

int s5_internal_base(void)
{
	return s5_high_fd_base();
}

int s5_internal_adopt(int fd, struct s5_obj *owner)
{
	int nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, s5_internal_base());

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

void s5_internal_keep(int fd)
{
	(void)s5_fd_attach(fd, S5FD_INTERNAL, NULL);
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
	bool keep_cloexec;
	int nfd;

	if (!s5_fd_is_internal(fd)) {
		if (owner != NULL)
			s5_obj_put(owner);
		return 0; /* stale: the number is the program's already */
	}
	/* The name table's descriptor stays inheritable where it goes. */
	keep_cloexec = real.fcntl(fd, F_GETFD) != 0;
	nfd = real.fcntl(fd, keep_cloexec ? F_DUPFD_CLOEXEC : F_DUPFD,
			 s5_internal_base());
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
