/* s5echo: a small, fast SOCKS5 server for the UDP benchmarks, on loopback.
 *
 *   s5echo LIFETIME_SECONDS
 *
 * Listens on 127.0.0.1 (a port the kernel picks; printed as "port N" on
 * stdout), accepts only "no authentication" and only UDP ASSOCIATE, and
 * for each association opens a UDP relay socket on 127.0.0.1. The relay
 * echoes every datagram back to its sender unchanged, RFC 1928 section 7
 * header included: the reply's header then names the destination the
 * client asked for, as a real relay's reply names the peer. Nothing is
 * forwarded anywhere, so no traffic leaves loopback.
 *
 * On SIGTERM, SIGINT or when LIFETIME_SECONDS have passed it prints
 *   "datagrams N bad B associations A"
 * and exits: N datagrams echoed, B of them without a SOCKS5 UDP header
 * (RSV RSV FRAG not all zero), A associations served. The benchmark
 * compares N with what its client sent, to prove the datagrams really went
 * through this relay.
 *
 * One thread, epoll, recvmmsg/sendmmsg in batches of 32: the relay should
 * cost as little as possible, so the benchmark measures the client side.
 * Handshakes are read with blocking calls and a 2 s timeout: the clients
 * here are well behaved, and a stuck one costs at most that.
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

#define PROG "s5echo"
#define MAX_FD 4096
#define BATCH 32
#define DGRAM_MAX 2048

enum kind { K_NONE, K_LISTEN, K_CTL, K_UDP };

static enum kind kind[MAX_FD];
static int pair_of[MAX_FD]; /* control <-> relay socket of one association */
static volatile sig_atomic_t stop;
static uint64_t echoed, bad, assocs;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static bool writen(int fd, const void *buf, size_t n)
{
	return send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n;
}

static void watch(int ep, int fd, enum kind k)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		bench_die(PROG, "epoll_ctl", errno);
	kind[fd] = k;
}

static void forget(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	kind[fd] = K_NONE;
	close(fd);
}

/* A UDP socket on 127.0.0.1 and a port the kernel picks; -1 on failure. */
static int relay_socket(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)sa, &len) < 0 || fd >= MAX_FD) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Method selection (RFC 1928 section 3): "no authentication" or nothing. */
static bool greet(int c)
{
	uint8_t hdr[2], methods[255];
	static const uint8_t ok[2] = { 5, 0 }, none[2] = { 5, 0xff };

	if (!bench_readn(c, hdr, 2) || hdr[0] != 5 || hdr[1] == 0 ||
	    !bench_readn(c, methods, hdr[1]))
		return false;
	if (memchr(methods, 0, hdr[1]) == NULL) {
		writen(c, none, 2);
		return false;
	}
	return writen(c, ok, 2);
}

/* The request (section 4); true when it is a UDP ASSOCIATE. Its
 * DST.ADDR/DST.PORT are read and ignored, as section 7 allows. */
static bool read_request(int c, uint8_t *rep_code)
{
	uint8_t h[4], rest[255 + 2], n;
	size_t len;

	if (!bench_readn(c, h, 4) || h[0] != 5)
		return false;
	switch (h[3]) {
	case 1: len = 4 + 2; break;
	case 4: len = 16 + 2; break;
	case 3:
		if (!bench_readn(c, &n, 1))
			return false;
		len = (size_t)n + 2;
		break;
	default:
		*rep_code = 8; /* address type not supported */
		return false;
	}
	if (!bench_readn(c, rest, len))
		return false;
	if (h[1] != 3) {
		*rep_code = 7; /* command not supported */
		return false;
	}
	return true;
}

static void reply(int c, uint8_t code, const struct sockaddr_in *bnd)
{
	uint8_t r[10] = { 5, code, 0, 1 };

	if (bnd != NULL) {
		memcpy(r + 4, &bnd->sin_addr, 4);
		memcpy(r + 8, &bnd->sin_port, 2);
	}
	writen(c, r, sizeof(r));
}

static void accept_one(int ep, int l)
{
	struct timeval tv = { .tv_sec = 2 };
	struct sockaddr_in bnd;
	uint8_t code = 1; /* general failure */
	int one = 1, c, u;

	c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	if (c >= MAX_FD) {
		close(c);
		return;
	}
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!greet(c))
		goto fail;
	if (!read_request(c, &code)) {
		reply(c, code, NULL);
		goto fail;
	}
	u = relay_socket(&bnd);
	if (u < 0) {
		reply(c, 1, NULL);
		goto fail;
	}
	reply(c, 0, &bnd);
	pair_of[c] = u;
	pair_of[u] = c;
	watch(ep, c, K_CTL);
	watch(ep, u, K_UDP);
	assocs++;
	return;
fail:
	close(c);
}

/* Section 7: the association ends with its control connection. Anything
 * the client sends on it is read and ignored. */
static void control(int ep, int c)
{
	uint8_t buf[256];
	ssize_t r = recv(c, buf, sizeof(buf), MSG_DONTWAIT);

	if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	forget(ep, pair_of[c]);
	forget(ep, c);
}

static uint8_t bufs[BATCH][DGRAM_MAX];
static struct sockaddr_storage from[BATCH];
static struct iovec iov[BATCH];
static struct mmsghdr m[BATCH];

/* Entries [0, n) of the batch ready for the next recvmmsg. */
static void batch_reset(int n)
{
	int i;

	for (i = 0; i < n; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = DGRAM_MAX;
		memset(&m[i].msg_hdr, 0, sizeof(m[i].msg_hdr));
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_hdr.msg_name = &from[i];
		m[i].msg_hdr.msg_namelen = sizeof(from[i]);
	}
}

/* Every datagram waiting on u, back to its sender as it came. */
static void echo(int u)
{
	int i, n, done, r;

	n = recvmmsg(u, m, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	for (i = 0; i < n; i++) {
		iov[i].iov_len = m[i].msg_len;
		if (m[i].msg_len < 4 || bufs[i][0] || bufs[i][1] || bufs[i][2])
			bad++;
	}
	for (done = 0; done < n; done += r) {
		r = sendmmsg(u, m + done, (unsigned int)(n - done), 0);
		if (r <= 0) {
			fprintf(stderr, PROG ": sendmmsg: %s\n", strerror(errno));
			break;
		}
		echoed += (uint64_t)r;
	}
	batch_reset(n);
}

static int listener(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int one = 1, l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0)
		bench_die(PROG, "socket", errno);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l, 512) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) < 0)
		bench_die(PROG, "listen on 127.0.0.1", errno);
	printf("port %u\n", ntohs(sa.sin_port));
	fflush(stdout);
	return l;
}


int main(int argc, char **argv)
{
	struct epoll_event ev[64];
	sigset_t waitmask;
	int ep, l, n, i, fd;

	if (argc != 2) {
		fprintf(stderr, "usage: " PROG " LIFETIME_SECONDS\n");
		return 2;
	}
	bench_stop_signals(&waitmask, on_signal);
	batch_reset(BATCH);
	alarm((unsigned int)bench_num(PROG, "lifetime", argv[1], 1, 3600));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		bench_die(PROG, "epoll_create1", errno);
	l = listener();
	watch(ep, l, K_LISTEN);
	while (!stop) {
		n = epoll_pwait(ep, ev, 64, -1, &waitmask);
		if (n < 0 && errno != EINTR)
			bench_die(PROG, "epoll_pwait", errno);
		for (i = 0; i < n; i++) {
			fd = ev[i].data.fd;
			if (kind[fd] == K_LISTEN)
				accept_one(ep, fd);
			else if (kind[fd] == K_CTL)
				control(ep, fd);
			else if (kind[fd] == K_UDP)
				echo(fd);
		}
	}
	printf("datagrams %llu bad %llu associations %llu\n",
	       (unsigned long long)echoed, (unsigned long long)bad,
	       (unsigned long long)assocs);
	return 0;
}
