/* Clients for test_hostile.py: programs that use the socket API in ways
 * the kernel accepts but that are easy to overlook, and programs that
 * close descriptors without calling close(). Each prints one JSON object
 * on stdout and exits 0 when it got that far; a watchdog prints
 * {"stuck": STAGE, "cpu_ms": N} on a line of its own and exits 3 when
 * one stage of it takes longer than 10 s (3 s for the last receive of
 * stale-tcp): a call that does not come back. Output is unbuffered, so
 * the line before it holds what the program had printed so far.
 *
 *   hostile_calls unspec4 HOST PORT fresh|associated sendto|sendmsg|sendmmsg
 *       An IPv4 UDP socket sends to HOST:PORT (HOST numeric, or a name
 *       resolved with getaddrinfo) with sin_family set to AF_UNSPEC, which
 *       the kernel takes as AF_INET. "associated" first sends once with
 *       AF_INET. sendmmsg sends two datagrams. Reports the replies.
 *   hostile_calls unspec-raw ADDR sendto|sendmsg
 *       A raw ICMP socket sends an echo request to ADDR, with AF_INET and
 *       then with AF_UNSPEC.
 *   hostile_calls unspec6 ADDR6 PORT ADDR4 PORT4
 *       An IPv6 UDP socket sends with an AF_UNSPEC name laid out as an IPv4
 *       address (ADDR4:PORT4): unconnected, then connect()ed to
 *       ADDR6:PORT, with sendto and sendmsg. For IPv6 the kernel reads
 *       AF_UNSPEC as "no address": the connected peer.
 *   hostile_calls unspec-loop ADDR PORT
 *       Binds a listener on ADDR:PORT, then a UDP socket sends to it with
 *       AF_INET and with AF_UNSPEC; reports what the listener got.
 *   hostile_calls v6-connect4 ADDR PORT [v6only]
 *       An IPv6 UDP socket connect()s to a sockaddr_in; getpeername, then
 *       send, write and sendmsg without address, each answered by recv.
 *   hostile_calls v6-sendto4 ADDR PORT
 *       An IPv6 UDP socket sendto()s a sockaddr_in.
 *   hostile_calls stale-tcp HOW MODE UADDR UPORT TADDR TPORT
 *       A UDP socket connect()s to UADDR:UPORT and echoes once; it is
 *       closed by HOW (below), and a TCP socket takes its number: MODE
 *       proxied connects it to TADDR:TPORT (a TCP echo) through the proxy,
 *       excluded to a listener of the program on 127.0.0.1 (which
 *       echoes), accepted makes it the accepted side of such a
 *       connection. It sends "PAYLOAD" and reads the echo, then a recv
 *       that must end with the SO_RCVTIMEO timeout, then one that must
 *       see the end of the stream once the peer is gone.
 *   hostile_calls stale-file HOW UADDR UPORT PATH
 *       The same UDP socket, closed by HOW; PATH opened takes its number.
 *       The program writes its file, a new UDP socket echoes and closes,
 *       the program writes again, reads the file back, and closes it.
 *   hostile_calls log-reuse HOW LOGPATH TADDR PORT1 PORT2 PATH
 *       Finds the library's log descriptor (open on LOGPATH), closes
 *       everything from 3 up by HOW, opens files until PATH lands on the
 *       log's number; proxied connects to TADDR:PORT1 make the library
 *       log; the program writes and closes its file; one more proxied
 *       connect to TADDR:PORT2.
 *   hostile_calls ctl-reuse UADDR UPORT DIR
 *       A UDP socket connect()s and echoes (its association's control
 *       connection appears); a raw close_range(3, ~0U) closes all; the
 *       program opens files until it holds both old numbers (DIR/sock,
 *       DIR/ctl); a new UDP socket echoes and closes; the program writes,
 *       reads back and closes its files.
 *
 * HOW: fclose (fdopen + fclose, which closes without calling close()),
 * closefrom (glibc's, a close_range system call), asm-close and
 * asm-close-range (the system call made by an inline syscall instruction,
 * which no hook on close() or syscall() can see).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "client_util.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define REPLY_MS 3000
#define WATCHDOG_S 10
#define MAX_FDS 256
#define MAX_FILLERS 4096

/* ---- output ------------------------------------------------------------- */

static bool first_key = true;

static void key(const char *k)
{
	printf("%s\"%s\": ", first_key ? "{" : ", ", k);
	first_key = false;
}

static void end_object(void)
{
	puts(first_key ? "{}" : "}");
	fflush(stdout);
}

static void put_str(const char *k, const char *v)
{
	key(k);
	json_str(v, strlen(v));
}

static void put_int(const char *k, long long v)
{
	key(k);
	printf("%lld", v);
}

static void put_bool(const char *k, bool v)
{
	key(k);
	fputs(v ? "true" : "false", stdout);
}

/* "ok" for r >= 0, else the errno's name. */
static void put_res(const char *k, long r)
{
	put_str(k, r < 0 ? ename(errno) : "ok");
}

/* ["ADDR", PORT] of an AF_INET or AF_INET6 address, else ["?family", 0]. */
static void put_sockaddr(const char *k, const struct sockaddr_storage *ss)
{
	char text[INET6_ADDRSTRLEN + 8] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, text, sizeof(text));
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof(text));
		port = ntohs(s6->sin6_port);
	} else {
		snprintf(text, sizeof(text), "?%d", ss->ss_family);
	}
	key(k);
	printf("[\"%s\", %u]", text, port);
}

/* ---- watchdog ----------------------------------------------------------- */

static const char *volatile stage = "start";

/* Decimal digits of v into buf (at least 21 bytes): async-signal-safe. */
static size_t fmt_ulong(char *buf, unsigned long v)
{
	char tmp[21];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

/* Prints {"stuck": STAGE, "cpu_ms": N} on a line of its own: a stage
 * that burnt its whole time on the CPU was spinning, not waiting. */
static void on_alarm(int sig)
{
	static const char head[] = "\n{\"stuck\": \"";
	static const char mid[] = "\", \"cpu_ms\": ";
	static const char tail[] = "}\n";
	const char *s = stage;
	struct timespec ts;
	char num[24];
	size_t n;

	(void)sig;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	n = fmt_ulong(num, (unsigned long)ts.tv_sec * 1000 +
				   (unsigned long)ts.tv_nsec / 1000000);
	/* Only async-signal-safe calls; fd 1 is the program's stdout. */
	if (write(1, head, sizeof(head) - 1) < 0 ||
	    write(1, s, strlen(s)) < 0 || write(1, mid, sizeof(mid) - 1) < 0 ||
	    write(1, num, n) < 0 || write(1, tail, sizeof(tail) - 1) < 0)
		_exit(4);
	_exit(3);
}

/* Names the stage the program is in and gives it secs seconds. */
static void set_stage_for(const char *name, unsigned secs)
{
	stage = name;
	alarm(secs);
}

static void set_stage(const char *name)
{
	set_stage_for(name, WATCHDOG_S);
}

/* ---- helpers ------------------------------------------------------------ */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(2);
}

/* host:port as a sockaddr_in; a host name is resolved with getaddrinfo
 * (under the library: a fake address). */
static struct sockaddr_in addr4(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res;
	struct sockaddr_in a;
	int r;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, host, &a.sin_addr) == 1)
		return a;
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		fprintf(stderr, "getaddrinfo %s: %s\n", host, gai_strerror(r));
		exit(2);
	}
	memcpy(&a, res->ai_addr, sizeof(a));
	freeaddrinfo(res);
	return a;
}

static struct sockaddr_in6 addr6(const char *host, const char *port)
{
	struct sockaddr_in6 a;

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET6, host, &a.sin6_addr) != 1) {
		fprintf(stderr, "not an IPv6 address: %s\n", host);
		exit(2);
	}
	return a;
}


static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* The next datagram within REPLY_MS as "reply"; its source as "src" when
 * from_name. "no reply" when nothing came. */
static void put_reply(const char *k, int fd, bool from_name)
{
	struct sockaddr_storage src;
	socklen_t slen = sizeof(src);
	char buf[2048], srck[64];
	ssize_t n;

	memset(&src, 0, sizeof(src));
	if (!readable_within(fd, REPLY_MS)) {
		put_str(k, "no reply");
		return;
	}
	if (from_name)
		n = recvfrom(fd, buf, sizeof(buf), 0,
			     (struct sockaddr *)&src, &slen);
	else
		n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		put_str(k, ename(errno));
		return;
	}
	key(k);
	json_str(buf, (size_t)n);
	if (from_name) {
		snprintf(srck, sizeof(srck), "%s_src", k);
		put_sockaddr(srck, &src);
	}
}

/* The system call itself, by an inline syscall instruction: no libc
 * wrapper, no hook of the library can see it. -errno on failure. */
static long raw_syscall3(long nr, long a, long b, long c)
{
	long r;

#if defined(__x86_64__)
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2)
			 : "memory");
	r = x0;
#else
#error "raw_syscall3: no inline system call for this architecture"
#endif
	return r;
}

/* Closes fd without the library's close(): "ok" or the errno's name. */
static const char *close_behind(const char *how, int fd)
{
	long r = 0;
	FILE *f;

	if (strcmp(how, "fclose") == 0) {
		f = fdopen(fd, "r+");
		if (f == NULL)
			return ename(errno);
		r = fclose(f) == 0 ? 0 : -errno;
	} else if (strcmp(how, "closefrom") == 0) {
		closefrom(fd);
	} else if (strcmp(how, "asm-close") == 0) {
		r = raw_syscall3(SYS_close, fd, 0, 0);
	} else if (strcmp(how, "asm-close-range") == 0) {
		r = raw_syscall3(SYS_close_range, fd, fd, 0);
	} else {
		fprintf(stderr, "unknown way to close: %s\n", how);
		exit(2);
	}
	return ename(r < 0 ? (int)-r : 0);
}

/* Closes every descriptor from 3 up without the library's close(). */
static void close_all_behind(const char *how)
{
	if (strcmp(how, "closefrom") == 0)
		closefrom(3);
	else if (strcmp(how, "asm-close-range") == 0)
		raw_syscall3(SYS_close_range, 3, (long)~0U, 0);
	else {
		fprintf(stderr, "unknown way to close all: %s\n", how);
		exit(2);
	}
}

/* Opens /dev/null until the next descriptor is want (the lowest free
 * number must not be above it), then path (O_RDWR, created empty), closes
 * the fillers and returns the descriptor of path. */
static int open_at(const char *path, int want)
{
	static int fillers[MAX_FILLERS];
	int n = 0, fd;

	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			die(path);
		if (fd >= want || n == MAX_FILLERS)
			break;
		close(fd);
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			die("/dev/null");
		fillers[n++] = fd;
	}
	while (n > 0)
		close(fillers[--n]);
	return fd;
}

/* Writes text with write(): "ok", "short" or the errno's name. */
static const char *write_text(int fd, const char *text)
{
	ssize_t n = write(fd, text, strlen(text));

	if (n < 0)
		return ename(errno);
	return (size_t)n == strlen(text) ? "ok" : "short";
}

/* The file's content read back with lseek + read (both pass the
 * library's hooks), as a JSON string, or the errno's name. */
static void put_content(const char *k, int fd)
{
	char buf[4096];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0) {
		put_str(k, ename(errno));
		return;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		put_str(k, ename(errno));
		return;
	}
	key(k);
	json_str(buf, (size_t)n);
}

/* A UDP socket connect()ed to dst that echoed once through write/read. */
static int connected_udp(const struct sockaddr_in *dst)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	set_stage("udp connect");
	put_res("udp_connect",
		connect(fd, (const struct sockaddr *)dst, sizeof(*dst)));
	put_res("udp_send", send(fd, "udp before", 10, 0));
	set_stage("udp reply");
	put_reply("udp_echo", fd, false);
	return fd;
}

/* ---- unspec4 ------------------------------------------------------------ */

static long send_unspec(int fd, const char *how, struct sockaddr_in *dst,
			const char *text)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)text, .iov_len = strlen(text) },
		{ .iov_base = (void *)text, .iov_len = strlen(text) },
	};
	struct mmsghdr mm[2];

	if (strcmp(how, "sendto") == 0)
		return sendto(fd, text, strlen(text), 0,
			      (struct sockaddr *)dst, sizeof(*dst));
	memset(mm, 0, sizeof(mm));
	mm[0].msg_hdr.msg_name = dst;
	mm[0].msg_hdr.msg_namelen = sizeof(*dst);
	mm[0].msg_hdr.msg_iov = &iov[0];
	mm[0].msg_hdr.msg_iovlen = 1;
	mm[1].msg_hdr = mm[0].msg_hdr;
	mm[1].msg_hdr.msg_iov = &iov[1];
	if (strcmp(how, "sendmsg") == 0)
		return sendmsg(fd, &mm[0].msg_hdr, 0);
	if (strcmp(how, "sendmmsg") == 0)
		return sendmmsg(fd, mm, 2, 0);
	fprintf(stderr, "unknown send call: %s\n", how);
	exit(2);
}

static int cmd_unspec4(char **argv)
{
	struct sockaddr_in dst = addr4(argv[0], argv[1]);
	bool assoc = strcmp(argv[2], "associated") == 0;
	const char *how = argv[3];
	char text[64];
	long r;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	put_sockaddr("dst", (struct sockaddr_storage *)&dst);
	if (assoc) {
		set_stage("first send");
		put_res("first_send",
			sendto(fd, "first as AF_INET", 16, 0,
			       (struct sockaddr *)&dst, sizeof(dst)));
		put_reply("first", fd, true);
	}
	dst.sin_family = AF_UNSPEC;
	snprintf(text, sizeof(text), "unspec by %s", how);
	set_stage("unspec send");
	r = send_unspec(fd, how, &dst, text);
	put_res("send", r);
	put_int("sent", r);
	set_stage("unspec reply");
	put_reply("reply", fd, true);
	if (strcmp(how, "sendmmsg") == 0)
		put_reply("reply2", fd, true);
	end_object();
	return 0;
}

/* ---- unspec-raw --------------------------------------------------------- */

static uint16_t icmp_sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

static long raw_send(int fd, const char *how, struct sockaddr_in *dst,
		     uint16_t seq)
{
	struct {
		struct icmphdr h;
		char data[16];
	} pkt;
	struct iovec iov = { .iov_base = &pkt, .iov_len = sizeof(pkt) };
	struct msghdr msg = { .msg_name = dst, .msg_namelen = sizeof(*dst),
			      .msg_iov = &iov, .msg_iovlen = 1 };

	memset(&pkt, 0, sizeof(pkt));
	pkt.h.type = ICMP_ECHO;
	pkt.h.un.echo.id = htons(0x5357);
	pkt.h.un.echo.sequence = htons(seq);
	memcpy(pkt.data, "hostile raw ping", 16);
	pkt.h.checksum = icmp_sum(&pkt, sizeof(pkt));
	if (strcmp(how, "sendto") == 0)
		return sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)dst,
			      sizeof(*dst));
	return sendmsg(fd, &msg, 0);
}

static int cmd_unspec_raw(char **argv)
{
	struct sockaddr_in dst = addr4(argv[0], "0");
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);

	if (fd < 0)
		die("socket(SOCK_RAW)");
	put_res("inet", raw_send(fd, argv[1], &dst, 1));
	dst.sin_family = AF_UNSPEC;
	put_res("unspec", raw_send(fd, argv[1], &dst, 2));
	end_object();
	return 0;
}

/* ---- unspec6 ------------------------------------------------------------ */

static long send6(int fd, bool by_msg, struct sockaddr_in *name,
		  const char *text)
{
	struct iovec iov = { .iov_base = (void *)text,
			     .iov_len = strlen(text) };
	struct msghdr msg = { .msg_name = name, .msg_namelen = sizeof(*name),
			      .msg_iov = &iov, .msg_iovlen = 1 };

	if (by_msg)
		return sendmsg(fd, &msg, 0);
	return sendto(fd, text, strlen(text), 0, (struct sockaddr *)name,
		      sizeof(*name));
}

static int cmd_unspec6(char **argv)
{
	struct sockaddr_in6 peer = addr6(argv[0], argv[1]);
	struct sockaddr_in name = addr4(argv[2], argv[3]);
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	name.sin_family = AF_UNSPEC;
	set_stage("unconnected");
	put_res("unconnected", send6(fd, false, &name, "unspec unconnected"));
	put_res("unconnected_msg",
		send6(fd, true, &name, "unspec msg unconnected"));
	put_bool("unconnected_readable", readable_within(fd, 1000));
	set_stage("connect");
	put_res("connect",
		connect(fd, (struct sockaddr *)&peer, sizeof(peer)));
	set_stage("connected send");
	put_res("send", send6(fd, false, &name, "unspec to the peer"));
	put_reply("reply", fd, true);
	put_res("send_msg", send6(fd, true, &name, "unspec msg to the peer"));
	put_reply("reply_msg", fd, true);
	end_object();
	return 0;
}

/* ---- unspec-loop -------------------------------------------------------- */

static int cmd_unspec_loop(char **argv)
{
	struct sockaddr_in dst = addr4(argv[0], argv[1]);
	char buf[256];
	ssize_t n;
	int lis = socket(AF_INET, SOCK_DGRAM, 0);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (lis < 0 || fd < 0)
		die("socket");
	if (bind(lis, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		die("bind");
	set_stage("inet");
	put_res("inet", sendto(fd, "inet", 4, 0, (struct sockaddr *)&dst,
			       sizeof(dst)));
	dst.sin_family = AF_UNSPEC;
	set_stage("unspec");
	put_res("unspec", sendto(fd, "leak", 4, 0, (struct sockaddr *)&dst,
				 sizeof(dst)));
	key("received");
	putchar('[');
	for (n = 0; readable_within(lis, 500);) {
		ssize_t got = recv(lis, buf, sizeof(buf), 0);

		if (got < 0)
			break;
		printf("%s", n++ ? ", " : "");
		json_str(buf, (size_t)got);
	}
	putchar(']');
	end_object();
	return 0;
}

/* ---- v6-connect4, v6-sendto4 -------------------------------------------- */

static int cmd_v6_connect4(char **argv, int argc)
{
	struct sockaddr_in dst = addr4(argv[0], argv[1]);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct iovec iov = { .iov_base = "via sendmsg", .iov_len = 11 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int on = 1, fd = socket(AF_INET6, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	if (argc > 2 && strcmp(argv[2], "v6only") == 0 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)
		die("IPV6_V6ONLY");
	set_stage("connect");
	put_res("connect", connect(fd, (struct sockaddr *)&dst, sizeof(dst)));
	memset(&peer, 0, sizeof(peer));
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
		put_str("peer", ename(errno));
	else
		put_sockaddr("peer", &peer);
	set_stage("send");
	put_res("send", send(fd, "via send", 8, 0));
	put_reply("send_reply", fd, false);
	set_stage("write");
	put_res("write", write(fd, "via write", 9));
	put_reply("write_reply", fd, false);
	set_stage("sendmsg");
	put_res("sendmsg", sendmsg(fd, &msg, 0));
	put_reply("sendmsg_reply", fd, false);
	end_object();
	return 0;
}

static int cmd_v6_sendto4(char **argv)
{
	struct sockaddr_in dst = addr4(argv[0], argv[1]);
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	set_stage("sendto");
	put_res("sendto", sendto(fd, "v4 name on v6", 13, 0,
				 (struct sockaddr *)&dst, sizeof(dst)));
	put_reply("reply", fd, true);
	end_object();
	return 0;
}

/* ---- stale-tcp ---------------------------------------------------------- */

/* A TCP listener on 127.0.0.1 (excluded by default), any port. */
static int local_listener(struct sockaddr_in *where)
{
	socklen_t len = sizeof(*where);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(where, 0, sizeof(*where));
	where->sin_family = AF_INET;
	where->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)where, len) < 0 ||
	    listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)where, &len) < 0)
		die("listener");
	return fd;
}

/* The local peer echoes what it received (one read, within 2 s) and
 * reports it as "peer_got". */
static void local_echo(int p)
{
	char buf[256];
	ssize_t n = -1;

	if (readable_within(p, 2000))
		n = recv(p, buf, sizeof(buf), 0);
	if (n < 0) {
		put_str("peer_got", "nothing");
		return;
	}
	key("peer_got");
	json_str(buf, (size_t)n);
	if (n > 0 && send(p, buf, (size_t)n, 0) != n)
		die("echo");
}

/* A receive on s, timed: its outcome as key, its wall and CPU time as
 * key_ms and key_cpu_ms. */
static void timed_recv(const char *k, int s)
{
	char buf[256], kk[64];
	double t0 = now_ms(), c0 = cpu_ms();
	ssize_t n = recv(s, buf, sizeof(buf), 0);

	if (n < 0)
		put_str(k, ename(errno));
	else if (n == 0)
		put_str(k, "eof");
	else {
		key(k);
		json_str(buf, (size_t)n);
	}
	snprintf(kk, sizeof(kk), "%s_ms", k);
	put_int(kk, (long long)(now_ms() - t0));
	snprintf(kk, sizeof(kk), "%s_cpu_ms", k);
	put_int(kk, (long long)(cpu_ms() - c0));
}

/* MODE proxied: s connects to TADDR:TPORT through the proxy (a TCP echo);
 * excluded: s connects to a listener of this program on 127.0.0.1;
 * accepted: s is the listener's side of a connection from 127.0.0.1. */
static int cmd_stale_tcp(char **argv)
{
	const char *how = argv[0], *mode = argv[1];
	struct sockaddr_in udst = addr4(argv[2], argv[3]);
	struct sockaddr_in tdst = addr4(argv[4], argv[5]);
	struct timeval tv = { .tv_sec = 1 };
	bool proxied = strcmp(mode, "proxied") == 0;
	bool accepted = strcmp(mode, "accepted") == 0;
	struct sockaddr_in here;
	int lis = -1, c = -1, u, s, p = -1;
	char buf[256];
	size_t got = 0;
	ssize_t n;

	/* Before the UDP socket: closing "from u up" leaves these. */
	if (!proxied)
		lis = local_listener(&here);
	if (accepted && (c = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket");
	u = connected_udp(&udst);
	put_int("u", u);
	set_stage("close behind");
	put_str("closed_by", close_behind(how, u));
	put_bool("u_open", fd_open(u));
	set_stage("tcp connect");
	if (accepted) {
		put_res("connect", connect(c, (struct sockaddr *)&here,
					   sizeof(here)));
		s = accept(lis, NULL, NULL);
		if (s < 0)
			die("accept");
		p = c;
	} else {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			die("socket");
		put_res("connect", connect(s, proxied ? (void *)&tdst
						       : (void *)&here,
					   sizeof(tdst)));
		if (!proxied && (p = accept(lis, NULL, NULL)) < 0)
			die("accept");
	}
	put_int("s", s);
	if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("SO_RCVTIMEO");
	set_stage("tcp send");
	put_res("send", send(s, "PAYLOAD", 7, 0));
	if (p >= 0) {
		set_stage("local echo");
		local_echo(p);
	}
	set_stage("tcp echo");
	while (got < 7) {
		n = recv(s, buf + got, sizeof(buf) - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	key("echo");
	json_str(buf, got);
	/* Nothing more comes: the receive timeout must end this one. */
	set_stage("tcp idle recv");
	timed_recv("idle", s);
	/* The peer goes: end of stream, at once. */
	/* Short: a receive that spins here burns the CPU until the alarm. */
	set_stage_for("tcp eof", 3);
	if (p >= 0)
		close(p);
	else
		shutdown(s, SHUT_WR);
	timed_recv("eof", s);
	end_object();
	return 0;
}

/* ---- stale-file --------------------------------------------------------- */

static int cmd_stale_file(char **argv)
{
	struct sockaddr_in udst = addr4(argv[1], argv[2]);
	int u, f, v;

	u = connected_udp(&udst);
	put_int("u", u);
	set_stage("close behind");
	put_str("closed_by", close_behind(argv[0], u));
	f = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (f < 0)
		die(argv[3]);
	put_int("f", f);
	set_stage("write 1");
	put_str("write1", write_text(f, "program line 1\n"));
	/* More of the library: a new socket, its association, its close. */
	v = socket(AF_INET, SOCK_DGRAM, 0);
	if (v < 0)
		die("socket");
	set_stage("new udp");
	put_res("v_send", sendto(v, "from v", 6, 0, (struct sockaddr *)&udst,
				 sizeof(udst)));
	put_reply("v_echo", v, false);
	put_res("v_close", close(v));
	set_stage("write 2");
	put_str("write2", write_text(f, "program line 2\n"));
	put_bool("f_open", fd_open(f));
	set_stage("read back");
	put_content("content", f);
	put_res("close", close(f));
	put_bool("f_open_after_close", fd_open(f));
	end_object();
	return 0;
}

/* ---- log-reuse ---------------------------------------------------------- */

/* The descriptor open on path, or -1. */
static int fd_on(const char *path)
{
	char link[64], target[PATH_MAX];
	int l[MAX_FDS], n = list_fds(l, MAX_FDS), i;
	ssize_t k;

	for (i = 0; i < n; i++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", l[i]);
		k = readlink(link, target, sizeof(target) - 1);
		if (k < 0)
			continue;
		target[k] = '\0';
		if (strcmp(target, path) == 0)
			return l[i];
	}
	return -1;
}

static long tcp_connect(const struct sockaddr_in *dst)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	long r;

	if (fd < 0)
		die("socket");
	r = connect(fd, (const struct sockaddr *)dst, sizeof(*dst));
	close(fd);
	return r;
}

static int cmd_log_reuse(char **argv)
{
	struct sockaddr_in d1 = addr4(argv[2], argv[3]);
	struct sockaddr_in d2 = addr4(argv[2], argv[4]);
	int logfd = fd_on(argv[1]), f;

	put_int("log_fd", logfd);
	if (logfd < 3) {
		end_object();
		return 0;
	}
	set_stage("close all");
	close_all_behind(argv[0]);
	put_bool("log_open_after_close_all", fd_open(logfd));
	f = open_at(argv[5], logfd);
	put_int("f", f);
	put_str("write1", write_text(f, "program line 1\n"));
	set_stage("connect 1");
	put_res("connect1", tcp_connect(&d1));
	put_str("write2", write_text(f, "program line 2\n"));
	set_stage("read back");
	put_content("content", f);
	put_res("close", close(f));
	put_bool("f_open_after_close", fd_open(f));
	set_stage("connect 2");
	put_res("connect2", tcp_connect(&d2));
	end_object();
	return 0;
}

/* ---- ctl-reuse ---------------------------------------------------------- */

/* The one descriptor above fd that is open now, or -1. */
static int other_fd(int fd)
{
	int l[MAX_FDS], n = list_fds(l, MAX_FDS), i, found = -1;

	for (i = 0; i < n; i++)
		if (l[i] > fd) {
			if (found >= 0)
				return -1;
			found = l[i];
		}
	return found;
}

static int cmd_ctl_reuse(char **argv)
{
	struct sockaddr_in udst = addr4(argv[0], argv[1]);
	char p_sock[PATH_MAX], p_ctl[PATH_MAX];
	int u, ctl, fs, fc, v;

	u = connected_udp(&udst);
	ctl = other_fd(u);
	put_int("u", u);
	put_int("ctl", ctl);
	if (ctl < 0) {
		end_object();
		return 0;
	}
	set_stage("close all");
	close_all_behind("asm-close-range");
	put_bool("u_open", fd_open(u));
	put_bool("ctl_open", fd_open(ctl));
	snprintf(p_sock, sizeof(p_sock), "%s/sock", argv[2]);
	snprintf(p_ctl, sizeof(p_ctl), "%s/ctl", argv[2]);
	fs = open_at(p_sock, u);
	fc = open_at(p_ctl, ctl);
	put_int("f_sock", fs);
	put_int("f_ctl", fc);
	put_str("write_sock1", write_text(fs, "sock line 1\n"));
	put_str("write_ctl1", write_text(fc, "ctl line 1\n"));
	/* More of the library: a new socket, its association, its close. */
	v = socket(AF_INET, SOCK_DGRAM, 0);
	if (v < 0)
		die("socket");
	set_stage("new udp");
	put_res("v_send", sendto(v, "from v", 6, 0, (struct sockaddr *)&udst,
				 sizeof(udst)));
	put_reply("v_echo", v, false);
	put_res("v_close", close(v));
	set_stage("write 2");
	put_str("write_sock2", write_text(fs, "sock line 2\n"));
	put_str("write_ctl2", write_text(fc, "ctl line 2\n"));
	put_bool("f_sock_open", fd_open(fs));
	put_bool("f_ctl_open", fd_open(fc));
	set_stage("read back");
	put_content("content_sock", fs);
	put_content("content_ctl", fc);
	put_res("close_sock", close(fs));
	put_res("close_ctl", close(fc));
	put_bool("f_sock_open_after_close", fd_open(fs));
	put_bool("f_ctl_open_after_close", fd_open(fc));
	end_object();
	return 0;
}

/* ---- main --------------------------------------------------------------- */

static int usage(void)
{
	fputs("usage: hostile_calls unspec4|unspec-raw|unspec6|unspec-loop|"
	      "v6-connect4|v6-sendto4|stale-tcp|stale-file|log-reuse|"
	      "ctl-reuse ARGS (see the source)\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int args;
	} need[] = {
		{ "unspec4", 4 },   { "unspec-raw", 2 }, { "unspec6", 4 },
		{ "unspec-loop", 2 }, { "v6-connect4", 2 },
		{ "v6-sendto4", 2 }, { "stale-tcp", 6 },  { "stale-file", 4 },
		{ "log-reuse", 6 }, { "ctl-reuse", 3 },
	};
	const char *cmd;
	size_t i;

	if (argc < 2)
		return usage();
	cmd = argv[1];
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (strcmp(cmd, need[i].name) == 0)
			break;
	if (i == sizeof(need) / sizeof(need[0]) || argc - 2 < need[i].args)
		return usage();
	/* Unbuffered: what was printed before a hang stays visible. */
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGALRM, on_alarm);
	set_stage("start");
	argv += 2;
	argc -= 2;
	if (strcmp(cmd, "unspec4") == 0)
		return cmd_unspec4(argv);
	if (strcmp(cmd, "unspec-raw") == 0)
		return cmd_unspec_raw(argv);
	if (strcmp(cmd, "unspec6") == 0)
		return cmd_unspec6(argv);
	if (strcmp(cmd, "unspec-loop") == 0)
		return cmd_unspec_loop(argv);
	if (strcmp(cmd, "v6-connect4") == 0)
		return cmd_v6_connect4(argv, argc);
	if (strcmp(cmd, "v6-sendto4") == 0)
		return cmd_v6_sendto4(argv);
	if (strcmp(cmd, "stale-tcp") == 0)
		return cmd_stale_tcp(argv);
	if (strcmp(cmd, "stale-file") == 0)
		return cmd_stale_file(argv);
	if (strcmp(cmd, "log-reuse") == 0)
		return cmd_log_reuse(argv);
	return cmd_ctl_reuse(argv);
}
