/* A program that looks names up with the res_* family (res_query,
 * res_search, res_querydomain, res_send and the res_n* forms), for
 * test_res.py: Python has no binding for them.
 *
 *   res_client [options] OP NAME [TYPE [DOMAIN]]
 *     OP      query | search | querydomain | send | nquery | nsearch |
 *             nquerydomain | nsend
 *     TYPE    A, AAAA, MX, TXT, SRV or a number (default A)
 *   options (applied to the resolver state after res_init/res_ninit):
 *     --ns ADDR[:PORT] | --ns [V6ADDR]:PORT   name server (repeatable;
 *                                             replaces resolv.conf's)
 *     --retrans S  --retry N  --ndots N  --usevc  --edns0  --igntc
 *     --search DOMAIN (repeatable)  --anslen N
 *
 * Prints one JSON line: the return value, h_errno, errno, the reply's
 * rcode, tc and answer count, the answers as text (A, AAAA, MX, TXT) and
 * the milliseconds the call took. Exit status 0 unless the arguments are
 * wrong. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SEARCH 6

static struct {
	const char *ns[MAXNS];
	int nns, retrans, retry, ndots, anslen;
	int usevc, edns0, igntc;
	const char *search[MAX_SEARCH];
	int nsearch;
} opt = { .retrans = -1, .retry = -1, .ndots = -1, .anslen = 4096 };

static char search_buf[MAX_SEARCH][256];

static int parse_ns(const char *text, struct sockaddr_storage *out)
{
	char host[128];
	const char *port = NULL, *end;
	struct sockaddr_in *s4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (end == NULL || (size_t)(end - text) >= sizeof(host))
			return -1;
		n = (size_t)(end - text - 1);
		memcpy(host, text + 1, n);
		host[n] = '\0';
		if (end[1] == ':')
			port = end + 2;
	} else {
		end = strchr(text, ':');
		n = end ? (size_t)(end - text) : strlen(text);
		if (n >= sizeof(host))
			return -1;
		memcpy(host, text, n);
		host[n] = '\0';
		if (end)
			port = end + 1;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port ? atoi(port) : 53);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port ? atoi(port) : 53);
		return AF_INET6;
	}
	return -1;
}

/* Applies the options to st (already initialised). */
static int apply(res_state st)
{
	struct sockaddr_storage ss;
	int i;

	if (opt.nns > 0) {
		for (i = 0; i < opt.nns; i++) {
			int fam = parse_ns(opt.ns[i], &ss);

			if (fam == AF_INET) {
				memcpy(&st->nsaddr_list[i], &ss,
				       sizeof(struct sockaddr_in));
				st->_u._ext.nsaddrs[i] = NULL;
			} else if (fam == AF_INET6) {
				st->nsaddr_list[i].sin_family = 0;
				st->_u._ext.nsaddrs[i] =
					malloc(sizeof(struct sockaddr_in6));
				memcpy(st->_u._ext.nsaddrs[i], &ss,
				       sizeof(struct sockaddr_in6));
			} else {
				fprintf(stderr, "bad --ns %s\n", opt.ns[i]);
				return -1;
			}
		}
		st->nscount = opt.nns;
	}
	if (opt.retrans >= 0)
		st->retrans = opt.retrans;
	if (opt.retry >= 0)
		st->retry = opt.retry;
	if (opt.ndots >= 0)
		st->ndots = opt.ndots;
	if (opt.usevc)
		st->options |= RES_USEVC;
	if (opt.edns0)
		st->options |= RES_USE_EDNS0;
	if (opt.igntc)
		st->options |= RES_IGNTC;
	if (opt.nsearch > 0) {
		for (i = 0; i < opt.nsearch; i++) {
			snprintf(search_buf[i], sizeof(search_buf[i]), "%s",
				 opt.search[i]);
			st->dnsrch[i] = search_buf[i];
		}
		st->dnsrch[i] = NULL;
	}
	return 0;
}

static int type_of(const char *t)
{
	if (strcmp(t, "A") == 0)
		return ns_t_a;
	if (strcmp(t, "AAAA") == 0)
		return ns_t_aaaa;
	if (strcmp(t, "MX") == 0)
		return ns_t_mx;
	if (strcmp(t, "TXT") == 0)
		return ns_t_txt;
	if (strcmp(t, "SRV") == 0)
		return ns_t_srv;
	return atoi(t);
}

static void json_str(const char *s, size_t n)
{
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* The answer section as JSON strings. */
static void print_answers(const unsigned char *ans, int len)
{
	char text[NS_MAXDNAME + 16];
	ns_msg msg;
	ns_rr rr;
	int i, n, first = 1;

	printf("[");
	if (ns_initparse(ans, len, &msg) < 0) {
		printf("]");
		return;
	}
	n = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < n; i++) {
		const unsigned char *rd;
		size_t tl = 0;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			break;
		rd = ns_rr_rdata(rr);
		text[0] = '\0';
		switch (ns_rr_type(rr)) {
		case ns_t_a:
			inet_ntop(AF_INET, rd, text, sizeof(text));
			break;
		case ns_t_aaaa:
			inet_ntop(AF_INET6, rd, text, sizeof(text));
			break;
		case ns_t_mx: {
			char host[NS_MAXDNAME];

			if (dn_expand(ns_msg_base(msg), ns_msg_end(msg),
				      rd + 2, host, sizeof(host)) < 0)
				break;
			snprintf(text, sizeof(text), "%d %s",
				 rd[0] << 8 | rd[1], host);
			break;
		}
		case ns_t_txt: {
			const unsigned char *p = rd,
					    *e = rd + ns_rr_rdlen(rr);

			while (p < e && tl + *p < sizeof(text) - 1) {
				memcpy(text + tl, p + 1, *p);
				tl += *p;
				p += 1 + *p;
			}
			text[tl] = '\0';
			break;
		}
		default:
			snprintf(text, sizeof(text), "type %d",
				 ns_rr_type(rr));
		}
		if (!first)
			printf(", ");
		first = 0;
		json_str(text, strlen(text));
	}
	printf("]");
}

static int usage(void)
{
	fprintf(stderr, "usage: res_client [options] OP NAME [TYPE "
			"[DOMAIN]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static unsigned char ans[65536], q[1024];

	struct __res_state st;
	struct timespec t0, t1;
	const char *op, *name, *domain = NULL;
	int i, type = ns_t_a, r, herr, err, n, is_n;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o = argv[i];

		if (strcmp(o, "--usevc") == 0)
			opt.usevc = 1;
		else if (strcmp(o, "--edns0") == 0)
			opt.edns0 = 1;
		else if (strcmp(o, "--igntc") == 0)
			opt.igntc = 1;
		else if (i + 1 >= argc)
			return usage();
		else if (strcmp(o, "--ns") == 0 && opt.nns < MAXNS)
			opt.ns[opt.nns++] = argv[++i];
		else if (strcmp(o, "--retrans") == 0)
			opt.retrans = atoi(argv[++i]);
		else if (strcmp(o, "--retry") == 0)
			opt.retry = atoi(argv[++i]);
		else if (strcmp(o, "--ndots") == 0)
			opt.ndots = atoi(argv[++i]);
		else if (strcmp(o, "--anslen") == 0)
			opt.anslen = atoi(argv[++i]);
		else if (strcmp(o, "--search") == 0 && opt.nsearch < MAX_SEARCH)
			opt.search[opt.nsearch++] = argv[++i];
		else
			return usage();
	}
	if (argc - i < 2 || opt.anslen > (int)sizeof(ans))
		return usage();
	op = argv[i];
	name = argv[i + 1];
	if (argc - i > 2)
		type = type_of(argv[i + 2]);
	if (argc - i > 3)
		domain = argv[i + 3];
	is_n = op[0] == 'n';
	if (is_n) {
		memset(&st, 0, sizeof(st));
		if (res_ninit(&st) != 0 || apply(&st) != 0)
			return 2;
	} else if (res_init() != 0 || apply(&_res) != 0) {
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	h_errno = 0;
	if (strcmp(op, "query") == 0)
		r = res_query(name, ns_c_in, type, ans, opt.anslen);
	else if (strcmp(op, "search") == 0)
		r = res_search(name, ns_c_in, type, ans, opt.anslen);
	else if (strcmp(op, "querydomain") == 0)
		r = res_querydomain(name, domain, ns_c_in, type, ans,
				    opt.anslen);
	else if (strcmp(op, "nquery") == 0)
		r = res_nquery(&st, name, ns_c_in, type, ans, opt.anslen);
	else if (strcmp(op, "nsearch") == 0)
		r = res_nsearch(&st, name, ns_c_in, type, ans, opt.anslen);
	else if (strcmp(op, "nquerydomain") == 0)
		r = res_nquerydomain(&st, name, domain, ns_c_in, type, ans,
				     opt.anslen);
	else if (strcmp(op, "send") == 0 || strcmp(op, "nsend") == 0) {
		n = res_mkquery(ns_o_query, name, ns_c_in, type, NULL, 0, NULL,
				q, sizeof(q));
		if (n < 0)
			return 2;
		r = is_n ? res_nsend(&st, q, n, ans, opt.anslen)
			 : res_send(q, n, ans, opt.anslen);
	} else
		return usage();
	err = errno;
	herr = h_errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	n = r < 0 ? 0 : r < opt.anslen ? r : opt.anslen;
	printf("{\"rc\": %d, \"h_errno\": %d, \"errno\": %d", r, herr, err);
	/* On failure too: res_query leaves the reply (NXDOMAIN...) there. */
	if (opt.anslen >= HFIXEDSZ)
		printf(", \"rcode\": %d, \"tc\": %d, \"ancount\": %d",
		       ans[3] & 0x0f, (ans[2] >> 1) & 1, ans[6] << 8 | ans[7]);
	printf(", \"answers\": ");
	print_answers(ans, n);
	printf(", \"ms\": %ld}\n",
	       (long)((t1.tv_sec - t0.tv_sec) * 1000 +
		      (t1.tv_nsec - t0.tv_nsec) / 1000000));
	return 0;
}
