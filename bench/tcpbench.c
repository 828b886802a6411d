/* tcpbench: short TCP connections to an echo server, one at a time.
 *
 *   tcpbench native PROXY_ADDR PROXY_PORT TARGET_ADDR TARGET_PORT COUNT
 *            MAX_SECONDS
 *   tcpbench plain|poll TARGET_ADDR TARGET_PORT COUNT MAX_SECONDS
 *
 * Each connection: socket(), connect(), send 1 byte, receive it back,
 * close(). They differ only in how the connection is made:
 *
 *   native: the program speaks SOCKS5 itself: connect() to the proxy, the
 *           no-auth greeting and its answer, CONNECT to the target and its
 *           reply, one message at a time (RFC 1928 sections 3, 4, 6). The
 *           baseline.
 *   plain:  connect() to the target, nothing else; under LD_PRELOAD=
 *           libsocks5wrap.so (or proxychains4) the preloaded library does
 *           the SOCKS5 part; without one, the connection is direct.
 *   poll:   the same on a non-blocking socket, the way an event loop does
 *           it: connect() (EINPROGRESS, or done at once), poll() until
 *           writable, SO_ERROR, send, poll() until readable, receive.
 *
 * Runs COUNT connections or for MAX_SECONDS, whichever comes first, after
 * one warm-up connection that is not counted. Prints
 *   "connections N seconds S rate R median_us M min_us X"
 * with R = N / S connections per second and M, X the median and fastest
 * time from socket() to the echoed byte. Every failure is an error
 * (exit 1); a reply missing for 5 s is one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define PROG "tcpbench"
#define MAX_COUNT 1000000

struct conf {
	bool native, nonblock;
	struct sockaddr_in proxy, target;
};

/* The SOCKS5 handshake, as a client that speaks it itself would. */
static void native_handshake(int fd, const struct sockaddr_in *target)
{
	static const uint8_t hello[3] = { 5, 1, 0 };
	uint8_t req[10] = { 5, 1, 0, 1 }, rep[10];

	memcpy(req + 4, &target->sin_addr, 4);
	memcpy(req + 8, &target->sin_port, 2);
	if (send(fd, hello, 3, MSG_NOSIGNAL) != 3 || !bench_readn(fd, rep, 2) ||
	    rep[0] != 5 || rep[1] != 0)
		bench_die(PROG, "method selection failed", 0);
	if (send(fd, req, 10, MSG_NOSIGNAL) != 10 || !bench_readn(fd, rep, 4) ||
	    rep[0] != 5 || rep[1] != 0 || rep[3] != 1 || !bench_readn(fd, rep + 4, 6))
		bench_die(PROG, "CONNECT refused or not IPv4", 0);
}

/* Waits (5 s at most) until fd reports events, an error or a hang-up. */
static void poll_for(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&p, 1, 5000);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		bench_die(PROG, "poll", errno);
	if (r == 0)
		bench_die(PROG, "nothing within 5 s", 0);
}

/* The poll variant: a non-blocking connection and its echo; returns its
 * time from socket() to the echo, in ns. */
static int64_t one_nonblock(const struct sockaddr_in *to)
{
	int64_t t0 = bench_now_ns(), t;
	uint8_t out = 0x5a, in = 0;
	socklen_t len = sizeof(int);
	int err = 0, fd;
	ssize_t r;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		bench_die(PROG, "socket", errno);
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
		if (errno != EINPROGRESS)
			bench_die(PROG, "connect", errno);
		poll_for(fd, POLLOUT);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
		    err != 0)
			bench_die(PROG, "connect (SO_ERROR)", err ? err : errno);
	}
	if (send(fd, &out, 1, MSG_NOSIGNAL) != 1)
		bench_die(PROG, "send", errno);
	while ((r = recv(fd, &in, 1, 0)) < 0 &&
	       (errno == EAGAIN || errno == EINTR))
		poll_for(fd, POLLIN);
	if (r != 1 || in != out)
		bench_die(PROG, "no echo", r < 0 ? errno : 0);
	t = bench_now_ns() - t0;
	close(fd);
	return t;
}

/* One connection; returns its time from socket() to the echo, in ns. */
static int64_t one(const struct conf *c)
{
	struct timeval tv = { .tv_sec = 5 };
	int64_t t0 = bench_now_ns(), t;
	const struct sockaddr_in *to = c->native ? &c->proxy : &c->target;
	uint8_t out = 0x5a, in = 0;
	int fd;

	if (c->nonblock)
		return one_nonblock(to);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		bench_die(PROG, "socket", errno);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0)
		bench_die(PROG, "connect", errno);
	if (c->native)
		native_handshake(fd, &c->target);
	if (send(fd, &out, 1, MSG_NOSIGNAL) != 1)
		bench_die(PROG, "send", errno);
	if (!bench_readn(fd, &in, 1) || in != out)
		bench_die(PROG, "no echo", errno);
	t = bench_now_ns() - t0;
	close(fd);
	return t;
}

int main(int argc, char **argv)
{
	static int64_t lat[MAX_COUNT];
	struct conf c = { 0 };
	int64_t t0, elapsed, deadline;
	long count, secs, i;
	int a;

	if (argc == 8 && strcmp(argv[1], "native") == 0) {
		c.native = true;
		bench_ipv4(PROG, &c.proxy, argv[2], argv[3]);
		a = 4;
	} else if (argc == 6 && (strcmp(argv[1], "plain") == 0 ||
				 strcmp(argv[1], "poll") == 0)) {
		c.nonblock = strcmp(argv[1], "poll") == 0;
		a = 2;
	} else {
		fprintf(stderr, "usage: " PROG " native PROXY_ADDR PROXY_PORT "
				"TARGET_ADDR TARGET_PORT COUNT MAX_SECONDS\n"
				"       " PROG " plain|poll TARGET_ADDR "
				"TARGET_PORT COUNT MAX_SECONDS\n");
		return 2;
	}
	bench_ipv4(PROG, &c.target, argv[a], argv[a + 1]);
	count = bench_num(PROG, "count", argv[a + 2], 1, MAX_COUNT);
	secs = bench_num(PROG, "seconds", argv[a + 3], 1, 600);
	one(&c);
	t0 = bench_now_ns();
	deadline = t0 + (int64_t)secs * 1000000000;
	for (i = 0; i < count; i++) {
		lat[i] = one(&c);
		if (bench_now_ns() >= deadline) {
			i++;
			break;
		}
	}
	elapsed = bench_now_ns() - t0;
	qsort(lat, (size_t)i, sizeof(lat[0]), bench_cmp_i64);
	printf("connections %ld seconds %.3f rate %.0f median_us %.1f "
	       "min_us %.1f\n", i, (double)elapsed / 1e9,
	       (double)i * 1e9 / (double)elapsed,
	       (i % 2 ? (double)lat[i / 2] :
			(double)(lat[i / 2 - 1] + lat[i / 2]) / 2) / 1000.0,
	       (double)lat[0] / 1000.0);
	return 0;
}
