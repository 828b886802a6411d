/* callbench: the cost of one write() to /dev/null, or of one 1-byte
 * write() + read() pair over a pipe: the calls socks5wrap hooks on
 * descriptors that are not sockets.
 *
 *   callbench devnull|pipe COUNT BATCHES MAX_SECONDS
 *
 * Makes COUNT calls (pairs for pipe) in BATCHES equal batches, each timed
 * with CLOCK_MONOTONIC, and stops early once MAX_SECONDS have passed (at
 * least one batch is always made). Prints
 *   "calls N ns_per_call M ns_per_call_min X"
 * with M the median and X the fastest of the batches' ns per call: the
 * median of batches is less disturbed by other work on the machine than
 * one long run's mean.
 *
 * bench_loop() is its own non-inlined function so that callgrind can count
 * only its instructions (--toggle-collect=bench_loop).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>

#include "bench.h"

#define PROG "callbench"
#define MAX_BATCHES 101

__attribute__((noinline)) void bench_loop(int wfd, int rfd, long n);

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
	int p[2], wfd, rfd = -1;

	if (argc != 5 || (strcmp(argv[1], "devnull") != 0 &&
			  strcmp(argv[1], "pipe") != 0)) {
		fprintf(stderr, "usage: " PROG " devnull|pipe COUNT BATCHES "
				"MAX_SECONDS\n");
		return 2;
	}
	count = bench_num(PROG, "count", argv[2], 1, 100000000);
	batches = bench_num(PROG, "batches", argv[3], 1, MAX_BATCHES);
	secs = bench_num(PROG, "seconds", argv[4], 1, 600);
	each = count / batches > 0 ? count / batches : 1;
	if (strcmp(argv[1], "devnull") == 0) {
		wfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (wfd < 0)
			bench_die(PROG, "/dev/null", errno);
	} else {
		if (pipe2(p, O_CLOEXEC) < 0)
			bench_die(PROG, "pipe2", errno);
		rfd = p[0];
		wfd = p[1];
	}
	bench_loop(wfd, rfd, each / 10 + 1); /* warm-up: first-call costs */
	deadline = bench_now_ns() + (int64_t)secs * 1000000000;
	for (b = 0; b < batches; b++) {
		t0 = bench_now_ns();
		bench_loop(wfd, rfd, each);
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
