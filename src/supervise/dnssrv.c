/* The supervisor's DNS responder.
 *
 * Programs with a resolver of their own (Go's, static glibc's or musl's)
 * send their queries to the name servers of /etc/resolv.conf. calls.c
 * points those datagrams (and UDP connects to port 53 of a name server)
 * at this responder instead, on loopback, which answers:
 *   - A and AAAA: the name's fake address (the same kind of pool as the
 *     preload's), so the name later travels inside CONNECT;
 *   - PTR of a fake address: its name;
 *   - names SOCKS5WRAP_NO_PROXY says to resolve locally: the query is
 *     forwarded to the first name server and its answer relayed, and the
 *     addresses in it go to the pool's direct set (connects to them go
 *     direct, as with the preload);
 *   - anything else: REFUSED. No query leaves the machine.
 * The answer comes from the responder's address, which is the peer of a
 * connected socket; a program that checks the source of replies to an
 * unconnected socket against its name servers (musl) will ignore it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "s5_dns.h"
#include "s5_dnsmsg.h"
#include "s5_log.h"
#include "sup.h"

#define RESOLV_CONF "/etc/resolv.conf"
#define QUERY_MAX 4096
#define FWD_TIMEOUT_MS 5000
#define TTL 60

static void add_ns(struct s5s_dns *d, const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char buf[INET6_ADDRSTRLEN + 1];
	socklen_t len;
	char *pct;

	if (d->n_ns >= S5S_NS_MAX || strlen(text) >= sizeof(buf))
		return;
	strcpy(buf, text);
	pct = strchr(buf, '%'); /* fe80::1%eth0: the scope does not matter */
	if (pct)
		*pct = '\0';
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(53);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(53);
		len = sizeof(*s6);
	} else {
		return;
	}
	if (s5_addr_from_sockaddr(&d->ns[d->n_ns], (struct sockaddr *)&ss,
				  len) < 0)
		return;
	if (d->n_ns == 0) {
		d->fwd_to = ss;
		d->fwd_to_len = len;
	}
	d->n_ns++;
}

/* "nameserver ADDR" lines, as resolv.conf(5) has them; with none, the
 * resolvers use this host's port 53. */
static void read_resolv_conf(struct s5s_dns *d)
{
	char line[512];
	FILE *f = fopen(RESOLV_CONF, "re");

	while (f && fgets(line, sizeof(line), f)) {
		char word[16], addr[128];

		if (sscanf(line, " %15s %127s", word, addr) == 2 &&
		    strcmp(word, "nameserver") == 0)
			add_ns(d, addr);
	}
	if (f)
		fclose(f);
	if (d->n_ns == 0) {
		add_ns(d, "127.0.0.1");
		add_ns(d, "::1");
	}
}

static int open_responder(int family, struct sockaddr_storage *addr)
{
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6);
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int on = 1;

	if (fd < 0)
		return -1;
	memset(addr, 0, sizeof(*addr));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)addr;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)addr;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
				 sizeof(on));
	}
	if (bind(fd, (struct sockaddr *)addr, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int s5s_dns_init(struct sup *s)
{
	struct s5s_dns *d = &s->dns;
	struct sockaddr_storage a;

	read_resolv_conf(d);
	d->fd4 = open_responder(AF_INET, &a);
	if (d->fd4 >= 0)
		memcpy(&d->addr4, &a, sizeof(d->addr4));
	d->fd6 = open_responder(AF_INET6, &a);
	if (d->fd6 >= 0)
		memcpy(&d->addr6, &a, sizeof(d->addr6));
	return 0;
}

void s5s_dns_free(struct s5s_dns *d)
{
	size_t i;

	if (d->fd4 >= 0)
		close(d->fd4);
	if (d->fd6 >= 0)
		close(d->fd6);
	d->fd4 = d->fd6 = -1;
	for (i = 0; i < S5S_FWD_MAX; i++)
		if (d->fwd[i].fd >= 0) {
			close(d->fwd[i].fd);
			d->fwd[i].fd = -1;
		}
}

bool s5s_dns_is_ns(const struct s5s_dns *d, const struct s5_addr *a)
{
	size_t i;

	if (a->port != 53)
		return false;
	for (i = 0; i < d->n_ns; i++) {
		const struct s5_addr *n = &d->ns[i];

		if (n->atyp != a->atyp)
			continue;
		if (a->atyp == S5_ATYP_IPV4 && memcmp(n->u.v4, a->u.v4, 4) == 0)
			return true;
		if (a->atyp == S5_ATYP_IPV6 &&
		    memcmp(n->u.v6, a->u.v6, 16) == 0)
			return true;
	}
	return false;
}

int s5s_dns_addr(const struct s5s_dns *d, int domain, bool v6only,
		 struct sockaddr_storage *out, socklen_t *len)
{
	memset(out, 0, sizeof(*out));
	if (d->fd4 >= 0 && (domain == AF_INET || !v6only)) {
		if (domain == AF_INET) {
			memcpy(out, &d->addr4, sizeof(d->addr4));
			*len = sizeof(d->addr4);
		} else {
			s5_sockaddr_mapped(&d->addr4, out, len);
		}
		return 0;
	}
	if (d->fd6 >= 0 && domain == AF_INET6) {
		memcpy(out, &d->addr6, sizeof(d->addr6));
		*len = sizeof(d->addr6);
		return 0;
	}
	s5log_msg(S5LOG_ERROR, "a DNS query from a supervised program, and no "
		  "loopback address to answer it on; refused", NULL);
	return -ENETUNREACH;
}

static void log_answer(const struct s5_dns_query *q, const char *what)
{
	struct s5log_line l;

	if (!s5log_enabled(S5LOG_DEBUG))
		return;
	s5log_begin(&l, S5LOG_DEBUG);
	s5log_str(&l, "DNS query for ");
	s5log_str(&l, q->name[0] ? q->name : "?");
	s5log_str(&l, " type ");
	s5log_uint(&l, q->qtype);
	s5log_str(&l, ": ");
	s5log_str(&l, what);
	s5log_end(&l);
}

/* Hands the query to the first name server; the answer comes back through
 * s5s_dns_fwd_ready. Returns 0 or -errno. */
static int forward(struct sup *s, int rsock, const uint8_t *msg, size_t len,
		   const struct s5_dns_query *q,
		   const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct s5s_dns *d = &s->dns;
	struct s5s_fwd *f = NULL;
	size_t i;
	int fd;

	for (i = 0; i < S5S_FWD_MAX && !f; i++)
		if (d->fwd[i].fd < 0)
			f = &d->fwd[i];
	if (!f || d->fwd_to_len == 0)
		return -EAGAIN;
	fd = socket(d->fwd_to.ss_family,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&d->fwd_to, d->fwd_to_len) < 0 ||
	    send(fd, msg, len, 0) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	f->fd = fd;
	f->deadline = s5_now_ms() + FWD_TIMEOUT_MS;
	f->id = q->id;
	f->rsock = rsock;
	f->from = *from;
	f->fromlen = fromlen;
	return 0;
}

/* The reply to one query, in out; 0 when it was forwarded instead (or
 * cannot be answered at all). */
static int answer(struct sup *s, int rsock, const uint8_t *msg, size_t len,
		  const struct sockaddr_storage *from, socklen_t fromlen,
		  uint8_t *out, size_t cap)
{
	struct s5_dns_query q;
	uint8_t v4[4], v6[16], addr[16];
	char name[S5_NAME_MAX + 1];
	int r = s5_dns_parse_query(msg, len, &q);
	int family;

	if (r == -EINVAL)
		return 0; /* not a query we can even reply to */
	if (q.edns && q.edns_payload > 512 && q.edns_payload < cap)
		cap = q.edns_payload;
	else if (!q.edns && cap > 512)
		cap = 512;
	if (r == 0 && q.qclass == S5_DNS_CLASS_IN &&
	    s5_exclude_match_name(&s->cfg->exclude, q.name, 0)) {
		log_answer(&q, "excluded from the proxy: forwarded");
		if (forward(s, rsock, msg, len, &q, from, fromlen) == 0)
			return 0;
		return s5_dns_build_reply(msg, len, &q, S5_RCODE_SERVFAIL,
					  NULL, 0, 0, 0, out, cap);
	}
	if (r == 0 && q.qclass == S5_DNS_CLASS_IN &&
	    (q.qtype == S5_DNS_TYPE_A || q.qtype == S5_DNS_TYPE_AAAA)) {
		r = s5_pool_lookup(s->pool, q.name,
				   (uint32_t)(s5_now_ms() / 1000), v4, v6);
		if (r < 0) {
			log_answer(&q, "no free fake address: SERVFAIL");
			return s5_dns_build_reply(msg, len, &q,
						  S5_RCODE_SERVFAIL, NULL, 0,
						  0, 0, out, cap);
		}
		log_answer(&q, "a fake address");
		return q.qtype == S5_DNS_TYPE_A
			       ? s5_dns_build_reply(msg, len, &q,
						    S5_RCODE_NOERROR, v4, 1, 4,
						    TTL, out, cap)
			       : s5_dns_build_reply(msg, len, &q,
						    S5_RCODE_NOERROR, v6, 1,
						    16, TTL, out, cap);
	}
	if (r == 0 && q.qclass == S5_DNS_CLASS_IN &&
	    q.qtype == S5_DNS_TYPE_PTR &&
	    s5_dns_ptr_addr(q.name, &family, addr) == 0 &&
	    s5_pool_reverse(s->pool, family, addr,
			    (uint32_t)(s5_now_ms() / 1000), name,
			    sizeof(name)) >= 0) {
		log_answer(&q, "the name of a fake address");
		return s5_dns_build_ptr_reply(msg, len, &q, name, TTL, out,
					      cap);
	}
	log_answer(&q, "refused");
	return s5_dns_build_reply(msg, len, &q, S5_RCODE_REFUSED, NULL, 0, 0,
				  0, out, cap);
}

void s5s_dns_serve(struct sup *s, int fd)
{
	uint8_t msg[QUERY_MAX], out[QUERY_MAX];
	int i;

	/* A few per wake-up, so one busy program cannot starve the rest. */
	for (i = 0; i < 16; i++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, msg, sizeof(msg), 0,
				     (struct sockaddr *)&from, &fromlen);
		int r;

		if (n < 0)
			return;
		r = answer(s, fd, msg, (size_t)n, &from, fromlen, out,
			   sizeof(out));
		if (r > 0)
			(void)sendto(fd, out, (size_t)r, 0,
				     (struct sockaddr *)&from, fromlen);
	}
}

static int note_direct(void *ctx, int family, const uint8_t *addr)
{
	struct sup *s = ctx;

	s5_pool_direct_add(s->pool, family, addr);
	return 0;
}

static void fwd_close(struct s5s_fwd *f)
{
	close(f->fd);
	f->fd = -1;
}

void s5s_dns_fwd_ready(struct sup *s, struct s5s_fwd *f)
{
	uint8_t msg[QUERY_MAX];
	ssize_t n = recv(f->fd, msg, sizeof(msg), 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* Only the answer to the query we sent, from the server we sent
	 * it to (the socket is connected). */
	if (n >= S5_DNS_HDR && msg[0] == (uint8_t)(f->id >> 8) &&
	    msg[1] == (uint8_t)f->id && (msg[2] & 0x80)) {
		(void)s5_dns_reply_addrs(msg, (size_t)n, note_direct, s);
		(void)sendto(f->rsock, msg, (size_t)n, 0,
			     (struct sockaddr *)&f->from, f->fromlen);
	} else if (n >= 0) {
		return; /* not the answer: keep waiting */
	}
	fwd_close(f);
}

void s5s_dns_fwd_expire(struct sup *s, int64_t now)
{
	size_t i;

	for (i = 0; i < S5S_FWD_MAX; i++)
		if (s->dns.fwd[i].fd >= 0 && now >= s->dns.fwd[i].deadline)
			fwd_close(&s->dns.fwd[i]);
}
