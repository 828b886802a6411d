/* gethostbyaddr() and gethostbyaddr_r(): a fake address gives its name;
 * an unknown fake address is not found (no query goes out for it). */
#include "names.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct hostent he, *res, *h;
	unsigned char unknown[4] = { 198, 19, 255, 200 };
	char buf[512], addr[4];
	int herr = 0, r;

	h = gethostbyname(SNIPPET_NAME);
	if (h == NULL)
		FAIL("gethostbyname failed");
	memcpy(addr, h->h_addr_list[0], 4);
	h = gethostbyaddr(addr, 4, AF_INET);
	if (h == NULL || strcmp(h->h_name, SNIPPET_NAME) != 0)
		FAIL("gethostbyaddr: wrong name");
	r = gethostbyaddr_r(addr, 4, AF_INET, &he, buf, sizeof(buf), &res,
			    &herr);
	if (r != 0 || res == NULL || strcmp(res->h_name, SNIPPET_NAME) != 0)
		FAIL("gethostbyaddr_r: wrong name");
	r = gethostbyaddr_r(unknown, 4, AF_INET, &he, buf, sizeof(buf), &res,
			    &herr);
	if (r != 0 || res != NULL || herr != HOST_NOT_FOUND)
		FAIL("unknown fake address: want HOST_NOT_FOUND");
	if (snippet_connect_fake4(addr))
		FAIL("connect to the fake address did not reach the proxy");
	if (snippet_connect_fake4(unknown) == 0 || errno != EHOSTUNREACH)
		FAIL("unknown fake address: connect must fail EHOSTUNREACH");
	return 0;
}
