/* Shared scaffolding for the per-hook snippet programs.
 *
 * Each snippet defines snippet_run() (0 = pass). main() runs it, unless
 * S5_SNIPPET_CTOR is set: then libctor.so has already run it from its
 * constructor, before the preloaded library's own constructor, and main()
 * only reports that result. The proxy is a fake SOCKS5 server that echoes
 * (fake_socks.py); the destination 192.0.2.1 is unreachable from the
 * network namespace the snippets run in, so only the proxy can answer. */
#ifndef S5_SNIPPET_H
#define S5_SNIPPET_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int snippet_run(void);
extern int s5_snippet_ctor_result;

#define FAIL(...)                                                             \
	do {                                                                  \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);          \
		fprintf(stderr, __VA_ARGS__);                                 \
		fprintf(stderr, "\n");                                        \
		return 1;                                                     \
	} while (0)

static inline struct sockaddr_in snippet_dst(void)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(80);
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	return sin;
}

/* Sends msg and expects the fake proxy to echo it back. */
static inline int snippet_echo(int fd, const char *msg)
{
	char buf[64];
	size_t n = strlen(msg), got = 0;
	ssize_t r;

	if (write(fd, msg, n) != (ssize_t)n)
		return -1;
	while (got < n) {
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return memcmp(buf, msg, n) == 0 ? 0 : -1;
}

/* True when getpeername(fd) is 192.0.2.1:80. */
static inline int snippet_peer_is_dst(int fd)
{
	struct sockaddr_in peer, want = snippet_dst();
	socklen_t len = sizeof(peer);

	if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
		return 0;
	return len == sizeof(peer) && peer.sin_family == AF_INET &&
	       peer.sin_port == want.sin_port &&
	       peer.sin_addr.s_addr == want.sin_addr.s_addr;
}

/* A TCP socket connected to the destination through the preload. */
static inline int snippet_connect(void)
{
	struct sockaddr_in dst = snippet_dst();
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(void)
{
	int r;

	if (getenv("S5_SNIPPET_CTOR") != NULL) {
		r = s5_snippet_ctor_result;
		printf("%s from a library constructor\n", r == 0 ? "ok" : "FAIL");
		return r == 0 ? 0 : 1;
	}
	r = snippet_run();
	printf("%s from main\n", r == 0 ? "ok" : "FAIL");
	return r == 0 ? 0 : 1;
}

#endif
