/* libFuzzer target for the DNS reply checker (src/dns/msg.c).
 *
 * The input's first byte says how long the query is; the query and the
 * reply follow. Beyond "no crash, no read past the end": a reply that is
 * taken as an answer or a truncation carries the query's ID with QR set,
 * h_errno is one of the four res_query gives, and the question text fits
 * its buffer.
 */
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s5_dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const uint8_t *msg, size_t len)
{
	char name[S5_DNS_MAXDNAME + 1];
	uint16_t type;
	int n = s5_dns_first_question(msg, len, name, sizeof(name), &type);

	if (n >= 0 && ((size_t)n >= sizeof(name) || strlen(name) != (size_t)n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum s5_dns_verdict v;
	uint8_t *q, *r;
	size_t qlen, rlen;
	int h;

	if (size < 1)
		return 0;
	qlen = data[0];
	if (qlen > size - 1)
		qlen = size - 1;
	rlen = size - 1 - qlen;
	/* Copies of exactly the right size, so ASan sees any overread. */
	q = malloc(qlen ? qlen : 1);
	r = malloc(rlen ? rlen : 1);
	if (q == NULL || r == NULL)
		abort();
	memcpy(q, data + 1, qlen);
	memcpy(r, data + 1 + qlen, rlen);
	v = s5_dns_check_reply(q, qlen, r, rlen, (data[0] & 1) != 0);
	if ((v == S5_DNS_ANSWER || v == S5_DNS_TRUNC) &&
	    (rlen < S5_DNS_HDR || qlen < S5_DNS_HDR || q[0] != r[0] ||
	     q[1] != r[1] || !(r[2] & 0x80)))
		abort();
	h = s5_dns_reply_herrno(r, rlen);
	if (h != 0 && h != HOST_NOT_FOUND && h != TRY_AGAIN && h != NO_DATA &&
	    h != NO_RECOVERY)
		abort();
	check_text(q, qlen);
	check_text(r, rlen);
	free(q);
	free(r);
	return 0;
}
