/* UDP through sendmmsg/recvmmsg, and the fortified receive calls.
 *
 *     udp_mmsg ADDR PORT
 *
 * 1. Sends 8 datagrams "mmsg N" in one sendmmsg to ADDR:PORT, then
 *    receives with recvmmsg(MSG_WAITFORONE) until 8 arrived or 5 s passed.
 * 2. connect()s the socket to ADDR:PORT and does send + recv, then
 *    write + read (built with -O2 -D_FORTIFY_SOURCE=2 these become
 *    __recv_chk and __read_chk), then recvfrom on a sendto.
 *
 * Prints one JSON object: sent, the payloads and sources received, and
 * the results of part 2. The target echo prefixes "from ADDR PORT\n".
 * Exit status 0 when it got that far.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client_util.h"

#define N 8
#define BUFSZ 2048

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void jaddr(const struct sockaddr_storage *ss, socklen_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = -1;

	if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *a = (const void *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6 &&
		   len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *a = (const void *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
	}
	printf("[\"%s\", %d]", host, port);
}

static int wait_in(int fd, double deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ms = (int)((deadline - now()) * 1000);

	if (ms < 0)
		return 0;
	return poll(&p, 1, ms);
}

/* Part 2: one call that must give back an echo; prints "name": result. */
static void fortified(int fd, const char *name, int which)
{
	char buf[BUFSZ];
	char msg[64];
	/* A length the compiler cannot prove to fit: the _chk variants. */
	volatile size_t cap = sizeof(buf);
	ssize_t n;
	int len = snprintf(msg, sizeof(msg), "fortified %s", name);

	if (which == 0)
		n = send(fd, msg, (size_t)len, 0);
	else
		n = write(fd, msg, (size_t)len);
	printf(", \"%s\": ", name);
	if (n != len) {
		printf("\"send: %s\"", n < 0 ? strerror(errno) : "short");
		return;
	}
	if (wait_in(fd, now() + 5) <= 0) {
		printf("\"timeout\"");
		return;
	}
	if (which == 0)
		n = recv(fd, buf, cap, 0);   /* __recv_chk */
	else
		n = read(fd, buf, cap);      /* __read_chk */
	if (n < 0)
		printf("\"recv: %s\"", strerror(errno));
	else
		json_str(buf, (size_t)n);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage dst;
	socklen_t dlen;
	struct mmsghdr out[N], in[N];
	struct iovec oiov[N], iiov[N];
	char obuf[N][32], ibuf[N][BUFSZ];
	struct sockaddr_storage src[N];
	char names[N][BUFSZ];
	struct sockaddr_storage srcs[N];
	socklen_t srclens[N];
	size_t lens[N];
	int fd, sent, got = 0, i, calls = 0;
	double deadline;

	if (argc != 3) {
		fprintf(stderr, "usage: udp_mmsg ADDR PORT\n");
		return 2;
	}
	memset(&dst, 0, sizeof(dst));
	if (inet_pton(AF_INET, argv[1],
		      &((struct sockaddr_in *)&dst)->sin_addr) == 1) {
		dst.ss_family = AF_INET;
		((struct sockaddr_in *)&dst)->sin_port = htons(atoi(argv[2]));
		dlen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[1],
			     &((struct sockaddr_in6 *)&dst)->sin6_addr) == 1) {
		dst.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&dst)->sin6_port = htons(atoi(argv[2]));
		dlen = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 2;
	}
	fd = socket(dst.ss_family, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}

	memset(out, 0, sizeof(out));
	for (i = 0; i < N; i++) {
		int len = snprintf(obuf[i], sizeof(obuf[i]), "mmsg %d", i);

		oiov[i].iov_base = obuf[i];
		oiov[i].iov_len = (size_t)len;
		out[i].msg_hdr.msg_name = &dst;
		out[i].msg_hdr.msg_namelen = dlen;
		out[i].msg_hdr.msg_iov = &oiov[i];
		out[i].msg_hdr.msg_iovlen = 1;
	}
	sent = sendmmsg(fd, out, N, 0);
	printf("{\"sent\": %d", sent);
	if (sent < 0)
		printf(", \"send_error\": \"%s\"", strerror(errno));
	printf(", \"msg_len\": [");
	for (i = 0; i < N; i++)
		printf("%s%u", i ? ", " : "", out[i].msg_len);
	printf("]");

	deadline = now() + 5;
	while (got < N && wait_in(fd, deadline) > 0) {
		int want = N - got, r;

		memset(in, 0, sizeof(in));
		for (i = 0; i < want; i++) {
			iiov[i].iov_base = ibuf[i];
			iiov[i].iov_len = BUFSZ;
			in[i].msg_hdr.msg_name = &src[i];
			in[i].msg_hdr.msg_namelen = sizeof(src[i]);
			in[i].msg_hdr.msg_iov = &iiov[i];
			in[i].msg_hdr.msg_iovlen = 1;
		}
		r = recvmmsg(fd, in, (unsigned int)want, MSG_WAITFORONE, NULL);
		calls++;
		if (r < 0) {
			printf(", \"recv_error\": \"%s\"", strerror(errno));
			break;
		}
		for (i = 0; i < r; i++) {
			memcpy(names[got], ibuf[i], in[i].msg_len);
			lens[got] = in[i].msg_len;
			srcs[got] = src[i];
			srclens[got] = in[i].msg_hdr.msg_namelen;
			got++;
		}
	}
	printf(", \"recvmmsg_calls\": %d, \"got\": [", calls);
	for (i = 0; i < got; i++) {
		printf("%s", i ? ", " : "");
		json_str(names[i], lens[i]);
	}
	printf("], \"sources\": [");
	for (i = 0; i < got; i++) {
		printf("%s", i ? ", " : "");
		jaddr(&srcs[i], srclens[i]);
	}
	printf("]");

	/* Part 2: a plain sendto/recvfrom, then the connected calls. */
	{
		char buf[BUFSZ];
		volatile size_t cap = sizeof(buf);
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = sendto(fd, "recvfrom", 8, 0,
				   (struct sockaddr *)&dst, dlen);

		printf(", \"recvfrom\": ");
		if (n != 8 || wait_in(fd, now() + 5) <= 0) {
			printf("\"send or wait failed\"");
		} else {
			n = recvfrom(fd, buf, cap, 0,   /* __recvfrom_chk */
				     (struct sockaddr *)&from, &flen);
			if (n < 0)
				printf("\"%s\"", strerror(errno));
			else {
				printf("[");
				json_str(buf, (size_t)n);
				printf(", ");
				jaddr(&from, flen);
				printf("]");
			}
		}
	}
	if (connect(fd, (struct sockaddr *)&dst, dlen) < 0) {
		printf(", \"connect\": \"%s\"}\n", strerror(errno));
		return 0;
	}
	fortified(fd, "send_recv", 0);
	fortified(fd, "write_read", 1);
	printf("}\n");
	close(fd);
	return 0;
}
