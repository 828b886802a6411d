/* Reaching into a supervised process.
 *
 * Memory: process_vm_readv/writev on the calling thread (they take a
 * thread id). A process that made itself non-dumpable, or that we may not
 * trace, cannot be read: its call is refused, never let through.
 *
 * Descriptors: pidfd_getfd(2) gives us the same open file description as
 * the program's descriptor, so connecting our copy connects the
 * program's socket. req->pid is a thread id; a pidfd for a thread needs
 * PIDFD_THREAD (Linux 6.9), else the thread group's id from
 * /proc/TID/status. SECCOMP_IOCTL_NOTIF_ID_VALID afterwards makes sure the
 * id still named the calling thread and not a process that reused it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "s5_log.h"
#include "sup.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

static void log_unreadable(const struct s5s_call *c, int err)
{
	struct s5log_line l;

	s5log_begin(&l, S5LOG_ERROR);
	s5log_str(&l, "cannot reach the memory of process ");
	s5log_int(&l, c->tid);
	s5log_str(&l, " (");
	s5log_errno(&l, err);
	s5log_str(&l, "; a non-dumpable program?): its network call is "
		      "refused");
	s5log_end(&l);
}

static int mem_io(const struct s5s_call *c, uint64_t addr, void *buf,
		  size_t len, bool write)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	if (len == 0)
		return 0;
	if (addr == 0)
		return -EFAULT;
	n = write ? process_vm_writev(c->tid, &local, 1, &remote, 1, 0)
		  : process_vm_readv(c->tid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0 || errno == EFAULT)
		return -EFAULT;
	if (errno == ESRCH)
		return -ESRCH;
	log_unreadable(c, errno);
	return -EPERM;
}

int s5s_mem_read(const struct s5s_call *c, uint64_t addr, void *buf,
		 size_t len)
{
	return mem_io(c, addr, buf, len, false);
}

int s5s_mem_write(const struct s5s_call *c, uint64_t addr, const void *buf,
		  size_t len)
{
	return mem_io(c, addr, (void *)(uintptr_t)buf, len, true);
}

/* The thread group id of tid, from /proc/TID/status. */
static pid_t tgid_of(pid_t tid)
{
	char path[64], buf[1024];
	ssize_t n;
	char *p;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\nTgid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : -1;
}

static int pidfd_of(struct sup *s, pid_t tid)
{
	int fd;

	if (!s->thread_pidfd_tried || s->thread_pidfd_ok) {
		fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
		if (!s->thread_pidfd_tried) {
			s->thread_pidfd_tried = true;
			s->thread_pidfd_ok = fd >= 0 || errno != EINVAL;
		}
		if (fd >= 0 || s->thread_pidfd_ok)
			return fd;
	}
	fd = (int)syscall(SYS_pidfd_open, tid, 0);
	if (fd >= 0 || errno != EINVAL)
		return fd;
	/* Not a thread group leader on a kernel without PIDFD_THREAD. */
	tid = tgid_of(tid);
	return tid > 0 ? (int)syscall(SYS_pidfd_open, tid, 0) : -1;
}

static int sock_int(int fd, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, name, &v, &len) == 0 ? v : -1;
}

int s5s_take_fd(struct sup *s, struct s5s_call *c)
{
	int pfd = pidfd_of(s, c->tid);
	int err;

	c->fd = -1;
	c->domain = c->type = c->protocol = -1;
	if (pfd < 0)
		return errno == ESRCH ? -ESRCH : -EPERM;
	/* The descriptor argument is an int: the upper half is ignored. */
	c->fd = (int)syscall(SYS_pidfd_getfd, pfd, (int)(uint32_t)c->args[0],
			     0);
	err = errno;
	close(pfd);
	if (c->fd < 0) {
		if (err == EBADF || err == ESRCH)
			return -err;
		if (err == EMFILE || err == ENFILE) {
			s5log_msg(S5LOG_ERROR, "supervisor: out of descriptors; "
				  "a network call of the program is refused",
				  NULL);
			return -ENOBUFS;
		}
		log_unreadable(c, err);
		return -EPERM;
	}
	if (!s5s_call_valid(s, c))
		return -ESRCH;
	c->domain = sock_int(c->fd, SO_DOMAIN);
	if (c->domain < 0)
		return errno == ENOTSOCK ? -ENOTSOCK : -errno;
	c->type = sock_int(c->fd, SO_TYPE);
	c->protocol = sock_int(c->fd, SO_PROTOCOL);
	return 0;
}

static void send_resp(struct sup *s, uint64_t id, int err, int64_t val,
		      uint32_t flags)
{
	struct seccomp_notif_resp *r = s->resp;

	memset(r, 0, s->resp_size);
	r->id = id;
	r->error = err ? -err : 0;
	r->val = err ? 0 : val;
	r->flags = flags;
	/* ENOENT: the thread is gone (killed), or a signal took it out of
	 * the call first; either way there is no one left to answer. */
	(void)ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SEND, r);
}

void s5s_answer(struct sup *s, const struct s5s_call *c, int err,
		int64_t val)
{
	send_resp(s, c->id, err, val, 0);
}

void s5s_continue(struct sup *s, const struct s5s_call *c)
{
	send_resp(s, c->id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

void s5s_sigpipe(struct sup *s, const struct s5s_call *c, int flags)
{
	if (flags & MSG_NOSIGNAL)
		return;
	/* The thread still waits in the call (checked first), so its id
	 * cannot have been reused. */
	if (s5s_call_valid(s, c))
		(void)syscall(SYS_tkill, c->tid, SIGPIPE);
}

bool s5s_call_valid(struct sup *s, const struct s5s_call *c)
{
	uint64_t id = c->id;

	return ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}
