/* Small helpers shared by the benchmark programs: a monotonic clock,
 * a fatal-error exit, strict number and address parsing, and a sort order. Benchmarks are ordinary
 * programs (stdio and exit are fine here, unlike in the library). */
#ifndef S5_BENCH_H
#define S5_BENCH_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

static inline int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Prints "prog: what: strerror(err)" (err 0: no errno text) and exits 1. */
static inline void bench_die(const char *prog, const char *what, int err)
{
	if (err)
		fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err));
	else
		fprintf(stderr, "%s: %s\n", prog, what);
	exit(1);
}

/* A decimal number in [min, max], or exits with a message naming it. */
static inline long bench_num(const char *prog, const char *name,
			     const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "%s: bad %s: %s (want %ld..%ld)\n", prog, name,
			s, min, max);
		exit(2);
	}
	return v;
}

/* An IPv4 address and a port from the command line, or exits. */
static inline void bench_ipv4(const char *prog, struct sockaddr_in *sa,
			      const char *addr, const char *port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
		bench_die(prog, "not an IPv4 address", 0);
	sa->sin_port = htons((uint16_t)bench_num(prog, "port", port, 1, 65535));
}

/* qsort() order for int64_t. */
static inline int bench_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* SIGTERM, SIGINT and SIGALRM go to handler, and are blocked except
 * inside the caller's epoll_pwait/ppoll with *waitmask: a signal can never
 * slip in between the check of the stop flag and the wait. */
static inline void bench_stop_signals(sigset_t *waitmask,
				      void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler };
	static const int sigs[] = { SIGTERM, SIGINT, SIGALRM };
	sigset_t block;
	size_t i;

	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigdelset(waitmask, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
}

/* Reads exactly n bytes from a stream socket (EINTR retried); false on
 * EOF, error or a receive timeout. */
static inline bool bench_readn(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	ssize_t r;

	while (n > 0) {
		r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

#endif
