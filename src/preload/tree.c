/* The process tree's name table: found, or made, at start-up.
 *
 * Every process of one tree (one socks5wrap run, or one program started
 * with LD_PRELOAD and all it starts) maps the same table, a memfd
 * (src/dns/pool.c), so that a name resolved anywhere in the tree connects
 * from anywhere in it. Each process holds it by an O_PATH descriptor
 * without close-on-exec (s5_table_hold) among the library's own
 * descriptors (kind_internal.h: a high number, which the program's loops
 * that close every descriptor leave open): a program it execs inherits
 * that, and opens the table again through /proc/self/fd. The memfd is 0600, so a program of
 * another user that inherits the descriptor (a setuid one that changes
 * user) can open nothing through it, and /proc/PID/fd of our processes
 * is closed to other users anyway. A program that closed its descriptors
 * (a daemon), or whose parent's were closed before the exec, looks
 * elsewhere. In order:
 *
 *   1. the descriptor SOCKS5WRAP_TABLE names, in this process;
 *   2. that number in the parent, in the process the variable names, then
 *      in the parent's ancestors;
 *   3. every descriptor of the parent and of that process, in case one
 *      was moved.
 * When the variable is gone (a program that cleared its environment, or
 * one started with LD_PRELOAD alone), only the number where the library
 * keeps its descriptors (s5_high_fd_base), in this process and then in
 * the parent.
 *
 * A descriptor is opened only when /proc shows it is one of our memfds,
 * and kept only when it is a table of this layout, for the configured
 * fake ranges, and, when the variable names one, of that id. A process
 * that finds none when the variable named one has lost its way to the
 * tree's table (every holder exited or closed it, or /proc is not there):
 * it says so, once, and makes a table of its own, so that only names
 * resolved from then on connect; addresses the tree handed out before are
 * refused, as for any fake address that no name maps to. A process that
 * finds none and had no variable is the root of a new tree: it makes the
 * table and sets the variable for the programs it starts.
 *
 * Forked children need none of this: they share their parent's mapping
 * and inherit its descriptor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "hook.h"
#include "kind_internal.h"
#include "names.h"
#include "s5_dns.h"
#include "s5_log.h"

/* How far up the tree the search goes. */
#define ANCESTORS_MAX 16
#define MEMFD_LINK "/memfd:socks5wrap-names"

static int attach(int fd, const uint8_t *id, struct s5_pool **out)
{
	return s5_pool_attach(out, fd, &s5_cfg.fake4, &s5_cfg.fake6, id);
}

/* Whether /proc/PID/fd/FD is one of our memfds: looked at before it is
 * opened, as opening some files has effects (a tape rewinds on close). */
static bool is_table_link(const char *path)
{
	char link[sizeof(MEMFD_LINK) + 16];
	ssize_t n = readlink(path, link, sizeof(link) - 1);

	if (n < 0)
		return false;
	link[n] = '\0';
	return strncmp(link, MEMFD_LINK, strlen(MEMFD_LINK)) == 0;
}

/* Whether our descriptor fd may be a table: a file with no name (a
 * memfd), which fstat tells without /proc. */
static bool maybe_table(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 0;
}

/* Maps /proc/PID/fd/FD if it is the table asked for. Returns the open
 * descriptor (close-on-exec), or -1. */
static int try_proc(pid_t pid, int fd, const uint8_t *id,
		    struct s5_pool **out)
{
	char path[64];
	int t;

	if (pid <= 1 || fd < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	/* Our own descriptor is looked at with fstat, which needs no /proc
	 * lookup (each costs tens of microseconds of start-up): opening a
	 * regular file without a name has no effect. */
	if (pid == getpid() ? !maybe_table(fd) : !is_table_link(path))
		return -1;
	t = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (t < 0)
		return -1;
	if (attach(t, id, out) < 0) {
		close(t);
		return -1;
	}
	return t;
}

/* The parent of pid, from /proc/PID/stat: "PID (COMM) STATE PPID ...",
 * where COMM may hold anything, so the fields are read after its last
 * ')'. 0 when unknown. */
static pid_t parent_of(pid_t pid)
{
	char path[32], buf[512], *p;
	ssize_t n;
	long ppid;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %ld", &ppid) != 1 || ppid < 0)
		return 0;
	return (pid_t)ppid;
}

/* Every descriptor of pid that is one of our memfds; *num gets the
 * number of the one that was it. */
static int scan(pid_t pid, const uint8_t *id, struct s5_pool **out,
		int *num)
{
	char path[32];
	struct dirent *e;
	DIR *d;
	int t = -1;

	if (pid <= 1)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while (t < 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		*num = atoi(e->d_name);
		t = try_proc(pid, *num, id, out);
	}
	closedir(d);
	return t;
}

static void env_set(const struct s5_pool *p, int fd)
{
	uint8_t id[S5_POOL_ID_LEN];

	s5_pool_id(p, id);
	s5_table_env_set(id, fd);
}

/* Holds the table (s5_table_hold) among the library's own descriptors,
 * which the program's closing loops leave open and a dup2 onto moves
 * (kind_internal.h). Returns the descriptor or -1. */
static int hold(int fd)
{
	int held = s5_table_hold(fd, s5_internal_base());

	if (held >= 0)
		s5_internal_keep(held);
	return held;
}

/* Looks for the table in the order above. Returns an open descriptor of
 * it, with *held set to the number of our own inherited one when it was
 * that (else -1). */
static int find(const struct s5_table_ref *ref, struct s5_pool **out,
		int *held)
{
	pid_t self = getpid(), parent = getppid(), up = parent;
	int i, t, num;

	*held = -1;
	if (!ref) {
		/* Where the library keeps it: a program that cleared its
		 * environment and then execd this one in its place left us
		 * its descriptor, or our parent holds it. Only that number:
		 * this is also the way of every program started with
		 * LD_PRELOAD alone, whose start-up it must not slow down. */
		num = s5_high_fd_base();
		t = try_proc(self, num, NULL, out);
		if (t >= 0) {
			*held = num;
			return t;
		}
		return try_proc(parent, num, NULL, out);
	}
	t = try_proc(self, ref->fd, ref->id, out);
	if (t >= 0) {
		*held = ref->fd;
		return t;
	}
	t = try_proc(parent, ref->fd, ref->id, out);
	if (t < 0 && ref->pid != parent && ref->pid != self)
		t = try_proc(ref->pid, ref->fd, ref->id, out);
	for (i = 0; t < 0 && i < ANCESTORS_MAX && up > 1; i++) {
		up = parent_of(up);
		if (up != ref->pid)
			t = try_proc(up, ref->fd, ref->id, out);
	}
	if (t < 0)
		t = scan(parent, ref->id, out, &num);
	if (t < 0 && ref->pid != parent && ref->pid != self)
		t = scan(ref->pid, ref->id, out, &num);
	return t;
}

struct s5_pool *s5_tree_table(void)
{
	const char *v = secure_getenv(S5_TABLE_ENV);
	struct s5_table_ref ref;
	bool named = v && s5_table_ref_parse(v, &ref) == 0;
	struct s5_pool *p = NULL;
	int fd, held;

	if (v && *v && !named)
		s5log_msg(S5LOG_WARN, S5_TABLE_ENV,
			  ": not a table reference; this program starts a "
			  "table of its own",
			  NULL);
	fd = find(named ? &ref : NULL, &p, &held);
	if (fd >= 0) {
		if (held >= 0) {
			close(fd);
			s5_internal_keep(held);
			if (!named)
				env_set(p, held);
			return p;
		}
		fd = hold(fd);
		if (!named && fd >= 0)
			env_set(p, fd);
		return p;
	}
	if (named)
		s5log_msg(S5LOG_WARN,
			  "the process tree's name table is out of reach "
			  "(its holders exited, or /proc is missing); host "
			  "names resolved before this program started will "
			  "not connect from it",
			  NULL);
	if (s5_pool_create_shared(&p, &fd, &s5_cfg.fake4, &s5_cfg.fake6,
				  S5_POOL_DEFAULT_CAPACITY,
				  S5_POOL_DEFAULT_GRACE_S) < 0) {
		/* No memfd (an old kernel, a seccomp policy): a table for
		 * this process and its forks only. */
		if (s5_pool_create(&p, &s5_cfg.fake4, &s5_cfg.fake6,
				   S5_POOL_DEFAULT_CAPACITY,
				   S5_POOL_DEFAULT_GRACE_S) < 0)
			return NULL;
		return p;
	}
	fd = hold(fd);
	if (fd >= 0)
		env_set(p, fd);
	else
		unsetenv(S5_TABLE_ENV);
	return p;
}
