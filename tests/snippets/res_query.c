/* res_query() and its family: the query travels through the proxy's UDP
 * relay to the name server 192.0.2.1:53 (which only the fake proxy can
 * reach), a truncated reply is asked again over TCP through the proxy,
 * NXDOMAIN gives HOST_NOT_FOUND, and res_search, res_nquery and
 * res_send take the same way. */
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

#include "snippet.h"

/* The last answer record of a reply is an A record: its address. */
static int answer_is(const unsigned char *ans, int len, const char *addr)
{
	struct in_addr want;

	inet_pton(AF_INET, addr, &want);
	return len >= 16 && (ans[6] << 8 | ans[7]) == 1 &&
	       memcmp(ans + len - 4, &want, 4) == 0;
}

static void use_fake_server(res_state st)
{
	struct sockaddr_in ns = snippet_dst();

	ns.sin_port = htons(53);
	st->nsaddr_list[0] = ns;
	st->nscount = 1;
	st->retrans = 2;
	st->retry = 1;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	static char domain[] = "example.test";
	unsigned char ans[1024], q[512];
	struct __res_state st;
	int n;

	if (res_init() != 0)
		FAIL("res_init");
	use_fake_server(&_res);
	n = res_query("www.example.test", C_IN, T_A, ans, sizeof(ans));
	if (!answer_is(ans, n, "192.0.2.1"))
		FAIL("res_query: %d, h_errno %d", n, h_errno);
	n = res_query("tc.example.test", C_IN, T_A, ans, sizeof(ans));
	if (!answer_is(ans, n, "192.0.2.7"))
		FAIL("res_query after a truncated reply: %d, h_errno %d", n,
		     h_errno);
	n = res_query("nosuch.example.test", C_IN, T_A, ans, sizeof(ans));
	if (n != -1 || h_errno != HOST_NOT_FOUND)
		FAIL("res_query of an unknown name: %d, h_errno %d", n,
		     h_errno);
	_res.dnsrch[0] = domain;
	_res.dnsrch[1] = NULL;
	_res.options |= RES_DNSRCH | RES_DEFNAMES;
	n = res_search("www", C_IN, T_A, ans, sizeof(ans));
	if (!answer_is(ans, n, "192.0.2.1"))
		FAIL("res_search with a search domain: %d, h_errno %d", n,
		     h_errno);
	n = res_mkquery(QUERY, "www.example.test", C_IN, T_A, NULL, 0, NULL, q,
			sizeof(q));
	if (n <= 0)
		FAIL("res_mkquery");
	n = res_send(q, n, ans, sizeof(ans));
	if (!answer_is(ans, n, "192.0.2.1"))
		FAIL("res_send: %d, %s", n, strerror(errno));
	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0)
		FAIL("res_ninit");
	use_fake_server(&st);
	n = res_nquery(&st, "www.example.test", C_IN, T_A, ans, sizeof(ans));
	if (!answer_is(ans, n, "192.0.2.1"))
		FAIL("res_nquery: %d, h_errno %d", n, h_errno);
	res_nclose(&st);
	return 0;
}
