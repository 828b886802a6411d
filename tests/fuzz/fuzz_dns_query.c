/* libFuzzer target for the supervisor's DNS answers (src/dns/answer.c).
 *
 * The input is taken as a query, as a reply and as a reverse name. Beyond
 * "no crash, no read past the end": a query that is read gives a reply
 * that answers it (s5_dns_check_reply) and carries exactly the addresses
 * put in (s5_dns_reply_addrs), a buffer one byte short gives -EMSGSIZE,
 * the name read is one s5_name_normalize keeps as it is, and a malformed
 * reply shows none of its addresses.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "s5_dns.h"
#include "s5_dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fake4[] = { 198, 18, 0, 5, 198, 18, 0, 6 };
static const uint8_t fake6[] = { 0xfd, 0x53, 0x53, 0x57, 0, 0, 0, 0,
				 0, 0, 0, 0, 0, 0, 0, 5 };

static int count(void *ctx, int family, const uint8_t *addr)
{
	(void)addr;
	if (family != AF_INET && family != AF_INET6)
		abort();
	++*(int *)ctx;
	return 0;
}

/* reply (n bytes from a larger buffer) checked from an exact copy. */
static void check_reply(const uint8_t *query, size_t qlen,
			const uint8_t *reply, int n, int addrs, bool answer)
{
	uint8_t *r;
	int seen = 0;

	if (n <= S5_DNS_HDR)
		abort();
	r = malloc((size_t)n);
	if (r == NULL)
		abort();
	memcpy(r, reply, (size_t)n);
	if (s5_dns_reply_addrs(r, (size_t)n, count, &seen) != addrs ||
	    seen != addrs)
		abort();
	if (answer && s5_dns_check_reply(query, qlen, r, (size_t)n, false) !=
			      S5_DNS_ANSWER)
		abort();
	free(r);
}

static void answer(const uint8_t *m, size_t len, const struct s5_dns_query *q,
		   int rc)
{
	uint8_t out[1024];
	const uint8_t *addrs = NULL;
	size_t n_addrs = 0, alen = 0;
	int rcode = rc == 0 ? S5_RCODE_NOERROR : S5_RCODE_REFUSED, n;

	if (rc == 0 && q->qtype == S5_DNS_TYPE_A) {
		addrs = fake4;
		n_addrs = 2;
		alen = 4;
	} else if (rc == 0 && q->qtype == S5_DNS_TYPE_AAAA) {
		addrs = fake6;
		n_addrs = 1;
		alen = 16;
	}
	n = s5_dns_build_reply(m, len, q, rcode, addrs, n_addrs, alen, 60, out,
			       sizeof(out));
	check_reply(m, len, out, n, (int)n_addrs, rc == 0);
	if (s5_dns_build_reply(m, len, q, rcode, addrs, n_addrs, alen, 60, out,
			       (size_t)n - 1) != -EMSGSIZE)
		abort();
	if (rc == 0 && q->qtype == S5_DNS_TYPE_PTR) {
		n = s5_dns_build_ptr_reply(m, len, q, "host.example.test", 60,
					   out, sizeof(out));
		check_reply(m, len, out, n, 0, true);
	}
}

static void as_query(const uint8_t *m, size_t len)
{
	struct s5_dns_query q;
	char norm[S5_NAME_MAX + 1];
	int rc = s5_dns_parse_query(m, len, &q);

	if (rc == -EINVAL)
		return;
	if ((rc != 0 && rc != -EILSEQ) || q.qoff != S5_DNS_HDR ||
	    q.qoff + q.qlen > len)
		abort();
	if (rc == 0 && (s5_name_normalize(q.name, norm) !=
				(int)strlen(q.name) ||
			strcmp(norm, q.name) != 0))
		abort();
	if (rc == -EILSEQ && q.name[0] != '\0')
		abort();
	answer(m, len, &q, rc);
}

static void as_reply(const uint8_t *m, size_t len)
{
	int seen = 0, n = s5_dns_reply_addrs(m, len, count, &seen);

	if (n != seen && !(n == -EINVAL && seen == 0))
		abort();
}

static void as_reverse_name(const uint8_t *data, size_t size)
{
	char name[300];
	uint8_t addr[16];
	int family = 0;
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;

	memcpy(name, data, n);
	name[n] = '\0';
	if (s5_dns_ptr_addr(name, &family, addr) == 0 && family != AF_INET &&
	    family != AF_INET6)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly the right size, so ASan sees any overread. */
	uint8_t *m = malloc(size ? size : 1);

	if (m == NULL)
		abort();
	memcpy(m, data, size);
	as_query(m, size);
	as_reply(m, size);
	as_reverse_name(data, size);
	free(m);
	return 0;
}
