/* getaddrinfo()/freeaddrinfo(): a name gets fake addresses of both
 * families (IPv4 first), libc's service handling, a canonical name, and
 * both our results and libc's are freed by the program's freeaddrinfo. */
#include "names.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_CANONNAME };
	struct addrinfo *res, *num, *ai;
	int n4 = 0, n6 = 0, r;

	r = getaddrinfo(SNIPPET_NAME, "http", &hints, &res);
	if (r != 0)
		FAIL("getaddrinfo: %s", gai_strerror(r));
	if (res->ai_family != AF_INET)
		FAIL("IPv4 does not come first");
	if (res->ai_canonname == NULL ||
	    strcmp(res->ai_canonname, SNIPPET_NAME) != 0)
		FAIL("canonical name missing");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_socktype != SOCK_STREAM)
			FAIL("socket type not honoured");
		if (ai->ai_family == AF_INET) {
			struct sockaddr_in *s = (void *)ai->ai_addr;

			n4 += is_fake4(&s->sin_addr) && ntohs(s->sin_port) == 80;
		} else {
			struct sockaddr_in6 *s = (void *)ai->ai_addr;

			n6 += is_fake6(&s->sin6_addr) &&
			      ntohs(s->sin6_port) == 80;
		}
	}
	if (n4 != 1 || n6 != 1)
		FAIL("want one fake address per family (%d, %d)", n4, n6);
	if (snippet_connect_fake4(
		    &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr))
		FAIL("connect to the fake address did not reach the proxy");
	/* libc's own result, freed in between ours. */
	if (getaddrinfo("192.0.2.9", "80", NULL, &num) != 0)
		FAIL("numeric getaddrinfo failed");
	freeaddrinfo(res);
	freeaddrinfo(num);
	if (getaddrinfo(SNIPPET_NAME, "no-such-service", &hints, &res) !=
	    EAI_SERVICE)
		FAIL("unknown service: want EAI_SERVICE as libc gives");
	if (getaddrinfo("", NULL, NULL, &res) != EAI_NONAME)
		FAIL("empty name: want EAI_NONAME");
	return 0;
}
