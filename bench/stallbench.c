/* stallbench: how long an event loop stops while one non-blocking TCP
 * connection is made through a slow SOCKS5 server (s5fwd -d).
 *
 *   stallbench native PROXY_ADDR PROXY_PORT TARGET_ADDR TARGET_PORT COUNT
 *   stallbench plain TARGET_ADDR TARGET_PORT COUNT
 *
 * One thread, one epoll instance, a 1 ms ticker: the program waits only in
 * epoll_wait() with a 1 ms timeout, as an event loop with a timer due
 * every millisecond would. Each connection: socket(SOCK_NONBLOCK),
 * connect() (EINPROGRESS or done), wait until writable, SO_ERROR, send
 * 1 byte, wait until readable, receive it back, close. They differ only in
 * how the connection is made:
 *
 *   native: the program speaks SOCKS5 itself, inside the loop: connect()
 *           to the proxy, greeting, method, CONNECT, reply, one message at
 *           a time, every wait an epoll_wait() of the ticker. The baseline:
 *           what an event loop that knows SOCKS5 gets.
 *   plain:  connect() to the target; under LD_PRELOAD=libsocks5wrap.so the
 *           library does the SOCKS5 part, wherever it does it.
 *
 * Every libc call the loop makes is timed. Its stall is the time spent in
 * it beyond the wait it asked for (1 ms for epoll_wait, none for the
 * others): a library that runs the handshake inside connect() shows the
 * proxy's delay there. A connection's stall is its largest; the ticker's
 * gap is the longest time between the ends of two epoll_wait() calls, one
 * made before socket() and one after close() included.
 *
 * Makes COUNT connections one after the other and prints
 *   "connections N stall_us_median S stall_us_max M gap_us_median G
 *    connect_us_median C ttfb_us_median T ticks K"
 * (one line): medians over the connections of the stall, the gap, the
 * time inside connect() and the time from socket() to the echoed byte;
 * K the epoll_wait() calls that timed out, in all. Every failure is an
 * error (exit 1); a connection not done within 5 s is one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define PROG "stallbench"
#define MAX_COUNT 100
#define TICK_MS 1
#define LIMIT_NS 5000000000LL

/* One connection's figures, in ns. */
struct conn_stat {
	int64_t stall, gap, in_connect, ttfb;
};

static int ep;
static struct conn_stat *cur;
static int64_t last_tick, deadline;
static long ticks;

/* The end of a call that started at t0 and was allowed to wait for
 * allowed ns: its excess counts towards the connection's stall. */
static void charge(int64_t t0, int64_t allowed)
{
	int64_t d = bench_now_ns() - t0 - allowed;

	if (d > cur->stall)
		cur->stall = d;
}

/* One turn of the ticker: an epoll_wait() of TICK_MS; events of fd in
 * *events (0 when it timed out). */
static void tick(int fd, uint32_t *events)
{
	struct epoll_event ev[4];
	int64_t t0 = bench_now_ns(), t1;
	int n, i;

	n = epoll_wait(ep, ev, 4, TICK_MS);
	t1 = bench_now_ns();
	charge(t0, TICK_MS * 1000000LL);
	if (n < 0 && errno != EINTR)
		bench_die(PROG, "epoll_wait", errno);
	if (last_tick != 0 && t1 - last_tick > cur->gap)
		cur->gap = t1 - last_tick;
	last_tick = t1;
	*events = 0;
	if (n == 0)
		ticks++;
	for (i = 0; i < n; i++)
		if (ev[i].data.fd == fd)
			*events |= ev[i].events;
	if (t1 > deadline)
		bench_die(PROG, "connection not done within 5 s", 0);
}

/* Ticks until fd reports one of want (or an error or hang-up). */
static uint32_t wait_for(int fd, uint32_t want)
{
	struct epoll_event e = { .events = want, .data.fd = fd };
	int64_t t0 = bench_now_ns();
	uint32_t got = 0;

	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e) < 0)
		bench_die(PROG, "epoll_ctl", errno);
	charge(t0, 0);
	while (!(got & (want | EPOLLERR | EPOLLHUP)))
		tick(fd, &got);
	return got;
}

/* Sends n bytes (a handful: they fit in the socket's buffer at once). */
static void send_small(int fd, const void *p, size_t n)
{
	int64_t t0 = bench_now_ns();
	ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

	charge(t0, 0);
	if (w != (ssize_t)n)
		bench_die(PROG, "send", w < 0 ? errno : 0);
}

/* Receives exactly n bytes, waiting in the ticker whenever none are there. */
static void recv_exact(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	int64_t t0;
	ssize_t r;

	while (n > 0) {
		t0 = bench_now_ns();
		r = recv(fd, p, n, 0);
		charge(t0, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			wait_for(fd, EPOLLIN);
			continue;
		}
		if (r <= 0)
			bench_die(PROG, "recv", r < 0 ? errno : 0);
		p += r;
		n -= (size_t)r;
	}
}

/* connect() on the non-blocking fd, then the ticker until it is done.
 * The fd joins the epoll set after connect(), as in libuv and asyncio:
 * proxychains4 puts another socket in its place inside connect(), and
 * epoll would not know the new one. */
static void connect_nb(int fd, const struct sockaddr_in *to)
{
	struct epoll_event e = { .events = 0, .data.fd = fd };
	socklen_t len = sizeof(int);
	int64_t t0 = bench_now_ns();
	int r = connect(fd, (const struct sockaddr *)to, sizeof(*to)), err;

	err = errno;
	cur->in_connect = bench_now_ns() - t0;
	charge(t0, 0);
	if (r < 0 && err != EINPROGRESS)
		bench_die(PROG, "connect", err);
	t0 = bench_now_ns();
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
		bench_die(PROG, "epoll_ctl", errno);
	charge(t0, 0);
	if (r == 0)
		return;
	wait_for(fd, EPOLLOUT);
	t0 = bench_now_ns();
	r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	charge(t0, 0);
	if (r < 0 || err != 0)
		bench_die(PROG, "connect (SO_ERROR)", r < 0 ? errno : err);
}

/* The SOCKS5 handshake inside the loop (RFC 1928 sections 3, 4, 6). */
static void native_handshake(int fd, const struct sockaddr_in *target)
{
	static const uint8_t hello[3] = { 5, 1, 0 };
	uint8_t req[10] = { 5, 1, 0, 1 }, rep[10];

	memcpy(req + 4, &target->sin_addr, 4);
	memcpy(req + 8, &target->sin_port, 2);
	send_small(fd, hello, 3);
	recv_exact(fd, rep, 2);
	if (rep[0] != 5 || rep[1] != 0)
		bench_die(PROG, "method selection failed", 0);
	send_small(fd, req, 10);
	recv_exact(fd, rep, 10);
	if (rep[0] != 5 || rep[1] != 0 || rep[3] != 1)
		bench_die(PROG, "CONNECT refused or not IPv4", 0);
}

static void one(struct conn_stat *st, const struct sockaddr_in *proxy,
		const struct sockaddr_in *target)
{
	uint8_t out = 0x5a, in = 0;
	uint32_t ignored;
	int64_t t0, start;
	int fd;

	memset(st, 0, sizeof(*st));
	cur = st;
	last_tick = 0;
	deadline = bench_now_ns() + LIMIT_NS;
	tick(-1, &ignored);
	start = t0 = bench_now_ns();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	charge(t0, 0);
	if (fd < 0)
		bench_die(PROG, "socket", errno);
	connect_nb(fd, proxy != NULL ? proxy : target);
	if (proxy != NULL)
		native_handshake(fd, target);
	send_small(fd, &out, 1);
	recv_exact(fd, &in, 1);
	if (in != out)
		bench_die(PROG, "wrong echo", 0);
	st->ttfb = bench_now_ns() - start;
	t0 = bench_now_ns();
	close(fd); /* also leaves the epoll set */
	charge(t0, 0);
	tick(-1, &ignored);
}

/* The median of field off (a byte offset into struct conn_stat) over n
 * connections, in µs. */
static double median_us(const struct conn_stat *st, long n, size_t off)
{
	int64_t v[MAX_COUNT];
	long i;

	for (i = 0; i < n; i++)
		memcpy(&v[i], (const char *)&st[i] + off, sizeof(v[i]));
	qsort(v, (size_t)n, sizeof(v[0]), bench_cmp_i64);
	return (n % 2 ? (double)v[n / 2] :
			(double)(v[n / 2 - 1] + v[n / 2]) / 2) / 1000.0;
}

int main(int argc, char **argv)
{
	struct conn_stat st[MAX_COUNT];
	struct sockaddr_in proxy, target;
	int64_t worst = 0;
	long count, i;
	int a;

	if (argc == 7 && strcmp(argv[1], "native") == 0) {
		bench_ipv4(PROG, &proxy, argv[2], argv[3]);
		a = 4;
	} else if (argc == 5 && strcmp(argv[1], "plain") == 0) {
		a = 2;
	} else {
		fprintf(stderr, "usage: " PROG " native PROXY_ADDR PROXY_PORT "
				"TARGET_ADDR TARGET_PORT COUNT\n"
				"       " PROG " plain TARGET_ADDR TARGET_PORT "
				"COUNT\n");
		return 2;
	}
	bench_ipv4(PROG, &target, argv[a], argv[a + 1]);
	count = bench_num(PROG, "count", argv[a + 2], 1, MAX_COUNT);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		bench_die(PROG, "epoll_create1", errno);
	for (i = 0; i < count; i++) {
		one(&st[i], a == 4 ? &proxy : NULL, &target);
		if (st[i].stall > worst)
			worst = st[i].stall;
	}
	printf("connections %ld stall_us_median %.1f stall_us_max %.1f "
	       "gap_us_median %.1f connect_us_median %.1f ttfb_us_median %.1f "
	       "ticks %ld\n", count,
	       median_us(st, count, offsetof(struct conn_stat, stall)),
	       (double)worst / 1000.0,
	       median_us(st, count, offsetof(struct conn_stat, gap)),
	       median_us(st, count, offsetof(struct conn_stat, in_connect)),
	       median_us(st, count, offsetof(struct conn_stat, ttfb)), ticks);
	return 0;
}
