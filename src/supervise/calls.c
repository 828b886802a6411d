/* One handler per caught call.
 *
 * A call the kernel runs as made (CONTINUE) has its address read again
 * and its descriptor number looked up again by the kernel, after our
 * check: another thread of the program may have changed either. So
 * every handler does the work itself, on its copy of the program's
 * socket with the bytes it read, and answers with the result, except
 * where no single change can make the call reach a proxied destination:
 *   - a socket that is not IPv4/IPv6 given no IPv4/IPv6 address (swapping
 *     an IPv4 socket in would also take rewriting the address);
 *   - a TCP sendmsg naming no address without MSG_FASTOPEN (TCP ignores
 *     a name added meanwhile);
 *   - sendto with no address at all (the filter lets it run: it sends on
 *     what a checked connect() set up).
 * A datagram socket's sendmsg is made by us even without a name, since
 * the program could add one after we looked.
 *
 * TCP to a proxied destination: the program's own socket is connected to
 * the proxy and the SOCKS5 CONNECT runs on it in the loop (loop.c), so the
 * call returns once the proxy answered, with the preload's errno table.
 * UDP to a proxied destination is refused (EPERM), except the program's
 * DNS queries to its name servers, which go to our responder (dnssrv.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "s5_log.h"
#include "sup.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

/* Largest datagram we send for a program (the largest IPv4 or IPv6
 * payload), the longest control data, the most iovecs (UIO_MAXIOV) and
 * messages of one sendmmsg (the kernel's own limit, UIO_MAXIOV). */
#define DATA_MAX 65536
#define CONTROL_MAX 8192
#define IOV_MAX_ 1024
#define MMSG_MAX 1024

/* A message header as the kernel reads it from the program (its struct
 * user_msghdr), lengths as wide as a pointer. libc's struct msghdr may
 * not be that: musl's has an int msg_iovlen and a socklen_t
 * msg_controllen beside padding, and reading the program's header through
 * it would drop the high half that the kernel looks at. */
struct umsghdr {
	uintptr_t name;
	int namelen;
	uintptr_t iov;
	unsigned long iovlen;
	uintptr_t control;
	unsigned long controllen;
	unsigned int flags;
};

/* The kernel's struct mmsghdr, for sendmmsg. */
struct ummsghdr {
	struct umsghdr hdr;
	unsigned int len;
};

static bool is_inet(const struct s5s_call *c)
{
	return c->domain == AF_INET || c->domain == AF_INET6;
}

static bool inet_family(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET || ss->ss_family == AF_INET6;
}

static bool is_tcp(const struct s5s_call *c)
{
	return c->type == SOCK_STREAM &&
	       (c->protocol == IPPROTO_TCP || c->protocol == IPPROTO_MPTCP);
}

static bool is_udp(const struct s5s_call *c)
{
	return c->type == SOCK_DGRAM &&
	       (c->protocol == IPPROTO_UDP || c->protocol == IPPROTO_UDPLITE);
}

static bool v6only(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, &len) == 0 && on;
}

/* A connect() that is refused sends nothing, and Go makes one on UDP
 * sockets just to learn the source address it would use (RFC 6724
 * sorting): that is worth an info line, a datagram dropped an error. */
static void log_refused(const char *what, const struct s5_addr *dst,
			const char *why)
{
	struct s5log_line l;

	s5log_begin(&l, strcmp(what, "connect") == 0 ? S5LOG_INFO
						    : S5LOG_ERROR);
	s5log_str(&l, what);
	s5log_str(&l, " ");
	s5log_s5addr(&l, dst);
	s5log_str(&l, ": ");
	s5log_str(&l, why);
	s5log_end(&l);
}

/* The errno for a destination meant for the proxy on a socket SOCKS5
 * cannot carry (after the log line). */
static int refuse_kind(const struct s5s_call *c, const char *what,
		       const struct s5_addr *dst)
{
	if (is_udp(c)) {
		log_refused(what, dst,
			    "UDP from a supervised program is not proxied; "
			    "refused");
		return EPERM;
	}
	if (c->type == SOCK_STREAM) {
		log_refused(what, dst,
			    "a stream socket that is not TCP (SOCKS5 carries "
			    "only TCP streams); refused");
		return EPROTONOSUPPORT;
	}
	log_refused(what, dst,
		    c->type == SOCK_RAW
			    ? "a raw socket to a proxied destination; refused"
			    : "a datagram socket that is not UDP (SOCKS5 "
			      "carries only UDP datagrams); refused");
	return EPERM;
}

/* The program's sockaddr: len as the kernel checks it (at most a
 * sockaddr_storage). */
static int read_addr(const struct s5s_call *c, uint64_t ptr, uint64_t ulen,
		     struct sockaddr_storage *ss, socklen_t *len)
{
	int r;

	if ((int)ulen < 0 || (uint32_t)ulen > sizeof(*ss))
		return -EINVAL;
	*len = (socklen_t)ulen;
	memset(ss, 0, sizeof(*ss));
	r = s5s_mem_read(c, ptr, ss, *len);
	if (r < 0)
		return r;
	if (*len < sizeof(sa_family_t))
		return -EINVAL;
	return 0;
}

/* Linux reads a send's sin_family 0 on an IPv4 datagram or raw socket as
 * AF_INET (ip(7)). */
static void legacy_family(const struct s5s_call *c, struct sockaddr_storage *ss)
{
	if (c->domain == AF_INET && c->type != SOCK_STREAM &&
	    ss->ss_family == AF_UNSPEC)
		ss->ss_family = AF_INET;
}

/* A pending operation for call c, owning c's descriptor and data (the
 * bytes to send once connected, or NULL). Without memory it frees data,
 * answers ENOMEM and returns NULL. */
static struct s5s_op *new_op(struct sup *s, struct s5s_call *c,
			     enum s5s_op_kind kind, uint8_t *data, size_t dlen,
			     int flags)
{
	struct s5s_op *op = calloc(1, sizeof(*op));

	if (!op) {
		free(data);
		s5s_answer(s, c, ENOMEM, 0);
		return NULL;
	}
	op->kind = kind;
	op->call = *c;
	op->saved_fl = -1;
	op->deadline = -1;
	op->data = data;
	op->data_len = dlen;
	op->send_flags = flags;
	c->fd = -1; /* the op owns it now */
	return op;
}

/* Starts op: the loop owns it from here. */
static void start_op(struct sup *s, struct s5s_op *op)
{
	if (s5s_op_add(s, op) < 0) {
		s5s_op_finish(s, op, ENOMEM, 0);
		return;
	}
	(void)s5s_op_step(s, op, 0);
}

static int set_nonblock(struct s5s_op *op)
{
	int fl = fcntl(op->call.fd, F_GETFL);

	if (fl < 0 || fcntl(op->call.fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	op->saved_fl = fl;
	return 0;
}

/* data: MSG_FASTOPEN's payload (taken), sent once connected. */
static void proxy_connect(struct sup *s, struct s5s_call *c,
			  const struct sockaddr *sa, socklen_t len,
			  const struct s5_addr *target, uint8_t *data,
			  size_t dlen, int flags)
{
	const struct s5_config *cfg = s->cfg;
	struct s5s_op *op = new_op(s, c, S5S_OP_PROXY, data, dlen, flags);
	int r;

	if (!op)
		return;
	memcpy(&op->dst, sa, len);
	op->dlen = len;
	s5_try_begin(&op->try, cfg, s->pool);
	if (s5_try_pick_any(&op->try, c->domain,
			    c->domain == AF_INET6 && v6only(op->call.fd),
			    &op->proxy, &op->plen) < 0) {
		log_refused("connect", target,
			    c->domain == AF_INET
				    ? "the proxy has no IPv4 address for this "
				      "IPv4 socket"
				    : "the proxy has no IPv6 address and this "
				      "IPv6-only socket cannot reach its IPv4 "
				      "one");
		s5s_op_finish(s, op, EAFNOSUPPORT, 0);
		return;
	}
	r = set_nonblock(op);
	if (r < 0) {
		s5s_op_finish(s, op, -r, 0);
		return;
	}
	s5_try_hs(&op->try, &op->hs, S5_CMD_CONNECT, target);
	op->t0 = s5_now_ms();
	op->deadline = op->t0 + cfg->timeout_ms;
	r = s5_proxy_start(op->call.fd, (struct sockaddr *)&op->proxy,
			   op->plen, &op->hs, &s5_io_libc);
	/* A socket already connected, or still connecting: the kernel's
	 * answer, and the connection left as it is. */
	if (r == -EISCONN || r == -EALREADY) {
		s5s_op_finish(s, op, -r, 0);
		return;
	}
	start_op(s, op);
}

/* A connect the kernel may make: made on our copy. A non-blocking socket
 * answers at once (EINPROGRESS included); a blocking one waits in the
 * loop for the kernel's result. */
static void direct_connect(struct sup *s, struct s5s_call *c,
			   const struct sockaddr *sa, socklen_t len,
			   uint8_t *data, size_t dlen, int flags)
{
	int fl = fcntl(c->fd, F_GETFL);
	struct s5s_op *op;
	int r;

	if (fl >= 0 && (fl & O_NONBLOCK) && !data) {
		r = connect(c->fd, sa, len);
		s5s_answer(s, c, r < 0 ? errno : 0, 0);
		return;
	}
	op = new_op(s, c, S5S_OP_DIRECT, data, dlen, flags);
	if (!op)
		return;
	r = set_nonblock(op);
	if (r == 0 && connect(op->call.fd, sa, len) < 0)
		r = -errno;
	if (r == -EINPROGRESS) {
		op->want = POLLOUT;
		start_op(s, op);
		return;
	}
	if (r == 0 && op->data) {
		start_op(s, op); /* connected at once: the step sends */
		return;
	}
	s5s_op_finish(s, op, -r, 0);
}

bool s5s_proxy_next(struct sup *s, struct s5s_op *op, int r)
{
	struct s5_addr dst = op->hs.dst;
	int domain = op->call.domain;

	/* Bounded: each round moves the try one proxy further. */
	while (r < 0 && r != -EINPROGRESS) {
		if (s5_try_next(&op->try, &op->hs, r, op->call.fd, domain,
				domain == AF_INET6 && v6only(op->call.fd),
				&s5_io_libc, &op->proxy, &op->plen) < 0)
			return false;
		s5_hs_wipe(&op->hs);
		s5_try_hs(&op->try, &op->hs, S5_CMD_CONNECT, &dst);
		op->t0 = s5_now_ms();
		op->deadline = op->t0 + s->cfg->timeout_ms;
		r = s5_proxy_start(op->call.fd, (struct sockaddr *)&op->proxy,
				   op->plen, &op->hs, &s5_io_libc);
	}
	/* Connecting, or connected at once: the greeting waits for room. */
	op->want = op->hs.want ? op->hs.want : POLLOUT;
	return true;
}

/* A TCP connect (or MSG_FASTOPEN send) towards sa. */
static void tcp_connect(struct sup *s, struct s5s_call *c,
			const struct sockaddr *sa, socklen_t len, int route,
			const struct s5_addr *target, uint8_t *data,
			size_t dlen, int flags)
{
	if (route == S5S_PROXY)
		proxy_connect(s, c, sa, len, target, data, dlen, flags);
	else
		direct_connect(s, c, sa, len, data, dlen, flags);
}

static void log_dns(const char *what, const struct s5_addr *dst)
{
	struct s5log_line l;

	if (!s5log_enabled(S5LOG_DEBUG))
		return;
	s5log_begin(&l, S5LOG_DEBUG);
	s5log_str(&l, what);
	s5log_str(&l, " ");
	s5log_s5addr(&l, dst);
	s5log_str(&l, ": a name server; answered by the supervisor");
	s5log_end(&l);
}

/* The responder's address in place of a name server's. */
static int dns_dst(struct sup *s, const struct s5s_call *c,
		   struct sockaddr_storage *ss, socklen_t *len)
{
	return s5s_dns_addr(&s->dns, c->domain,
			    c->domain == AF_INET6 && v6only(c->fd), ss, len);
}

static void on_connect(struct sup *s, struct s5s_call *c)
{
	struct sockaddr_storage ss;
	struct s5_addr target;
	socklen_t len;
	int r = read_addr(c, c->args[1], c->args[2], &ss, &len);

	if (r == 0)
		r = s5s_take_fd(s, c);
	if (r < 0) {
		s5s_answer(s, c, -r, 0);
		return;
	}
	if (!is_inet(c) && !inet_family(&ss)) {
		s5s_continue(s, c);
		return;
	}
	/* An IPv4/IPv6 address on another kind of socket: the kernel's
	 * answer (an error), from our copy; letting it run the call would
	 * look the number up again, and a socket swapped in meanwhile would
	 * connect unchecked. */
	if (!is_inet(c) || ss.ss_family == AF_UNSPEC) {
		/* Dissolves an association (or fails): nothing is sent. */
		r = connect(c->fd, (struct sockaddr *)&ss, len);
		s5s_answer(s, c, r < 0 ? errno : 0, 0);
		return;
	}
	r = s5s_route(s, c->domain, c->type, (struct sockaddr *)&ss, len,
		      &target);
	if (r < 0) {
		s5s_answer(s, c, -r, 0);
		return;
	}
	if (is_tcp(c)) {
		tcp_connect(s, c, (struct sockaddr *)&ss, len, r, &target,
			    NULL, 0, 0);
		return;
	}
	if (r == S5S_PROXY) {
		s5s_answer(s, c, refuse_kind(c, "connect", &target), 0);
		return;
	}
	if (r == S5S_DNS) {
		log_dns("connect", &target);
		r = dns_dst(s, c, &ss, &len);
		if (r < 0) {
			s5s_answer(s, c, -r, 0);
			return;
		}
	}
	/* A stream that is not TCP (SCTP) may take a while to connect;
	 * UDP and the like connect at once. */
	if (c->type == SOCK_STREAM) {
		direct_connect(s, c, (struct sockaddr *)&ss, len, NULL, 0, 0);
		return;
	}
	r = connect(c->fd, (struct sockaddr *)&ss, len);
	s5s_answer(s, c, r < 0 ? errno : 0, 0);
}

/* The data of one message: iovecs gathered into one buffer. */
struct gathered {
	uint8_t *data;
	size_t len;
	uint8_t control[CONTROL_MAX];
	size_t control_len;
};

static int gather(const struct s5s_call *c, const struct umsghdr *m,
		  struct gathered *g)
{
	struct iovec *iov;
	size_t i, total = 0;
	int r;

	g->data = NULL;
	g->len = 0;
	g->control_len = 0;
	if (m->iovlen > IOV_MAX_)
		return -EMSGSIZE;
	if (m->controllen > CONTROL_MAX)
		return -ENOBUFS;
	iov = calloc(m->iovlen ? m->iovlen : 1, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	r = s5s_mem_read(c, m->iov, iov, m->iovlen * sizeof(*iov));
	for (i = 0; r == 0 && i < m->iovlen; i++) {
		if (iov[i].iov_len > DATA_MAX - total)
			r = -EMSGSIZE;
		else
			total += iov[i].iov_len;
	}
	/* A buffer of the message's size, not of the largest: musl's malloc
	 * maps and unmaps a block of DATA_MAX on every call. */
	if (r == 0) {
		g->data = malloc(total ? total : 1);
		if (!g->data)
			r = -ENOMEM;
	}
	for (i = 0, total = 0; r == 0 && i < m->iovlen; i++) {
		r = s5s_mem_read(c, (uintptr_t)iov[i].iov_base,
				 g->data + total, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	free(iov);
	if (r == 0 && m->controllen)
		r = s5s_mem_read(c, m->control, g->control, m->controllen);
	g->len = total;
	g->control_len = m->controllen;
	return r;
}

/* Sends one gathered message on our copy: to, when not NULL, in place of
 * the program's address. */
static ssize_t send_gathered(const struct s5s_call *c, struct gathered *g,
			     const struct sockaddr *to, socklen_t tolen,
			     int flags)
{
	struct iovec iov = { g->data, g->len };
	struct msghdr m = { .msg_name = (void *)(uintptr_t)to,
			    .msg_namelen = to ? tolen : 0,
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = g->control_len ? g->control : NULL,
			    .msg_controllen = g->control_len };

	/* The loop must never block on a program's socket. */
	return sendmsg(c->fd, &m, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Where a datagram (or TCP Fast Open) with this address goes; fills
 * to/tolen with the address to send to. Returns 0, or an errno (> 0)
 * to answer with. */
static int dgram_dst(struct sup *s, struct s5s_call *c, const char *what,
		     struct sockaddr_storage *to, socklen_t *tolen)
{
	struct s5_addr target;
	int r;

	legacy_family(c, to);
	r = s5s_route(s, c->domain, c->type, (struct sockaddr *)to, *tolen,
		      &target);
	if (r < 0)
		return -r;
	if (r == S5S_PROXY)
		return refuse_kind(c, what, &target);
	if (r == S5S_DNS) {
		log_dns(what, &target);
		r = dns_dst(s, c, to, tolen);
		return r < 0 ? -r : 0;
	}
	return 0;
}

/* sendto/sendmsg with MSG_FASTOPEN and an address on a TCP socket: a
 * connect, then the data. */
static void fastopen(struct sup *s, struct s5s_call *c,
		     struct sockaddr_storage *ss, socklen_t len,
		     struct gathered *g, int flags)
{
	struct s5_addr target;
	int r = s5s_route(s, c->domain, c->type, (struct sockaddr *)ss, len,
			  &target);

	if (r < 0) {
		free(g->data);
		s5s_answer(s, c, -r, 0);
		return;
	}
	tcp_connect(s, c, (struct sockaddr *)ss, len, r, &target, g->data,
		    g->len, flags & ~MSG_FASTOPEN);
}

/* The message of a sendto, as one gathered buffer. */
static int sendto_data(const struct s5s_call *c, struct gathered *g)
{
	size_t len = c->args[2];

	g->control_len = 0;
	g->len = 0;
	g->data = NULL;
	if (len > DATA_MAX)
		return -EMSGSIZE;
	g->data = malloc(len ? len : 1);
	if (!g->data)
		return -ENOMEM;
	g->len = len;
	return s5s_mem_read(c, c->args[1], g->data, len);
}

/* The answer to a send we made for the program: its count, or its
 * errno, with the SIGPIPE the kernel would have sent the thread. */
static void answer_send(struct sup *s, struct s5s_call *c, ssize_t n,
			int flags)
{
	int err = n < 0 ? errno : 0;

	if (err == EPIPE)
		s5s_sigpipe(s, c, flags);
	s5s_answer(s, c, err, n);
}

/* A TCP send that names an address without MSG_FASTOPEN: TCP ignores the
 * address, so it is a plain send. We make it on our copy all the same:
 * letting the kernel run the call would look the descriptor number up
 * again, and another thread could have put a UDP socket there. A full
 * buffer on a blocking socket waits in the loop. Takes g->data. */
static void stream_send(struct sup *s, struct s5s_call *c, struct gathered *g,
			int flags)
{
	int fl = fcntl(c->fd, F_GETFL);
	ssize_t n = send(c->fd, g->data, g->len,
			 flags | MSG_DONTWAIT | MSG_NOSIGNAL);
	struct s5s_op *op;

	if (n >= 0 || errno != EAGAIN || fl < 0 || (fl & O_NONBLOCK) ||
	    (flags & MSG_DONTWAIT)) {
		free(g->data);
		answer_send(s, c, n, flags);
		return;
	}
	op = new_op(s, c, S5S_OP_DIRECT, g->data, g->len, flags);
	if (!op)
		return;
	op->want = POLLOUT;
	start_op(s, op);
}

/* A socket that is not IPv4/IPv6 given an IPv4/IPv6 address: whatever the
 * kernel makes of that on this socket (an error), made on our copy; only
 * an address of another family lets the kernel run the call, which then
 * takes two races at once (the number and the address) to matter. */
static void foreign_send(struct sup *s, struct s5s_call *c,
			 struct gathered *g, struct sockaddr_storage *ss,
			 socklen_t len, int flags)
{
	ssize_t n = send_gathered(c, g, (struct sockaddr *)ss, len, flags);

	free(g->data);
	answer_send(s, c, n, flags);
}

/* A datagram (UDP, raw, ICMP) with address ss, or none: routed, then sent
 * by us. Takes g->data. */
static void dgram_send(struct sup *s, struct s5s_call *c, const char *what,
		       struct gathered *g, struct sockaddr_storage *ss,
		       socklen_t len, int flags)
{
	ssize_t n;
	int r = ss ? dgram_dst(s, c, what, ss, &len) : 0;

	if (r) {
		free(g->data);
		s5s_answer(s, c, r, 0);
		return;
	}
	n = send_gathered(c, g, (struct sockaddr *)ss, len, flags);
	free(g->data);
	answer_send(s, c, n, flags);
}

static void on_sendto(struct sup *s, struct s5s_call *c)
{
	int flags = (int)c->args[3];
	struct sockaddr_storage ss;
	struct gathered g = { 0 };
	socklen_t len = 0;
	int r = s5s_take_fd(s, c);

	/* The filter lets a sendto without an address run: it sends on
	 * what connect() set up. With MSG_FASTOPEN alone the same. */
	if (r == 0 && c->args[4] == 0) {
		s5s_continue(s, c);
		return;
	}
	if (r == 0)
		r = read_addr(c, c->args[4], c->args[5], &ss, &len);
	if (r == 0 && !is_inet(c) && !inet_family(&ss)) {
		s5s_continue(s, c);
		return;
	}
	if (r == 0)
		r = sendto_data(c, &g);
	if (r < 0) {
		free(g.data);
		s5s_answer(s, c, -r, 0);
		return;
	}
	if (!is_inet(c))
		foreign_send(s, c, &g, &ss, len, flags);
	else if (is_tcp(c) && (flags & MSG_FASTOPEN))
		fastopen(s, c, &ss, len, &g, flags);
	else if (is_tcp(c))
		stream_send(s, c, &g, flags);
	else
		dgram_send(s, c, "sendto", &g, &ss, len, flags);
}

static bool names_dst(const struct umsghdr *m)
{
	return m->name != 0 && m->namelen != 0;
}

/* A message's name as the kernel takes it: a longer msg_namelen is cut to
 * a sockaddr_storage (sendmsg(2) does not refuse it, unlike sendto). */
static int read_name(const struct s5s_call *c, const struct umsghdr *m,
		     struct sockaddr_storage *ss, socklen_t *len)
{
	socklen_t n = (socklen_t)m->namelen;

	if (n > sizeof(*ss))
		n = sizeof(*ss);
	return read_addr(c, m->name, n, ss, len);
}

/* sendmsg. Only two cases let the kernel run the call as made: a TCP
 * socket's message without a name (a name added meanwhile is ignored by
 * TCP), and a socket that is not IPv4/IPv6 given no IPv4/IPv6 name. A
 * datagram socket's messages are all sent by us, named or not: the
 * program could add a name after we looked. */
static void on_sendmsg(struct sup *s, struct s5s_call *c)
{
	int flags = (int)c->args[2];
	struct sockaddr_storage ss;
	struct gathered g = { 0 };
	struct umsghdr m;
	socklen_t len = 0;
	bool named;
	int r = s5s_mem_read(c, c->args[1], &m, sizeof(m));

	if (r == 0)
		r = s5s_take_fd(s, c);
	named = r == 0 && names_dst(&m);
	if (r == 0 && named)
		r = read_name(c, &m, &ss, &len);
	/* MSG_FASTOPEN is the exception on TCP: a name added after our
	 * look would be connected to. */
	if (r == 0 &&
	    ((is_tcp(c) && !named && !(flags & MSG_FASTOPEN)) ||
	     (!is_inet(c) && (!named || !inet_family(&ss))))) {
		s5s_continue(s, c);
		return;
	}
	if (r == 0)
		r = gather(c, &m, &g);
	if (r < 0) {
		free(g.data);
		s5s_answer(s, c, -r, 0);
		return;
	}
	if (!is_inet(c))
		foreign_send(s, c, &g, &ss, len, flags);
	else if (is_tcp(c) && named && (flags & MSG_FASTOPEN))
		fastopen(s, c, &ss, len, &g, flags);
	else if (is_tcp(c))
		stream_send(s, c, &g, flags);
	else
		dgram_send(s, c, "sendmsg", &g, named ? &ss : NULL, len, flags);
}

/* sendmmsg on a datagram socket: each message sent by us, as the kernel
 * would, stopping at the first that fails (an error only when it is the
 * first). */
static void send_each(struct sup *s, struct s5s_call *c, struct ummsghdr *v,
		      unsigned int vlen, int flags)
{
	struct gathered one, *g = &one;
	unsigned int i;
	int err = 0;

	for (i = 0; i < vlen && !err; i++) {
		struct umsghdr *m = &v[i].hdr;
		struct sockaddr_storage ss;
		socklen_t len = 0;
		unsigned int sent;
		ssize_t n = -1;
		int r = 0;

		g->data = NULL;
		if (names_dst(m)) {
			r = read_name(c, m, &ss, &len);
			if (r == 0)
				r = -dgram_dst(s, c, "sendmmsg", &ss, &len);
		}
		if (r == 0)
			r = gather(c, m, g);
		if (r == 0) {
			n = send_gathered(c, g, names_dst(m)
						  ? (struct sockaddr *)&ss
						  : NULL,
					  len, flags);
			r = n < 0 ? -errno : 0;
		}
		free(g->data);
		sent = n < 0 ? 0 : (unsigned int)n;
		if (r == 0)
			r = s5s_mem_write(c,
					  c->args[1] + i * sizeof(*v) +
						  offsetof(struct ummsghdr,
							   len),
					  &sent, sizeof(sent));
		if (r < 0)
			err = -r;
	}
	if (err == EPIPE && i == 1)
		s5s_sigpipe(s, c, flags);
	/* i counts the message that failed too. */
	if (err && i == 1)
		s5s_answer(s, c, err, 0);
	else
		s5s_answer(s, c, 0, err ? i - 1 : i);
}

/* What the messages name: 0 none, 1 only other families, 2 an IPv4/IPv6
 * address (or a name we cannot read, which counts as one). */
static int names_of(const struct s5s_call *c, const struct ummsghdr *v,
		    unsigned int vlen)
{
	int most = 0;
	unsigned int i;

	for (i = 0; i < vlen && most < 2; i++) {
		struct sockaddr_storage ss;
		socklen_t len;

		if (!names_dst(&v[i].hdr))
			continue;
		if (read_name(c, &v[i].hdr, &ss, &len) < 0 ||
		    inet_family(&ss))
			most = 2;
		else
			most = 1;
	}
	return most;
}

static void on_sendmmsg(struct sup *s, struct s5s_call *c)
{
	unsigned int vlen = (unsigned int)c->args[2];
	int flags = (int)c->args[3];
	struct ummsghdr *v;
	int r, names;

	if (vlen > MMSG_MAX)
		vlen = MMSG_MAX;
	if (vlen == 0) {
		s5s_continue(s, c);
		return;
	}
	v = calloc(vlen, sizeof(*v));
	if (!v) {
		s5s_answer(s, c, ENOMEM, 0);
		return;
	}
	r = s5s_mem_read(c, c->args[1], v, vlen * sizeof(*v));
	if (r == 0)
		r = s5s_take_fd(s, c);
	names = r == 0 ? names_of(c, v, vlen) : 0;
	if (r == 0 && ((is_tcp(c) && names == 0 && !(flags & MSG_FASTOPEN)) ||
		       (!is_inet(c) && names < 2))) {
		free(v);
		s5s_continue(s, c);
		return;
	}
	/* An IPv4/IPv6 name on another kind of socket is not something the
	 * kernel takes; names or Fast Open on TCP through sendmmsg nothing
	 * uses: refused rather than taught. */
	if (r == 0 && !is_inet(c))
		r = -EINVAL;
	else if (r == 0 && is_tcp(c))
		r = -EOPNOTSUPP;
	if (r < 0)
		s5s_answer(s, c, -r, 0);
	else
		send_each(s, c, v, vlen, flags);
	free(v);
}

static void on_getpeername(struct sup *s, struct s5s_call *c)
{
	const struct s5s_peer *e;
	int r = s5s_take_fd(s, c);
	int ulen;

	if (r < 0) {
		s5s_answer(s, c, -r, 0);
		return;
	}
	e = is_inet(c) ? s5s_peers_get(&s->peers, c->fd) : NULL;
	if (!e) {
		s5s_continue(s, c);
		return;
	}
	r = s5s_mem_read(c, c->args[2], &ulen, sizeof(ulen));
	if (r == 0 && ulen < 0)
		r = -EINVAL;
	/* As the kernel does: as much of the address as fits, and its
	 * whole length. */
	if (r == 0)
		r = s5s_mem_write(c, c->args[1], &e->dst,
				  (size_t)ulen < e->dlen ? (size_t)ulen
							  : e->dlen);
	if (r == 0) {
		ulen = (int)e->dlen;
		r = s5s_mem_write(c, c->args[2], &ulen, sizeof(ulen));
	}
	s5s_answer(s, c, r < 0 ? -r : 0, 0);
}

void s5s_handle(struct sup *s, struct s5s_call *c)
{
	static const struct {
		int nr;
		void (*fn)(struct sup *s, struct s5s_call *c);
	} handlers[] = {
		{ __NR_connect, on_connect },
		{ __NR_sendto, on_sendto },
		{ __NR_sendmsg, on_sendmsg },
		{ __NR_sendmmsg, on_sendmmsg },
		{ __NR_getpeername, on_getpeername },
	};
	size_t i;

	c->fd = -1;
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].nr == c->nr)
			break;
	if (i < sizeof(handlers) / sizeof(handlers[0]))
		handlers[i].fn(s, c);
	else
		s5s_answer(s, c, ENOSYS, 0); /* not one the filter sends */
	if (c->fd >= 0)
		close(c->fd);
}
