/* getnameinfo(): a fake address gives its name back without a query;
 * NI_NUMERICHOST still gives the number; the service is libc's. */
#include "names.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct addrinfo hints = { .ai_family = AF_INET }, *res;
	char host[256], serv[32];
	int r;

	if (getaddrinfo(SNIPPET_NAME, "80", &hints, &res) != 0)
		FAIL("getaddrinfo failed");
	r = getnameinfo(res->ai_addr, res->ai_addrlen, host, sizeof(host),
			serv, sizeof(serv), NI_NUMERICSERV);
	if (r != 0 || strcmp(host, SNIPPET_NAME) || strcmp(serv, "80"))
		FAIL("getnameinfo: %s %s (%d)", host, serv, r);
	r = getnameinfo(res->ai_addr, res->ai_addrlen, host, sizeof(host),
			NULL, 0, NI_NUMERICHOST);
	if (r != 0 || strncmp(host, "198.1", 5) != 0)
		FAIL("NI_NUMERICHOST: %s", host);
	r = getnameinfo(res->ai_addr, res->ai_addrlen, host, 4, NULL, 0, 0);
	if (r != EAI_OVERFLOW)
		FAIL("short buffer: want EAI_OVERFLOW, got %d", r);
	if (snippet_connect_fake4(
		    &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr))
		FAIL("connect to the fake address did not reach the proxy");
	freeaddrinfo(res);
	return 0;
}
