/* gai: the cost of one getaddrinfo() + freeaddrinfo() pair.
 *
 *   gai NAME EXPECT COUNT MAX_SECONDS
 *
 * Calls getaddrinfo(NAME, "80", AF_UNSPEC, SOCK_STREAM) and freeaddrinfo()
 * COUNT times or for MAX_SECONDS, whichever comes first, and prints
 *   "calls N ns_per_call X"
 * The first and the last answer must hold an IPv4 address whose text
 * starts with EXPECT ("198.51.100.10" for a name from /etc/hosts,
 * "198.18." for a fake address from the preload), so a run that measured
 * the wrong thing (a failed lookup, a DNS answer) is an error (exit 1).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "bench.h"

#define PROG "gai"

static void check(const char *name, const char *expect)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	}, *res, *ai;
	char text[INET_ADDRSTRLEN];
	bool found = false;
	int r = getaddrinfo(name, "80", &hints, &res);

	if (r != 0) {
		fprintf(stderr, PROG ": getaddrinfo(%s): %s\n", name,
			gai_strerror(r));
		exit(1);
	}
	for (ai = res; ai != NULL && !found; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET)
			continue;
		inet_ntop(AF_INET,
			  &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr,
			  text, sizeof(text));
		found = strncmp(text, expect, strlen(expect)) == 0;
	}
	freeaddrinfo(res);
	if (!found) {
		fprintf(stderr, PROG ": %s: no IPv4 address starting with %s\n",
			name, expect);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	}, *res;
	int64_t t0, deadline, elapsed;
	long count, secs, i;

	if (argc != 5) {
		fprintf(stderr, "usage: " PROG " NAME EXPECT COUNT MAX_SECONDS\n");
		return 2;
	}
	count = bench_num(PROG, "count", argv[3], 1, 100000000);
	secs = bench_num(PROG, "seconds", argv[4], 1, 600);
	check(argv[1], argv[2]);
	t0 = bench_now_ns();
	deadline = t0 + (int64_t)secs * 1000000000;
	for (i = 0; i < count; i++) {
		if (getaddrinfo(argv[1], "80", &hints, &res) != 0)
			bench_die(PROG, "getaddrinfo failed in the loop", 0);
		freeaddrinfo(res);
		if ((i & 1023) == 1023 && bench_now_ns() >= deadline) {
			i++;
			break;
		}
	}
	elapsed = bench_now_ns() - t0;
	check(argv[1], argv[2]);
	printf("calls %ld ns_per_call %.1f\n", i, (double)elapsed / (double)i);
	return 0;
}
