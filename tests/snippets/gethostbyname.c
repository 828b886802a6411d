/* gethostbyname(), gethostbyname2(), and the _r forms: fake addresses,
 * the same one as getaddrinfo gives, ERANGE for a small buffer. */
#include "names.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct hostent he, *res, *h;
	char buf[512], first[4];
	int herr = 0, r;

	h = gethostbyname(SNIPPET_NAME);
	if (h == NULL || h->h_addrtype != AF_INET || !is_fake4(h->h_addr_list[0]))
		FAIL("gethostbyname: no fake IPv4 address");
	memcpy(first, h->h_addr_list[0], 4);
	h = gethostbyname2(SNIPPET_NAME, AF_INET6);
	if (h == NULL || h->h_length != 16 || !is_fake6(h->h_addr_list[0]))
		FAIL("gethostbyname2: no fake IPv6 address");
	r = gethostbyname_r(SNIPPET_NAME, &he, buf, sizeof(buf), &res, &herr);
	if (r != 0 || res == NULL || memcmp(res->h_addr_list[0], first, 4))
		FAIL("gethostbyname_r: not the same address");
	r = gethostbyname2_r(SNIPPET_NAME, AF_INET, &he, buf, 8, &res, &herr);
	if (r != ERANGE || res != NULL)
		FAIL("gethostbyname2_r: small buffer should give ERANGE");
	if (snippet_connect_fake4(first))
		FAIL("connect to the fake address did not reach the proxy");
	return 0;
}
