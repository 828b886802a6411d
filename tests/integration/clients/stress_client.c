/* Stress clients for test_stress.py; each prints one JSON object and exits
 * 0 when it got that far (a crash or hang is the test's finding).
 *
 *   stress_client threads ADDR PORT N
 *       N threads wait at a barrier, connect to ADDR:PORT (the TCP echo),
 *       echo one line, wait until every thread got that far (all N
 *       connections open at once), close. Descriptors counted in
 *       /proc/self/fd before, at the peak and after.
 *   stress_client udp-threads ADDR PORT N
 *       N threads, one UDP socket each, associate at the same moment
 *       (after a barrier) and echo one datagram; descriptors counted.
 *   stress_client fork NAME PORT CHILDREN NAME2
 *       Resolves NAME, then forks CHILDREN children in a loop while 4
 *       threads resolve NAME (and throwaway names) and echo through it.
 *       Each child echoes to NAME's fake address by number, resolves
 *       NAME2 (new to the parent) and echoes by it, resolves a name of
 *       its own (no connect), reports on a pipe and exits 0.
 *   stress_client signals ADDR PORT N N_UDP
 *       SIGALRM handler without SA_RESTART, 1 ms interval timer; N
 *       connects (each then echoes, retrying its own EINTR), then N_UDP
 *       UDP sockets that each associate on their first sendto and echo
 *       (recvfrom retries its own EINTR; sendto gets none). Signals
 *       handled while each connect() ran are counted: in all, and the
 *       fewest any single connect saw.
 *   stress_client pressure ADDR PORT LIMIT
 *       RLIMIT_NOFILE soft limit LIMIT; open /dev/null until EMFILE, free
 *       two; TCP socket + connect + echo; UDP socket + sendto (the last
 *       descriptor: the association has none left; counted just before
 *       the send); close the TCP socket; sendto again + recvfrom.
 *   stress_client names NAME LIMIT
 *       RLIMIT_NOFILE soft limit LIMIT; open /dev/null until EMFILE;
 *       getaddrinfo(NAME); close them all; getaddrinfo(NAME) again.
 *   stress_client proxyname ADDR PORT LIMIT
 *       RLIMIT_NOFILE soft limit LIMIT; open /dev/null until EMFILE,
 *       free one; socket + connect (the library looks up the proxy's
 *       name now: no descriptor for that); close them all; connect +
 *       echo again.
 *   stress_client daemon ADDR PORT close_range|loop
 *       Two UDP sockets echo once (two associations); the second is
 *       dup2'd to descriptor 0. Then close_range(3, ~0U, 0) or close(3)
 *       ... close(1023), like a daemon. Echo on descriptor 0; a new UDP
 *       socket echoes twice. Descriptor lists before and after (run it
 *       with `ulimit -n 1024`: the library's own descriptors then sit
 *       at 960 and up, inside the range the loop closes).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_util.h"

#define IO_TIMEOUT_S 10

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- descriptors -------------------------------------------------------- */

static int count_fds(void)
{
	return list_fds(NULL, 0);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void print_fd_list(const char *key, int *fds, int n)
{
	int i;

	qsort(fds, (size_t)n, sizeof(int), cmp_int);
	printf("\"%s\": [", key);
	for (i = 0; i < n; i++)
		printf("%s%d", i ? ", " : "", fds[i]);
	printf("]");
}

/* ---- addresses and I/O -------------------------------------------------- */

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((unsigned short)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*a6);
		return 0;
	}
	return -1;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Sends msg and reads it back; 0 or an errno (EPROTO: wrong bytes or EOF).
 * The program's own EINTR (its signals) is retried here. */
static int echo(int fd, const char *msg)
{
	size_t len = strlen(msg), done = 0;
	char buf[256];
	int i;

	set_timeouts(fd);
	for (i = 0; i < 100000 && done < len; i++) {
		ssize_t n = write(fd, msg + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		done += (size_t)n;
	}
	done = 0;
	for (i = 0; i < 100000 && done < len; i++) {
		ssize_t n = read(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EPROTO;
		done += (size_t)n;
	}
	if (done != len || memcmp(buf, msg, len) != 0)
		return EPROTO;
	return 0;
}

/* connect to host:port (numeric) and echo; 0 or errno. *fdp keeps the fd
 * open when keep is set. */
static int connect_echo_ss(const struct sockaddr *sa, socklen_t len,
			   const char *msg, int *fdp)
{
	int fd = socket(sa->sa_family, SOCK_STREAM, 0), r;

	if (fd < 0)
		return errno;
	r = connect(fd, sa, len) == 0 ? 0 : errno;
	if (r == 0)
		r = echo(fd, msg);
	if (fdp && r == 0)
		*fdp = fd;
	else
		close(fd);
	return r;
}

static int resolve4(const char *name, int port, struct sockaddr_in *out)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char portstr[16];
	int r;

	snprintf(portstr, sizeof(portstr), "%d", port);
	r = getaddrinfo(name, portstr, &hints, &res);
	if (r != 0)
		return r;
	memcpy(out, res->ai_addr, sizeof(*out));
	freeaddrinfo(res);
	return 0;
}

static const char *ntop4(const struct sockaddr_in *a, char *buf)
{
	return inet_ntop(AF_INET, &a->sin_addr, buf, INET_ADDRSTRLEN);
}

/* ---- a barrier with a deadline ------------------------------------------ */

struct tbarrier {
	pthread_mutex_t m;
	pthread_cond_t c;
	int need, have;
};

static void tb_init(struct tbarrier *b, int n)
{
	pthread_mutex_init(&b->m, NULL);
	pthread_cond_init(&b->c, NULL);
	b->need = n;
	b->have = 0;
}

/* 1 for the last thread to arrive, 0 for the others, -1 on timeout. */
static int tb_wait(struct tbarrier *b, int seconds)
{
	struct timespec dl;
	int r = 0, last = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += seconds;
	pthread_mutex_lock(&b->m);
	if (++b->have >= b->need) {
		last = 1;
		pthread_cond_broadcast(&b->c);
	}
	while (b->have < b->need && r == 0)
		r = pthread_cond_timedwait(&b->c, &b->m, &dl);
	pthread_mutex_unlock(&b->m);
	if (b->have < b->need)
		return -1;
	return last;
}

/* ---- threads ------------------------------------------------------------ */

struct th_shared {
	struct sockaddr_storage dst;
	socklen_t dst_len;
	struct tbarrier start, hold;
	atomic_int peak_fds;
};

struct th_arg {
	struct th_shared *sh;
	int i;
	int result;
	double ms;
	int barrier_timeout;
};

static void *th_main(void *p)
{
	struct th_arg *a = p;
	struct th_shared *sh = a->sh;
	char msg[64];
	double t0;
	int fd = -1, last;

	snprintf(msg, sizeof(msg), "thread %d says hi\n", a->i);
	if (tb_wait(&sh->start, 60) < 0)
		a->barrier_timeout = 1;
	t0 = now_ms();
	a->result = connect_echo_ss((struct sockaddr *)&sh->dst, sh->dst_len,
				    msg, &fd);
	a->ms = now_ms() - t0;
	last = tb_wait(&sh->hold, 60);
	if (last < 0)
		a->barrier_timeout = 1;
	if (last == 1)
		atomic_store(&sh->peak_fds, count_fds());
	/* Nobody closes before the peak was counted. */
	for (int i = 0; i < 6000 && atomic_load(&sh->peak_fds) == 0; i++)
		usleep(1000);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
			      ? want
			      : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int mode_threads(const char *host, int port, int n)
{
	static struct th_shared sh;
	struct th_arg *args = calloc((size_t)n, sizeof(*args));
	pthread_t *tids = calloc((size_t)n, sizeof(*tids));
	pthread_attr_t attr;
	int i, ok = 0, fd_before, fd_after, started = 0, btimeouts = 0;
	int errs[256] = { 0 };
	double t0, maxms = 0;

	if (!args || !tids || parse_addr(host, port, &sh.dst, &sh.dst_len)) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	raise_nofile((rlim_t)n * 2 + 256);
	tb_init(&sh.start, n);
	tb_init(&sh.hold, n);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	fd_before = count_fds();
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		args[i].sh = &sh;
		args[i].i = i;
		args[i].result = -1;
		if (pthread_create(&tids[i], &attr, th_main, &args[i]) != 0)
			break;
		started++;
	}
	if (started < n) {
		/* The barrier can never fill: the threads time out there. */
		fprintf(stderr, "only %d threads started\n", started);
	}
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	fd_after = count_fds();
	printf("{\"threads\": %d, \"started\": %d, ", n, started);
	for (i = 0; i < started; i++) {
		if (args[i].result == 0)
			ok++;
		else if (args[i].result > 0 && args[i].result < 256)
			errs[args[i].result]++;
		if (args[i].ms > maxms)
			maxms = args[i].ms;
		btimeouts += args[i].barrier_timeout;
	}
	printf("\"ok\": %d, \"errors\": {", ok);
	for (i = 0, started = 0; i < 256; i++)
		if (errs[i])
			printf("%s\"%s\": %d", started++ ? ", " : "", ename(i),
			       errs[i]);
	printf("}, \"barrier_timeouts\": %d, \"fd_before\": %d, "
	       "\"fd_peak\": %d, \"fd_after\": %d, \"max_connect_ms\": %.1f, "
	       "\"elapsed_ms\": %.1f}\n",
	       btimeouts, fd_before, atomic_load(&sh.peak_fds), fd_after, maxms,
	       now_ms() - t0);
	return 0;
}

/* UDP: N threads, each with its own socket, associate at the same moment
 * (after a barrier) and echo one datagram. */
struct ut_arg {
	struct th_shared *sh;
	int i, result, reply;
	double ms;
};

static int udp_echo(int u, const struct sockaddr *sa, socklen_t len,
		    const char *msg, int *got_reply);

static void *ut_main(void *p)
{
	struct ut_arg *a = p;
	char msg[64];
	double t0;
	int u;

	snprintf(msg, sizeof(msg), "udp thread %d\n", a->i);
	tb_wait(&a->sh->start, 30);
	t0 = now_ms();
	u = socket(a->sh->dst.ss_family, SOCK_DGRAM, 0);
	a->result = u < 0 ? errno
			  : udp_echo(u, (struct sockaddr *)&a->sh->dst,
				     a->sh->dst_len, msg, &a->reply);
	a->ms = now_ms() - t0;
	tb_wait(&a->sh->hold, 30);
	if (u >= 0)
		close(u);
	return NULL;
}

static int mode_udp_threads(const char *host, int port, int n)
{
	static struct th_shared sh;
	struct ut_arg *args = calloc((size_t)n, sizeof(*args));
	pthread_t *tids = calloc((size_t)n, sizeof(*tids));
	int i, ok = 0, started = 0, fd_before, fd_after, first = 1;
	double maxms = 0;

	if (!args || !tids || parse_addr(host, port, &sh.dst, &sh.dst_len))
		return 2;
	raise_nofile((rlim_t)n * 3 + 256);
	tb_init(&sh.start, n);
	tb_init(&sh.hold, n);
	fd_before = count_fds();
	for (i = 0; i < n; i++) {
		args[i].sh = &sh;
		args[i].i = i;
		args[i].result = -1;
		if (pthread_create(&tids[i], NULL, ut_main, &args[i]) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	fd_after = count_fds();
	printf("{\"threads\": %d, \"started\": %d, \"failures\": [", n,
	       started);
	for (i = 0; i < started; i++) {
		if (args[i].result == 0 && args[i].reply)
			ok++;
		else {
			printf("%s\"%d %s\"", first ? "" : ", ", i,
			       ename(args[i].result));
			first = 0;
		}
		if (args[i].ms > maxms)
			maxms = args[i].ms;
	}
	printf("], \"ok\": %d, \"max_ms\": %.1f, \"fd_before\": %d, "
	       "\"fd_after\": %d}\n", ok, maxms, fd_before, fd_after);
	return 0;
}

/* ---- fork storm --------------------------------------------------------- */

struct fk_shared {
	const char *name;
	int port;
	struct sockaddr_in a;   /* NAME's fake address, resolved pre-fork */
	atomic_int stop;
	atomic_int iters, fails, mismatches;
};

static void *fk_thread(void *p)
{
	struct fk_shared *sh = p;
	static atomic_int seq;
	int k = atomic_fetch_add(&seq, 1), i;
	char msg[64], other[64];

	for (i = 0; i < 5000 && !atomic_load(&sh->stop); i++) {
		struct sockaddr_in a, b;
		int r;

		snprintf(msg, sizeof(msg), "thread %d iteration %d\n", k, i);
		snprintf(other, sizeof(other), "thr%d-%d.nx.test", k, i);
		r = resolve4(sh->name, sh->port, &a);
		if (r == 0 && a.sin_addr.s_addr != sh->a.sin_addr.s_addr)
			atomic_fetch_add(&sh->mismatches, 1);
		if (r == 0)
			r = connect_echo_ss((struct sockaddr *)&a, sizeof(a),
					    msg, NULL);
		/* A throwaway name: the pool changes while others fork. */
		if (resolve4(other, sh->port, &b) != 0)
			r = r ? r : -1;
		if (r)
			atomic_fetch_add(&sh->fails, 1);
		atomic_fetch_add(&sh->iters, 1);
	}
	return NULL;
}

/* The child's work; its exit status says what failed (0: all good). */
static int fk_child(struct fk_shared *sh, int i, const char *name2, int wfd)
{
	struct sockaddr_in b, own;
	char msg[64], own_name[64], line[256], ab[INET_ADDRSTRLEN],
		ob[INET_ADDRSTRLEN];
	int ra, rb = -1, ro, status = 0;

	alarm(20);
	snprintf(msg, sizeof(msg), "child %d by number\n", i);
	ra = connect_echo_ss((struct sockaddr *)&sh->a, sizeof(sh->a), msg,
			     NULL);
	if (ra)
		status |= 1;
	memset(&b, 0, sizeof(b));
	if (resolve4(name2, sh->port, &b) != 0) {
		status |= 2;
	} else {
		snprintf(msg, sizeof(msg), "child %d by new name\n", i);
		rb = connect_echo_ss((struct sockaddr *)&b, sizeof(b), msg,
				     NULL);
		if (rb)
			status |= 4;
	}
	snprintf(own_name, sizeof(own_name), "child%d.nx.test", i);
	memset(&own, 0, sizeof(own));
	ro = resolve4(own_name, sh->port, &own);
	if (ro)
		status |= 8;
	snprintf(line, sizeof(line), "%d %s %s %s %s %s\n", i, ename(ra),
		 rb < 0 ? "noname" : ename(rb), ntop4(&b, ab),
		 ro ? "noname" : "ok", ntop4(&own, ob));
	if (write(wfd, line, strlen(line)) < 0)
		status |= 16;
	return status;
}

static int mode_fork(const char *name, int port, int children,
		     const char *name2)
{
	static struct fk_shared sh;
	pthread_t tids[4];
	pid_t *pids = calloc((size_t)children, sizeof(pid_t));
	int *status = calloc((size_t)children, sizeof(int));
	int pfd[2], i, ok = 0, hung = 0, forkfail = 0, n, r;
	char ab[INET_ADDRSTRLEN], pb[INET_ADDRSTRLEN];
	struct sockaddr_in parent_b;
	static char buf[65536];
	size_t got = 0;
	double deadline;

	if (!pids || !status || pipe(pfd) != 0)
		return 2;
	sh.name = name;
	sh.port = port;
	r = resolve4(name, port, &sh.a);
	if (r != 0) {
		printf("{\"error\": \"resolve %s: %d\"}\n", name, r);
		return 0;
	}
	fflush(stdout);
	for (i = 0; i < 4; i++)
		pthread_create(&tids[i], NULL, fk_thread, &sh);
	for (i = 0; i < children; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(pfd[0]);
			exit(fk_child(&sh, i, name2, pfd[1]));
		}
		if (pids[i] < 0)
			forkfail++;
		usleep(2000);
	}
	close(pfd[1]);
	deadline = now_ms() + 30000;
	for (n = 0; n < children && now_ms() < deadline;) {
		pid_t p = waitpid(-1, &r, WNOHANG);

		if (p <= 0) {
			usleep(5000);
			continue;
		}
		for (i = 0; i < children; i++)
			if (pids[i] == p) {
				status[i] = r;
				pids[i] = -2;
				n++;
			}
	}
	for (i = 0; i < children; i++) {
		if (pids[i] > 0) {
			/* Our own child, by pid: it hung. */
			kill(pids[i], SIGKILL);
			waitpid(pids[i], &status[i], 0);
			hung++;
		}
	}
	atomic_store(&sh.stop, 1);
	for (i = 0; i < 4; i++)
		pthread_join(tids[i], NULL);
	for (;;) {
		ssize_t k = read(pfd[0], buf + got, sizeof(buf) - 1 - got);

		if (k <= 0)
			break;
		got += (size_t)k;
	}
	buf[got] = 0;
	memset(&parent_b, 0, sizeof(parent_b));
	r = resolve4(name2, port, &parent_b);
	printf("{\"children\": %d, \"fork_failures\": %d, \"hung\": %d, "
	       "\"statuses\": [", children, forkfail, hung);
	for (i = 0; i < children; i++) {
		int v = WIFEXITED(status[i]) ? WEXITSTATUS(status[i])
					     : 1000 + WTERMSIG(status[i]);
		if (v == 0)
			ok++;
		printf("%s%d", i ? ", " : "", v);
	}
	printf("], \"exit_ok\": %d, \"thread_iters\": %d, "
	       "\"thread_failures\": %d, \"thread_mismatches\": %d, "
	       "\"addr\": \"%s\", \"parent_name2\": \"%s\", \"reports\": [",
	       ok, atomic_load(&sh.iters), atomic_load(&sh.fails),
	       atomic_load(&sh.mismatches), ntop4(&sh.a, ab),
	       r ? "" : ntop4(&parent_b, pb));
	{
		char *save = NULL, *line = strtok_r(buf, "\n", &save);
		int first = 1;

		for (; line; line = strtok_r(NULL, "\n", &save)) {
			printf("%s\"%s\"", first ? "" : ", ", line);
			first = 0;
		}
	}
	printf("]}\n");
	return 0;
}

/* ---- signals ------------------------------------------------------------ */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static int udp_echo(int u, const struct sockaddr *sa, socklen_t len,
		    const char *msg, int *got_reply);

static int mode_signals(const char *host, int port, int n, int n_udp)
{
	struct sockaddr_storage dst;
	socklen_t len;
	struct sigaction sa;
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	int i, ok = 0, first = 1, echo_fail = 0;
	double maxms = 0;
	long during = 0, fewest = -1;
	char msg[64];

	if (parse_addr(host, port, &dst, &len))
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0;  /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	printf("{\"connects\": %d, \"failures\": [", n);
	for (i = 0; i < n; i++) {
		int fd = socket(dst.ss_family, SOCK_STREAM, 0), r, e = 0;
		long a0 = alarms;
		double t0 = now_ms(), ms;

		if (fd < 0) {
			printf("%s\"socket %s\"", first ? "" : ", ",
			       ename(errno));
			first = 0;
			continue;
		}
		r = connect(fd, (struct sockaddr *)&dst, len);
		if (r < 0)
			e = errno;
		ms = now_ms() - t0;
		during += alarms - a0;
		if (fewest < 0 || alarms - a0 < fewest)
			fewest = alarms - a0;
		if (ms > maxms)
			maxms = ms;
		if (r == 0) {
			snprintf(msg, sizeof(msg), "connect %d under signals\n",
				 i);
			e = echo(fd, msg);
			if (e) {
				echo_fail++;
				printf("%s\"%d echo %s\"", first ? "" : ", ",
				       i, ename(e));
				first = 0;
			} else {
				ok++;
			}
		} else {
			printf("%s\"%d connect %s after %.1f ms\"",
			       first ? "" : ", ", i, ename(e), ms);
			first = 0;
		}
		close(fd);
	}
	printf("], \"ok\": %d, \"echo_failures\": %d, \"max_connect_ms\": %.1f, "
	       "\"alarms_during_connect\": %ld, "
	       "\"fewest_alarms_in_a_connect\": %ld, \"udp_failures\": [",
	       ok, echo_fail, maxms, during, fewest);
	/* UDP: each socket's first sendto makes the association under the
	 * same timer. */
	first = 1;
	ok = 0;
	during = 0;
	maxms = 0;
	for (i = 0; i < n_udp; i++) {
		int u = socket(dst.ss_family, SOCK_DGRAM, 0), e, rep = 0;
		long a0 = alarms;
		double t0 = now_ms(), ms;

		snprintf(msg, sizeof(msg), "datagram %d under signals\n", i);
		e = u < 0 ? errno : udp_echo(u, (struct sockaddr *)&dst, len,
					     msg, &rep);
		ms = now_ms() - t0;
		during += alarms - a0;
		if (ms > maxms)
			maxms = ms;
		if (e == 0 && rep)
			ok++;
		else {
			printf("%s\"%d %s after %.1f ms\"", first ? "" : ", ", i,
			       ename(e), ms);
			first = 0;
		}
		if (u >= 0)
			close(u);
	}
	it.it_value.tv_usec = 0;
	it.it_interval.tv_usec = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	printf("], \"udp_ok\": %d, \"udp_max_ms\": %.1f, "
	       "\"alarms_during_udp\": %ld, \"alarms\": %ld}\n",
	       ok, maxms, during, (long)alarms);
	return 0;
}

/* ---- descriptor pressure ------------------------------------------------ */

/* How many descriptors could still be opened (dups of any_fd, a plain
 * file, until EMFILE), or -1 for another error. All are closed again. */
static int free_fds(int any_fd, int max)
{
	int *got = calloc((size_t)max + 1, sizeof(int));
	int n = 0, e, i;

	if (!got)
		return -1;
	while (n <= max && (got[n] = dup(any_fd)) >= 0)
		n++;
	e = errno;
	for (i = 0; i < n && i <= max; i++)
		close(got[i]);
	free(got);
	return n > max || e == EMFILE ? n : -1;
}

static int udp_echo(int u, const struct sockaddr *sa, socklen_t len,
		    const char *msg, int *got_reply)
{
	char buf[512];
	ssize_t n;
	int i;

	*got_reply = 0;
	if (sendto(u, msg, strlen(msg), 0, sa, len) < 0)
		return errno;
	set_timeouts(u);
	for (i = 0; i < 1000; i++) {
		n = recvfrom(u, buf, sizeof(buf) - 1, 0, NULL, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		buf[n] = 0;
		/* The target may put "from ADDR PORT\n" in front. */
		if ((size_t)n >= strlen(msg) &&
		    strcmp(buf + n - strlen(msg), msg) == 0) {
			*got_reply = 1;
			return 0;
		}
	}
	return EPROTO;
}

static int mode_pressure(const char *host, int port, int limit)
{
	struct sockaddr_storage dst;
	socklen_t len;
	struct rlimit rl;
	int *nul = calloc((size_t)limit + 8, sizeof(int));
	int n = 0, s, u, r_tcp, r_udp1, r_udp2, rep1 = 0, rep2 = 0, i,
	    fds_end, s_err = 0, u_err = 0, filled, free_at_send = -1;

	if (!nul || parse_addr(host, port, &dst, &len))
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 2;
	rl.rlim_cur = (rlim_t)limit;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("setrlimit");
		return 2;
	}
	for (n = 0; n < limit + 8; n++) {
		nul[n] = open("/dev/null", O_RDONLY);
		if (nul[n] < 0)
			break;
	}
	if (n < 3 || errno != EMFILE) {
		printf("{\"error\": \"could not fill the table: %d %s\"}\n", n,
		       ename(errno));
		return 0;
	}
	filled = n + 3; /* and stdin, stdout, stderr */
	/* Exactly two free descriptors. */
	close(nul[--n]);
	close(nul[--n]);
	s = socket(dst.ss_family, SOCK_STREAM, 0);
	if (s < 0)
		s_err = errno;
	r_tcp = s < 0 ? -1
		      : (connect(s, (struct sockaddr *)&dst, len) == 0 ? 0
								       : errno);
	if (r_tcp == 0)
		r_tcp = echo(s, "tcp under descriptor pressure\n");
	u = socket(dst.ss_family, SOCK_DGRAM, 0);
	if (u < 0)
		u_err = errno;
	/* No descriptor left for the control connection. */
	if (u >= 0)
		free_at_send = free_fds(nul[0], limit);
	r_udp1 = u < 0 ? -1
		       : udp_echo(u, (struct sockaddr *)&dst, len,
				  "udp with none left\n", &rep1);
	/* One free again: the association can be made now. */
	if (s >= 0)
		close(s);
	r_udp2 = u < 0 ? -1
		       : udp_echo(u, (struct sockaddr *)&dst, len,
				  "udp with one free\n", &rep2);
	if (u >= 0)
		close(u);
	for (i = 0; i < n; i++)
		close(nul[i]);
	fds_end = count_fds();
	printf("{\"limit\": %d, \"filled\": %d, \"tcp_socket\": \"%s\", "
	       "\"tcp\": \"%s\", \"udp_socket\": \"%s\", \"free_at_send\": %d, "
	       "\"udp_none_left\": \"%s\", \"udp_none_left_reply\": %d, "
	       "\"udp_one_free\": \"%s\", "
	       "\"udp_one_free_reply\": %d, \"fds_end\": %d}\n",
	       limit, filled, ename(s_err), r_tcp < 0 ? "nosocket" : ename(r_tcp),
	       ename(u_err), free_at_send,
	       r_udp1 < 0 ? "nosocket" : ename(r_udp1), rep1,
	       r_udp2 < 0 ? "nosocket" : ename(r_udp2), rep2, fds_end);
	return 0;
}

/* Resolves NAME with no descriptor free, then with all free again. */
static int mode_names(const char *name, int limit)
{
	struct rlimit rl;
	struct sockaddr_in a1, a2;
	int *nul = calloc((size_t)limit + 8, sizeof(int));
	int n, r1, r2, i;
	char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];

	if (!nul || getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 2;
	rl.rlim_cur = (rlim_t)limit;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 2;
	for (n = 0; n < limit + 8; n++) {
		nul[n] = open("/dev/null", O_RDONLY);
		if (nul[n] < 0)
			break;
	}
	memset(&a1, 0, sizeof(a1));
	memset(&a2, 0, sizeof(a2));
	r1 = resolve4(name, 80, &a1);
	for (i = 0; i < n; i++)
		close(nul[i]);
	r2 = resolve4(name, 80, &a2);
	printf("{\"none_free\": \"%s\", \"none_free_rc\": %d, "
	       "\"all_free\": \"%s\", \"all_free_rc\": %d}\n",
	       r1 ? "" : ntop4(&a1, b1), r1, r2 ? "" : ntop4(&a2, b2), r2);
	return 0;
}

/* The first connect of the process (which looks up the proxy's name)
 * with no descriptor free but the socket's; then one with all free. */
static int mode_proxyname(const char *host, int port, int limit)
{
	struct sockaddr_storage dst;
	socklen_t len;
	struct rlimit rl;
	int *nul = calloc((size_t)limit + 8, sizeof(int));
	int n, s, r1, r2, i;

	if (!nul || parse_addr(host, port, &dst, &len) ||
	    getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 2;
	rl.rlim_cur = (rlim_t)limit;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 2;
	for (n = 0; n < limit + 8; n++) {
		nul[n] = open("/dev/null", O_RDONLY);
		if (nul[n] < 0)
			break;
	}
	close(nul[--n]);
	s = socket(dst.ss_family, SOCK_STREAM, 0);
	r1 = s < 0 ? errno
		   : (connect(s, (struct sockaddr *)&dst, len) == 0 ? 0 : errno);
	if (s >= 0)
		close(s);
	for (i = 0; i < n; i++)
		close(nul[i]);
	r2 = connect_echo_ss((struct sockaddr *)&dst, len,
			     "after the table emptied\n", NULL);
	printf("{\"none_free\": \"%s\", \"all_free\": \"%s\"}\n",
	       ename(r1), ename(r2));
	return 0;
}

/* ---- daemon ------------------------------------------------------------- */

static int mode_daemon(const char *host, int port, const char *how)
{
	struct sockaddr_storage dst;
	socklen_t len;
	int u1, k, u2, r1, rk, rk2, r2, r3, rep1, repk, repk2, rep2, rep3;
	int cr = 0, u1_after, fd;
	int before[4096], after[4096], end[4096], nb, na, ne;

	if (parse_addr(host, port, &dst, &len))
		return 2;
	u1 = socket(dst.ss_family, SOCK_DGRAM, 0);
	r1 = udp_echo(u1, (struct sockaddr *)&dst, len, "u1 before\n", &rep1);
	k = socket(dst.ss_family, SOCK_DGRAM, 0);
	rk = udp_echo(k, (struct sockaddr *)&dst, len, "kept before\n", &repk);
	/* The socket the daemon keeps: moved to descriptor 0. */
	if (dup2(k, 0) != 0)
		return 2;
	nb = list_fds(before, 4096);
	if (strcmp(how, "close_range") == 0) {
		cr = close_range(3, ~0U, 0) == 0 ? 0 : errno;
	} else {
		for (fd = 3; fd < 1024; fd++)
			close(fd);
	}
	u1_after = fcntl(u1, F_GETFD) < 0 ? errno : 0;
	na = list_fds(after, 4096);
	rk2 = udp_echo(0, (struct sockaddr *)&dst, len, "kept after\n",
		       &repk2);
	u2 = socket(dst.ss_family, SOCK_DGRAM, 0);
	r2 = udp_echo(u2, (struct sockaddr *)&dst, len, "u2 after\n", &rep2);
	r3 = udp_echo(u2, (struct sockaddr *)&dst, len, "u2 again\n", &rep3);
	ne = list_fds(end, 4096);
	printf("{\"how\": \"%s\", \"u1\": %d, \"kept\": %d, "
	       "\"first\": \"%s\", \"first_reply\": %d, "
	       "\"kept_first\": \"%s\", \"kept_first_reply\": %d, "
	       "\"close_range\": \"%s\", \"u1_after\": \"%s\", "
	       "\"kept_after\": \"%s\", \"kept_after_reply\": %d, "
	       "\"u2\": %d, \"second\": \"%s\", \"second_reply\": %d, "
	       "\"third\": \"%s\", \"third_reply\": %d, ",
	       how, u1, k, ename(r1), rep1, ename(rk), repk, ename(cr),
	       ename(u1_after), ename(rk2), repk2, u2, ename(r2), rep2,
	       ename(r3), rep3);
	print_fd_list("fds_before", before, nb < 4096 ? nb : 4096);
	printf(", ");
	print_fd_list("fds_after", after, na < 4096 ? na : 4096);
	printf(", ");
	print_fd_list("fds_end", end, ne < 4096 ? ne : 4096);
	printf("}\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "threads") == 0)
		return mode_threads(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "udp-threads") == 0)
		return mode_udp_threads(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 6 && strcmp(argv[1], "fork") == 0)
		return mode_fork(argv[2], atoi(argv[3]), atoi(argv[4]),
				 argv[5]);
	if (argc == 6 && strcmp(argv[1], "signals") == 0)
		return mode_signals(argv[2], atoi(argv[3]), atoi(argv[4]),
				    atoi(argv[5]));
	if (argc == 5 && strcmp(argv[1], "pressure") == 0)
		return mode_pressure(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "proxyname") == 0)
		return mode_proxyname(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 4 && strcmp(argv[1], "names") == 0)
		return mode_names(argv[2], atoi(argv[3]));
	if (argc == 5 && strcmp(argv[1], "daemon") == 0)
		return mode_daemon(argv[2], atoi(argv[3]), argv[4]);
	fprintf(stderr, "usage: see the comment at the top of stress_client.c\n");
	return 2;
}
