/* --check: is each proxy there, and does it accept our credentials?
 *
 * The same handshake the library runs, stopped after authentication
 * (cmd 0), so a user can tell a wrong address from a wrong password
 * before blaming the program. A failover list is checked proxy by proxy;
 * a chain's first proxy alone (the others may be reachable only through
 * the one before them), then the chain as a whole, authenticating at
 * its last proxy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "s5_config.h"
#include "s5_log.h"
#include "s5_net.h"
#include "s5_try.h"
#include "launcher.h"

/* "[v6]:port" or "v4:port", and the name in front when the proxy was
 * given by name: "proxy.example (192.0.2.1:1080)". */
#define LABEL_MAX (S5_NAME_MAX + INET6_ADDRSTRLEN + 16)

static void format_label(const struct s5_proxy *p, const struct sockaddr *sa,
			 char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	char addr[INET6_ADDRSTRLEN + 10];
	uint16_t port;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
		snprintf(addr, sizeof(addr), "[%s]:%u", ip, port);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
		snprintf(addr, sizeof(addr), "%s:%u", ip, port);
	}
	if (p->is_name)
		snprintf(buf, cap, "%s (%s)", p->url.host, addr);
	else
		snprintf(buf, cap, "%s", addr);
}

static void report_success(const char *what, const char *label,
			   const struct s5_hs *hs)
{
	if (hs->method == S5_METHOD_USERPASS)
		printf("%s %s reachable; method: username/password; "
		       "authentication succeeded\n", what, label);
	else
		printf("%s %s reachable; method: no authentication\n", what,
		       label);
}

/* hs.why is set once the handshake itself failed; before that, the
 * connect to the proxy is what went wrong. */
static const char *failure_why(const struct s5_hs *hs)
{
	if (hs->state == S5HS_FAILED && hs->why)
		return hs->why;
	if (hs->state == S5HS_SEND_GREETING && hs->out_off == 0)
		return "cannot connect";
	return "handshake failed";
}

/* One attempt on one address of proxy i; with chain, through the whole
 * chain. Returns 0 or the -errno of the failure, with hs left for the
 * caller to read. */
static int attempt(const struct s5_config *c, unsigned i, bool chain,
		   const struct sockaddr *sa, socklen_t len, struct s5_hs *hs)
{
	const struct s5_hop *h = &c->hop[i];
	int fd, rc;

	s5_hs_init(hs, 0, NULL, h->auth, h->user, h->user_len, h->pass,
		   h->pass_len);
	if (chain)
		s5_hs_chain(hs, &c->hop[1], c->n_proxies - 1);
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		/* Reported like a failed handshake: the net module's
		 * own failure helper is not ours to call. */
		rc = -errno;
		hs->state = S5HS_FAILED;
		hs->why = "no socket";
		return rc;
	}
	rc = s5_proxy_connect(fd, sa, len, hs, &s5_io_libc, c->timeout_ms);
	close(fd);
	return rc;
}

/* The addresses of proxy i to try, IPv4 first: it is what most proxies
 * listen on, and a host name that resolves to both is most often
 * reachable that way. Returns how many (0 to 2). */
static unsigned addresses(const struct s5_proxy *p,
			  const struct sockaddr *sa[2], socklen_t len[2])
{
	unsigned n = 0;

	if (p->has4) {
		sa[n] = (const struct sockaddr *)&p->addr4;
		len[n++] = sizeof(struct sockaddr_in);
	}
	if (p->has6) {
		sa[n] = (const struct sockaddr *)&p->addr6;
		len[n++] = sizeof(struct sockaddr_in6);
	}
	return n;
}

/* Proxy i alone. Returns 0 or 1. */
static int check_proxy(const struct s5_config *c, unsigned i)
{
	const struct s5_proxy *p = &c->proxy[i];
	const struct sockaddr *sa[2];
	char label[LABEL_MAX];
	socklen_t len[2];
	unsigned k, n = addresses(p, sa, len);
	struct s5_hs hs;
	int rc = 1;

	if (n == 0) {
		fprintf(stderr, "socks5wrap: proxy %s: the name did not "
			"resolve\n", p->label);
		return 1;
	}
	for (k = 0; k < n && rc != 0; k++) {
		format_label(p, sa[k], label, sizeof(label));
		rc = attempt(c, i, false, sa[k], len[k], &hs);
		if (rc == 0)
			report_success("proxy", label, &hs);
		else
			fprintf(stderr, "socks5wrap: proxy %s: %s: %s\n",
				label, failure_why(&hs),
				s5l_strerror(-rc));
		s5_hs_wipe(&hs);
	}
	return rc == 0 ? 0 : 1;
}

/* The chain as a whole: "chain A -> B -> C: ok", or where it stopped.
 * hs.hop counts the proxies after the first that were entered: the
 * failure is at proxy hop + 1 (1-based). Returns 0 or 1. */
static int check_chain(const struct s5_config *c)
{
	const struct s5_proxy *p = s5_config_first(c);
	const struct sockaddr *sa[2];
	char chain[S5_PROXY_MAX * (S5_NAME_MAX + 14)];
	socklen_t len[2];
	unsigned k, at, n = addresses(p, sa, len);
	struct s5_hs hs;
	int rc = -EHOSTUNREACH;

	s5_try_label(c, chain, sizeof(chain));
	memset(&hs, 0, sizeof(hs));
	for (k = 0; k < n && rc != 0; k++) {
		if (k > 0)
			s5_hs_wipe(&hs);
		rc = attempt(c, 0, true, sa[k], len[k], &hs);
	}
	if (rc == 0) {
		printf("chain %s: ok\n", chain);
		s5_hs_wipe(&hs);
		return 0;
	}
	at = n ? hs.hop : 0;
	if (at >= c->n_proxies)
		at = c->n_proxies - 1;
	/* A refused CONNECT to the next proxy (a reply code) is about that
	 * next one: the proxy at hop + 1 could not reach it. */
	if (n && hs.reply.rep != S5_REP_SUCCEEDED && at + 1 < c->n_proxies)
		fprintf(stderr, "socks5wrap: chain %s: failed at proxy %u "
			"(%s): proxy %u could not reach it: %s (%s)\n", chain,
			at + 2, c->proxy[at + 1].label, at + 1,
			failure_why(&hs), s5l_strerror(-rc));
	else
		fprintf(stderr, "socks5wrap: chain %s: failed at proxy %u "
			"(%s): %s (%s)\n", chain, at + 1, c->proxy[at].label,
			n ? failure_why(&hs) : "the name did not resolve",
			s5l_strerror(-rc));
	if (n)
		s5_hs_wipe(&hs);
	return 1;
}

/* Every proxy of a failover list: 0 when at least one works. */
static int check_list(const struct s5_config *c)
{
	char down[S5_PROXY_MAX * (S5_NAME_MAX + 12)];
	unsigned i, n_down = 0;
	size_t off = 0;

	down[0] = '\0';
	for (i = 0; i < c->n_proxies && i < S5_PROXY_MAX; i++) {
		if (check_proxy(c, i) == 0)
			continue;
		n_down++;
		off += (size_t)snprintf(down + off, sizeof(down) - off, "%s%s",
					off ? ", " : "", c->proxy[i].label);
		if (off >= sizeof(down))
			off = sizeof(down) - 1;
	}
	if (c->n_proxies > 1 && n_down > 0 && n_down < c->n_proxies)
		printf("%u of %u proxies down: %s; connections go through "
		       "the others\n", n_down, c->n_proxies, down);
	else if (c->n_proxies > 1 && n_down == c->n_proxies)
		fprintf(stderr, "socks5wrap: all %u proxies are down\n",
			c->n_proxies);
	return n_down < c->n_proxies ? 0 : 1;
}

int s5l_check(void)
{
	struct s5_config c;
	int rc = s5l_load_config(&c);

	if (rc)
		return rc;
	/* Only -v shows the net module's own lines: without it, our own
	 * lines are enough. */
	s5log_setup(c.log_level >= S5LOG_INFO ? c.log_level : S5LOG_NONE,
		    STDERR_FILENO, write);
	if (c.source == S5_SRC_ALL_PROXY)
		printf("proxy list from %s (SOCKS5_PROXY is not set)\n",
		       c.source_var ? c.source_var : "ALL_PROXY");
	if (c.notice[0])
		printf("%s\n", c.notice);
	if (c.chain && c.n_proxies > 1) {
		rc = check_proxy(&c, 0);
		/* The chain's own line says where it stops, even when the
		 * first proxy already failed alone. */
		rc = check_chain(&c) || rc;
	} else {
		rc = check_list(&c);
	}
	s5_config_free(&c);
	return rc;
}
