/* Threaded stress for ThreadSanitizer: many threads of one process use the
 * hooked calls at once, on their own descriptors and on shared ones.
 *
 *   stress [SECONDS [ITERATIONS]]   (run it through tests/tsan/run.sh)
 *
 * The library's objects are linked into this program (see the Makefile),
 * so its hooks are this program's own connect, close, getaddrinfo...; the
 * configuration comes from the environment, read by the library's
 * constructor before main(). The SOCKS5 server is a set of threads of this
 * program, listening on the address SOCKS5_PROXY names (loopback of a
 * network namespace of our own): it accepts CONNECT to 192.0.2.0/24 and to
 * names below .stress.test, port 80, answers each with the destination it
 * was asked for, as one line, then echoes; UDP ASSOCIATE gets an echoing
 * relay for 192.0.2.0/24 and .stress.test, port 7. Anything else is
 * counted as a bad request and fails the run. A connection that went
 * around the proxy could not reach anything: the namespace has only lo.
 *
 * What runs concurrently: TCP connects by address and by fake address
 * (getaddrinfo, gethostbyname_r, gethostbyname2_r), getpeername and
 * getnameinfo on them, UDP through the relay on sockets shared by every
 * thread (one of them connected and disconnected meanwhile) and on
 * sockets of one thread, dup/dup2/dup3/fcntl(F_DUPFD)/close/close_range
 * of copies of sockets that other threads are using meanwhile, listeners
 * through the proxy (BIND) next to each thread's proxied connection, and
 * fork
 * (the child looks a name up, connects to it and leaves with _exit).
 *
 * Exit status: 0, 1 when a check failed (each failure says what), or
 * ThreadSanitizer's (TSAN_OPTIONS exitcode), also when a forked child
 * reported. Every loop is bounded by SECONDS and ITERATIONS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "preload/real.h"

#define WORKERS 8
/* Descriptor numbers above anything this program opens by itself (the
 * library's own live at 1024 and up), used by the racer thread alone.
 * Only one thread ever uses a given number at a time: ThreadSanitizer
 * models a descriptor number as memory, so a close() or dup2() of a
 * number in one thread while another uses it is reported as the
 * program's own race (rightly: the other thread may reach an unrelated
 * file). The racing here is on sockets, through their several numbers,
 * which share one state in the library. */
#define RACE_UDP_FD 700
#define RACE_TCP_FD 701
#define RANGE_FIRST 760
#define RANGE_COUNT 8
#define TCP_PORT 80
#define UDP_PORT 7
#define RECV_TIMEOUT_MS 200
#define NAME_MAX_LEN 64

/* ---- shared state: set by main before any thread starts, then read-only,
 * except the atomics ---------------------------------------------------- */

static struct sockaddr_in proxy_addr;
static int listen_fd = -1;
/* Every thread's connecting sockets are in it too; any thread waits on
 * it for a moment, advancing the others' handshakes. */
static int shared_ep = -1;
#define SHARED_EP_DATA 0x5eedULL
/* Sockets every worker uses: [0] and [1] only send with an address and
 * receive; [2] is also dup2'd onto RACE_UDP_FD and the range; [3] is
 * connected and disconnected by the racer while others send to it. */
static int shared_udp[4];
/* A copy of [3] that only the racer uses, to connect and disconnect the
 * socket: ThreadSanitizer sees connect() as a new start of the
 * descriptor it is called on, so calling it on the number the workers
 * use would be reported as this program's race. */
static int udp3_copy = -1;
static struct sockaddr_storage udp_fake; /* u.stress.test:7, a fake address */
static socklen_t udp_fake_len;
static int exit_status_tsan = 88;        /* from TSAN_OPTIONS, else 88 */

static atomic_bool stop;     /* the clients stop */
static atomic_bool srv_stop; /* the server stops, once no client is left */
static atomic_long n_ok, n_failed, n_udp_replies, n_udp_timeouts;
static atomic_long n_forks;
static atomic_int child_tsan; /* a forked child exited with TSan's status */

/* Server side counts, checked at the end. */
static atomic_long srv_connect_ip, srv_connect_name, srv_assoc, srv_dgrams;
static atomic_long srv_bad, srv_bind;
static atomic_int srv_live; /* server threads still running */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line on stderr per failed check; the run then exits 1. */
static void fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(2, buf, (size_t)n);
	atomic_fetch_add(&n_failed, 1);
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static bool read_exact(int fd, void *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			errno = EPIPE; /* the peer closed: say so */
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static bool write_all(int fd, const void *buf, size_t n)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = write(fd, (const char *)buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

/* A line up to '\n' (not kept), at most cap - 1 bytes. */
static bool read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	char c;

	while (n + 1 < cap) {
		if (!read_exact(fd, &c, 1))
			return false;
		if (c == '\n') {
			buf[n] = '\0';
			return true;
		}
		buf[n++] = c;
	}
	return false;
}

static void pause_ms(int ms);

/* ---- the SOCKS5 server ---------------------------------------------- */

static bool is_test_net(const uint8_t a[4])
{
	return a[0] == 192 && a[1] == 0 && a[2] == 2;
}

static bool is_test_name(const char *name)
{
	static const char suffix[] = ".stress.test";
	size_t n = strlen(name), s = sizeof(suffix) - 1;

	return n > s && strcmp(name + n - s, suffix) == 0;
}

/* Parses a SOCKS5 address (ATYP first) into text "addr:port"; the number
 * of bytes it took, or 0 when it is malformed or not one of ours. */
static size_t parse_dst(const uint8_t *p, size_t len, uint16_t want_port,
			char *text, size_t cap, bool *by_name)
{
	char host[256];
	size_t alen;
	uint16_t port;

	if (len < 1)
		return 0;
	if (p[0] == 1) {
		alen = 4;
		if (len < 1 + alen + 2 || !is_test_net(p + 1))
			return 0;
		inet_ntop(AF_INET, p + 1, host, sizeof(host));
		*by_name = false;
	} else if (p[0] == 3) {
		if (len < 2 || p[1] == 0)
			return 0;
		alen = 1 + (size_t)p[1];
		if (len < 1 + alen + 2)
			return 0;
		memcpy(host, p + 2, p[1]);
		host[p[1]] = '\0';
		if (!is_test_name(host))
			return 0;
		*by_name = true;
	} else {
		return 0;
	}
	port = (uint16_t)(p[1 + alen] << 8 | p[2 + alen]);
	if (port != want_port)
		return 0;
	snprintf(text, cap, "%s:%u", host, port);
	return 1 + alen + 2;
}

static bool wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

static void serve_connect(int fd)
{
	char buf[4096];
	ssize_t n;

	while (!atomic_load(&srv_stop)) {
		if (!wait_readable(fd, 100))
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0 || !write_all(fd, buf, (size_t)n))
			return;
	}
}

/* An echoing relay for one association; ends with its control
 * connection (RFC 1928 section 7). Replies carry a header built from
 * the parsed destination: an address as itself, a name as 192.0.2.99
 * (the address the "proxy" resolved it to). */
static void serve_associate(int ctl)
{
	struct sockaddr_in relay = { .sin_family = AF_INET };
	struct sockaddr_storage src;
	struct pollfd p[2];
	socklen_t rlen = sizeof(relay), slen;
	uint8_t in[2048], out[2048], reply[10] = { 5, 0, 0, 1 };
	char text[300];
	bool by_name;
	size_t hl;
	ssize_t n;
	int u;

	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	relay.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (u < 0 || bind(u, (struct sockaddr *)&relay, sizeof(relay)) < 0 ||
	    getsockname(u, (struct sockaddr *)&relay, &rlen) < 0) {
		fail("server: relay socket: %s", strerror(errno));
		if (u >= 0)
			close(u);
		return;
	}
	memcpy(reply + 4, &relay.sin_addr, 4);
	memcpy(reply + 8, &relay.sin_port, 2);
	if (!write_all(ctl, reply, sizeof(reply))) {
		close(u);
		return;
	}
	atomic_fetch_add(&srv_assoc, 1);
	while (!atomic_load(&srv_stop)) {
		p[0] = (struct pollfd){ .fd = ctl, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = u, .events = POLLIN };
		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[0].revents != 0 && (read(ctl, in, sizeof(in)) <= 0))
			break;
		if (!(p[1].revents & POLLIN))
			continue;
		slen = sizeof(src);
		n = recvfrom(u, in, sizeof(in), 0, (struct sockaddr *)&src,
			     &slen);
		if (n < 4)
			continue;
		hl = in[0] || in[1] || in[2]
			     ? 0
			     : parse_dst(in + 3, (size_t)n - 3, UDP_PORT, text,
					 sizeof(text), &by_name);
		if (hl == 0) {
			atomic_fetch_add(&srv_bad, 1);
			fail("server: bad datagram header (%zd bytes)", n);
			continue;
		}
		hl += 3;
		memcpy(out, "\0\0\0\1\300\0\2", 7);
		out[7] = by_name ? 99 : in[7];
		out[8] = 0;
		out[9] = UDP_PORT;
		memcpy(out + 10, in + hl, (size_t)n - hl);
		atomic_fetch_add(&srv_dgrams, 1);
		sendto(u, out, 10 + (size_t)n - hl, 0, (struct sockaddr *)&src,
		       slen);
	}
	close(u);
}

/* BIND: the first reply says where the "proxy" listens (BIND_BND, a
 * port of its own), the second, a moment later, that BIND_PEER
 * connected; then a line, then the echo. */
static const uint8_t BIND_BND[4] = { 192, 0, 2, 250 };
static const uint8_t BIND_PEER[4] = { 192, 0, 2, 251 };
#define BIND_PEER_PORT 20

static void serve_bind(int fd)
{
	uint8_t first[10] = { 5, 0, 0, 1 }, second[10] = { 5, 0, 0, 1 };
	long k = atomic_fetch_add(&srv_bind, 1);

	memcpy(first + 4, BIND_BND, 4);
	first[8] = (uint8_t)((1024 + k % 60000) >> 8);
	first[9] = (uint8_t)(1024 + k % 60000);
	memcpy(second + 4, BIND_PEER, 4);
	second[9] = BIND_PEER_PORT;
	if (!write_all(fd, first, sizeof(first)))
		return;
	pause_ms(1 + (int)(k % 5));
	if (write_all(fd, second, sizeof(second)) &&
	    write_all(fd, "peer\n", 5))
		serve_connect(fd);
}

static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t hdr[4], methods[255], req[262], ok[10] = { 5, 0, 0, 1 };
	char text[300], line[302];
	bool by_name = false;
	size_t need;

	set_timeout(fd, 10000);
	if (!read_exact(fd, hdr, 2) || hdr[0] != 5 ||
	    !read_exact(fd, methods, hdr[1]) || !write_all(fd, "\5\0", 2) ||
	    !read_exact(fd, hdr, 4))
		goto out;
	/* The address: its type, then what that type needs. */
	req[0] = hdr[3];
	if (hdr[3] == 1)
		need = 6;
	else if (hdr[3] == 4)
		need = 18;
	else if (hdr[3] == 3 && read_exact(fd, req + 1, 1))
		need = (size_t)req[1] + 2;
	else
		goto bad;
	if (!read_exact(fd, req + 1 + (hdr[3] == 3), need))
		goto out;
	if (hdr[0] != 5 || hdr[2] != 0)
		goto bad;
	if (hdr[1] == 3) {
		serve_associate(fd);
		goto out;
	}
	if (hdr[1] == 2) {
		if (parse_dst(req, sizeof(req), 0, text, sizeof(text),
			      &by_name) == 0)
			goto bad;
		serve_bind(fd);
		goto out;
	}
	if (hdr[1] != 1 || parse_dst(req, sizeof(req), TCP_PORT, text,
				     sizeof(text), &by_name) == 0)
		goto bad;
	atomic_fetch_add(by_name ? &srv_connect_name : &srv_connect_ip, 1);
	snprintf(line, sizeof(line), "%s\n", text);
	if (write_all(fd, ok, sizeof(ok)) &&
	    write_all(fd, line, strlen(line)))
		serve_connect(fd);
	goto out;
bad:
	atomic_fetch_add(&srv_bad, 1);
	fail("server: unexpected request (cmd %u, atyp %u)", hdr[1], hdr[3]);
	write_all(fd, "\5\2\0\1\0\0\0\0\0\0", 10);
out:
	close(fd);
	atomic_fetch_sub(&srv_live, 1);
	return NULL;
}

static void *accept_loop(void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	int fd;

	(void)arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (!atomic_load(&srv_stop)) {
		if (!wait_readable(listen_fd, 100))
			continue;
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		atomic_fetch_add(&srv_live, 1);
		if (pthread_create(&t, &attr, serve_conn,
				   (void *)(intptr_t)fd) != 0) {
			fail("server: pthread_create failed");
			close(fd);
			atomic_fetch_sub(&srv_live, 1);
		}
	}
	pthread_attr_destroy(&attr);
	atomic_fetch_sub(&srv_live, 1);
	return NULL;
}

/* ---- checks on the client side --------------------------------------- */

static bool is_fake(const struct sockaddr *sa)
{
	static const uint8_t fake6[8] = { 0xfd, 0x53, 0x53, 0x57 };
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)(void *)sa;
	const struct sockaddr_in6 *s6 =
		(const struct sockaddr_in6 *)(void *)sa;
	const uint8_t *a;

	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&s4->sin_addr;
		return a[0] == 198 && (a[1] & 0xfe) == 18;
	}
	return sa->sa_family == AF_INET6 &&
	       memcmp(&s6->sin6_addr, fake6, sizeof(fake6)) == 0;
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)(void *)a;
	const struct sockaddr_in *b4 = (const struct sockaddr_in *)(void *)b;
	const struct sockaddr_in6 *a6 =
		(const struct sockaddr_in6 *)(void *)a;
	const struct sockaddr_in6 *b6 =
		(const struct sockaddr_in6 *)(void *)b;

	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	       memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

static bool is_proxy(const struct sockaddr *sa)
{
	return same_addr(sa, (const struct sockaddr *)&proxy_addr);
}

/* The peer getpeername() shows must be the destination the program
 * asked for, not the proxy. */
static bool peer_is(int fd, const struct sockaddr *want, const char *what)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);

	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0) {
		fail("%s: getpeername: %s", what, strerror(errno));
		return false;
	}
	if (!same_addr((struct sockaddr *)&peer, want)) {
		fail("%s: getpeername shows %s", what,
		     is_proxy((struct sockaddr *)&peer) ? "the proxy"
							: "another peer");
		return false;
	}
	return true;
}

/* A connected stream: the proxy's line must name what we asked for, and
 * a line must come back as sent. */
static bool talk(int fd, const char *expect, const char *what)
{
	char line[300], msg[64], back[64];
	size_t n;

	if (!read_line(fd, line, sizeof(line))) {
		fail("%s: no line from the proxy: %s", what, strerror(errno));
		return false;
	}
	if (strcmp(line, expect) != 0) {
		fail("%s: proxy was asked for '%s', not '%s'", what, line,
		     expect);
		return false;
	}
	n = (size_t)snprintf(msg, sizeof(msg), "echo %s\n", what);
	if (!write_all(fd, msg, n) || !read_exact(fd, back, n) ||
	    memcmp(msg, back, n) != 0) {
		fail("%s: echo failed: %s", what, strerror(errno));
		return false;
	}
	return true;
}

/* A proxied TCP connection to dst: connected, peer checked. -1 on
 * failure (already reported). */
static int connect_to(const struct sockaddr *dst, socklen_t len,
		      const char *what)
{
	int fd = socket(dst->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		fail("%s: socket: %s", what, strerror(errno));
		return -1;
	}
	set_timeout(fd, 10000);
	if (connect(fd, dst, len) < 0) {
		fail("%s: connect: %s", what, strerror(errno));
		close(fd);
		return -1;
	}
	if (!peer_is(fd, dst, what)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_net_dst(struct sockaddr_in *sa, unsigned int host,
			 uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	sa->sin_addr.s_addr = htonl(0xc0000200u | (host & 0xff));
}

/* ---- the operations --------------------------------------------------- */

static bool op_tcp_addr(int tid, int i)
{
	struct sockaddr_in dst;
	char expect[64], what[64];
	bool ok;
	int fd;

	test_net_dst(&dst, 1 + (unsigned int)(tid * 31 + i) % 200, TCP_PORT);
	snprintf(what, sizeof(what), "tcp addr t%d i%d", tid, i);
	inet_ntop(AF_INET, &dst.sin_addr, expect, sizeof(expect));
	strcat(expect, ":80");
	fd = connect_to((struct sockaddr *)&dst, sizeof(dst), what);
	if (fd < 0)
		return false;
	ok = talk(fd, expect, what);
	close(fd);
	return ok;
}

/* A name's fake address, by one of four resolver calls. */
static bool resolve(const char *name, int how, struct sockaddr_storage *ss,
		    socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct hostent he, *hp = NULL;
	char buf[1024];
	int herr = 0, rc;

	memset(ss, 0, sizeof(*ss));
	switch (how) {
	case 0: /* getaddrinfo, IPv4 */
	case 1: /* getaddrinfo, any family: IPv4 first, then IPv6 */
		hints.ai_family = how == 0 ? AF_INET : AF_UNSPEC;
		rc = getaddrinfo(name, "80", &hints, &res);
		if (rc != 0) {
			fail("getaddrinfo %s: %s", name, gai_strerror(rc));
			return false;
		}
		/* AF_UNSPEC: take the IPv6 one, when there is one, so IPv6
		 * sockets get their share. */
		if (how == 1 && res->ai_next != NULL)
			memcpy(ss, res->ai_next->ai_addr,
			       *len = res->ai_next->ai_addrlen);
		else
			memcpy(ss, res->ai_addr, *len = res->ai_addrlen);
		freeaddrinfo(res);
		break;
	case 2:
		rc = gethostbyname_r(name, &he, buf, sizeof(buf), &hp, &herr);
		if (rc != 0 || hp == NULL || hp->h_addrtype != AF_INET) {
			fail("gethostbyname_r %s: %d/%d", name, rc, herr);
			return false;
		}
		memcpy(&s4.sin_addr, hp->h_addr_list[0], 4);
		s4.sin_port = htons(TCP_PORT);
		memcpy(ss, &s4, *len = sizeof(s4));
		break;
	default:
		rc = gethostbyname2_r(name, AF_INET6, &he, buf, sizeof(buf),
				      &hp, &herr);
		if (rc != 0 || hp == NULL || hp->h_addrtype != AF_INET6) {
			fail("gethostbyname2_r %s: %d/%d", name, rc, herr);
			return false;
		}
		memcpy(&s6.sin6_addr, hp->h_addr_list[0], 16);
		s6.sin6_port = htons(TCP_PORT);
		memcpy(ss, &s6, *len = sizeof(s6));
		break;
	}
	if (!is_fake((struct sockaddr *)ss)) {
		fail("%s: resolved to an address outside the fake ranges",
		     name);
		return false;
	}
	return true;
}

/* Resolve, connect to the fake address, and check that the proxy was
 * asked for the name and getnameinfo gives it back. */
static bool tcp_name(const char *name, int how, const char *what)
{
	struct sockaddr_storage ss;
	char expect[NAME_MAX_LEN + 8], host[NI_MAXHOST];
	socklen_t len;
	bool ok;
	int fd, rc;

	if (!resolve(name, how, &ss, &len))
		return false;
	rc = getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host),
			 NULL, 0, NI_NAMEREQD);
	if (rc != 0 || strcmp(host, name) != 0) {
		fail("%s: getnameinfo gave %s", what,
		     rc != 0 ? gai_strerror(rc) : host);
		return false;
	}
	fd = connect_to((struct sockaddr *)&ss, len, what);
	if (fd < 0)
		return false;
	snprintf(expect, sizeof(expect), "%s:80", name);
	ok = talk(fd, expect, what);
	close(fd);
	return ok;
}

static bool op_tcp_name(int tid, int i)
{
	char name[NAME_MAX_LEN], what[64];

	/* Names repeat, so lookups both add to the pool and find in it. */
	snprintf(name, sizeof(name), "t%d-%d.stress.test", tid, i % 24);
	snprintf(what, sizeof(what), "tcp name t%d i%d", tid, i);
	return tcp_name(name, (tid + i) % 4, what);
}

/* A received datagram must carry a payload some thread sent and look as
 * if it came from where it was sent to: 192.0.2.x:7 or a fake address
 * on port 7 (a name this socket sent to names every reply on its port). */
static bool check_reply(const char *buf, ssize_t n,
			const struct sockaddr_storage *src, const char *what)
{
	const struct sockaddr_in *s4 =
		(const struct sockaddr_in *)(const void *)src;

	if (n < 11 || memcmp(buf, "stress-udp ", 11) != 0) {
		fail("%s: datagram with foreign payload (%zd bytes)", what, n);
		return false;
	}
	if (src->ss_family != AF_INET || ntohs(s4->sin_port) != UDP_PORT ||
	    (!is_test_net((const uint8_t *)&s4->sin_addr) &&
	     !is_fake((const struct sockaddr *)src))) {
		fail("%s: datagram from an unexpected source", what);
		return false;
	}
	return true;
}

static bool udp_exchange(int fd, const struct sockaddr *dst, socklen_t dlen,
			 const char *what, bool must_answer)
{
	struct sockaddr_storage src;
	socklen_t slen = sizeof(src);
	char msg[64], buf[128];
	ssize_t n;
	int len;

	len = snprintf(msg, sizeof(msg), "stress-udp %s", what);
	if (dst != NULL ? sendto(fd, msg, (size_t)len, 0, dst, dlen) < 0
			: send(fd, msg, (size_t)len, 0) < 0) {
		fail("%s: send: %s", what, strerror(errno));
		return false;
	}
	n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &slen);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			fail("%s: recvfrom: %s", what, strerror(errno));
			return false;
		}
		atomic_fetch_add(&n_udp_timeouts, 1);
		if (must_answer)
			fail("%s: no answer within %d ms", what,
			     RECV_TIMEOUT_MS * 10);
		return !must_answer;
	}
	atomic_fetch_add(&n_udp_replies, 1);
	return check_reply(buf, n, &src, what);
}

/* Shared sockets: every thread sends and receives on them, a datagram
 * may be answered into another thread's recvfrom. */
static bool op_udp_shared(int tid, int i)
{
	struct sockaddr_in dst;
	char what[64];

	snprintf(what, sizeof(what), "udp shared t%d i%d", tid, i);
	if (i % 3 == 0)
		return udp_exchange(shared_udp[i % 2],
				    (struct sockaddr *)&udp_fake, udp_fake_len,
				    what, false);
	test_net_dst(&dst, 1 + (unsigned int)i % 4, UDP_PORT);
	return udp_exchange(shared_udp[(i / 2) % 2], (struct sockaddr *)&dst,
			    sizeof(dst), what, false);
}

/* A socket of this thread, connected to a name or an address: one
 * association per socket, closed with it. */
static bool op_udp_own(int tid, int i)
{
	struct sockaddr_storage ss;
	struct sockaddr_in dst;
	char name[NAME_MAX_LEN], what[64];
	socklen_t len;
	bool ok;
	int fd;

	snprintf(what, sizeof(what), "udp own t%d i%d", tid, i);
	if (i % 2 == 0) {
		snprintf(name, sizeof(name), "u%d.stress.test", tid);
		if (!resolve(name, 0, &ss, &len))
			return false;
		((struct sockaddr_in *)(void *)&ss)->sin_port = htons(UDP_PORT);
	} else {
		test_net_dst(&dst, 1 + (unsigned int)tid, UDP_PORT);
		memcpy(&ss, &dst, len = sizeof(dst));
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail("%s: socket: %s", what, strerror(errno));
		return false;
	}
	set_timeout(fd, RECV_TIMEOUT_MS * 10);
	ok = connect(fd, (struct sockaddr *)&ss, len) == 0;
	if (!ok)
		fail("%s: connect: %s", what, strerror(errno));
	ok = ok && peer_is(fd, (struct sockaddr *)&ss, what) &&
	     udp_exchange(fd, NULL, 0, what, true);
	close(fd);
	return ok;
}

/* Copies of a proxied socket report its peer; the copy works after the
 * original is closed. */
static bool op_dup(int tid, int i)
{
	struct sockaddr_in dst;
	char what[64];
	bool ok;
	int fd, d;

	snprintf(what, sizeof(what), "dup t%d i%d", tid, i);
	test_net_dst(&dst, 1, TCP_PORT);
	fd = connect_to((struct sockaddr *)&dst, sizeof(dst), what);
	if (fd < 0)
		return false;
	d = i % 2 ? dup(fd) : fcntl(fd, F_DUPFD_CLOEXEC, 10);
	close(fd);
	if (d < 0) {
		fail("%s: dup: %s", what, strerror(errno));
		return false;
	}
	ok = peer_is(d, (struct sockaddr *)&dst, what) &&
	     talk(d, "192.0.2.1:80", what);
	close(d);
	if (!ok)
		return false;
	/* A copy of a shared UDP socket shares its association. */
	test_net_dst(&dst, 2, UDP_PORT);
	d = dup(shared_udp[i % 2]);
	if (d < 0) {
		fail("%s: dup udp: %s", what, strerror(errno));
		return false;
	}
	ok = udp_exchange(d, (struct sockaddr *)&dst, sizeof(dst), what,
			  false);
	close(d);
	return ok;
}

/* Use of a socket whose copies the racer makes and closes meanwhile
 * (they share its state and association), and of the shared socket the
 * racer connects and disconnects: any result but a crash, a hang or a
 * race is fine here. */
static bool op_race_use(int tid, int i)
{
	struct sockaddr_storage peer;
	struct sockaddr_in dst;
	socklen_t len = sizeof(peer);
	char buf[128];

	(void)tid;
	test_net_dst(&dst, 3, UDP_PORT);
	(void)!sendto(shared_udp[2], "stress-udp race", 15, MSG_DONTWAIT,
		      i % 2 ? (struct sockaddr *)&dst
			    : (struct sockaddr *)&udp_fake,
		      i % 2 ? sizeof(dst) : udp_fake_len);
	(void)!recv(shared_udp[2], buf, sizeof(buf), MSG_DONTWAIT);
	test_net_dst(&dst, 4, UDP_PORT);
	(void)!sendto(shared_udp[3], "stress-udp c", 12, MSG_DONTWAIT,
		      (struct sockaddr *)&dst, sizeof(dst));
	(void)!send(shared_udp[3], "stress-udp c", 12, MSG_DONTWAIT);
	(void)!recv(shared_udp[3], buf, sizeof(buf), MSG_DONTWAIT);
	(void)!getpeername(shared_udp[3], (struct sockaddr *)&peer, &len);
	return true;
}

/* A non-blocking connect: EINPROGRESS, then writable in the thread's own
 * epoll set (registered before or after the connect) or in poll(), with
 * the data given; meanwhile the socket sits in the shared set, where
 * other threads' waits advance its handshake, and every event there must
 * carry the data the program gave. */
static bool drain_shared(const char *what)
{
	struct epoll_event ev[8];
	int n, k;

	n = epoll_wait(shared_ep, ev, 8, 0);
	for (k = 0; k < n; k++)
		if (ev[k].data.u64 != SHARED_EP_DATA) {
			fail("%s: shared epoll set gave data %#llx", what,
			     (unsigned long long)ev[k].data.u64);
			return false;
		}
	return true;
}

static bool wait_connected(int fd, int ep, uint64_t data, bool by_poll,
			   const char *what)
{
	struct epoll_event ev;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int64_t end = now_ms() + 10000;
	int n;

	while (now_ms() < end && !atomic_load(&stop)) {
		if (!drain_shared(what))
			return false;
		n = by_poll ? poll(&p, 1, 20) : epoll_wait(ep, &ev, 1, 20);
		if (n < 0 && errno != EINTR) {
			fail("%s: wait: %s", what, strerror(errno));
			return false;
		}
		if (n <= 0)
			continue;
		if (!by_poll && ev.data.u64 != data) {
			fail("%s: epoll gave data %#llx", what,
			     (unsigned long long)ev.data.u64);
			return false;
		}
		return true;
	}
	if (!atomic_load(&stop))
		fail("%s: never writable", what);
	return false;
}

static bool op_tcp_async(int tid, int i)
{
	struct epoll_event ev = { .events = EPOLLOUT,
				  .data.u64 = 0xa5000000ULL + (uint64_t)i };
	struct epoll_event shared = { .events = EPOLLIN | EPOLLOUT | EPOLLET,
				      .data.u64 = SHARED_EP_DATA };
	struct sockaddr_in dst;
	char expect[64], what[64];
	socklen_t len = sizeof(int);
	bool before = (tid + i) % 2, ok = false;
	int fd, ep, err = -1;

	test_net_dst(&dst, 1 + (unsigned int)(tid * 17 + i) % 200, TCP_PORT);
	snprintf(what, sizeof(what), "tcp async t%d i%d", tid, i);
	inet_ntop(AF_INET, &dst.sin_addr, expect, sizeof(expect));
	strcat(expect, ":80");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0 || ep < 0) {
		fail("%s: socket/epoll: %s", what, strerror(errno));
		goto out;
	}
	if (before && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		fail("%s: epoll_ctl: %s", what, strerror(errno));
	(void)epoll_ctl(shared_ep, EPOLL_CTL_ADD, fd, &shared);
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0 ||
	    errno != EINPROGRESS) {
		fail("%s: connect: %s", what, strerror(errno));
		goto out;
	}
	if (!before && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		fail("%s: epoll_ctl: %s", what, strerror(errno));
	if (!wait_connected(fd, ep, ev.data.u64, (tid + i) % 3 == 0, what))
		goto out;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		fail("%s: SO_ERROR %d", what, err);
		goto out;
	}
	if (!peer_is(fd, (struct sockaddr *)&dst, what))
		goto out;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	set_timeout(fd, 10000);
	ok = talk(fd, expect, what);
out:
	if (ep >= 0)
		close(ep);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* A listener through the proxy (SOCKS5 BIND) next to a proxied
 * connection of this thread, while the other threads make and close
 * theirs: listen() finds a live connection among all of them. */
static bool op_bind(int tid, int i)
{
	struct sockaddr_in dst, any = { .sin_family = AF_INET }, sa;
	struct pollfd p = { .events = POLLIN };
	socklen_t len = sizeof(sa);
	char what[64], line[16];
	bool ok = false;
	int ctl, fd, conn = -1;

	test_net_dst(&dst, 1 + (unsigned int)(tid * 7 + i) % 200, TCP_PORT);
	snprintf(what, sizeof(what), "bind t%d i%d", tid, i);
	ctl = connect_to((struct sockaddr *)&dst, sizeof(dst), what);
	if (ctl < 0)
		return false;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0 ||
	    listen(fd, 1) < 0) {
		fail("%s: listen: %s", what, strerror(errno));
		goto out;
	}
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    sa.sin_family != AF_INET ||
	    memcmp(&sa.sin_addr, BIND_BND, 4) != 0) {
		fail("%s: getsockname is not where the proxy listens", what);
		goto out;
	}
	p.fd = fd;
	if (poll(&p, 1, 5000) != 1) {
		fail("%s: the listener never turned readable", what);
		goto out;
	}
	len = sizeof(sa);
	conn = accept4(fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);
	if (conn < 0 || memcmp(&sa.sin_addr, BIND_PEER, 4) != 0 ||
	    ntohs(sa.sin_port) != BIND_PEER_PORT) {
		fail("%s: accept: %s", what,
		     conn < 0 ? strerror(errno) : "not the peer");
		goto out;
	}
	set_timeout(conn, 10000);
	if (!read_line(conn, line, sizeof(line)) || strcmp(line, "peer")) {
		fail("%s: no line from the peer", what);
		goto out;
	}
	ok = write_all(conn, "b\n", 2) && read_line(conn, line, sizeof(line))
	     && strcmp(line, "b") == 0;
	if (!ok)
		fail("%s: echo failed", what);
out:
	if (conn >= 0)
		close(conn);
	if (fd >= 0)
		close(fd);
	close(ctl);
	return ok;
}

typedef bool (*op_fn)(int tid, int i);
static const op_fn ops[] = {
	op_tcp_addr, op_tcp_name, op_udp_shared, op_udp_own,
	op_dup,      op_udp_shared, op_race_use, op_tcp_name,
	op_tcp_async, op_tcp_async, op_bind,
};
#define N_OPS (sizeof(ops) / sizeof(ops[0]))

struct worker {
	pthread_t th;
	int tid;
	int iterations;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	int i;

	/* Every thread runs every operation in turn, from its own place in
	 * the list; the number an operation gets counts its rounds (twice
	 * as fast for those listed twice, once in each half). */
	for (i = 0; i < w->iterations && !atomic_load(&stop); i++) {
		size_t k = (size_t)(w->tid + i) % N_OPS;

		if (ops[k](w->tid, (int)((size_t)i / N_OPS * 2 + k / 4)))
			atomic_fetch_add(&n_ok, 1);
	}
	return NULL;
}

/* ---- the racers: dup2/close, close_range, connect/disconnect, fork ---- */

static void pause_ms(int ms)
{
	struct timespec ts = { 0, (long)ms * 1000000 };

	nanosleep(&ts, NULL);
}

/* A UDP socket (no peer) must not show a TCP copy's old peer. */
static void expect_no_peer(int fd, const char *what)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);

	if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0)
		fail("%s: a UDP copy shows a peer", what);
	else if (errno != ENOTCONN)
		fail("%s: getpeername: %s", what, strerror(errno));
}

/* Copies of a proxied TCP socket and of the shared UDP socket [2] onto
 * numbers of this thread's own, checked, replaced and closed (dup2,
 * dup3, fcntl, close, close_range) while the workers use the originals;
 * and the shared socket [3] connected and disconnected under them. */
static void *racer_run(void *arg)
{
	struct sockaddr_in dst, udst;
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	char what[64];
	int tcp, i, k, d;

	(void)arg;
	test_net_dst(&dst, 1, TCP_PORT);
	tcp = connect_to((struct sockaddr *)&dst, sizeof(dst), "racer");
	if (tcp < 0)
		return NULL;
	for (i = 0; !atomic_load(&stop); i++) {
		snprintf(what, sizeof(what), "racer i%d", i);
		if (dup2(shared_udp[2], RACE_UDP_FD) < 0 ||
		    dup3(tcp, RACE_TCP_FD, O_CLOEXEC) < 0) {
			fail("%s: dup2: %s", what, strerror(errno));
			break;
		}
		for (k = 0; k < RANGE_COUNT; k++)
			dup2(k % 2 ? tcp : shared_udp[2], RANGE_FIRST + k);
		peer_is(RACE_TCP_FD, (struct sockaddr *)&dst, what);
		peer_is(RANGE_FIRST + 1 + 2 * (i % (RANGE_COUNT / 2)),
			(struct sockaddr *)&dst, what);
		/* The copy shares the association of [2]: its replies go to
		 * whichever worker reads [2]. */
		test_net_dst(&udst, 2, UDP_PORT);
		if (sendto(RACE_UDP_FD, "stress-udp racer", 16, 0,
			   (struct sockaddr *)&udst, sizeof(udst)) < 0)
			fail("%s: sendto on a copy: %s", what,
			     strerror(errno));
		/* Replacing a TCP copy by a UDP one takes its peer away. */
		dup2(shared_udp[2], RACE_TCP_FD);
		expect_no_peer(RACE_TCP_FD, what);
		d = fcntl(RACE_UDP_FD, F_DUPFD, RANGE_FIRST + RANGE_COUNT);
		if (d >= 0) {
			expect_no_peer(d, what);
			close(d);
		}
		if (i % 4 == 0)
			close_range(RANGE_FIRST, RANGE_FIRST + RANGE_COUNT - 1,
				    CLOSE_RANGE_CLOEXEC);
		close(RACE_UDP_FD);
		close(RACE_TCP_FD);
		close_range(RANGE_FIRST, RANGE_FIRST + RANGE_COUNT - 1, 0);
		/* The shared socket [3] gets a virtual peer and loses it
		 * while workers send on it. */
		test_net_dst(&udst, 5, UDP_PORT);
		connect(udp3_copy, i % 2 ? (struct sockaddr *)&udst
					 : (struct sockaddr *)&udp_fake,
			i % 2 ? sizeof(udst) : udp_fake_len);
		pause_ms(1);
		connect(udp3_copy, &unspec, sizeof(unspec));
		pause_ms(1);
	}
	close(tcp);
	return NULL;
}

/* The child: a lookup, a connect and an exchange, then _exit (status 0,
 * or 1 when something failed). */
static void child_run(int n)
{
	char name[NAME_MAX_LEN], what[64];

	snprintf(name, sizeof(name), "fork%d.stress.test", n % 16);
	snprintf(what, sizeof(what), "fork child %d", n);
	_exit(tcp_name(name, n % 4, what) && atomic_load(&n_failed) == 0
		      ? 0
		      : 1);
}

static void *forker_run(void *arg)
{
	int64_t deadline;
	int n, status;
	pid_t pid, r;

	(void)arg;
	for (n = 0; !atomic_load(&stop); n++) {
		pid = fork();
		if (pid < 0) {
			fail("fork: %s", strerror(errno));
			return NULL;
		}
		if (pid == 0) {
			/* The parent's failures are not the child's. */
			atomic_store(&n_failed, 0);
			child_run(n);
		}
		deadline = now_ms() + 30000;
		while ((r = waitpid(pid, &status, WNOHANG)) == 0 &&
		       now_ms() < deadline)
			pause_ms(5);
		if (r == 0) {
			fail("fork child %d: still running after 30 s", n);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		} else if (WIFEXITED(status) &&
			   WEXITSTATUS(status) == exit_status_tsan) {
			fail("fork child %d: ThreadSanitizer report", n);
			atomic_store(&child_tsan, 1);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fail("fork child %d: status %#x", n, status);
		} else {
			atomic_fetch_add(&n_forks, 1);
		}
		pause_ms(20);
	}
	return NULL;
}

/* ---- main ----------------------------------------------------------- */

/* Everything here must stay on loopback: refuse to run where there is
 * more than lo (run.sh makes a network namespace). */
static bool only_loopback(void)
{
	struct if_nameindex *ifs = if_nameindex(), *p;
	bool ok = ifs != NULL;

	for (p = ifs; ok && p->if_index != 0; p++)
		if (strcmp(p->if_name, "lo") != 0)
			ok = false;
	if (ifs != NULL)
		if_freenameindex(ifs);
	return ok;
}

static int tsan_exitcode(void)
{
	const char *o = getenv("TSAN_OPTIONS"), *p;

	p = o != NULL ? strstr(o, "exitcode=") : NULL;
	return p != NULL ? atoi(p + 9) : 66;
}

static bool setup(void)
{
	const char *proxy = getenv("SOCKS5_PROXY");
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_DGRAM },
			*res;
	unsigned int port;
	size_t k;
	int one = 1;

	if (proxy == NULL || sscanf(proxy, "127.0.0.1:%u", &port) != 1 ||
	    port == 0 || port > 65535) {
		fprintf(stderr, "stress: SOCKS5_PROXY must be 127.0.0.1:PORT\n");
		return false;
	}
	if (!s5_ready()) {
		fprintf(stderr, "stress: the library's hooks are not ready\n");
		return false;
	}
	proxy_addr.sin_family = AF_INET;
	proxy_addr.sin_port = htons((uint16_t)port);
	proxy_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	shared_ep = epoll_create1(EPOLL_CLOEXEC);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 ||
	    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one,
		       sizeof(one)) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&proxy_addr,
		 sizeof(proxy_addr)) < 0 ||
	    listen(listen_fd, 256) < 0) {
		perror("stress: proxy socket");
		return false;
	}
	for (k = 0; k < sizeof(shared_udp) / sizeof(shared_udp[0]); k++) {
		shared_udp[k] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (shared_udp[k] < 0) {
			perror("stress: udp socket");
			return false;
		}
		set_timeout(shared_udp[k], RECV_TIMEOUT_MS);
	}
	if (getaddrinfo("u.stress.test", "7", &hints, &res) != 0) {
		fprintf(stderr, "stress: getaddrinfo u.stress.test failed\n");
		return false;
	}
	memcpy(&udp_fake, res->ai_addr, udp_fake_len = res->ai_addrlen);
	freeaddrinfo(res);
	if (!is_fake((struct sockaddr *)&udp_fake)) {
		fprintf(stderr, "stress: getaddrinfo is not the library's\n");
		return false;
	}
	return true;
}

/* The sockets the racer copies around have their association before the
 * threads start, so the copies share it. */
static bool associate_shared(void)
{
	struct sockaddr_in dst;
	int k;

	test_net_dst(&dst, 1, UDP_PORT);
	for (k = 2; k < 4; k++)
		if (sendto(shared_udp[k], "stress-udp setup", 16, 0,
			   (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			fprintf(stderr, "stress: first datagram: %s\n",
				strerror(errno));
			return false;
		}
	udp3_copy = dup(shared_udp[3]);
	return udp3_copy >= 0;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 20;
	int iterations = argc > 2 ? atoi(argv[2]) : 100000;
	struct worker w[WORKERS];
	pthread_t acceptor, racer, forker;
	int64_t start = now_ms(), end;
	int t;

	if (!only_loopback()) {
		fprintf(stderr, "stress: refusing to run with interfaces "
				"beyond lo; use tests/tsan/run.sh\n");
		return 2;
	}
	exit_status_tsan = tsan_exitcode();
	if (!setup())
		return 1;
	atomic_store(&srv_live, 1);
	if (pthread_create(&acceptor, NULL, accept_loop, NULL) != 0)
		return 1;
	/* Proof that the hooks are this program's connect and getpeername:
	 * the proxy sees the CONNECT, the peer is the virtual one. */
	if (!op_tcp_addr(99, 0) || atomic_load(&srv_connect_ip) != 1 ||
	    !associate_shared()) {
		fprintf(stderr, "stress: connect() did not go through the "
				"proxy: the hooks are not in effect\n");
		atomic_store(&srv_stop, true);
		pthread_join(acceptor, NULL);
		return 1;
	}
	for (t = 0; t < WORKERS; t++) {
		w[t].tid = t;
		w[t].iterations = iterations;
		pthread_create(&w[t].th, NULL, worker_run, &w[t]);
	}
	pthread_create(&racer, NULL, racer_run, NULL);
	pthread_create(&forker, NULL, forker_run, NULL);
	/* A failed check ends the run early, unless S5_STRESS_KEEP_GOING is
	 * set (to see every report of a run with halt_on_error=0). */
	end = start + (int64_t)seconds * 1000;
	while (now_ms() < end && (atomic_load(&n_failed) == 0 ||
				  getenv("S5_STRESS_KEEP_GOING") != NULL))
		pause_ms(50);
	atomic_store(&stop, true);
	for (t = 0; t < WORKERS; t++)
		pthread_join(w[t].th, NULL);
	pthread_join(racer, NULL);
	pthread_join(forker, NULL);
	for (t = 0; t < 4; t++)
		close(shared_udp[t]);
	close(udp3_copy);
	atomic_store(&srv_stop, true);
	pthread_join(acceptor, NULL);
	/* Connection threads notice the stop within 100 ms. */
	for (t = 0; t < 200 && atomic_load(&srv_live) > 0; t++)
		pause_ms(50);
	close(listen_fd);

	printf("stress: %.1f s; tcp by address %ld, by name %ld; udp "
	       "associations %ld, datagrams %ld (replies %ld, unanswered "
	       "%ld); binds %ld; forks %ld\n",
	       (double)(now_ms() - start) / 1000, atomic_load(&srv_connect_ip),
	       atomic_load(&srv_connect_name), atomic_load(&srv_assoc),
	       atomic_load(&srv_dgrams), atomic_load(&n_udp_replies),
	       atomic_load(&n_udp_timeouts), atomic_load(&srv_bind),
	       atomic_load(&n_forks));
	if (atomic_load(&srv_live) > 0)
		fail("server threads still running at the end");
	if (atomic_load(&srv_connect_name) == 0 ||
	    atomic_load(&srv_bind) == 0 || atomic_load(&srv_assoc) == 0 || atomic_load(&n_udp_replies) == 0 ||
	    atomic_load(&n_forks) == 0)
		fail("some kind of traffic never happened");
	printf("stress: %ld passed, %ld failed\n", atomic_load(&n_ok),
	       atomic_load(&n_failed));
	fflush(stdout);
	if (atomic_load(&child_tsan))
		return exit_status_tsan;
	return atomic_load(&n_failed) == 0 ? 0 : 1;
}
