/* A C client for test_supervise.py, built with `gcc -static`: the preload
 * library cannot reach it, only the launcher's seccomp supervisor can.
 * Every mode prints one JSON object per line on stdout and exits 0 when it
 * got that far, unless it says otherwise below.
 *
 *   supervise_client http HOST PORT
 *       Fetches / from the HTTP server at HOST:PORT. HOST is an address
 *       (connected by number) or a name (getaddrinfo, AF_UNSPEC, then each
 *       address in turn). Reports how, the address connected, connect's
 *       errno, getpeername and the answer.
 *   supervise_client signal HOST PORT restart|norestart [FIRST_MS]
 *       A SIGALRM handler (with or without SA_RESTART) and an interval
 *       timer (first after FIRST_MS, default 1, then every 1 ms), then a
 *       blocking connect to HOST:PORT (the TCP echo behind a slow proxy).
 *       A connect that fails with EINTR is finished the way programs do
 *       it: poll for POLLOUT (its revents are reported), then SO_ERROR.
 *       Then one line is echoed and compared byte for byte: bytes of the
 *       proxy's reply left for the program to read would show up here.
 *       SIGPIPE is ignored: a write on a dead socket reports EPIPE.
 *   supervise_client nonblocking HOST PORT
 *       connect on a non-blocking socket to HOST:PORT (an address: the
 *       TCP echo behind a slow proxy); on EINPROGRESS, poll for POLLOUT
 *       and read SO_ERROR, as event loops do; then one line is echoed and
 *       compared byte for byte (written at once when the socket says it
 *       is writable: a handshake still under way would get it).
 *   supervise_client fork-exec SELF HOST NAME PORT
 *       Forks; the child execs SELF http NAME PORT (a name); the parent
 *       then fetches from HOST:PORT itself (an address), waits for the
 *       child and reports its own fetch and the child's exit status. The
 *       child's line comes first.
 *   supervise_client resolve-exec NAME PORT PROG
 *       Resolves NAME (getaddrinfo, AF_INET) and execs PROG http ADDR
 *       PORT with the first address it got (another build of this
 *       program: the address is only good where the name table is the
 *       same). Reports the address first.
 *   supervise_client daemon HOST PORT
 *       Forks and exits 0 at once; the child, left behind like a daemon,
 *       waits 500 ms, fetches from HOST:PORT and exits 0.
 *   supervise_client own-listener HOST PORT
 *       Sets no_new_privs and installs a seccomp filter of its own with a
 *       user-notification listener (it would notify on acct(2), which the
 *       program never calls); reports what seccomp() said, then fetches
 *       from HOST:PORT.
 *   supervise_client exit HOST PORT N
 *       Fetches from HOST:PORT, then exits with status N.
 *   supervise_client term HOST PORT
 *       Fetches from HOST:PORT, then kills itself with SIGTERM.
 *   supervise_client tfo ADDR PORT
 *       Sends the GET with sendto(MSG_FASTOPEN) on a fresh TCP socket
 *       (TCP Fast Open: the connect hides in the first send) and reports
 *       what sendto said and the answer.
 *   supervise_client raw HOST PORT
 *       As http, but connect is the bare `syscall` instruction (on
 *       x86-64; syscall(2) elsewhere): no libc function, so no preload
 *       sees it, even in a dynamically linked build.
 *   supervise_client socketcall HOST PORT
 *       As http, but connect is syscall(SYS_socketcall, SYS_CONNECT, args),
 *       the one socket system call of 32-bit x86 ("ENOSYS" where the
 *       system has no socketcall).
 *   supervise_client udp ADDR PORT
 *       One datagram to ADDR:PORT (the UDP echo) each way a program can
 *       name a destination: sendto, sendmsg, sendmmsg (each on a fresh
 *       socket) and connect + send; each waits up to 1 s for the answer.
 *       Reports, per way, the send's errno name and the answer (null when
 *       none came).
 *   supervise_client flip ADDR PORT N
 *       N blocking connects, one after the other, to one sockaddr that a
 *       second thread keeps flipping between 127.0.0.1:PORT (loopback:
 *       direct) and ADDR:PORT (proxied), so that the address the
 *       supervisor checks may not be the one the kernel reads if it lets
 *       the call run. Reports how many connected and each errno's count.
 *   supervise_client foreign ADDR PORT [ABI]
 *       connect(2) to ADDR:PORT (an IPv4 address) through the other ABIs
 *       an x86-64 kernel may offer: the i386 system call (int $0x80, the
 *       address in memory below 4 GiB) and the x32 one (the x32 bit set
 *       on the number), each on a fresh socket; reports each errno name
 *       (i386 and x32 are "unsupported" on other machines). With ABI
 *       (i386 or x32) only that one is tried and reported: a kernel
 *       without IA32 emulation kills the process at int $0x80, before any
 *       filter sees the call, so the x32 call must be able to go alone.
 *   supervise_client stay HOST PORT
 *       Fetches from HOST:PORT and reports its parent's pid (ppid); then,
 *       for each line on stdin, fetches again ("addr": from HOST:PORT,
 *       "name NAME": from NAME:PORT) until stdin ends.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_util.h"

#define IO_TIMEOUT_MS 10000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int numeric(const char *host, const char *port,
		   struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	unsigned short p = (unsigned short)atoi(port);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(p);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(p);
		*len = sizeof(*a6);
		return 0;
	}
	return -1;
}

static const char req[] = "GET / HTTP/1.0\r\nHost: t\r\n\r\n";

/* Reads the answer to a request already sent and prints it. */
static void put_reply(int fd)
{
	put_reply_json(fd, IO_TIMEOUT_MS);
}

/* Sends a GET for / on a connected socket and prints the answer. */
static void put_answer(int fd)
{
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		printf(", \"write\": \"%s\"", ename(errno));
		return;
	}
	put_reply(fd);
}

static int use_raw; /* 1: raw, 2: socketcall */

/* SYS_CONNECT of linux/net.h: connect's number for socketcall(2). */
#define SOCKETCALL_CONNECT 3

/* connect(2) without libc's wrapper; 0 or an errno. */
static int raw_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	long r;

	if (use_raw == 2) {
#ifdef SYS_socketcall
		long args[3] = { fd, (long)sa, (long)len };

		r = syscall(SYS_socketcall, SOCKETCALL_CONNECT, args);
		return r < 0 ? errno : 0;
#else
		return ENOSYS;
#endif
	}
#ifdef __x86_64__
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"((long)SYS_connect), "D"((long)fd), "S"(sa),
			   "d"((long)len)
			 : "rcx", "r11", "memory");
	return r < 0 ? (int)-r : 0;
#else
	r = syscall(SYS_connect, fd, sa, len);
	return r < 0 ? errno : 0;
#endif
}

/* Connects to sa and, when that worked, reports the peer and the page. */
static int fetch_from(const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

	if (fd < 0) {
		printf(", \"socket\": \"%s\"", ename(errno));
		return errno;
	}
	fputs(", \"addr\": ", stdout);
	put_addr_json((const void *)sa);
	if (use_raw)
		e = raw_connect(fd, sa, len);
	else
		e = connect(fd, sa, len) == 0 ? 0 : errno;
	printf(", \"connect\": \"%s\"", ename(e));
	if (e == 0) {
		if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0) {
			fputs(", \"peer\": ", stdout);
			put_addr_json(&peer);
		}
		put_answer(fd);
	}
	close(fd);
	return e;
}

/* One fetch from host:port, reported as one JSON line. */
static void fetch(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	socklen_t len;
	double t0 = now_ms();
	int r;

	fflush(stdout);
	printf("{\"pid\": %d, \"host\": \"%s\"", (int)getpid(), host);
	if (numeric(host, port, &ss, &len) == 0) {
		fputs(", \"how\": \"address\"", stdout);
		fetch_from((struct sockaddr *)&ss, len);
	} else {
		fputs(", \"how\": \"name\"", stdout);
		r = getaddrinfo(host, port, &hints, &res);
		if (r != 0) {
			printf(", \"getaddrinfo\": ");
			json_str(gai_strerror(r), strlen(gai_strerror(r)));
			printf(", \"errno\": \"%s\"",
			       r == EAI_SYSTEM ? ename(errno) : "");
		}
		for (ai = res; ai != NULL; ai = ai->ai_next)
			if (fetch_from(ai->ai_addr, ai->ai_addrlen) == 0)
				break;
		if (res != NULL)
			freeaddrinfo(res);
	}
	printf(", \"ms\": %.1f}\n", now_ms() - t0);
	fflush(stdout);
}

/* ---- signal ------------------------------------------------------------- */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* Writes msg and reads back as many bytes; the bytes read go to got. */
static int echo_line(int fd, const char *msg, char *got, size_t *gotlen)
{
	size_t len = strlen(msg), done = 0;
	int i;

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
		ssize_t n;

		if (!readable_within(fd, IO_TIMEOUT_MS)) {
			if (errno == EINTR)
				continue;
			break;
		}
		n = read(fd, got + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	*gotlen = done;
	return done == len && memcmp(got, msg, len) == 0 ? 0 : EPROTO;
}

static int mode_signal(const char *host, const char *port, const char *how,
		       int first_ms)
{
	static const char msg[] = "a line after a slow connect\n";
	struct itimerval on = { { 0, 1000 }, { 0, 1000 } }, off = { 0 };
	struct sockaddr_storage ss;
	struct sigaction sa;
	socklen_t len;
	char got[sizeof(msg) + 64];
	size_t gotlen = 0;
	double t0, ms;
	long during;
	int fd, e, finish = 0, so = 0, r, revents = -1;

	if (numeric(host, port, &ss, &len) != 0 || first_ms < 1)
		return 2;
	on.it_value.tv_sec = first_ms / 1000;
	on.it_value.tv_usec = (first_ms % 1000) * 1000;
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = strcmp(how, "restart") == 0 ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return 1;
	setitimer(ITIMER_REAL, &on, NULL);
	t0 = now_ms();
	e = connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
	ms = now_ms() - t0;
	during = alarms;
	if (e == EINTR) {
		/* The connection goes on in the background: wait for it. */
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		socklen_t sl = sizeof(so);

		finish = 1;
		for (int i = 0; i < 100000; i++) {
			r = poll(&p, 1, IO_TIMEOUT_MS);
			if (r < 0 && errno == EINTR)
				continue;
			break;
		}
		revents = r == 1 ? p.revents : 0;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
	}
	setitimer(ITIMER_REAL, &off, NULL);
	printf("{\"connect\": \"%s\", \"connect_ms\": %.1f, "
	       "\"alarms_during_connect\": %ld, \"finished_by_poll\": %s, "
	       "\"so_error\": \"%s\", \"revents\": %d",
	       ename(e), ms, during, finish ? "true" : "false", ename(so),
	       revents);
	if (e == 0 || (e == EINTR && so == 0)) {
		e = echo_line(fd, msg, got, &gotlen);
		printf(", \"echo\": \"%s\", \"got\": ", ename(e));
		json_str(got, gotlen);
	}
	printf(", \"alarms\": %ld}\n", (long)alarms);
	close(fd);
	return 0;
}

/* ---- nonblocking -------------------------------------------------------- */

static int mode_nonblocking(const char *host, const char *port)
{
	static const char msg[] = "a line right after a non-blocking connect\n";
	struct sockaddr_storage ss;
	struct pollfd p;
	socklen_t len, sl = sizeof(int);
	char got[sizeof(msg) + 64];
	size_t gotlen = 0;
	double t0;
	int fd, e, so = 0, r = 0;

	if (numeric(host, port, &ss, &len) != 0)
		return 2;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 1;
	t0 = now_ms();
	e = connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
	printf("{\"connect\": \"%s\", \"connect_ms\": %.1f", ename(e),
	       now_ms() - t0);
	if (e == EINPROGRESS) {
		p.fd = fd;
		p.events = POLLOUT;
		r = poll(&p, 1, IO_TIMEOUT_MS);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
		printf(", \"poll\": %d, \"so_error\": \"%s\", "
		       "\"writable_ms\": %.1f",
		       r, ename(so), now_ms() - t0);
	}
	if (e == 0 || (e == EINPROGRESS && r == 1 && so == 0)) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		e = echo_line(fd, msg, got, &gotlen);
		printf(", \"echo\": \"%s\", \"got\": ", ename(e));
		json_str(got, gotlen);
	}
	printf("}\n");
	close(fd);
	return 0;
}

/* ---- fork-exec ---------------------------------------------------------- */

static int mode_fork_exec(char *self, const char *host, char *name, char *port)
{
	int status = -1;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		char *argv[] = { self, "http", name, port, NULL };

		execv(self, argv);
		_exit(127);
	}
	fetch(host, port);
	if (waitpid(pid, &status, 0) < 0)
		status = -1;
	printf("{\"child_exit\": %d, \"child_signal\": %d}\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return 0;
}

/* ---- resolve-exec ------------------------------------------------------- */

static int mode_resolve_exec(const char *name, char *port, char *prog)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char addr[INET_ADDRSTRLEN];
	int r = getaddrinfo(name, port, &hints, &res);

	if (r != 0) {
		printf("{\"getaddrinfo\": ");
		json_str(gai_strerror(r), strlen(gai_strerror(r)));
		printf("}\n");
		return 1;
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
		  addr, sizeof(addr));
	freeaddrinfo(res);
	printf("{\"resolved\": \"%s\"}\n", addr);
	fflush(stdout);
	{
		char *argv[] = { prog, "http", addr, port, NULL };

		execv(prog, argv);
	}
	printf("{\"exec\": \"%s\"}\n", ename(errno));
	return 1;
}

/* ---- daemon ------------------------------------------------------------- */

static int mode_daemon(const char *host, const char *port)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid > 0)
		return 0;
	usleep(500 * 1000);
	fetch(host, port);
	return 0;
}

/* ---- own-listener ------------------------------------------------------- */

static int mode_own_listener(const char *host, const char *port)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_acct, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]),
				   .filter = code };
	long r;
	int e;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return 1;
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	e = r < 0 ? errno : 0;
	printf("{\"seccomp\": %ld, \"errno\": \"%s\"}\n", r, ename(e));
	fetch(host, port);
	return 0;
}

/* ---- tfo ---------------------------------------------------------------- */

static int mode_tfo(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	ssize_t n;
	int fd;

	if (numeric(host, port, &ss, &len) != 0)
		return 2;
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return 1;
	n = sendto(fd, req, sizeof(req) - 1, MSG_FASTOPEN,
		   (struct sockaddr *)&ss, len);
	printf("{\"sendto\": \"%s\", \"sent\": %zd",
	       ename(n < 0 ? errno : 0), n);
	if (n == (ssize_t)(sizeof(req) - 1))
		put_reply(fd);
	printf("}\n");
	close(fd);
	return 0;
}

/* ---- udp ---------------------------------------------------------------- */

static void udp_way(const char *way, const struct sockaddr_storage *ss,
		    socklen_t len)
{
	char msg[64], buf[512];
	struct iovec iov;
	struct msghdr mh = { 0 };
	struct mmsghdr mm = { 0 };
	int fd = socket(ss->ss_family, SOCK_DGRAM, 0), e = 0;
	ssize_t n = -1;

	snprintf(msg, sizeof(msg), "udp by %s", way);
	iov.iov_base = msg;
	iov.iov_len = strlen(msg);
	mh.msg_name = (void *)ss;
	mh.msg_namelen = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mm.msg_hdr = mh;
	if (fd < 0) {
		e = errno;
	} else if (strcmp(way, "sendto") == 0) {
		e = sendto(fd, msg, strlen(msg), 0, (const struct sockaddr *)ss,
			   len) < 0 ? errno : 0;
	} else if (strcmp(way, "sendmsg") == 0) {
		e = sendmsg(fd, &mh, 0) < 0 ? errno : 0;
	} else if (strcmp(way, "sendmmsg") == 0) {
		int r = sendmmsg(fd, &mm, 1, 0);

		e = r < 0 ? errno : r == 1 ? 0 : EIO;
	} else {
		e = connect(fd, (const struct sockaddr *)ss, len) < 0 ? errno
								      : 0;
		if (e == 0)
			e = send(fd, msg, strlen(msg), 0) < 0 ? errno : 0;
	}
	if (e == 0 && readable_within(fd, 1000))
		n = recv(fd, buf, sizeof(buf), 0);
	printf("\"%s\": {\"send\": \"%s\", \"answer\": ", way, ename(e));
	if (n >= 0)
		json_str(buf, (size_t)n);
	else
		fputs("null", stdout);
	putchar('}');
	if (fd >= 0)
		close(fd);
}

static int mode_udp(const char *host, const char *port)
{
	static const char *const ways[] = { "sendto", "sendmsg", "sendmmsg",
					    "connect" };
	struct sockaddr_storage ss;
	socklen_t len;
	size_t i;

	if (numeric(host, port, &ss, &len) != 0)
		return 2;
	putchar('{');
	for (i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
		if (i > 0)
			fputs(", ", stdout);
		udp_way(ways[i], &ss, len);
	}
	printf("}\n");
	return 0;
}

/* ---- flip --------------------------------------------------------------- */

static struct sockaddr_in flip_sa;
static struct in_addr flip_lo, flip_far;
static atomic_int flip_stop;

static void *flipper(void *arg)
{
	volatile struct in_addr *a = &flip_sa.sin_addr;

	(void)arg;
	while (!atomic_load(&flip_stop)) {
		*a = flip_lo;
		*a = flip_far;
	}
	return NULL;
}

static int mode_flip(const char *host, const char *port, int n)
{
	int counts[256] = { 0 };
	pthread_t t;
	int i, first = 1;

	memset(&flip_sa, 0, sizeof(flip_sa));
	flip_sa.sin_family = AF_INET;
	flip_sa.sin_port = htons((unsigned short)atoi(port));
	if (n < 1 || inet_pton(AF_INET, host, &flip_far) != 1)
		return 2;
	inet_pton(AF_INET, "127.0.0.1", &flip_lo);
	flip_sa.sin_addr = flip_lo;
	if (pthread_create(&t, NULL, flipper, NULL) != 0)
		return 1;
	for (i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), e;

		if (fd < 0) {
			counts[errno & 255]++;
			continue;
		}
		e = connect(fd, (struct sockaddr *)&flip_sa, sizeof(flip_sa)) == 0
			    ? 0
			    : errno;
		counts[e & 255]++;
		close(fd);
	}
	atomic_store(&flip_stop, 1);
	pthread_join(t, NULL);
	printf("{\"connects\": %d, \"results\": {", n);
	for (i = 0; i < 256; i++)
		if (counts[i]) {
			printf("%s\"%s\": %d", first ? "" : ", ", ename(i),
			       counts[i]);
			first = 0;
		}
	printf("}}\n");
	return 0;
}

/* ---- foreign ------------------------------------------------------------ */

#ifdef __x86_64__
#define I386_CONNECT 362L
#define X32_BIT 0x40000000L

static const char *i386_connect(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	long r;

	if (fd < 0)
		return ename(errno);
	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(I386_CONNECT), "b"((long)fd),
			   "c"((long)(unsigned long)sa), "d"((long)sizeof(*sa))
			 : "memory");
	close(fd);
	return ename(r < 0 ? (int)-r : 0);
}

static const char *x32_connect(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	long r;

	if (fd < 0)
		return ename(errno);
	r = syscall(X32_BIT | SYS_connect, fd, sa, sizeof(*sa));
	r = r < 0 ? errno : 0;
	close(fd);
	return ename((int)r);
}
#endif

static int mode_foreign(const char *host, const char *port, const char *abi)
{
	const char *by_i386 = "unsupported", *x32 = "unsupported";
	int try_i386 = !abi || strcmp(abi, "i386") == 0;
	int try_x32 = !abi || strcmp(abi, "x32") == 0;

	if (!try_i386 && !try_x32)
		return 2;
#ifdef __x86_64__
	/* The i386 call takes 32-bit pointers: the address goes below 4 GiB. */
	struct sockaddr_in *sa = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
				      -1, 0);

	if (sa == MAP_FAILED)
		return 1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)atoi(port));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return 2;
	if (try_i386)
		by_i386 = i386_connect(sa);
	if (try_x32)
		x32 = x32_connect(sa);
#else
	(void)host;
	(void)port;
#endif
	if (try_i386 && try_x32)
		printf("{\"i386\": \"%s\", \"x32\": \"%s\"}\n", by_i386, x32);
	else if (try_i386)
		printf("{\"i386\": \"%s\"}\n", by_i386);
	else
		printf("{\"x32\": \"%s\"}\n", x32);
	return 0;
}

/* ---- stay --------------------------------------------------------------- */

static int mode_stay(const char *host, const char *port)
{
	char line[256];

	printf("{\"ppid\": %d}\n", (int)getppid());
	fetch(host, port);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "addr") == 0)
			fetch(host, port);
		else if (strncmp(line, "name ", 5) == 0)
			fetch(line + 5, port);
		else
			printf("{\"unknown\": \"%s\"}\n", line);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "http") == 0) {
		fetch(argv[2], argv[3]);
		return 0;
	}
	if (argc == 4 && (strcmp(argv[1], "raw") == 0 ||
			  strcmp(argv[1], "socketcall") == 0)) {
		use_raw = strcmp(argv[1], "raw") == 0 ? 1 : 2;
		fetch(argv[2], argv[3]);
		return 0;
	}
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "signal") == 0)
		return mode_signal(argv[2], argv[3], argv[4],
				   argc == 6 ? atoi(argv[5]) : 1);
	if (argc == 4 && strcmp(argv[1], "nonblocking") == 0)
		return mode_nonblocking(argv[2], argv[3]);
	if (argc == 6 && strcmp(argv[1], "fork-exec") == 0)
		return mode_fork_exec(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 5 && strcmp(argv[1], "resolve-exec") == 0)
		return mode_resolve_exec(argv[2], argv[3], argv[4]);
	if (argc == 4 && strcmp(argv[1], "daemon") == 0)
		return mode_daemon(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "own-listener") == 0)
		return mode_own_listener(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "exit") == 0) {
		fetch(argv[2], argv[3]);
		return atoi(argv[4]);
	}
	if (argc == 4 && strcmp(argv[1], "term") == 0) {
		fetch(argv[2], argv[3]);
		fflush(stdout);
		raise(SIGTERM);
		return 1;
	}
	if (argc == 4 && strcmp(argv[1], "tfo") == 0)
		return mode_tfo(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "udp") == 0)
		return mode_udp(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "flip") == 0)
		return mode_flip(argv[2], argv[3], atoi(argv[4]));
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "foreign") == 0)
		return mode_foreign(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (argc == 4 && strcmp(argv[1], "stay") == 0)
		return mode_stay(argv[2], argv[3]);
	fprintf(stderr,
		"usage: see the comment at the top of supervise_client.c\n");
	return 2;
}
