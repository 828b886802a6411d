/* The log's writer inside the program (logfile.h).
 *
 * Lines go straight to the kernel through libc's syscall(), looked up
 * before anything else: they must work before the other real symbols are
 * known, and never pass through a hook of ours (syscall and write are both
 * hooks). The log file is an internal descriptor: before each line the
 * table checks it is still the file the library opened. After a close
 * the hooks did not see (closefrom, a raw close_range) the number may be a
 * file of the program's: the line is then not written there, the file is
 * opened again, and the line goes to the new descriptor. */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fork.h"
#include "hook.h"
#include "kind_internal.h"
#include "logfile.h"

static long (*libc_syscall)(long, ...);

/* The file's path (the configuration's, immutable), NULL for stderr. */
static const char *log_path;
/* Guards reopening; a thread that finds it taken drops its line rather
 * than wait (lines may come from signal handlers). */
static pthread_mutex_t reopen_lock = PTHREAD_MUTEX_INITIALIZER;

static void moved(struct s5_obj *o, int oldfd, int newfd);

static const struct s5_obj_ops log_ops = { .moved = moved };
/* The log file's owner in the table: static, its count never reaches
 * zero. */
static struct s5_obj log_owner = { .refs = 1, .ops = &log_ops };

static ssize_t raw_write(int fd, const void *buf, size_t len)
{
	if (libc_syscall == NULL)
		return -1;
	return libc_syscall(SYS_write, fd, buf, len);
}

static ssize_t file_write(int fd, const void *buf, size_t len);

static void moved(struct s5_obj *o, int oldfd, int newfd)
{
	(void)o;
	if (s5log_fd() == oldfd)
		s5log_setup(s5log_level(), newfd, file_write);
}

/* Opens the log file as an internal descriptor, or -1. */
static int open_file(void)
{
	int fd;

	s5_guard_enter();
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	s5_guard_leave();
	if (fd < 0)
		return -1;
	return s5_internal_adopt(fd, &log_owner);
}

static ssize_t file_write(int fd, const void *buf, size_t len)
{
	int nfd;

	if (s5_fd_is_internal(fd))
		return raw_write(fd, buf, len);
	/* Not ours any more: never write into the program's file. */
	if (pthread_mutex_trylock(&reopen_lock) != 0)
		return -1;
	nfd = s5log_fd();
	if (nfd == fd) {
		nfd = open_file();
		if (nfd >= 0)
			s5log_setup(s5log_level(), nfd, file_write);
	}
	pthread_mutex_unlock(&reopen_lock);
	if (nfd < 0 || !s5_fd_is_internal(nfd))
		return -1;
	return raw_write(nfd, buf, len);
}

void s5_logfile_early(void)
{
	*(void **)&libc_syscall = dlsym(RTLD_NEXT, "syscall");
	s5log_setup(S5LOG_ERROR, STDERR_FILENO, raw_write);
}

void s5_logfile_setup(enum s5log_level level, const char *path)
{
	int fd;

	s5log_setup(level, STDERR_FILENO, raw_write);
	if (path == NULL)
		return;
	log_path = path;
	fd = open_file();
	if (fd < 0) {
		s5log_msg(S5LOG_WARN, "SOCKS5WRAP_LOG_FILE: cannot open '",
			  path, "'; logging to stderr", NULL);
		log_path = NULL;
		return;
	}
	s5log_setup(level, fd, file_write);
}

__attribute__((constructor)) static void register_fork(void)
{
	s5_fork_lock(S5_FORK_LOG, &reopen_lock, NULL);
}
