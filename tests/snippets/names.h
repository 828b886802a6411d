/* Helpers for the resolver snippets: a name that only the (fake) proxy
 * could resolve, and a check that an address is in the default fake
 * ranges (198.18.0.0/15, fd53:5357::/64). */
#ifndef S5_SNIPPET_NAMES_H
#define S5_SNIPPET_NAMES_H

#include <netdb.h>

#include "snippet.h"

#define SNIPPET_NAME "www.example.test"

static inline int is_fake4(const void *a)
{
	const unsigned char *b = a;

	return b[0] == 198 && (b[1] & 0xfe) == 18;
}

static inline int is_fake6(const void *a)
{
	static const unsigned char net[8] = { 0xfd, 0x53, 0x53, 0x57 };

	return memcmp(a, net, 8) == 0;
}

/* Connects to a fake IPv4 address and expects the echo through the proxy,
 * which proves the library turned the address back into the name. */
static inline int snippet_connect_fake4(const void *addr)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), r;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(80);
	memcpy(&sin.sin_addr, addr, 4);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		return -1;
	r = snippet_echo(fd, "by name");
	close(fd);
	return r;
}

#endif
