/* s5fwd: a small, fast SOCKS5 CONNECT server and a TCP echo server, for
 * the TCP benchmarks.
 *
 *   s5fwd [-d DELAY_MS] SOCKS_ADDR ECHO_ADDR LIFETIME_SECONDS
 *
 * Listens on SOCKS_ADDR and on ECHO_ADDR (IPv4 addresses, ports the kernel
 * picks; printed as "port P" and "echo E" on stdout). The SOCKS5 side
 * accepts only "no authentication" and only CONNECT to an IPv4 or IPv6
 * address (RFC 1928 sections 3, 4, 6), connects to it, and relays bytes
 * both ways until either side closes. The echo side sends every byte back.
 * Both run in the one thread, with epoll and non-blocking sockets: a
 * request may arrive in the same segment as the greeting (pipelined
 * clients), and data may follow the request before the reply.
 *
 * With -d, the reply to every CONNECT is held back DELAY_MS after the
 * connection to the target is made: a slow proxy, for the benchmarks of
 * event loops that must not stop while it answers. Bytes the client sends
 * meanwhile wait in the kernel and reach the target after the reply.
 *
 * On SIGTERM, SIGINT or when LIFETIME_SECONDS have passed it prints
 *   "connects C echoes E refused R"
 * and exits: C CONNECTs answered with success, E connections accepted by
 * the echo server, R requests refused. The benchmark compares C and E with
 * the connections its client made, to prove they went the way it meant.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define PROG "s5fwd"
#define MAX_FD 2048
#define BUF 4096

enum kind { K_NONE, K_LISTEN_S5, K_LISTEN_ECHO, K_CLIENT, K_TARGET, K_ECHO };
enum state { S_GREET, S_REQUEST, S_CONNECTING, S_DELAYED, S_RELAY };

/* One descriptor. buf holds bytes read from it and not yet written to
 * peer (for echo connections the peer is the connection itself); while
 * the handshake runs it holds the handshake bytes read so far. */
struct conn {
	enum kind kind;
	enum state state;
	int peer;
	uint32_t gen; /* told apart from an earlier user of the same fd */
	size_t len;
	uint8_t buf[BUF];
};

static struct conn conns[MAX_FD];

/* Replies held back by -d, oldest first: with one delay for all, the
 * order they fall due is the order they were queued. gen tells a client
 * that hung up (and whose fd may have been reused) from the one queued. */
#define MAX_HELD 4096
struct held {
	int c;
	uint32_t gen;
	int64_t due;
};
static struct held held[MAX_HELD];
static size_t held_head, held_count;
static int64_t delay_ns;

static int ep;
static volatile sig_atomic_t stop;
static uint64_t connects, echoes, refused;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void set_events(int fd, uint32_t events, int op)
{
	struct epoll_event ev = {
		.events = events,
		.data.u64 = (uint64_t)conns[fd].gen << 32 | (uint32_t)fd,
	};

	if (epoll_ctl(ep, op, fd, &ev) < 0)
		bench_die(PROG, "epoll_ctl", errno);
}

static void add(int fd, enum kind k, enum state s, uint32_t events)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conns[fd].kind = k;
	conns[fd].state = s;
	conns[fd].peer = -1;
	conns[fd].len = 0;
	conns[fd].gen++;
	set_events(fd, events, EPOLL_CTL_ADD);
}

static void drop(int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	conns[fd].kind = K_NONE;
	conns[fd].gen++;
	close(fd);
}

/* Closes a connection and the one it is paired with. */
static void drop_pair(int fd)
{
	int peer = conns[fd].peer;

	drop(fd);
	if (peer >= 0 && peer != fd && conns[peer].kind != K_NONE)
		drop(peer);
}

static bool send_all(int fd, const void *p, size_t n)
{
	return send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n;
}

/* Section 6 reply; bnd NULL for a failure. */
static void reply(int c, uint8_t code, const struct sockaddr_storage *bnd)
{
	uint8_t r[22] = { 5, code, 0, 1 };
	size_t n = 10;

	if (bnd != NULL && bnd->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)bnd;

		memcpy(r + 4, &a->sin_addr, 4);
		memcpy(r + 8, &a->sin_port, 2);
	} else if (bnd != NULL && bnd->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)bnd;

		r[3] = 4;
		memcpy(r + 4, &a->sin6_addr, 16);
		memcpy(r + 20, &a->sin6_port, 2);
		n = 22;
	}
	send_all(c, r, n);
}

static void refuse(int c, uint8_t code)
{
	refused++;
	reply(c, code, NULL);
	drop(c);
}

static void consume(struct conn *x, size_t n)
{
	memmove(x->buf, x->buf + n, x->len - n);
	x->len -= n;
}

/* Method selection: false when the bytes so far are not a whole greeting
 * yet; the connection may be gone when it returns true. */
static bool greet(int c)
{
	static const uint8_t ok[2] = { 5, 0 }, none[2] = { 5, 0xff };
	struct conn *x = &conns[c];
	size_t need;

	if (x->len < 2)
		return false;
	need = 2 + (size_t)x->buf[1];
	if (x->buf[0] != 5 || x->buf[1] == 0) {
		refuse(c, 1);
		return true;
	}
	if (x->len < need)
		return false;
	if (memchr(x->buf + 2, 0, x->buf[1]) == NULL) {
		send_all(c, none, 2);
		refused++;
		drop(c);
		return true;
	}
	consume(x, need);
	send_all(c, ok, 2);
	x->state = S_REQUEST;
	return true;
}

/* The target's address from a request of n bytes; 0, a SOCKS5 reply code,
 * or -1 when the request is not whole yet. */
static int target_of(const uint8_t *b, size_t n, struct sockaddr_storage *ss,
		     socklen_t *len, size_t *used)
{
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;

	if (n < 4)
		return -1;
	if (b[0] != 5)
		return 1;
	if (b[1] != 1)
		return 7; /* command not supported */
	memset(ss, 0, sizeof(*ss));
	if (b[3] == 1) {
		if (n < 10)
			return -1;
		a4->sin_family = AF_INET;
		memcpy(&a4->sin_addr, b + 4, 4);
		memcpy(&a4->sin_port, b + 8, 2);
		*len = sizeof(*a4);
		*used = 10;
		return 0;
	}
	if (b[3] == 4) {
		if (n < 22)
			return -1;
		a6->sin6_family = AF_INET6;
		memcpy(&a6->sin6_addr, b + 4, 16);
		memcpy(&a6->sin6_port, b + 20, 2);
		*len = sizeof(*a6);
		*used = 22;
		return 0;
	}
	return 8; /* address type not supported */
}

/* The request: starts a non-blocking connect to the target. */
static bool request(int c)
{
	struct conn *x = &conns[c];
	struct sockaddr_storage ss;
	socklen_t len = 0;
	size_t used = 0;
	int r = target_of(x->buf, x->len, &ss, &len, &used), t;

	if (r < 0)
		return false;
	if (r > 0) {
		refuse(c, (uint8_t)r);
		return true;
	}
	consume(x, used); /* what is left is data for the target */
	t = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t < 0 || t >= MAX_FD) {
		if (t >= 0)
			close(t);
		refuse(c, 1);
		return true;
	}
	if (connect(t, (struct sockaddr *)&ss, len) < 0 &&
	    errno != EINPROGRESS) {
		close(t);
		refuse(c, errno == ECONNREFUSED ? 5 : 4);
		return true;
	}
	add(t, K_TARGET, S_CONNECTING, EPOLLOUT);
	conns[t].peer = c;
	x->peer = t;
	x->state = S_CONNECTING;
	set_events(c, 0, EPOLL_CTL_MOD); /* hang-ups are still reported */
	return true;
}

/* Writes what from holds to its peer: 1 when all is written, 0 when it
 * must wait for EPOLLOUT (then from is not read until the peer drains),
 * -1 on an error. */
static int flush(int from)
{
	struct conn *x = &conns[from];
	ssize_t w;

	while (x->len > 0) {
		w = send(x->peer, x->buf, x->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			if (x->peer != from)
				set_events(from, 0, EPOLL_CTL_MOD);
			set_events(x->peer, EPOLLOUT, EPOLL_CTL_MOD);
			return 0;
		}
		if (w < 0)
			return -1;
		consume(x, (size_t)w);
	}
	return 1;
}

/* Relaying: bytes from fd go to its peer. */
static void pump(int fd)
{
	struct conn *x = &conns[fd];
	ssize_t r = recv(fd, x->buf, BUF, MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		drop_pair(fd);
		return;
	}
	x->len = (size_t)r;
	if (flush(fd) < 0)
		drop_pair(fd);
}

/* The peer of fd has drained: fd can take what waited, and both read. */
static void drained(int fd)
{
	int from = conns[fd].peer, r = flush(from);

	if (r < 0)
		drop_pair(fd);
	if (r <= 0)
		return;
	set_events(fd, EPOLLIN, EPOLL_CTL_MOD);
	if (from != fd)
		set_events(from, EPOLLIN, EPOLL_CTL_MOD);
}

/* The target of client c is connected: the success reply, then relaying
 * (and whatever the client sent after its request goes to the target). */
static void answer(int c)
{
	struct sockaddr_storage bnd;
	socklen_t blen = sizeof(bnd);
	int t = conns[c].peer;

	if (getsockname(t, (struct sockaddr *)&bnd, &blen) < 0) {
		drop(t);
		conns[c].peer = -1;
		refuse(c, 1);
		return;
	}
	reply(c, 0, &bnd);
	connects++;
	conns[t].state = S_RELAY;
	conns[c].state = S_RELAY;
	set_events(t, EPOLLIN, EPOLL_CTL_MOD);
	set_events(c, EPOLLIN, EPOLL_CTL_MOD);
	if (flush(c) < 0)
		drop_pair(c);
}

/* Queues the reply to client c for later (-d); false when the queue is
 * full. Both sides are silent meanwhile; hang-ups are still reported. */
static bool hold(int c)
{
	struct held *h;

	if (held_count == MAX_HELD)
		return false;
	h = &held[(held_head + held_count++) % MAX_HELD];
	h->c = c;
	h->gen = conns[c].gen;
	h->due = bench_now_ns() + delay_ns;
	conns[c].state = S_DELAYED;
	conns[conns[c].peer].state = S_DELAYED;
	set_events(conns[c].peer, 0, EPOLL_CTL_MOD);
	return true;
}

/* Answers the held replies that are due; the ms until the next one is,
 * rounded up, or -1 when none waits. */
static int answer_due(void)
{
	int64_t now = bench_now_ns();
	struct held *h;

	while (held_count > 0) {
		h = &held[held_head];
		if (h->due > now)
			return (int)((h->due - now + 999999) / 1000000);
		held_head = (held_head + 1) % MAX_HELD;
		held_count--;
		if (conns[h->c].kind == K_CLIENT && conns[h->c].gen == h->gen &&
		    conns[h->c].state == S_DELAYED)
			answer(h->c);
	}
	return -1;
}

/* The target's connect has finished, one way or the other. */
static void connected(int t)
{
	socklen_t len = sizeof(int);
	int err = 0, c = conns[t].peer;

	getsockopt(t, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		drop(t);
		conns[c].peer = -1;
		refuse(c, err == ECONNREFUSED ? 5 : 4);
		return;
	}
	if (delay_ns == 0)
		answer(c);
	else if (!hold(c)) {
		drop(t);
		conns[c].peer = -1;
		refuse(c, 1);
	}
}

/* Handshake bytes from a client; whole messages are acted on at once, so
 * a greeting and a request in one segment are both answered. */
static void handshake(int c)
{
	struct conn *x = &conns[c];
	ssize_t r = recv(c, x->buf + x->len, BUF - x->len, MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		drop(c);
		return;
	}
	x->len += (size_t)r;
	if (x->state == S_GREET && !greet(c))
		return; /* not a whole greeting yet */
	if (x->kind == K_CLIENT && x->state == S_REQUEST)
		request(c);
}

static void accept_one(int l, enum kind k)
{
	int c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c < 0)
		return;
	if (c >= MAX_FD) {
		close(c);
		return;
	}
	if (k == K_ECHO) {
		add(c, K_ECHO, S_RELAY, EPOLLIN);
		conns[c].peer = c;
		echoes++;
	} else {
		add(c, K_CLIENT, S_GREET, EPOLLIN);
	}
}

static void event(int fd, uint32_t events)
{
	struct conn *x = &conns[fd];

	switch (x->kind) {
	case K_LISTEN_S5:
		accept_one(fd, K_CLIENT);
		break;
	case K_LISTEN_ECHO:
		accept_one(fd, K_ECHO);
		break;
	case K_TARGET:
		if (x->state == S_CONNECTING)
			connected(fd);
		else if (x->state == S_DELAYED) /* hung up while held */
			drop_pair(fd);
		else if (events & EPOLLOUT)
			drained(fd);
		else
			pump(fd);
		break;
	case K_CLIENT:
		/* hung up while we connect, or while the reply is held */
		if (x->state == S_CONNECTING || x->state == S_DELAYED)
			drop_pair(fd);
		else if (x->state != S_RELAY)
			handshake(fd);
		else if (events & EPOLLOUT)
			drained(fd);
		else
			pump(fd);
		break;
	case K_ECHO:
		if (events & EPOLLOUT)
			drained(fd);
		else
			pump(fd);
		break;
	case K_NONE:
		break;
	}
}

static int listener(const char *addr, enum kind k, const char *label)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int one = 1, l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0)
		bench_die(PROG, "socket", errno);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		bench_die(PROG, "not an IPv4 address", 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l, 1024) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) < 0)
		bench_die(PROG, addr, errno);
	add(l, k, S_RELAY, EPOLLIN);
	printf("%s %u\n", label, ntohs(sa.sin_port));
	return l;
}


int main(int argc, char **argv)
{
	struct epoll_event ev[64];
	sigset_t waitmask;
	int n, i, fd, timeout = -1;

	if (argc == 6 && strcmp(argv[1], "-d") == 0) {
		delay_ns = bench_num(PROG, "delay", argv[2], 0, 60000) *
			   (int64_t)1000000;
		argc -= 2;
		argv += 2;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: " PROG " [-d DELAY_MS] SOCKS_ADDR "
				"ECHO_ADDR LIFETIME_SECONDS\n");
		return 2;
	}
	bench_stop_signals(&waitmask, on_signal);
	alarm((unsigned int)bench_num(PROG, "lifetime", argv[3], 1, 3600));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		bench_die(PROG, "epoll_create1", errno);
	listener(argv[1], K_LISTEN_S5, "port");
	listener(argv[2], K_LISTEN_ECHO, "echo");
	fflush(stdout);
	while (!stop) {
		n = epoll_pwait(ep, ev, 64, timeout, &waitmask);
		if (n < 0 && errno != EINTR)
			bench_die(PROG, "epoll_pwait", errno);
		for (i = 0; i < n; i++) {
			fd = (int)(uint32_t)ev[i].data.u64;
			/* Closed, or closed and reused, earlier in this batch */
			if (conns[fd].gen == (uint32_t)(ev[i].data.u64 >> 32))
				event(fd, ev[i].events);
		}
		timeout = answer_due();
	}
	printf("connects %llu echoes %llu refused %llu\n",
	       (unsigned long long)connects, (unsigned long long)echoes,
	       (unsigned long long)refused);
	return 0;
}
