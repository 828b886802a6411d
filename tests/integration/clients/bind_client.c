/* A server program for test_bind_faults.py: it listens and accepts one
 * connection, the way an active-mode FTP client or any "call me back"
 * protocol does, so that a test can watch what the library makes of
 * listen(), accept() and the calls around them.
 *
 *   bind_client [options]
 *
 *   --control HOST:PORT  first connect to HOST:PORT (a name, an IPv4
 *                        address or [IPv6]) and keep that connection open:
 *                        the program's proxied "control" connection. It
 *                        sends "ctl" and reads the echo. May be given up to
 *                        four times; the connections are made in order.
 *   --family 4|6         the listener's family (default 4)
 *   --bind WHAT          any (the wildcard, default), loopback (127.0.0.1
 *                        or ::1), control (the address getsockname() shows
 *                        for the first control connection; controlN for
 *                        the N-th, from 1), none (no bind() at all), or
 *                        a literal address of the listener's family
 *   --port N             the port to bind (default 0)
 *   --v6only             IPV6_V6ONLY on the (AF_INET6) listener
 *   --cloexec            the listener is made with SOCK_CLOEXEC (python's
 *                        sockets are)
 *   --early-sockname     getsockname() between bind() and listen(), as
 *                        curl does to learn the port it will announce
 *   --nonblocking        the listener is O_NONBLOCK
 *   --rcvtimeo MS        SO_RCVTIMEO on the listener
 *   --accept HOW         block (accept() at once on a blocking listener),
 *                        now (accept() at once on any listener), wait
 *                        (wait until readable, at most --accept-wait MS,
 *                        default 5000, then accept; the default for a
 *                        non-blocking listener)
 *   --accept4 FLAGS      accept with accept4(): nonblock, cloexec, both,
 *                        none
 *   --alarm MS           a SIGALRM (handler installed without SA_RESTART)
 *                        MS after the accept begins
 *   --restart            install that handler with SA_RESTART
 *   --listen-alarm MS    the same SIGALRM MS after listen() begins
 *   --poll MS            wait MS for the listener to become readable,
 *                        before the accept, and report; may repeat
 *   --waiter W           how --poll and --accept wait wait: poll (default),
 *                        select, epoll
 *   --local              connect a second socket of the program to the
 *                        listener at 127.0.0.1 (::1) and the port it
 *                        shows, before the accept: the accepted connection
 *                        is that one; "local hello" travels both ways
 *   --read N             read N bytes from the accepted connection
 *   --send TEXT          then write TEXT and read as many bytes back
 *   --fork-child MS      fork() right after listen(): the child holds the
 *                        listener (as a child that runs a helper program
 *                        does) for MS, then exits; the parent goes on and
 *                        reaps it at the end
 *   --fork-accept        fork() right after listen() and let the child go
 *                        on (accept, data, the rest) while the parent
 *                        closes its listener and waits for it (a program
 *                        that turns into a daemon after listening)
 *   --dup-listener       dup() the listener right after listen(); once
 *                        accept() returned, close the original and keep
 *                        the duplicate as the listener from then on
 *   --close-listener     close the listener as soon as accept() returned
 *                        (ftplib and curl do), before the data step
 *   --epoll-listener     register the listener in an epoll set right after
 *                        listen(); after the accept (and --close-listener)
 *                        wait 300 ms on that set, before the data step,
 *                        and report what it gave (step "epoll-after":
 *                        "events", "fd": the descriptor an event named)
 *   --listen-twice       when listen() fails, call it once more (step
 *                        "listen2")
 *   --half-close         after the data step shut the accepted connection
 *                        down for writing and read until the peer's end
 *                        (step "drain": "eof" true when it came)
 *   --linger MS          after the data step close the accepted connection
 *                        but keep the listener open MS longer, waiting for
 *                        it to become readable; report at what time
 *                        (CLOCK_MONOTONIC seconds) each was closed
 *   --accept2            finally accept() once more on the listener
 *                        (a blocking one is cut by an alarm after 3 s:
 *                        EINTR then means "it waited")
 *   --watchdog S         give up after S seconds (default 8)
 *
 * Output, unbuffered: one JSON object per line and step, each with "step"
 * and "result" ("ok" or an errno name):
 *   control        "to", "sockname", "peer", "echo"
 *   bind           "addr" (what was bound)
 *   early-sockname "addr" ([host, port], or an errno name)
 *   listen         "elapsed" (seconds), "alarm" when the alarm fired;
 *                  listen2 with --listen-twice
 *   sockname       "addr": the listener's getsockname()
 *   listener       "acceptconn" (SO_ACCEPTCONN), "cloexec" (FD_CLOEXEC),
 *                  "addr" (getsockname), "peer" (getpeername; an address
 *                  or an errno name)
 *   poll           one per --poll: "timeout", "ready", "elapsed"
 *   local-connect  "port"
 *   accept         "elapsed", "from" (the address accept() filled in),
 *                  "peer", "sockname", "nonblock", "cloexec",
 *                  "listener_nonblock" (the listener's O_NONBLOCK after
 *                  the accept), "alarm" when the alarm fired, "waited"
 *   listener-after as listener, once accept() returned a connection
 *   epoll-after    "events", "fd"
 *   read, echo     "received"
 *   drain          "eof", "extra"
 *   linger         "closed_at", "listener_ready", "listener_closed_at"
 *   accept2        "elapsed"
 *   child, parent  with --fork-accept ("child_exit")
 *   end            (the child's, with --fork-accept)
 * The watchdog prints {"step": "stuck", "in": STEP} and exits 3. Exit 0
 * otherwise, whatever failed: the test reads the steps.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_util.h"

#define MAX_CONTROLS 4
#define MAX_POLLS 8
#define IO_WAIT_MS 5000
#define ACCEPT2_ALARM_MS 3000
#define LOCAL_HELLO "local hello"

struct opts {
	const char *control[MAX_CONTROLS];
	int ncontrol;
	int family;
	const char *bind;
	int port;
	bool nonblocking;
	int rcvtimeo_ms;
	const char *accept_how;
	int accept4_flags;
	bool use_accept4;
	int alarm_ms;
	int listen_alarm_ms;
	int fork_child_ms;
	int polls[MAX_POLLS];
	int npoll;
	const char *waiter;
	bool local;
	int read_n;
	const char *send;
	bool accept2;
	bool close_listener;
	bool half_close;
	bool early_sockname;
	bool epoll_listener;
	bool listen_twice;
	bool v6only;
	bool cloexec;
	bool dup_listener;
	bool restart;
	bool fork_accept;
	int linger_ms;
	int accept_wait_ms;
	int watchdog_s;
};

static const char *volatile stage = "start";
static volatile sig_atomic_t alarm_fired;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_alarm(int sig)
{
	(void)sig;
	alarm_fired = 1;
}

static void *watchdog(void *arg)
{
	int s = *(int *)arg;

	sleep((unsigned)s);
	printf("{\"step\": \"stuck\", \"in\": \"%s\"}\n", stage);
	fflush(stdout);
	_exit(3);
	return NULL;
}

static void arm_alarm(int ms)
{
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };

	alarm_fired = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm_alarm(void)
{
	struct itimerval it = { { 0, 0 }, { 0, 0 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

/* "host" as a JSON array [host, port]; ["family N"] for anything else. */
static void print_addr(const char *key, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN];
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
		port = ntohs(s->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
		port = ntohs(s->sin6_port);
	} else {
		printf(", \"%s\": [\"family %d\", 0]", key, ss->ss_family);
		return;
	}
	printf(", \"%s\": [\"%s\", %d]", key, host, port);
}

static void print_name(const char *key, int fd, bool peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int rc;

	memset(&ss, 0, sizeof(ss));
	rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
		  : getsockname(fd, (struct sockaddr *)&ss, &len);
	if (rc < 0)
		printf(", \"%s\": \"%s\"", key, ename(errno));
	else
		print_addr(key, &ss);
}

static void begin(const char *step, int err)
{
	stage = step;
	printf("{\"step\": \"%s\", \"result\": \"%s\"", step, ename(err));
}

static void end_line(void)
{
	puts("}");
	fflush(stdout);
}

/* Waits until fd is readable, at most ms: 1 readable, 0 not, -errno. */
static int wait_readable(const char *waiter, int fd, int ms)
{
	if (strcmp(waiter, "select") == 0) {
		fd_set rs;
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		int n;

		FD_ZERO(&rs);
		FD_SET(fd, &rs);
		n = select(fd + 1, &rs, NULL, NULL, &tv);
		return n < 0 ? -errno : FD_ISSET(fd, &rs) ? 1 : 0;
	}
	if (strcmp(waiter, "epoll") == 0) {
		struct epoll_event ev = { .events = EPOLLIN }, got;
		int ep = epoll_create1(EPOLL_CLOEXEC), n, e;

		if (ep < 0)
			return -errno;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			e = errno;
			close(ep);
			return -e;
		}
		n = epoll_wait(ep, &got, 1, ms);
		e = errno;
		close(ep);
		return n < 0 ? -e : n > 0 && (got.events & EPOLLIN) ? 1 : 0;
	} else {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, ms);

		return n < 0 ? -errno : n > 0 && (p.revents & POLLIN) ? 1 : 0;
	}
}

/* Reads n bytes (each wait at most IO_WAIT_MS) into buf: how many came,
 * or -errno when nothing did. */
static ssize_t read_n(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, IO_WAIT_MS) <= 0)
			break;
		r = read(fd, buf + got, n - got);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return got ? (ssize_t)got : -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int write_all(int fd, const char *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, buf + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			poll(&p, 1, IO_WAIT_MS);
			continue;
		}
		if (w < 0)
			return errno;
		done += (size_t)w;
	}
	return 0;
}

/* HOST:PORT, [V6]:PORT; 0 or an errno (EINVAL, or a resolver failure as
 * EHOSTUNREACH). */
static int connect_to(const char *spec, int *out_fd)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	const char *h = spec;
	size_t hl;
	struct addrinfo hints, *ai = NULL;
	int fd, e = 0;

	if (colon == NULL)
		return EINVAL;
	hl = (size_t)(colon - spec);
	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
		h = spec + 1;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || ai == NULL)
		return EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		e = errno;
	freeaddrinfo(ai);
	if (e) {
		if (fd >= 0)
			close(fd);
		return e;
	}
	*out_fd = fd;
	return 0;
}

static void do_control(const char *spec, int *fd)
{
	char buf[8];
	int e = connect_to(spec, fd);
	ssize_t n;

	stage = "control";
	if (e) {
		*fd = -1;
		begin("control", e);
		printf(", \"to\": \"%s\"", spec);
		end_line();
		return;
	}
	e = write_all(*fd, "ctl", 3);
	n = e ? 0 : read_n(*fd, buf, 3);
	begin("control", e);
	printf(", \"to\": \"%s\"", spec);
	print_name("sockname", *fd, false);
	print_name("peer", *fd, true);
	printf(", \"echo\": ");
	json_str(buf, n > 0 ? (size_t)n : 0);
	end_line();
}

/* The address to bind, per --bind; false for "none". */
static bool bind_address(const struct opts *o, const int *controls,
			 struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strcmp(o->bind, "none") == 0)
		return false;
	if (strncmp(o->bind, "control", 7) == 0) {
		int k = o->bind[7] ? atoi(o->bind + 7) - 1 : 0;
		struct sockaddr_storage c;
		socklen_t cl = sizeof(c);

		memset(&c, 0, sizeof(c));
		if (k >= 0 && k < o->ncontrol && controls[k] >= 0)
			getsockname(controls[k], (struct sockaddr *)&c, &cl);
		if (o->family == 6 && c.ss_family == AF_INET) {
			struct sockaddr_in6 *s6 = (void *)ss;
			const struct sockaddr_in *s4 = (const void *)&c;

			s6->sin6_family = AF_INET6;
			s6->sin6_addr.s6_addr[10] = 0xff;
			s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&s6->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		} else {
			memcpy(ss, &c, sizeof(c));
		}
	} else if (o->family == 6) {
		struct sockaddr_in6 *s6 = (void *)ss;

		s6->sin6_family = AF_INET6;
		if (strcmp(o->bind, "loopback") == 0)
			s6->sin6_addr = in6addr_loopback;
		else if (strcmp(o->bind, "any") != 0)
			inet_pton(AF_INET6, o->bind, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (void *)ss;

		s4->sin_family = AF_INET;
		if (strcmp(o->bind, "loopback") == 0)
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (strcmp(o->bind, "any") != 0)
			inet_pton(AF_INET, o->bind, &s4->sin_addr);
	}
	if (ss->ss_family == AF_INET6) {
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)o->port);
		*len = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)o->port);
		*len = sizeof(struct sockaddr_in);
	}
	return true;
}

/* The listener's port as getsockname() shows it (0 when it cannot). */
static int shown_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* What the listener answers: SO_ACCEPTCONN, getsockname, getpeername. */
static void report_listener(const char *step, int lfd)
{
	int acc = -1, e;
	socklen_t alen = sizeof(acc);

	stage = step;
	e = getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) < 0
		    ? errno : 0;
	begin(step, e);
	printf(", \"acceptconn\": %d, \"cloexec\": %s", acc,
	       (fcntl(lfd, F_GETFD) & FD_CLOEXEC) ? "true" : "false");
	print_name("addr", lfd, false);
	print_name("peer", lfd, true);
	end_line();
}

static int local_connect(const struct opts *o, int lfd)
{
	int port = o->port ? o->port : shown_port(lfd);
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, e = 0;

	memset(&ss, 0, sizeof(ss));
	if (o->family == 6) {
		struct sockaddr_in6 *s6 = (void *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons((uint16_t)port);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (void *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons((uint16_t)port);
		len = sizeof(*s4);
	}
	stage = "local-connect";
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)
		e = errno;
	if (!e)
		e = write_all(fd, LOCAL_HELLO, strlen(LOCAL_HELLO));
	begin("local-connect", e);
	printf(", \"port\": %d", port);
	end_line();
	if (e && fd >= 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int do_accept(const struct opts *o, int lfd)
{
	bool wait = strcmp(o->accept_how, "wait") == 0;
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	double t0;
	int fd, e = 0, w = 1;

	stage = "accept";
	if (o->alarm_ms > 0)
		arm_alarm(o->alarm_ms);
	t0 = now_s();
	if (wait) {
		w = wait_readable(o->waiter, lfd, o->accept_wait_ms);
		if (w < 0)
			e = -w;
		else if (w == 0)
			e = ETIMEDOUT;
	}
	fd = -1;
	memset(&from, 0, sizeof(from));
	if (!e) {
		fd = o->use_accept4 ? accept4(lfd, (struct sockaddr *)&from,
					      &fromlen, o->accept4_flags)
				    : accept(lfd, (struct sockaddr *)&from,
					     &fromlen);
		if (fd < 0)
			e = errno;
	}
	disarm_alarm();
	begin("accept", e);
	printf(", \"elapsed\": %.3f", now_s() - t0);
	if (wait && w == 0)
		printf(", \"waited\": \"not readable within %d ms\"",
		       o->accept_wait_ms);
	if (alarm_fired)
		printf(", \"alarm\": true");
	if (fd >= 0) {
		print_addr("from", &from);
		print_name("peer", fd, true);
		print_name("sockname", fd, false);
		printf(", \"nonblock\": %s, \"cloexec\": %s, "
		       "\"listener_nonblock\": %s",
		       (fcntl(fd, F_GETFL) & O_NONBLOCK) ? "true" : "false",
		       (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? "true" : "false",
		       (fcntl(lfd, F_GETFL) & O_NONBLOCK) ? "true" : "false");
	}
	end_line();
	return fd;
}

static void talk(const struct opts *o, int fd, int local_fd)
{
	char buf[4096];
	ssize_t n;
	size_t len;
	int e = 0;

	if (local_fd >= 0) {
		/* The local client said hello; the accepted side answers. */
		stage = "read";
		n = read_n(fd, buf, strlen(LOCAL_HELLO));
		begin("read", n < 0 ? (int)-n : 0);
		printf(", \"received\": ");
		json_str(buf, n > 0 ? (size_t)n : 0);
		end_line();
		e = write_all(fd, LOCAL_HELLO, strlen(LOCAL_HELLO));
		n = e ? 0 : read_n(local_fd, buf, strlen(LOCAL_HELLO));
		begin("echo", e ? e : n < 0 ? (int)-n : 0);
		printf(", \"received\": ");
		json_str(buf, n > 0 ? (size_t)n : 0);
		end_line();
		return;
	}
	if (o->read_n > 0) {
		stage = "read";
		len = (size_t)o->read_n < sizeof(buf) ? (size_t)o->read_n
						      : sizeof(buf);
		n = read_n(fd, buf, len);
		begin("read", n < 0 ? (int)-n : 0);
		printf(", \"received\": ");
		json_str(buf, n > 0 ? (size_t)n : 0);
		end_line();
	}
	if (o->send != NULL) {
		stage = "echo";
		len = strlen(o->send);
		if (len > sizeof(buf))
			len = sizeof(buf);
		e = write_all(fd, o->send, len);
		n = e ? 0 : read_n(fd, buf, len);
		begin("echo", e ? e : n < 0 ? (int)-n : 0);
		printf(", \"received\": ");
		json_str(buf, n > 0 ? (size_t)n : 0);
		end_line();
	}
}

/* Half-closes fd and reads until the peer's end (each wait bounded). */
static void drain(int fd)
{
	char buf[4096];
	ssize_t n = -1;
	size_t extra = 0;
	int e = 0;

	stage = "drain";
	if (shutdown(fd, SHUT_WR) < 0)
		e = errno;
	while (!e) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, IO_WAIT_MS) <= 0) {
			e = ETIMEDOUT;
			break;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : 0;
			break;
		}
		extra += (size_t)n;
	}
	begin("drain", e);
	printf(", \"eof\": %s, \"extra\": %zu", n == 0 ? "true" : "false",
	       extra);
	end_line();
}

/* The accepted connection was just closed: keep the listener open for
 * --linger, watching it, then close it. */
static void linger(const struct opts *o, int lfd)
{
	double closed = now_s(), lclosed;
	int r;

	stage = "linger";
	r = wait_readable(o->waiter, lfd, o->linger_ms);
	lclosed = now_s();
	close(lfd);
	begin("linger", r < 0 ? -r : 0);
	printf(", \"closed_at\": %.3f, \"listener_ready\": %s, "
	       "\"listener_closed_at\": %.3f",
	       closed, r > 0 ? "true" : "false", lclosed);
	end_line();
}

static void accept_again(const struct opts *o, int lfd)
{
	int fd, e = 0;
	double t0 = now_s();

	stage = "accept2";
	if (!o->nonblocking)
		arm_alarm(ACCEPT2_ALARM_MS);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		e = errno;
	disarm_alarm();
	begin("accept2", e);
	printf(", \"elapsed\": %.3f", now_s() - t0);
	end_line();
	if (fd >= 0)
		close(fd);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->family = 4;
	o->bind = "any";
	o->waiter = "poll";
	o->watchdog_s = 8;
	o->accept_wait_ms = 5000;
	o->accept_how = NULL;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--nonblocking") == 0) {
			o->nonblocking = true;
			continue;
		}
		if (strcmp(a, "--local") == 0) {
			o->local = true;
			continue;
		}
		if (strcmp(a, "--accept2") == 0) {
			o->accept2 = true;
			continue;
		}
		if (strcmp(a, "--fork-accept") == 0) {
			o->fork_accept = true;
			continue;
		}
		if (strcmp(a, "--restart") == 0) {
			o->restart = true;
			continue;
		}
		if (strcmp(a, "--dup-listener") == 0) {
			o->dup_listener = true;
			continue;
		}
		if (strcmp(a, "--cloexec") == 0) {
			o->cloexec = true;
			continue;
		}
		if (strcmp(a, "--v6only") == 0) {
			o->v6only = true;
			continue;
		}
		if (strcmp(a, "--listen-twice") == 0) {
			o->listen_twice = true;
			continue;
		}
		if (strcmp(a, "--epoll-listener") == 0) {
			o->epoll_listener = true;
			continue;
		}
		if (strcmp(a, "--early-sockname") == 0) {
			o->early_sockname = true;
			continue;
		}
		if (strcmp(a, "--half-close") == 0) {
			o->half_close = true;
			continue;
		}
		if (strcmp(a, "--close-listener") == 0) {
			o->close_listener = true;
			continue;
		}
		if (v == NULL)
			return -1;
		i++;
		if (strcmp(a, "--control") == 0 && o->ncontrol < MAX_CONTROLS)
			o->control[o->ncontrol++] = v;
		else if (strcmp(a, "--family") == 0)
			o->family = atoi(v);
		else if (strcmp(a, "--bind") == 0)
			o->bind = v;
		else if (strcmp(a, "--port") == 0)
			o->port = atoi(v);
		else if (strcmp(a, "--rcvtimeo") == 0)
			o->rcvtimeo_ms = atoi(v);
		else if (strcmp(a, "--accept") == 0)
			o->accept_how = v;
		else if (strcmp(a, "--accept4") == 0) {
			o->use_accept4 = true;
			o->accept4_flags =
				(strstr(v, "nonblock") || !strcmp(v, "both")
					 ? SOCK_NONBLOCK : 0) |
				(strstr(v, "cloexec") || !strcmp(v, "both")
					 ? SOCK_CLOEXEC : 0);
		} else if (strcmp(a, "--alarm") == 0)
			o->alarm_ms = atoi(v);
		else if (strcmp(a, "--fork-child") == 0)
			o->fork_child_ms = atoi(v);
		else if (strcmp(a, "--listen-alarm") == 0)
			o->listen_alarm_ms = atoi(v);
		else if (strcmp(a, "--poll") == 0 && o->npoll < MAX_POLLS)
			o->polls[o->npoll++] = atoi(v);
		else if (strcmp(a, "--waiter") == 0)
			o->waiter = v;
		else if (strcmp(a, "--read") == 0)
			o->read_n = atoi(v);
		else if (strcmp(a, "--send") == 0)
			o->send = v;
		else if (strcmp(a, "--linger") == 0)
			o->linger_ms = atoi(v);
		else if (strcmp(a, "--accept-wait") == 0)
			o->accept_wait_ms = atoi(v);
		else if (strcmp(a, "--watchdog") == 0)
			o->watchdog_s = atoi(v);
		else
			return -1;
	}
	if (o->accept_how == NULL)
		o->accept_how = o->nonblocking ? "wait" : "block";
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct sigaction sa;
	pthread_t wd;
	int controls[MAX_CONTROLS];
	int i, lfd, afd, local_fd = -1, ep = -1, dfd = -1, e;
	pid_t child = -1;
	struct sockaddr_storage ss;
	socklen_t len = 0;
	double t0;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (parse_args(argc, argv, &o) < 0) {
		fprintf(stderr, "bind_client: bad arguments (see the source)\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;          /* no SA_RESTART: EINTR */
	if (o.restart)
		sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_create(&wd, NULL, watchdog, &o.watchdog_s);
	pthread_detach(wd);

	for (i = 0; i < o.ncontrol; i++)
		do_control(o.control[i], &controls[i]);

	stage = "socket";
	lfd = socket(o.family == 6 ? AF_INET6 : AF_INET,
		     SOCK_STREAM | (o.cloexec ? SOCK_CLOEXEC : 0), 0);
	if (lfd < 0) {
		begin("socket", errno);
		end_line();
		return 0;
	}
	if (o.v6only) {
		int one = 1;

		setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (bind_address(&o, controls, &ss, &len)) {
		stage = "bind";
		e = bind(lfd, (struct sockaddr *)&ss, len) < 0 ? errno : 0;
		begin("bind", e);
		print_addr("addr", &ss);
		end_line();
	}
	if (o.early_sockname) {
		stage = "early-sockname";
		begin("early-sockname", 0);
		print_name("addr", lfd, false);
		end_line();
	}
	if (o.rcvtimeo_ms > 0) {
		struct timeval tv = { o.rcvtimeo_ms / 1000,
				      (o.rcvtimeo_ms % 1000) * 1000 };

		setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (o.nonblocking)
		fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);

	stage = "listen";
	if (o.listen_alarm_ms > 0)
		arm_alarm(o.listen_alarm_ms);
	t0 = now_s();
	e = listen(lfd, 8) < 0 ? errno : 0;
	disarm_alarm();
	begin("listen", e);
	printf(", \"elapsed\": %.3f", now_s() - t0);
	if (alarm_fired)
		printf(", \"alarm\": true");
	alarm_fired = 0;
	end_line();
	if (e && o.listen_twice) {
		stage = "listen2";
		begin("listen2", listen(lfd, 8) < 0 ? errno : 0);
		end_line();
	}
	if (e)
		goto out;
	stage = "sockname";
	begin("sockname", 0);
	print_name("addr", lfd, false);
	end_line();
	report_listener("listener", lfd);
	if (o.fork_child_ms > 0) {
		child = fork();
		if (child == 0) {
			struct timespec ts = { o.fork_child_ms / 1000,
					       (o.fork_child_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
			_exit(0);
		}
	}
	if (o.fork_accept) {
		pid_t pid = fork();

		if (pid > 0) {
			int status = 0;

			close(lfd);
			waitpid(pid, &status, 0);
			begin("parent", 0);
			printf(", \"child_exit\": %d",
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			end_line();
			return 0;
		}
		/* The child: the watchdog thread stayed in the parent. */
		begin("child", pid < 0 ? errno : 0);
		end_line();
	}
	if (o.dup_listener)
		dfd = dup(lfd);

	if (o.epoll_listener) {
		struct epoll_event ev = { .events = EPOLLIN };

		ev.data.fd = lfd;
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
			close(ep);
			ep = -1;
		}
	}
	for (i = 0; i < o.npoll; i++) {
		int r;

		stage = "poll";
		t0 = now_s();
		r = wait_readable(o.waiter, lfd, o.polls[i]);
		begin("poll", r < 0 ? -r : 0);
		printf(", \"timeout\": %d, \"ready\": %s, \"elapsed\": %.3f",
		       o.polls[i], r > 0 ? "true" : "false", now_s() - t0);
		end_line();
	}
	if (o.local)
		local_fd = local_connect(&o, lfd);
	afd = do_accept(&o, lfd);
	if (dfd >= 0) {
		close(lfd);
		lfd = dfd;
	}
	if (afd >= 0)
		report_listener("listener-after", lfd);
	if (afd >= 0 && o.close_listener) {
		close(lfd);
		lfd = -1;
	}
	if (afd >= 0 && ep >= 0) {
		struct epoll_event got[4];
		int n, k;

		stage = "epoll-after";
		n = epoll_wait(ep, got, 4, 300);
		begin("epoll-after", n < 0 ? errno : 0);
		printf(", \"events\": %d", n < 0 ? 0 : n);
		for (k = 0; k < n; k++)
			printf(", \"fd\": %d", got[k].data.fd);
		end_line();
	}
	if (ep >= 0)
		close(ep);
	if (afd >= 0) {
		talk(&o, afd, local_fd);
		if (o.half_close)
			drain(afd);
		close(afd);
		if (o.linger_ms > 0 && lfd >= 0) {
			linger(&o, lfd);
			lfd = -1;
		}
	}
	if (o.accept2 && lfd >= 0)
		accept_again(&o, lfd);
out:
	if (local_fd >= 0)
		close(local_fd);
	if (lfd >= 0)
		close(lfd);
	for (i = 0; i < o.ncontrol; i++)
		if (controls[i] >= 0)
			close(controls[i]);
	if (child > 0)
		waitpid(child, NULL, 0);
	begin("end", 0);
	end_line();
	return 0;
}
