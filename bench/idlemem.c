/* idlemem: the memory of a process that does nothing.
 *
 *   idlemem
 *
 * Prints "rss_kib R anon_kib A" from its own /proc/self/status: VmRSS
 * (all resident pages, shared library code included) and RssAnon (the
 * private, anonymous part: heap, stacks, written data). Run with and
 * without a preloaded library, the difference is what the library adds
 * to every process it is loaded into. The file is read with open/read,
 * no stdio, so that the reading allocates nothing.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>

#include "bench.h"

#define PROG "idlemem"

/* The number after "key" in the status text, or -1. */
static long status_field(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p == NULL ? -1 : strtol(p + strlen(key), NULL, 10);
}

int main(void)
{
	static char text[8192];
	ssize_t n, got = 0;
	long rss, anon;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		bench_die(PROG, "/proc/self/status", errno);
	while ((size_t)got < sizeof(text) - 1 &&
	       (n = read(fd, text + got, sizeof(text) - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	text[got] = '\0';
	rss = status_field(text, "\nVmRSS:");
	anon = status_field(text, "\nRssAnon:");
	if (rss < 0 || anon < 0)
		bench_die(PROG, "no VmRSS or RssAnon in /proc/self/status", 0);
	printf("rss_kib %ld anon_kib %ld\n", rss, anon);
	return 0;
}
