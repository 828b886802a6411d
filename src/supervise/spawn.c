/* Starting PROGRAM under the supervisor.
 *
 * The launcher forks. The child sets no_new_privs (which lets a normal
 * user install a filter, and keeps setuid programs from gaining
 * privileges under it), installs the filter with a new listener, tells the
 * parent the listener's number over a pipe, and waits. The parent takes
 * the listener with pidfd_getfd(2) - the child cannot send it: sendmsg is
 * among the calls the new filter catches, and nobody would answer - then
 * lets the child exec.
 *
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19): once we received a
 * call, only a fatal signal can take the thread out of it. Without it a
 * signal during a handshake would end the program's connect early, and a
 * program that then polls its socket would read the proxy's reply bytes
 * as its own data. A kernel without it is refused: failing closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "s5_dns.h"
#include "s5_log.h"
#include "sup.h"
#include "supervise.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#define EXIT_OWN 125

/* Signals sent to the launcher that the program should get instead. */
static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM,
				 SIGUSR1, SIGUSR2, SIGWINCH };

static void prefix(const char *path)
{
	fprintf(stderr, "socks5wrap: cannot supervise %s: ", path);
}

static int full_write(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

static int full_read(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/* In the child: never returns. */
static void child(const char *path, char **argv, const sigset_t *old,
		  int report, int go)
{
	struct sock_filter insns[S5S_FILTER_MAX];
	struct sock_fprog prog;
	int32_t msg;
	char byte;
	int fd, err;

	sigprocmask(SIG_SETMASK, old, NULL);
	prog.len = (unsigned short)s5s_filter(insns);
	prog.filter = insns;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fd = -1;
	else
		fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				  SECCOMP_FILTER_FLAG_NEW_LISTENER |
					  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
				  &prog);
	msg = fd >= 0 ? fd : -errno;
	if (full_write(report, &msg, sizeof(msg)) < 0 || fd < 0)
		_exit(EXIT_OWN);
	/* The parent holds its own copy of the listener when it says go. */
	if (full_read(go, &byte, 1) < 0)
		_exit(EXIT_OWN);
	close(fd);
	close(report);
	close(go);
	execv(path, argv);
	err = errno;
	fprintf(stderr, "socks5wrap: %s: %s\n", path, strerror(err));
	/* As s5l_exec: ENOENT after the file was found is a missing
	 * interpreter; both are "not found" to env(1). */
	_exit(err == ENOENT ? 127 : 126);
}

static void explain(const char *path, int err)
{
	prefix(path);
	if (err == EINVAL)
		fprintf(stderr,
			"this kernel lacks seccomp user notification with "
			"killable waits (Linux 5.19 or later is needed)");
	else if (err == ENOSYS)
		fprintf(stderr, "this kernel has no seccomp filters");
	else if (err == EBUSY)
		fprintf(stderr,
			"another supervisor already watches this process "
			"tree (socks5wrap --supervise above this one, or a "
			"container manager)");
	else
		fprintf(stderr, "installing the seccomp filter failed: %s",
			strerror(err));
	fprintf(stderr, "; --no-supervise runs it without the supervisor, "
			"but its connections may then bypass the proxy\n");
}

/* Kills and reaps a child that never got to exec. */
static void abandon(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Forks the child; on success s->child and s->listener are set. */
static int spawn(struct sup *s, const char *path, char **argv,
		 const sigset_t *old)
{
	int report[2], go[2], pidfd;
	int32_t msg = 0;
	pid_t pid;

	if (pipe2(report, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(go, O_CLOEXEC) < 0) {
		close(report[0]);
		close(report[1]);
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		close(report[0]);
		close(go[1]);
		child(path, argv, old, report[1], go[0]);
	}
	close(report[1]);
	close(go[0]);
	if (pid < 0 || full_read(report[0], &msg, sizeof(msg)) < 0 ||
	    msg < 0) {
		int err = pid < 0 ? errno : msg < 0 ? -msg : EIO;

		close(report[0]);
		close(go[1]);
		if (pid > 0)
			abandon(pid);
		explain(path, err);
		return -1;
	}
	s->child = pid;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	s->listener = pidfd < 0 ? -1
				: (int)syscall(SYS_pidfd_getfd, pidfd, msg, 0);
	if (s->listener < 0) {
		int err = errno;

		prefix(path);
		fprintf(stderr, "cannot take the child's seccomp listener: "
				"%s (Linux 5.6 or later is needed)\n",
			strerror(err));
		abandon(pid);
	}
	if (pidfd >= 0)
		close(pidfd);
	if (s->listener >= 0 && full_write(go[1], "g", 1) < 0)
		abandon(pid);
	close(report[0]);
	close(go[1]);
	return s->listener >= 0 ? 0 : -1;
}

static int notif_buffers(struct sup *s)
{
	struct seccomp_notif_sizes sz;

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
		return -errno;
	/* The kernel's structures may be larger than ours: use its sizes. */
	s->req_size = sz.seccomp_notif > sizeof(*s->req) ? sz.seccomp_notif
							 : sizeof(*s->req);
	s->resp_size = sz.seccomp_notif_resp > sizeof(*s->resp)
			       ? sz.seccomp_notif_resp
			       : sizeof(*s->resp);
	s->req = calloc(1, s->req_size);
	s->resp = calloc(1, s->resp_size);
	return s->req && s->resp ? 0 : -ENOMEM;
}

static int open_log(const struct s5_config *c)
{
	int fd;

	if (!c->log_file || !*c->log_file)
		return STDERR_FILENO;
	fd = open(c->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		  0600);
	return fd < 0 ? STDERR_FILENO : fd;
}

static ssize_t log_write(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len);
}

/* The program has the terminal and the pipes now: our copies of stdin and
 * stdout would keep a pipe open after the program closed its end. stderr
 * stays, for log lines. */
static void quiet_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	(void)dup2(fd, STDIN_FILENO);
	(void)dup2(fd, STDOUT_FILENO);
	if (fd > STDOUT_FILENO)
		close(fd);
}

/* Each handshake in progress holds a copy of a program's socket: as many
 * descriptors as the hard limit allows, for us only (after the fork). */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Everything before the fork. Returns 0 or 125 after a message. */
static int prepare(struct sup *s, const char *path, const struct s5_config *c,
		   sigset_t *mask)
{
	int r;
	size_t i;

	if (!s5s_built()) {
		prefix(path);
		fprintf(stderr, "this build of socks5wrap has no supervisor "
				"for this architecture; --no-supervise runs "
				"it without\n");
		return EXIT_OWN;
	}
	s5log_setup(c->log_level, open_log(c), log_write);
	r = notif_buffers(s);
	if (r == 0)
		r = s5_pool_create_shared(&s->pool, &s->pool_fd, &c->fake4,
					  &c->fake6, S5_POOL_DEFAULT_CAPACITY,
					  S5_POOL_DEFAULT_GRACE_S);
	/* The tree's table, for the preload of its programs: they inherit
	 * the descriptor, or open it again through /proc/<our pid>/fd
	 * (src/preload/tree.c). */
	if (r == 0) {
		s->pool_fd = s5_table_hold(s->pool_fd, s5_high_fd_base());
		if (s->pool_fd >= 0) {
			uint8_t id[S5_POOL_ID_LEN];

			s5_pool_id(s->pool, id);
			r = s5_table_env_set(id, s->pool_fd);
		}
		else
			unsetenv(S5_TABLE_ENV);
	}
	if (r == 0)
		r = s5s_peers_init(&s->peers);
	if (r == 0)
		r = s5s_dns_init(s);
	if (r < 0) {
		if (r == -ENOSYS || r == -EINVAL)
			explain(path, -r);
		else
			fprintf(stderr, "socks5wrap: supervisor: %s\n",
				strerror(-r));
		return EXIT_OWN;
	}
	/* Orphans of the program's tree become ours: we can still read their
	 * memory where ptrace is limited to descendants, and we know when
	 * the last one is gone. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	sigemptyset(mask);
	sigaddset(mask, SIGCHLD);
	for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(mask, forwarded[i]);
	return 0;
}

int s5s_run(const char *path, char **argv, const struct s5_config *c)
{
	struct sup s;
	sigset_t mask, old;
	int status = EXIT_OWN;

	memset(&s, 0, sizeof(s));
	s.cfg = c;
	s.listener = s.sigfd = s.dns.fd4 = s.dns.fd6 = s.pool_fd = -1;
	for (size_t i = 0; i < S5S_FWD_MAX; i++)
		s.dns.fwd[i].fd = -1;
	if (prepare(&s, path, c, &mask) != 0)
		goto out;
	/* Blocked before the fork, so no SIGCHLD is missed; the child gets
	 * the old mask back before it execs. */
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0 ||
	    (s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fprintf(stderr, "socks5wrap: supervisor: signalfd: %s\n",
			strerror(errno));
		goto out;
	}
	if (spawn(&s, path, argv, &old) < 0)
		goto out;
	quiet_stdio();
	raise_nofile();
	/* Our sends say MSG_NOSIGNAL; this is for any that does not. Set
	 * after the fork: an ignored signal would stay ignored across the
	 * program's exec. */
	signal(SIGPIPE, SIG_IGN);
	status = s5s_loop(&s);
out:
	if (s.listener >= 0)
		close(s.listener);
	if (s.sigfd >= 0)
		close(s.sigfd);
	s5s_dns_free(&s.dns);
	s5s_peers_free(&s.peers);
	if (s.pool)
		s5_pool_destroy(s.pool);
	if (s.pool_fd >= 0)
		close(s.pool_fd);
	free(s.req);
	free(s.resp);
	free(s.ops);
	return status;
}
