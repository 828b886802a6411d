/* System-call level clients for test_claims.py; each prints one JSON
 * object on stdout and exits 0 when it got that far (a crash or a hang is
 * the test's finding).
 *
 *   claims_calls syscall-connect ADDR PORT
 *       TCP socket, syscall(SYS_connect) to ADDR:PORT (the target's HTTP
 *       server), getpeername, one GET, the answer.
 *   claims_calls udp-close ADDR PORT
 *       UDP socket A echoes once (its association's control connection,
 *       a descriptor the library owns, appears); syscall(SYS_close) and
 *       syscall(SYS_close_range) on that descriptor, and close_range from
 *       A + 1 up; A echoes again; syscall(SYS_close, A); a socket B echoes
 *       once, then syscall(SYS_close_range, 3, ~0U, 0).
 *   claims_calls gso ADDR PORT cmsg|sockopt|syscall [DIRECT_ADDR]
 *       A plain datagram, echoed; then a 250-byte send that asks for UDP
 *       GSO (segments of 100 bytes) by a UDP_SEGMENT control message or
 *       by the socket option, set with setsockopt() or with
 *       syscall(SYS_setsockopt); then GSO off and a plain datagram,
 *       echoed. With DIRECT_ADDR (excluded by the test) the same GSO send
 *       to DIRECT_ADDR:9 first, as a control.
 *   claims_calls readiness ADDR PORT SILENT_PORT
 *       poll() and select() on a UDP socket: idle before any send, idle
 *       after a datagram to SILENT_PORT (nobody answers), readable once
 *       the echo from PORT arrives, idle again after it was read.
 *   claims_calls stream-connect ADDR PORT
 *       A TCP socket and connect(), nothing else (the test decides what
 *       the library sees of it).
 *   claims_calls dlopen-connect LIBRARY ADDR PORT
 *       dlopen(LIBRARY), then its connect() to ADDR:PORT on a TCP socket;
 *       reports getauxval(AT_SECURE) too (the test runs a setgid copy).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "client_util.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define IO_TIMEOUT_MS 5000
#define IDLE_MS 300
#define MAX_FDS 64

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static socklen_t parse_addr(const char *host, const char *port,
			    struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)atoi(port));
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)atoi(port));
		return sizeof(*s6);
	}
	fprintf(stderr, "not a numeric address: %s\n", host);
	exit(2);
}



static bool in_list(int fd, const int *l, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (l[i] == fd)
			return true;
	return false;
}

/* The one descriptor open now that was not in before[], or -1. */
static int new_fd(const int *before, int nb, int except)
{
	int now[MAX_FDS], n = list_fds(now, MAX_FDS), i, found = -1;

	for (i = 0; i < n; i++) {
		if (in_list(now[i], before, nb) || now[i] == except)
			continue;
		if (found >= 0)
			return -1;
		found = now[i];
	}
	return found;
}

static void put_fds(void)
{
	int l[MAX_FDS], n = list_fds(l, MAX_FDS), i;

	putchar('[');
	for (i = 0; i < n; i++)
		printf("%s%d", i ? ", " : "", l[i]);
	putchar(']');
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* One datagram to dst and its echo: the echo's text, or an errno name. */
static void udp_echo(int fd, const struct sockaddr_storage *dst,
		     socklen_t dlen, const char *text)
{
	char buf[2048];
	ssize_t n;

	if (sendto(fd, text, strlen(text), 0, (const struct sockaddr *)dst,
		   dlen) < 0) {
		printf("\"send %s\"", ename(errno));
		return;
	}
	if (!readable_within(fd, IO_TIMEOUT_MS)) {
		fputs("\"no reply\"", stdout);
		return;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		printf("\"recv %s\"", ename(errno));
		return;
	}
	json_str(buf, (size_t)n);
}

/* ---- syscall-connect ---------------------------------------------------- */

static int cmd_syscall_connect(char **argv)
{
	struct sockaddr_storage dst, peer;
	socklen_t dlen = parse_addr(argv[0], argv[1], &dst);
	socklen_t plen = sizeof(peer);
	static const char req[] = "GET /syscall HTTP/1.0\r\n\r\n";
	int fd = socket(dst.ss_family, SOCK_STREAM, 0);
	long r;

	r = syscall(SYS_connect, fd, (struct sockaddr *)&dst, dlen);
	printf("{\"connect\": \"%s\"", ename(r == 0 ? 0 : errno));
	if (r == 0 && getpeername(fd, (struct sockaddr *)&peer, &plen) == 0) {
		fputs(", \"peer\": ", stdout);
		put_addr_json(&peer);
	}
	if (r == 0 && write(fd, req, sizeof(req) - 1) ==
			      (ssize_t)(sizeof(req) - 1))
		put_reply_json(fd, IO_TIMEOUT_MS);
	r = syscall(SYS_close, fd);
	printf(", \"close\": \"%s\", \"closed\": %s}\n",
	       ename(r == 0 ? 0 : errno), fd_open(fd) ? "false" : "true");
	return 0;
}

/* ---- udp-close ---------------------------------------------------------- */

static int cmd_udp_close(char **argv)
{
	struct sockaddr_storage dst;
	socklen_t dlen = parse_addr(argv[0], argv[1], &dst);
	int before[MAX_FDS], nb, a, b, ctl, ctl_b;
	long r;

	nb = list_fds(before, MAX_FDS);
	a = socket(dst.ss_family, SOCK_DGRAM, 0);
	printf("{\"fds_before\": ");
	put_fds();
	printf(", \"a\": %d, \"a_first\": ", a);
	udp_echo(a, &dst, dlen, "first from a");
	ctl = new_fd(before, nb, a);
	printf(", \"ctl\": %d", ctl);
	if (ctl < 0) {
		fputs(", \"fds\": ", stdout);
		put_fds();
		puts("}");
		return 0;
	}

	r = syscall(SYS_close, ctl);
	printf(", \"close_ctl\": \"%s\", \"ctl_open_after_close\": %s",
	       ename(r == 0 ? 0 : errno), fd_open(ctl) ? "true" : "false");
	r = syscall(SYS_close_range, ctl, ctl, 0);
	printf(", \"close_range_ctl\": \"%s\", "
	       "\"ctl_open_after_close_range\": %s",
	       ename(r == 0 ? 0 : errno), fd_open(ctl) ? "true" : "false");
	r = syscall(SYS_close_range, a + 1, ~0U, 0);
	printf(", \"close_range_above_a\": \"%s\", "
	       "\"ctl_open_after_wide_range\": %s, \"a_open\": %s",
	       ename(r == 0 ? 0 : errno), fd_open(ctl) ? "true" : "false",
	       fd_open(a) ? "true" : "false");
	fputs(", \"a_second\": ", stdout);
	udp_echo(a, &dst, dlen, "second from a");

	r = syscall(SYS_close, a);
	printf(", \"close_a\": \"%s\", \"a_open_after_close\": %s, "
	       "\"ctl_open_after_close_a\": %s",
	       ename(r == 0 ? 0 : errno), fd_open(a) ? "true" : "false",
	       fd_open(ctl) ? "true" : "false");

	nb = list_fds(before, MAX_FDS);
	b = socket(dst.ss_family, SOCK_DGRAM, 0);
	fputs(", \"b_first\": ", stdout);
	udp_echo(b, &dst, dlen, "first from b");
	ctl_b = new_fd(before, nb, b);
	printf(", \"ctl_b\": %d", ctl_b);
	r = syscall(SYS_close_range, 3, ~0U, 0);
	printf(", \"close_range_all\": \"%s\", \"b_open\": %s, "
	       "\"ctl_b_open\": %s, \"fds_after\": ",
	       ename(r == 0 ? 0 : errno), fd_open(b) ? "true" : "false",
	       ctl_b >= 0 && fd_open(ctl_b) ? "true" : "false");
	put_fds();
	puts("}");
	return 0;
}

/* ---- gso ---------------------------------------------------------------- */

/* sendmsg of len bytes to dst, with a UDP_SEGMENT control message when
 * seg is nonzero. Returns the byte count or -errno. */
static long send_segmented(int fd, const struct sockaddr_storage *dst,
			   socklen_t dlen, size_t len, uint16_t seg)
{
	char payload[1024];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { payload, len };
	struct msghdr m;
	struct cmsghdr *c;
	size_t i;

	for (i = 0; i < len && i < sizeof(payload); i++)
		payload[i] = (char)('a' + i % 26);
	memset(&m, 0, sizeof(m));
	m.msg_name = (void *)dst;
	m.msg_namelen = dlen;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (seg) {
		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	}
	return sendmsg(fd, &m, 0) < 0 ? -errno : (long)len;
}

static void put_result(long r)
{
	if (r < 0)
		printf("\"%s\"", ename((int)-r));
	else
		printf("%ld", r);
}

/* Every datagram that arrives within IDLE_MS, as strings. */
static void put_late(int fd)
{
	char buf[2048];
	ssize_t n;
	int i;

	putchar('[');
	for (i = 0; i < 16 && readable_within(fd, IDLE_MS); i++) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			break;
		if (i)
			fputs(", ", stdout);
		json_str(buf, (size_t)n);
	}
	putchar(']');
}

/* The UDP_SEGMENT socket option, through libc or through syscall(). */
static int set_gso(int fd, int seg, bool by_syscall)
{
	if (by_syscall)
		return (int)syscall(SYS_setsockopt, fd, SOL_UDP, UDP_SEGMENT,
				    &seg, (socklen_t)sizeof(seg));
	return setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg));
}

static int cmd_gso(char **argv, int argc)
{
	struct sockaddr_storage dst, direct;
	socklen_t dlen = parse_addr(argv[0], argv[1], &dst), xlen;
	bool by_syscall = strcmp(argv[2], "syscall") == 0;
	bool sockopt = by_syscall || strcmp(argv[2], "sockopt") == 0;
	int fd = socket(dst.ss_family, SOCK_DGRAM, 0);
	uint16_t cmsg_seg = sockopt ? 0 : 100;

	printf("{\"mode\": \"%s\", \"plain_before\": ", argv[2]);
	udp_echo(fd, &dst, dlen, "plain before gso");
	if (sockopt && set_gso(fd, 100, by_syscall) < 0) {
		printf(", \"setsockopt\": \"%s\"}\n", ename(errno));
		return 0;
	}
	if (argc > 3) {
		xlen = parse_addr(argv[3], "9", &direct);
		fputs(", \"direct\": ", stdout);
		put_result(send_segmented(fd, &direct, xlen, 250, cmsg_seg));
	}
	fputs(", \"gso\": ", stdout);
	put_result(send_segmented(fd, &dst, dlen, 250, cmsg_seg));
	fputs(", \"after_gso\": ", stdout);
	put_late(fd);
	if (sockopt)
		set_gso(fd, 0, by_syscall);
	fputs(", \"plain\": ", stdout);
	udp_echo(fd, &dst, dlen, "plain after gso");
	puts("}");
	return 0;
}

/* ---- readiness ---------------------------------------------------------- */

/* poll() for POLLIN: [result, revents, elapsed ms]. */
static void put_poll(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	double t0 = now_ms();
	int r = poll(&p, 1, ms);

	printf("[%d, %d, %.0f]", r, r > 0 ? p.revents : 0, now_ms() - t0);
}

/* select() for reading: [result, isset, elapsed ms]. */
static void put_select(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	double t0 = now_ms();
	fd_set rd;
	int r;

	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	r = select(fd + 1, &rd, NULL, NULL, &tv);
	printf("[%d, %s, %.0f]", r, r > 0 && FD_ISSET(fd, &rd) ? "true" :
	       "false", now_ms() - t0);
}

static void put_recv(int fd)
{
	struct sockaddr_storage src;
	socklen_t slen = sizeof(src);
	char buf[2048];
	ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&src, &slen);

	if (n < 0) {
		printf("\"%s\"", ename(errno));
		return;
	}
	putchar('[');
	json_str(buf, (size_t)n);
	fputs(", ", stdout);
	put_addr_json(&src);
	putchar(']');
}

static int cmd_readiness(char **argv)
{
	struct sockaddr_storage dst, silent;
	socklen_t dlen = parse_addr(argv[0], argv[1], &dst);
	socklen_t slen = parse_addr(argv[0], argv[2], &silent);
	int fd = socket(dst.ss_family, SOCK_DGRAM, 0);
	long r;

	printf("{\"poll_before_send\": ");
	put_poll(fd, IDLE_MS);
	r = sendto(fd, "to nobody", 9, 0, (struct sockaddr *)&silent, slen);
	printf(", \"silent_send\": \"%s\", \"poll_silent\": ",
	       ename(r < 0 ? errno : 0));
	put_poll(fd, IDLE_MS);
	fputs(", \"select_silent\": ", stdout);
	put_select(fd, IDLE_MS);

	r = sendto(fd, "for poll", 8, 0, (struct sockaddr *)&dst, dlen);
	printf(", \"send_poll\": \"%s\", \"poll_reply\": ",
	       ename(r < 0 ? errno : 0));
	put_poll(fd, IO_TIMEOUT_MS);
	fputs(", \"poll_got\": ", stdout);
	put_recv(fd);
	fputs(", \"poll_after_read\": ", stdout);
	put_poll(fd, IDLE_MS);

	fputs(", \"select_before\": ", stdout);
	put_select(fd, IDLE_MS);
	r = sendto(fd, "for select", 10, 0, (struct sockaddr *)&dst, dlen);
	printf(", \"send_select\": \"%s\", \"select_reply\": ",
	       ename(r < 0 ? errno : 0));
	put_select(fd, IO_TIMEOUT_MS);
	fputs(", \"select_got\": ", stdout);
	put_recv(fd);
	fputs(", \"select_after_read\": ", stdout);
	put_select(fd, IDLE_MS);
	puts("}");
	return 0;
}

/* ---- stream-connect ----------------------------------------------------- */

static int cmd_stream(char **argv)
{
	struct sockaddr_storage dst;
	socklen_t dlen = parse_addr(argv[0], argv[1], &dst);
	double t0;
	int fd = socket(dst.ss_family, SOCK_STREAM, 0), r;

	if (fd < 0) {
		printf("{\"socket\": \"%s\"}\n", ename(errno));
		return 0;
	}
	t0 = now_ms();
	r = connect(fd, (struct sockaddr *)&dst, dlen);
	printf("{\"socket\": \"ok\", \"connect\": \"%s\", \"elapsed_ms\": "
	       "%.0f}\n", ename(r == 0 ? 0 : errno), now_ms() - t0);
	return 0;
}

/* ---- dlopen-connect ----------------------------------------------------- */

static int cmd_dlopen_connect(char **argv)
{
	int (*lib_connect)(int, const struct sockaddr *, socklen_t);
	struct sockaddr_storage dst;
	socklen_t dlen = parse_addr(argv[1], argv[2], &dst);
	void *h = dlopen(argv[0], RTLD_NOW | RTLD_LOCAL);
	int fd, r;

	printf("{\"at_secure\": %lu", getauxval(AT_SECURE));
	if (h == NULL) {
		fputs(", \"dlopen\": ", stdout);
		json_str(dlerror(), strlen(dlerror()));
		puts("}");
		return 0;
	}
	*(void **)&lib_connect = dlsym(h, "connect");
	if (lib_connect == NULL) {
		puts(", \"dlsym\": \"connect not found\"}");
		return 0;
	}
	fd = socket(dst.ss_family, SOCK_STREAM, 0);
	r = lib_connect(fd, (struct sockaddr *)&dst, dlen);
	printf(", \"dlopen\": \"ok\", \"connect\": \"%s\"}\n",
	       ename(r == 0 ? 0 : errno));
	return 0;
}

static int usage(void)
{
	fputs("usage: claims_calls syscall-connect|udp-close|gso|readiness|"
	      "stream-connect|dlopen-connect ARGS (see the source)\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int rc;

	if (strcmp(cmd, "syscall-connect") == 0 && argc == 4)
		rc = cmd_syscall_connect(argv + 2);
	else if (strcmp(cmd, "udp-close") == 0 && argc == 4)
		rc = cmd_udp_close(argv + 2);
	else if (strcmp(cmd, "gso") == 0 && (argc == 5 || argc == 6))
		rc = cmd_gso(argv + 2, argc - 2);
	else if (strcmp(cmd, "readiness") == 0 && argc == 5)
		rc = cmd_readiness(argv + 2);
	else if (strcmp(cmd, "stream-connect") == 0 && argc == 4)
		rc = cmd_stream(argv + 2);
	else if (strcmp(cmd, "dlopen-connect") == 0 && argc == 5)
		rc = cmd_dlopen_connect(argv + 2);
	else
		return usage();
	fflush(stdout);
	return rc;
}
