/* The SOCKS5 client handshake as a resumable state machine: greeting
 * (RFC 1928 section 3), optional username/password (RFC 1929), then one
 * request (section 4) and its reply (section 6). A chain (s5_hs_chain)
 * repeats the three for each proxy over the same stream: the request to
 * every proxy but the last is a CONNECT to the next one, and its success
 * starts the next greeting, so the callers drive a chain exactly as they
 * drive one proxy.
 *
 * Each message is built when its send state is entered, so credentials
 * reach hs->out only just before they are sent, and the buffer is wiped
 * as soon as it has been written. Reads ask for exactly the bytes the
 * parser says are still missing, so nothing after the reply is consumed.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "s5_net.h"
#include "s5_proto.h"
#include "net_internal.h"

/* What went wrong in each state, for hs->why. */
struct phase {
	const char *io_why;  /* send() or recv() failed */
	const char *eof_why; /* the proxy closed (or reset) the connection */
	const char *bad_why; /* the bytes are not the expected message */
};

static const struct phase phases[S5HS_FAILED + 1] = {
	[S5HS_SEND_GREETING] = {
		.io_why = "could not send the greeting to the proxy",
		.eof_why = "proxy closed the connection before the greeting "
			   "was sent",
		.bad_why = "could not build the greeting",
	},
	[S5HS_RECV_METHOD] = {
		.io_why = "could not read the proxy's method choice",
		.eof_why = "proxy closed the connection during the greeting",
		.bad_why = "proxy answered the greeting with something that is not SOCKS5",
	},
	[S5HS_SEND_AUTH] = {
		.io_why = "could not send the username/password",
		.eof_why = "proxy closed the connection before the "
			   "username/password was sent",
		.bad_why = "username or password cannot be encoded",
	},
	[S5HS_RECV_AUTH] = {
		.io_why = "could not read the authentication reply",
		.eof_why = "proxy closed the connection during authentication",
		.bad_why = "proxy sent a malformed authentication reply",
	},
	[S5HS_SEND_REQUEST] = {
		.io_why = "could not send the request to the proxy",
		.eof_why = "proxy closed the connection before the request "
			   "was sent",
		.bad_why = "destination cannot be encoded in a SOCKS5 request",
	},
	[S5HS_RECV_REPLY] = {
		.io_why = "could not read the proxy's reply",
		.eof_why = "proxy closed the connection before its reply was complete",
		.bad_why = "proxy sent a malformed reply",
	},
	[S5HS_RECV_PEER] = {
		.io_why = "could not read the proxy's second BIND reply",
		.eof_why = "proxy closed the connection before the peer "
			   "connected",
		.bad_why = "proxy sent a malformed second BIND reply",
	},
};

int s5_hs_fail(struct s5_hs *hs, int err, const char *why)
{
	hs->state = S5HS_FAILED;
	hs->err = err;
	hs->why = why;
	return err;
}

/* A proxy that goes away mid-handshake shows as EOF, or, when bytes of
 * ours were still unread on its side, as a reset: recv() fails with
 * ECONNRESET, send() with ECONNRESET or EPIPE. Which one a program gets
 * depends on timing alone, so all of them are the one documented hang-up
 * (README, "Errors a program sees"): EPROTO. */
static bool proxy_hung_up(int err)
{
	return err == ECONNRESET || err == EPIPE;
}

/* Fails hs for a hang-up in its current state; see proxy_hung_up(). */
static int closed(struct s5_hs *hs)
{
	if (hs->pipelined && hs->state != S5HS_RECV_METHOD &&
	    hs->state != S5HS_SEND_GREETING)
		return s5_hs_fail(hs, -EPROTO,
				  "proxy closed the connection after a "
				  "pipelined request: it may not accept "
				  "pipelining (unset SOCKS5WRAP_PIPELINE)");
	return s5_hs_fail(hs, -EPROTO, phases[hs->state].eof_why);
}

/* The one method we offer: offering NONE next to USERPASS would let a
 * server skip the credentials the user asked us to present. */
static uint8_t offered_method(const struct s5_hs *hs)
{
	return hs->auth ? S5_METHOD_USERPASS : S5_METHOD_NONE;
}

/* The request the current proxy gets: a CONNECT to the next one of a
 * chain, or the handshake's own. */
static uint8_t cur_cmd(const struct s5_hs *hs)
{
	return hs->hop < hs->n_next ? S5_CMD_CONNECT : hs->cmd;
}

static const struct s5_addr *cur_dst(const struct s5_hs *hs)
{
	return hs->hop < hs->n_next ? &hs->next[hs->hop].addr : &hs->dst;
}

static ssize_t build_message(struct s5_hs *hs)
{
	uint8_t m;

	switch (hs->state) {
	case S5HS_SEND_GREETING:
		m = offered_method(hs);
		return s5_build_greeting(hs->out, sizeof(hs->out), &m, 1);
	case S5HS_SEND_AUTH:
		return s5_build_userpass(hs->out, sizeof(hs->out), hs->user,
					 hs->user_len, hs->pass, hs->pass_len);
	case S5HS_SEND_REQUEST:
		return s5_build_request(hs->out, sizeof(hs->out), cur_cmd(hs),
					cur_dst(hs));
	default:
		return 0;
	}
}

/* Moves to state st; a send state gets its message built now. */
static int enter(struct s5_hs *hs, enum s5_hs_state st)
{
	ssize_t n;

	hs->state = st;
	hs->out_len = 0;
	hs->out_off = 0;
	hs->in_len = 0;
	hs->want = POLLIN;
	n = build_message(hs);
	if (n < 0)
		return s5_hs_fail(hs, (int)n, phases[st].bad_why);
	if (n > 0) {
		hs->out_len = (size_t)n;
		hs->want = POLLOUT;
	}
	return 0;
}

void s5_hs_init(struct s5_hs *hs, uint8_t cmd, const struct s5_addr *dst,
		bool auth, const char *user, size_t ulen, const char *pass,
		size_t plen)
{
	memset(hs, 0, sizeof(*hs));
	hs->cmd = cmd;
	hs->auth = auth;
	if (dst)
		hs->dst = *dst;
	if (auth) {
		/* user_len and pass_len are one octet, as ULEN and PLEN
		 * (RFC 1929 section 2); refuse what would be truncated. */
		if (!user || ulen == 0 || ulen > S5_CRED_MAX ||
		    plen > S5_CRED_MAX || (!pass && plen)) {
			s5_hs_fail(hs, -EINVAL,
				   "username or password length out of range");
			return;
		}
		hs->user = user;
		hs->user_len = (uint8_t)ulen;
		hs->pass = pass;
		hs->pass_len = (uint8_t)plen;
	}
	enter(hs, S5HS_SEND_GREETING);
}

void s5_hs_chain(struct s5_hs *hs, const struct s5_hop *next, size_t n)
{
	if (hs->state != S5HS_SEND_GREETING || hs->out_off != 0 ||
	    hs->pipelined)
		return;
	if (n > UINT8_MAX) {
		s5_hs_fail(hs, -EINVAL, "proxy chain too long");
		return;
	}
	hs->next = n ? next : NULL;
	hs->n_next = (uint8_t)n;
	hs->hop = 0;
}

void s5_hs_pipeline(struct s5_hs *hs)
{
	ssize_t n;

	hs->pipe_each = true;
	if (hs->state != S5HS_SEND_GREETING || hs->out_off != 0)
		return;
	if (hs->auth) {
		n = s5_build_userpass(hs->out + hs->out_len,
				      sizeof(hs->out) - hs->out_len, hs->user,
				      hs->user_len, hs->pass, hs->pass_len);
		if (n < 0) {
			s5_hs_fail(hs, (int)n, phases[S5HS_SEND_AUTH].bad_why);
			return;
		}
		hs->out_len += (size_t)n;
	}
	if (cur_cmd(hs) != 0) {
		n = s5_build_request(hs->out + hs->out_len,
				     sizeof(hs->out) - hs->out_len, cur_cmd(hs),
				     cur_dst(hs));
		if (n < 0) {
			s5_hs_fail(hs, (int)n,
				   phases[S5HS_SEND_REQUEST].bad_why);
			return;
		}
		hs->out_len += (size_t)n;
	}
	hs->pipelined = true;
}

/* After the method or auth phase: a proxy check (cmd 0) ends here; a
 * pipelined request was sent already and only its reply is missing. */
static int after_auth(struct s5_hs *hs)
{
	if (cur_cmd(hs) == 0)
		return enter(hs, S5HS_DONE);
	return enter(hs, hs->pipelined ? S5HS_RECV_REPLY : S5HS_SEND_REQUEST);
}

static int got_method(struct s5_hs *hs)
{
	/* Section 3: X'FF' means none of the offered methods is acceptable. */
	if (hs->method == S5_METHOD_UNACCEPTABLE)
		return s5_hs_fail(hs, -EACCES,
				  "proxy accepts none of our methods");
	if (hs->method != offered_method(hs))
		return s5_hs_fail(hs, -EPROTO,
				  "proxy chose a method we did not offer");
	if (hs->method == S5_METHOD_USERPASS)
		return enter(hs, hs->pipelined ? S5HS_RECV_AUTH : S5HS_SEND_AUTH);
	return after_auth(hs);
}

static int got_auth(struct s5_hs *hs)
{
	/* RFC 1929 section 2: any STATUS but X'00' is a failure, and the
	 * server must close the connection. */
	if (hs->auth_status != 0)
		return s5_hs_fail(hs, -EACCES,
				  "proxy rejected the username/password");
	return after_auth(hs);
}

/* A chain's CONNECT to the next proxy succeeded: the stream now reaches
 * it, and its greeting goes next, with its own credentials. */
static int next_hop(struct s5_hs *hs)
{
	const struct s5_hop *h = &hs->next[hs->hop++];

	hs->auth = h->auth;
	hs->user = h->auth ? h->user : NULL;
	hs->user_len = h->auth ? h->user_len : 0;
	hs->pass = h->auth ? h->pass : NULL;
	hs->pass_len = h->auth ? h->pass_len : 0;
	hs->pipelined = false;
	hs->method = 0;
	hs->auth_status = 0;
	memset(&hs->reply, 0, sizeof(hs->reply));
	if (h->auth && h->user_len == 0)
		return s5_hs_fail(hs, -EINVAL,
				  "username or password length out of range");
	if (enter(hs, S5HS_SEND_GREETING) < 0)
		return hs->err;
	if (hs->pipe_each) {
		s5_hs_pipeline(hs);
		if (hs->state == S5HS_FAILED)
			return hs->err;
	}
	return 0;
}

static int got_reply(struct s5_hs *hs)
{
	if (hs->reply.rep != S5_REP_SUCCEEDED)
		return s5_hs_fail(hs, -s5_rep_errno(hs->reply.rep),
				  s5_rep_str(hs->reply.rep));
	if (hs->hop < hs->n_next)
		return next_hop(hs);
	return enter(hs, S5HS_DONE);
}

/* Parses what hs->in holds for the current state; see s5_proto.h. */
static ssize_t parse_in(struct s5_hs *hs, size_t *need)
{
	switch (hs->state) {
	case S5HS_RECV_METHOD:
		return s5_parse_method_reply(hs->in, hs->in_len, need,
					     &hs->method);
	case S5HS_RECV_AUTH:
		return s5_parse_auth_reply(hs->in, hs->in_len, need,
					   &hs->auth_status);
	default:
		return s5_parse_reply(hs->in, hs->in_len, need, &hs->reply);
	}
}

static int received(struct s5_hs *hs)
{
	switch (hs->state) {
	case S5HS_RECV_METHOD:
		return got_method(hs);
	case S5HS_RECV_AUTH:
		return got_auth(hs);
	default:
		return got_reply(hs);
	}
}

/* The state that reads the answer to what send state st sent. */
static enum s5_hs_state reply_state(enum s5_hs_state st)
{
	switch (st) {
	case S5HS_SEND_GREETING:
		return S5HS_RECV_METHOD;
	case S5HS_SEND_AUTH:
		return S5HS_RECV_AUTH;
	default:
		return S5HS_RECV_REPLY;
	}
}

/* Writes the rest of hs->out. MSG_NOSIGNAL: a proxy that hangs up must
 * give the program EPIPE, not kill it with SIGPIPE. */
static int flush_out(struct s5_hs *hs, int fd, const struct s5_io *io)
{
	const struct phase *ph = &phases[hs->state];
	size_t left;
	ssize_t n;

	while (hs->out_off < hs->out_len) {
		left = hs->out_len - hs->out_off;
		n = io->send(fd, hs->out + hs->out_off, left, MSG_NOSIGNAL);
		if (n > 0 && (size_t)n <= left) {
			hs->out_off += (size_t)n;
			continue;
		}
		if (n >= 0) /* 0 or more than asked: a broken stream */
			return s5_hs_fail(hs, -EIO, ph->io_why);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			hs->want = POLLOUT;
			return -EAGAIN;
		}
		if (proxy_hung_up(errno))
			return closed(hs);
		return s5_hs_fail(hs, -errno, ph->io_why);
	}
	/* Sent: the credentials need not stay in memory any longer. */
	explicit_bzero(hs->out, hs->out_len);
	return enter(hs, reply_state(hs->state));
}

/* Reads the current message, never past its end. */
static int fill_in(struct s5_hs *hs, int fd, const struct s5_io *io)
{
	const struct phase *ph = &phases[hs->state];
	size_t need = 0, ask;
	ssize_t n;

	for (;;) {
		n = parse_in(hs, &need);
		if (n > 0)
			return received(hs);
		if (n < 0 || need <= hs->in_len || need > sizeof(hs->in))
			return s5_hs_fail(hs, -EPROTO, ph->bad_why);
		ask = need - hs->in_len;
		n = io->recv(fd, hs->in + hs->in_len, ask, 0);
		if (n > 0 && (size_t)n <= ask) {
			/* Any byte, even one that is not SOCKS5, shows that
			 * something answers there (try.c does not skip it). */
			if (hs->hop == 0)
				hs->greeted = true;
			hs->in_len += (size_t)n;
			continue;
		}
		if (n == 0)
			return closed(hs);
		if (n > 0)
			return s5_hs_fail(hs, -EIO, ph->io_why);
		if (errno == EINTR && !hs->give_eintr)
			continue;
		if (errno == EINTR)
			return -EINTR;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			hs->want = POLLIN;
			return -EAGAIN;
		}
		if (proxy_hung_up(errno))
			return closed(hs);
		return s5_hs_fail(hs, -errno, ph->io_why);
	}
}

/* Whether the TCP connect that s5_proxy_start began has finished: 0 when
 * it succeeded (the first message goes next), -EAGAIN with want POLLOUT
 * while it runs, the connect's -errno when it failed. */
static int connect_done(struct s5_hs *hs, int fd, const struct s5_io *io)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT, .revents = 0 };
	socklen_t len = sizeof(int);
	int err = 0, n;

	do
		n = io->poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return s5_hs_fail(hs, -errno, "poll() failed");
	if (n == 0) {
		hs->want = POLLOUT;
		return -EAGAIN;
	}
	/* Writable means finished, well or not; SO_ERROR says which. */
	if (io->getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0 && (p.revents & POLLNVAL))
		err = EBADF;
	if (err != 0)
		return s5_hs_fail(hs, -err, "could not connect to the proxy");
	hs->connecting = false;
	hs->want = hs->out_len > hs->out_off ? POLLOUT : POLLIN;
	return 0;
}

int s5_hs_step(struct s5_hs *hs, int fd, const struct s5_io *io)
{
	int r;

	if (hs->connecting && hs->state != S5HS_FAILED) {
		r = connect_done(hs, fd, io);
		if (r < 0)
			return r;
	}
	for (;;) {
		switch (hs->state) {
		case S5HS_DONE:
			return 0;
		case S5HS_FAILED:
			return hs->err;
		case S5HS_SEND_GREETING:
		case S5HS_SEND_AUTH:
		case S5HS_SEND_REQUEST:
			r = flush_out(hs, fd, io);
			break;
		default:
			r = fill_in(hs, fd, io);
			break;
		}
		if (r < 0)
			return r;
	}
}

/* Fails hs with the error behind a poll() that reported POLLERR, POLLHUP
 * or POLLNVAL while the handshake still had nothing to do. */
static int poll_failure(struct s5_hs *hs, int fd, const struct s5_io *io,
			short revents)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (revents & POLLNVAL)
		return s5_hs_fail(hs, -EBADF, "proxy connection failed");
	if (io->getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err != 0 && !proxy_hung_up(err))
		return s5_hs_fail(hs, -err, "proxy connection failed");
	/* a hangup mid-handshake is a truncated exchange */
	return closed(hs);
}

int s5_hs_poll_failed(struct s5_hs *hs, int fd, const struct s5_io *io,
		      short revents)
{
	return poll_failure(hs, fd, io, revents);
}

int s5_hs_run(struct s5_hs *hs, int fd, const struct s5_io *io,
	      int64_t deadline_ms)
{
	short revents = 0;
	int r;

	for (;;) {
		r = s5_hs_step(hs, fd, io);
		if (r != -EAGAIN)
			return r;
		/* After POLLERR/POLLHUP the next send or recv normally
		 * reports the error. If it still would block, waiting again
		 * would only spin: poll keeps returning at once. */
		if (revents & (POLLERR | POLLHUP | POLLNVAL))
			return poll_failure(hs, fd, io, revents);
		r = s5_net_wait(fd, hs->want, io, deadline_ms, &revents);
		if (r == -ETIMEDOUT)
			return s5_hs_expire(hs);
		if (r < 0)
			return s5_hs_fail(hs, r, "poll() failed");
	}
}

bool s5_hs_sent_all(const struct s5_hs *hs)
{
	return hs->pipelined && !hs->connecting && hs->hop == hs->n_next &&
	       (hs->state == S5HS_RECV_METHOD || hs->state == S5HS_RECV_AUTH ||
		hs->state == S5HS_RECV_REPLY);
}

int s5_hs_expire(struct s5_hs *hs)
{
	if (hs->connecting)
		return s5_hs_fail(hs, -ETIMEDOUT, "proxy did not accept the "
						  "connection in time");
	if (hs->pipelined && hs->state != S5HS_RECV_METHOD)
		return s5_hs_fail(hs, -ETIMEDOUT,
				  "no reply to the pipelined request: "
				  "this proxy may not accept pipelining "
				  "(unset SOCKS5WRAP_PIPELINE)");
	return s5_hs_fail(hs, -ETIMEDOUT, "proxy did not answer in time");
}

void s5_hs_await_peer(struct s5_hs *hs)
{
	if (hs->state != S5HS_DONE)
		return;
	hs->state = S5HS_RECV_PEER;
	hs->in_len = 0;
	memset(&hs->reply, 0, sizeof(hs->reply));
}

void s5_hs_wipe(struct s5_hs *hs)
{
	explicit_bzero(hs->out, sizeof(hs->out));
	explicit_bzero(hs->in, sizeof(hs->in));
	hs->out_len = 0;
	hs->out_off = 0;
	hs->in_len = 0;
	hs->user = NULL;
	hs->pass = NULL;
	hs->user_len = 0;
	hs->pass_len = 0;
}
