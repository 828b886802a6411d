/* udpbench: 64-byte UDP datagrams to an echo through a SOCKS5 relay.
 *
 *   udpbench native PROXY_PORT COUNT WINDOW MAX_SECONDS
 *   udpbench plain COUNT WINDOW MAX_SECONDS
 *
 * Both send to 127.0.0.2:7 and expect every datagram back, in order, from
 * 127.0.0.2:7. They share one loop (run()) and differ only in how a
 * datagram is sent and received:
 *
 *   native: the program speaks SOCKS5 itself: a control connection to
 *           127.0.0.1:PROXY_PORT, UDP ASSOCIATE, then sendto(relay) with a
 *           10-byte RFC 1928 section 7 header it builds, and recvfrom(relay)
 *           with the header checked and stripped. The baseline.
 *   plain:  sendto(127.0.0.2:7) / recvfrom(), nothing else; meant to run
 *           under LD_PRELOAD=libsocks5wrap.so with SOCKS5WRAP_NO_PROXY=""
 *           so the library does the SOCKS5 part. Without the preload nothing
 *           answers and the run fails after 2 s.
 *
 * WINDOW datagrams are outstanding at once (1: ping-pong). The run stops
 * after COUNT datagrams or MAX_SECONDS, whichever comes first; then the
 * outstanding replies are collected. Prints
 *   "datagrams N seconds S rate R"
 * with N round trips completed and R = N / S. A reply missing for 2 s, out
 * of order, or not the one sent is an error (exit 1).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define PROG "udpbench"
#define PAYLOAD 64
#define HDR 10 /* RSV RSV FRAG ATYP=1 ADDR(4) PORT(2) */

struct client {
	int udp;
	struct sockaddr_in dst;   /* 127.0.0.2:7 */
	struct sockaddr_in relay; /* native only */
	/* Send one datagram of len bytes, receive one into buf (cap bytes):
	 * the payload length, or -1 with errno. */
	ssize_t (*send)(struct client *c, const uint8_t *p, size_t len);
	ssize_t (*recv)(struct client *c, uint8_t *buf, size_t cap);
};

/* ---- plain: the socket calls a program makes, for the preload -------- */

static ssize_t plain_send(struct client *c, const uint8_t *p, size_t len)
{
	return sendto(c->udp, p, len, 0, (struct sockaddr *)&c->dst,
		      sizeof(c->dst));
}

static ssize_t plain_recv(struct client *c, uint8_t *buf, size_t cap)
{
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	ssize_t r = recvfrom(c->udp, buf, cap, 0, (struct sockaddr *)&from,
			     &flen);

	/* The library shows the header's address as the source. */
	if (r >= 0 && (flen != sizeof(from) || from.sin_family != AF_INET ||
		       from.sin_port != c->dst.sin_port ||
		       from.sin_addr.s_addr != c->dst.sin_addr.s_addr)) {
		errno = EPROTO;
		return -1;
	}
	return r;
}

/* ---- native: SOCKS5 UDP done by the program -------------------------- */

static ssize_t native_send(struct client *c, const uint8_t *p, size_t len)
{
	uint8_t d[HDR + 2048];
	ssize_t r;

	if (len > sizeof(d) - HDR) {
		errno = EMSGSIZE;
		return -1;
	}
	d[0] = 0;
	d[1] = 0;
	d[2] = 0; /* FRAG 0: a whole datagram */
	d[3] = 1; /* ATYP IPv4 */
	memcpy(d + 4, &c->dst.sin_addr, 4);
	memcpy(d + 8, &c->dst.sin_port, 2);
	memcpy(d + HDR, p, len);
	r = sendto(c->udp, d, HDR + len, 0, (struct sockaddr *)&c->relay,
		   sizeof(c->relay));
	return r < 0 ? r : r - HDR;
}

static ssize_t native_recv(struct client *c, uint8_t *buf, size_t cap)
{
	uint8_t d[HDR + 2048];
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	ssize_t r = recvfrom(c->udp, d, sizeof(d), 0, (struct sockaddr *)&from,
			     &flen);
	size_t n;

	if (r < 0)
		return r;
	/* Only the relay's datagrams, with a whole-datagram IPv4 header that
	 * names the peer asked for. */
	if (from.sin_port != c->relay.sin_port ||
	    from.sin_addr.s_addr != c->relay.sin_addr.s_addr || r < HDR ||
	    d[0] || d[1] || d[2] || d[3] != 1 ||
	    memcmp(d + 4, &c->dst.sin_addr, 4) != 0 ||
	    memcmp(d + 8, &c->dst.sin_port, 2) != 0) {
		errno = EPROTO;
		return -1;
	}
	n = (size_t)r - HDR;
	if (n > cap)
		n = cap;
	memcpy(buf, d + HDR, n);
	return (ssize_t)n;
}

/* Control connection, no-auth method, UDP ASSOCIATE for 0.0.0.0:0
 * (RFC 1928 sections 3, 4, 6, 7); fills c->relay. Returns the control
 * descriptor, which must stay open for the association to live. */
static int associate(struct client *c, int port)
{
	static const uint8_t hello[3] = { 5, 1, 0 };
	static const uint8_t req[10] = { 5, 3, 0, 1, 0, 0, 0, 0, 0, 0 };
	struct sockaddr_in px = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 2 };
	uint8_t rep[10];
	int one = 1, t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (t < 0)
		bench_die(PROG, "socket", errno);
	setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	px.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	px.sin_port = htons((uint16_t)port);
	if (connect(t, (struct sockaddr *)&px, sizeof(px)) < 0)
		bench_die(PROG, "connect to the SOCKS5 server", errno);
	if (send(t, hello, 3, 0) != 3 || !bench_readn(t, rep, 2) || rep[0] != 5 ||
	    rep[1] != 0)
		bench_die(PROG, "method selection failed", 0);
	if (send(t, req, 10, 0) != 10 || !bench_readn(t, rep, 4) || rep[0] != 5 ||
	    rep[1] != 0 || rep[3] != 1 || !bench_readn(t, rep + 4, 6))
		bench_die(PROG, "UDP ASSOCIATE refused or not IPv4", 0);
	memset(&c->relay, 0, sizeof(c->relay));
	c->relay.sin_family = AF_INET;
	memcpy(&c->relay.sin_addr, rep + 4, 4);
	memcpy(&c->relay.sin_port, rep + 8, 2);
	return t;
}

/* ---- the loop both share ---------------------------------------------- */

static void put_seq(uint8_t *p, uint64_t seq)
{
	memcpy(p, &seq, sizeof(seq));
}

static uint64_t get_seq(const uint8_t *p)
{
	uint64_t seq;

	memcpy(&seq, p, sizeof(seq));
	return seq;
}

/* Round trips until count or max_ns; returns the number completed. */
static uint64_t run(struct client *c, uint64_t count, uint64_t window,
		    int64_t max_ns, int64_t *elapsed_ns)
{
	uint8_t out[PAYLOAD], in[PAYLOAD + 64];
	int64_t t0 = bench_now_ns(), deadline = t0 + max_ns;
	uint64_t sent = 0, got = 0;
	bool stopping = false;
	ssize_t r;

	memset(out, 0xa5, sizeof(out));
	while (sent < window && sent < count) {
		put_seq(out, sent);
		if (c->send(c, out, PAYLOAD) != PAYLOAD)
			bench_die(PROG, "send", errno);
		sent++;
	}
	while (got < sent) {
		r = c->recv(c, in, sizeof(in));
		if (r < 0)
			bench_die(PROG, errno == EAGAIN ? "reply lost (2 s)" :
							  "recv", errno);
		if (r != PAYLOAD || get_seq(in) != got ||
		    memcmp(in + 8, out + 8, PAYLOAD - 8) != 0)
			bench_die(PROG, "reply out of order or changed", 0);
		got++;
		if ((got & 255) == 0 && bench_now_ns() >= deadline)
			stopping = true;
		if (!stopping && sent < count) {
			put_seq(out, sent);
			if (c->send(c, out, PAYLOAD) != PAYLOAD)
				bench_die(PROG, "send", errno);
			sent++;
		}
	}
	*elapsed_ns = bench_now_ns() - t0;
	return got;
}

int main(int argc, char **argv)
{
	struct timeval tv = { .tv_sec = 2 };
	struct client c = { .dst = { .sin_family = AF_INET } };
	int64_t elapsed;
	uint64_t done;
	long count, window, secs;
	int a = 2, ctl = -1;

	if (argc == 6 && strcmp(argv[1], "native") == 0) {
		a = 3;
	} else if (!(argc == 5 && strcmp(argv[1], "plain") == 0)) {
		fprintf(stderr, "usage: " PROG " native PROXY_PORT COUNT WINDOW "
				"MAX_SECONDS\n       " PROG
				" plain COUNT WINDOW MAX_SECONDS\n");
		return 2;
	}
	count = bench_num(PROG, "count", argv[a], 1, 100000000);
	window = bench_num(PROG, "window", argv[a + 1], 1, 256);
	secs = bench_num(PROG, "seconds", argv[a + 2], 1, 600);
	c.dst.sin_addr.s_addr = htonl(0x7f000002);
	c.dst.sin_port = htons(7);
	c.udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c.udp < 0)
		bench_die(PROG, "socket", errno);
	setsockopt(c.udp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (a == 3) {
		ctl = associate(&c, (int)bench_num(PROG, "port", argv[2], 1,
						   65535));
		c.send = native_send;
		c.recv = native_recv;
	} else {
		c.send = plain_send;
		c.recv = plain_recv;
	}
	done = run(&c, (uint64_t)count, (uint64_t)window,
		   (int64_t)secs * 1000000000, &elapsed);
	printf("datagrams %llu seconds %.3f rate %.0f\n",
	       (unsigned long long)done, (double)elapsed / 1e9,
	       (double)done * 1e9 / (double)elapsed);
	if (ctl >= 0)
		close(ctl);
	close(c.udp);
	return 0;
}
