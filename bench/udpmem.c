/* udpmem: memory and descriptors per UDP socket that has sent a datagram.
 *
 *   udpmem COUNT wait|nowait
 *
 * Opens one warm-up socket, then COUNT more, each sending one 64-byte
 * datagram to 127.0.0.2:7 and kept open. With "wait" each waits for the
 * echo from 127.0.0.2:7 (2 s at most): under the preload, with a relay,
 * every socket then has a live UDP association. With "nowait" (no preload,
 * plain sockets) nothing answers and nothing is waited for.
 *
 * Prints "sockets N rss_kib_per X fds_per Y": the growth of VmRSS
 * (/proc/self/status) and of the open descriptors (/proc/self/fd) from
 * after the warm-up socket to after the last one, divided by COUNT. The
 * warm-up keeps one-time costs (first use of the library's tables and
 * code pages) out of the per-socket figure, as a first round of the
 * measurement itself keeps its buffers out. Kernel memory of the sockets
 * is not in VmRSS.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "bench.h"

#define PROG "udpmem"

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		bench_die(PROG, "/proc/self/status", errno);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	if (kib < 0)
		bench_die(PROG, "no VmRSS in /proc/self/status", 0);
	return kib;
}

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;

	if (d == NULL)
		bench_die(PROG, "/proc/self/fd", errno);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* One socket that has sent a datagram (and got its echo when wait). */
static void one_socket(const struct sockaddr_in *dst, bool wait)
{
	struct timeval tv = { .tv_sec = 2 };
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	uint8_t buf[64] = { 0 }, back[128];
	ssize_t r;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		bench_die(PROG, "socket", errno);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, buf, sizeof(buf), 0, (const struct sockaddr *)dst,
		   sizeof(*dst)) != (ssize_t)sizeof(buf))
		bench_die(PROG, "sendto", errno);
	if (!wait)
		return;
	r = recvfrom(fd, back, sizeof(back), 0, (struct sockaddr *)&from,
		     &flen);
	if (r < 0)
		bench_die(PROG, "no echo", errno);
	if (r != (ssize_t)sizeof(buf) || from.sin_port != dst->sin_port ||
	    from.sin_addr.s_addr != dst->sin_addr.s_addr)
		bench_die(PROG, "echo is not the datagram sent", 0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	long count, rss0, rss1, fd0, fd1, i;
	bool wait;

	if (argc != 3 || (strcmp(argv[2], "wait") != 0 &&
			  strcmp(argv[2], "nowait") != 0)) {
		fprintf(stderr, "usage: " PROG " COUNT wait|nowait\n");
		return 2;
	}
	count = bench_num(PROG, "count", argv[1], 1, 400);
	wait = strcmp(argv[2], "wait") == 0;
	dst.sin_addr.s_addr = htonl(0x7f000002);
	dst.sin_port = htons(7);
	one_socket(&dst, wait);
	/* The measuring itself (stdio and directory buffers) once first, so
	 * its own allocations are in both readings. */
	rss_kib();
	open_fds();
	rss0 = rss_kib();
	fd0 = open_fds();
	for (i = 0; i < count; i++)
		one_socket(&dst, wait);
	rss1 = rss_kib();
	fd1 = open_fds();
	printf("sockets %ld rss_kib_per %.2f fds_per %.2f\n", count,
	       (double)(rss1 - rss0) / (double)count,
	       (double)(fd1 - fd0) / (double)count);
	return 0;
}
