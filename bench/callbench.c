/* callbench: the cost of one write() to /dev/null, or of one 1-byte
 * write() + read() pair over a pipe: the calls socks5wrap hooks on
 * descriptors that are not sockets; and of one poll() or epoll_wait()
 * with timeout 0 on descriptors socks5wrap never had a part in (an empty
 * pipe, an eventfd, a Unix socket and a listening TCP socket, none ready):
 * the calls an asynchronous connect() has to hook, for every program.
 * For the seccomp supervisor: getpid through syscall() (no libc wrapper
 * to hook), and 1-byte datagrams on a UDP socket connected to a sink of
 * our own on 127.0.0.1, with sendto() naming no address (the filter lets
 * it through) or with sendmsg() naming none (the filter catches every
 * sendmsg, and the supervisor lets it continue). The sink is never read:
 * once its small buffer is full the kernel drops what arrives, and the
 * sender does not notice.
 *
 *   callbench devnull|pipe|poll|epoll|getpid|udpsend|udpmsg COUNT BATCHES
 *             MAX_SECONDS
 *
 * Makes COUNT calls (pairs for pipe) in BATCHES equal batches, each timed
 * with CLOCK_MONOTONIC, and stops early once MAX_SECONDS have passed (at
 * least one batch is always made). Prints
 *   "calls N ns_per_call M ns_per_call_min X"
 * with M the median and X the fastest of the batches' ns per call: the
 * median of batches is less disturbed by other work on the machine than
 * one long run's mean.
 *
 * bench_loop(), bench_poll_loop() and bench_epoll_loop() are non-inlined
 * functions of their own so that callgrind can count only their
 * instructions (--toggle-collect=bench_loop and so on).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define PROG "callbench"
#define MAX_BATCHES 101

#define NWATCH 4 /* descriptors watched by poll and epoll */

__attribute__((noinline)) void bench_loop(int wfd, int rfd, long n);
__attribute__((noinline)) void bench_poll_loop(struct pollfd *p, long n);
__attribute__((noinline)) void bench_epoll_loop(int ep, long n);
__attribute__((noinline)) void bench_getpid_loop(long n);
__attribute__((noinline)) void bench_udp_loop(int fd, bool msg, long n);

/* n writes of one byte to wfd; with rfd >= 0 each is read back from it. */
__attribute__((noinline)) void bench_loop(int wfd, int rfd, long n)
{
	char c = 'x';
	long i;

	for (i = 0; i < n; i++) {
		if (write(wfd, &c, 1) != 1)
			bench_die(PROG, "write", errno);
		if (rfd >= 0 && read(rfd, &c, 1) != 1)
			bench_die(PROG, "read", errno);
	}
}

/* n polls of NWATCH descriptors, none of them ready. */
__attribute__((noinline)) void bench_poll_loop(struct pollfd *p, long n)
{
	long i;

	for (i = 0; i < n; i++)
		if (poll(p, NWATCH, 0) != 0)
			bench_die(PROG, "poll", errno);
}

/* n epoll_waits on a set of NWATCH descriptors, none of them ready. */
__attribute__((noinline)) void bench_epoll_loop(int ep, long n)
{
	struct epoll_event ev[NWATCH];
	long i;

	for (i = 0; i < n; i++)
		if (epoll_wait(ep, ev, NWATCH, 0) != 0)
			bench_die(PROG, "epoll_wait", errno);
}

/* n getpid system calls, made without libc's wrapper. */
__attribute__((noinline)) void bench_getpid_loop(long n)
{
	long i;

	for (i = 0; i < n; i++)
		if (syscall(SYS_getpid) <= 0)
			bench_die(PROG, "getpid", errno);
}

/* n 1-byte datagrams on the connected socket fd: sendmsg() with msg,
 * else sendto(); neither names an address. */
__attribute__((noinline)) void bench_udp_loop(int fd, bool msg, long n)
{
	char c = 'x';
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	long i;
	ssize_t r;

	for (i = 0; i < n; i++) {
		r = msg ? sendmsg(fd, &m, 0) : sendto(fd, &c, 1, 0, NULL, 0);
		if (r != 1)
			bench_die(PROG, msg ? "sendmsg" : "sendto", errno);
	}
}

/* A UDP socket connected to a sink on 127.0.0.1 (a port the kernel
 * picks) whose receive buffer is as small as the kernel allows. */
static int udp_to_sink(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int small = 1, sink, fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sink < 0 || fd < 0 ||
	    setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) < 0 ||
	    bind(sink, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(sink, (struct sockaddr *)&sa, &len) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		bench_die(PROG, "UDP sink", errno);
	return fd;
}

/* The descriptors to watch: an empty pipe, an eventfd at 0, one end of a
 * Unix socket pair and a TCP socket listening on 127.0.0.1 (a port the
 * kernel picks; nothing connects to it). */
static void watched(struct pollfd *p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fds[2], i;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (pipe2(fds, O_CLOEXEC) < 0)
		bench_die(PROG, "pipe2", errno);
	p[0].fd = fds[0];
	p[1].fd = eventfd(0, EFD_CLOEXEC);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		bench_die(PROG, "socketpair", errno);
	p[2].fd = fds[0];
	p[3].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p[1].fd < 0 || p[3].fd < 0 ||
	    bind(p[3].fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(p[3].fd, 1) < 0)
		bench_die(PROG, "eventfd or TCP listener", errno);
	for (i = 0; i < NWATCH; i++)
		p[i].events = POLLIN;
}

static int epoll_of(const struct pollfd *p)
{
	struct epoll_event e = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC), i;

	if (ep < 0)
		bench_die(PROG, "epoll_create1", errno);
	for (i = 0; i < NWATCH; i++) {
		e.data.fd = p[i].fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, p[i].fd, &e) < 0)
			bench_die(PROG, "epoll_ctl", errno);
	}
	return ep;
}

enum mode { M_DEVNULL, M_PIPE, M_POLL, M_EPOLL, M_GETPID, M_UDPSEND,
	    M_UDPMSG, N_MODES };

/* One batch of n calls (pairs) of the mode. */
static void batch(enum mode m, int wfd, int rfd, struct pollfd *p, int ep,
		  long n)
{
	if (m == M_POLL)
		bench_poll_loop(p, n);
	else if (m == M_EPOLL)
		bench_epoll_loop(ep, n);
	else if (m == M_GETPID)
		bench_getpid_loop(n);
	else if (m == M_UDPSEND || m == M_UDPMSG)
		bench_udp_loop(wfd, m == M_UDPMSG, n);
	else
		bench_loop(wfd, rfd, n);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	double per[MAX_BATCHES];
	int64_t deadline, t0;
	long count, batches, each, secs, done = 0, b;
	static const char *const names[N_MODES] = {
		"devnull", "pipe", "poll", "epoll", "getpid", "udpsend",
		"udpmsg"
	};
	struct pollfd w[NWATCH];
	int p[2], wfd = -1, rfd = -1, ep = -1;
	enum mode m = M_DEVNULL;

	while (argc == 5 && m < N_MODES && strcmp(argv[1], names[m]) != 0)
		m++;
	if (argc != 5 || m == N_MODES) {
		fprintf(stderr, "usage: " PROG " devnull|pipe|poll|epoll|getpid|"
				"udpsend|udpmsg COUNT BATCHES MAX_SECONDS\n");
		return 2;
	}
	count = bench_num(PROG, "count", argv[2], 1, 100000000);
	batches = bench_num(PROG, "batches", argv[3], 1, MAX_BATCHES);
	secs = bench_num(PROG, "seconds", argv[4], 1, 600);
	each = count / batches > 0 ? count / batches : 1;
	if (m == M_DEVNULL) {
		wfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (wfd < 0)
			bench_die(PROG, "/dev/null", errno);
	} else if (m == M_PIPE) {
		if (pipe2(p, O_CLOEXEC) < 0)
			bench_die(PROG, "pipe2", errno);
		rfd = p[0];
		wfd = p[1];
	} else if (m == M_UDPSEND || m == M_UDPMSG) {
		wfd = udp_to_sink();
	} else if (m != M_GETPID) {
		watched(w);
		if (m == M_EPOLL)
			ep = epoll_of(w);
	}
	batch(m, wfd, rfd, w, ep, each / 10 + 1); /* warm-up: first calls */
	deadline = bench_now_ns() + (int64_t)secs * 1000000000;
	for (b = 0; b < batches; b++) {
		t0 = bench_now_ns();
		batch(m, wfd, rfd, w, ep, each);
		per[b] = (double)(bench_now_ns() - t0) / (double)each;
		done += each;
		if (bench_now_ns() >= deadline) {
			b++;
			break;
		}
	}
	qsort(per, (size_t)b, sizeof(per[0]), cmp_double);
	printf("calls %ld ns_per_call %.1f ns_per_call_min %.1f\n", done,
	       b % 2 ? per[b / 2] : (per[b / 2 - 1] + per[b / 2]) / 2,
	       per[0]);
	return 0;
}
