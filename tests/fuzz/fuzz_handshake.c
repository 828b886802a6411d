/* libFuzzer target for the handshake driver (s5_hs_init, s5_hs_step,
 * s5_hs_run) over a fake struct s5_io.
 *
 * Input: three header bytes, then a script both directions read from in
 * the order the driver calls them:
 *   byte 0: bits 0-1 command (CONNECT, UDP ASSOCIATE, 0 = check only,
 *           BIND), bit 2 auth, bits 3-4 destination (IPv4, IPv6, name,
 *           255-byte name or, with bit 5, one that cannot be encoded),
 *           bit 6 drive with s5_hs_run instead of s5_hs_step,
 *           bit 7 a chain: two more proxies after the first (s5_hs_chain),
 *           the second by IPv4 address with user "u2"/"p2", the third by
 *           name without authentication;
 *           after a BIND's first reply, its second from the same script;
 *   byte 1, 2: user and password lengths (auth only).
 * Each recv/send/poll takes one control byte: below 0xf8 it moves
 * (c % 64) + 1 bytes at most (recv then copies that many script bytes),
 * 0xf8..0xff pick EINTR, EAGAIN, end of file or an error (see below).
 * When the script is used up the server hangs up and sends always work,
 * so every run ends.
 *
 * Beyond "no crash":
 *  - recv is never asked for bytes past the end of the message being
 *    read, and only into hs->in; send only ever sends what is pending;
 *  - the out buffer (which held the credentials) is wiped while the
 *    driver waits for an answer, and s5_hs_wipe clears both buffers;
 *  - the driver ends within a bounded number of steps with 0 or a
 *    negative errno, keeps out_off <= out_len, and once ended stays so
 *    without more I/O;
 *  - what it sent is a prefix of greeting, userpass, request as the
 *    builders make them (for each proxy of a chain in turn, the
 *    request to all but the last a CONNECT to the next), all of it on
 *    success, and on success it read exactly the server's messages and
 *    no byte more (one proxy; a chain's replies are only bounded).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "s5_net.h"
#include "s5_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FD 7
#define SPECIAL 0xf8
#define HOPS 2 /* proxies after the first, in chain mode */
#define LOG_MAX ((HOPS + 1) * \
		 (S5_GREETING_MAX + S5_USERPASS_MAX + S5_REQUEST_MAX))

/* The fake's state: the io functions take no context pointer. */
static struct {
	const uint8_t *p;
	size_t n;
	struct s5_hs *hs;
	unsigned calls;
	int64_t now;
	uint8_t sent[LOG_MAX];
	size_t sent_len;
	/* with BIND's second reply, or a chain's replies */
	uint8_t got[(HOPS + 2) * (S5_REPLY_MAX + 4)];
	size_t got_len;
} sc;

static bool take(uint8_t *c)
{
	if (sc.n == 0)
		return false;
	*c = *sc.p++;
	sc.n--;
	return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Most bytes the message being read can still have: its length once the
 * bytes read so far tell it, else the length of the shortest one. */
static size_t msg_bound(const struct s5_hs *hs)
{
	const uint8_t *in = hs->in;

	switch (hs->state) {
	case S5HS_RECV_METHOD:
	case S5HS_RECV_AUTH:
		return 2;
	case S5HS_RECV_REPLY:
	case S5HS_RECV_PEER:
		/* VER REP RSV ATYP ADDR PORT; the shortest has a one-byte
		 * name: 3 + 1 + 1 + 1 + 2. */
		if (hs->in_len < 4)
			return 8;
		if (in[3] == S5_ATYP_IPV4)
			return 3 + 1 + 4 + 2;
		if (in[3] == S5_ATYP_IPV6)
			return 3 + 1 + 16 + 2;
		if (in[3] != S5_ATYP_DOMAIN)
			return 0;
		return hs->in_len < 5 ? 8 : 3 + 1 + 1 + (size_t)in[4] + 2;
	default:
		return 0; /* no reading in a send state */
	}
}

static ssize_t fake_recv(int fd, void *buf, size_t len, int flags)
{
	struct s5_hs *hs = sc.hs;
	uint8_t c;
	size_t k;

	sc.calls++;
	if (fd != FD || flags != 0 || len == 0 ||
	    (uint8_t *)buf != hs->in + hs->in_len ||
	    hs->in_len + len > sizeof(hs->in) ||
	    hs->in_len + len > msg_bound(hs) ||
	    !all_zero(hs->out, sizeof(hs->out)))
		__builtin_trap();
	if (!take(&c))
		return 0;
	if (c >= SPECIAL) {
		switch (c - SPECIAL) {
		case 0:
			errno = EINTR;
			return -1;
		case 1:
			errno = EAGAIN;
			return -1;
		case 2:
			return 0;
		case 3:
			return (ssize_t)len + 1; /* a broken recv */
		case 4:
			errno = EWOULDBLOCK;
			return -1;
		default:
			errno = ECONNRESET;
			return -1;
		}
	}
	k = (size_t)(c % 64) + 1;
	if (k > len)
		k = len;
	if (k > sc.n)
		k = sc.n;
	if (k == 0)
		return 0;
	memcpy(buf, sc.p, k);
	if (sc.got_len + k > sizeof(sc.got))
		__builtin_trap();
	memcpy(sc.got + sc.got_len, sc.p, k);
	sc.got_len += k;
	sc.p += k;
	sc.n -= k;
	return (ssize_t)k;
}

static ssize_t fake_send(int fd, const void *buf, size_t len, int flags)
{
	struct s5_hs *hs = sc.hs;
	size_t k = len;
	uint8_t c;

	sc.calls++;
	if (fd != FD || !(flags & MSG_NOSIGNAL) || len == 0 ||
	    hs->out_off >= hs->out_len ||
	    (const uint8_t *)buf != hs->out + hs->out_off ||
	    len != hs->out_len - hs->out_off)
		__builtin_trap();
	if (!take(&c)) {
		/* script used up: everything goes */
	} else if (c >= SPECIAL) {
		switch (c - SPECIAL) {
		case 0:
			errno = EINTR;
			return -1;
		case 1:
			errno = EAGAIN;
			return -1;
		case 2:
			return 0;
		case 3:
			return (ssize_t)len + 1;
		case 4:
			errno = EPIPE;
			return -1;
		default:
			break; /* all of it */
		}
	} else {
		k = (size_t)(c % 64) + 1;
		if (k > len)
			k = len;
	}
	if (sc.sent_len + k > sizeof(sc.sent))
		__builtin_trap();
	memcpy(sc.sent + sc.sent_len, buf, k);
	sc.sent_len += k;
	return (ssize_t)k;
}

static int fake_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	uint8_t c;

	sc.calls++;
	if (n != 1 || fds[0].fd != FD || timeout_ms <= 0 ||
	    (fds[0].events != POLLIN && fds[0].events != POLLOUT))
		__builtin_trap();
	fds[0].revents = fds[0].events;
	if (!take(&c) || c < SPECIAL)
		return 1;
	switch (c - SPECIAL) {
	case 0:
		errno = EINTR;
		return -1;
	case 1:
		return 0;
	case 2:
		fds[0].revents = POLLHUP;
		return 1;
	case 3:
		fds[0].revents = POLLERR;
		return 1;
	case 4:
		fds[0].revents = POLLNVAL;
		return 1;
	case 5:
		errno = ENOMEM;
		return -1;
	default:
		fds[0].revents |= POLLHUP;
		return 1;
	}
}

static int fake_getsockopt(int fd, int level, int name, void *val,
			   socklen_t *len)
{
	static const int errs[] = { 0, ECONNRESET, ETIMEDOUT, ECONNREFUSED };
	uint8_t c = 0;
	int err;

	sc.calls++;
	if (fd != FD || level != SOL_SOCKET || name != SO_ERROR ||
	    *len != sizeof(int))
		__builtin_trap();
	take(&c);
	err = errs[c % 4];
	memcpy(val, &err, sizeof(err));
	return 0;
}

static int fake_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)fd;
	(void)sa;
	(void)len;
	__builtin_trap(); /* the handshake never connects */
}

static int fake_fcntl(int fd, int cmd, int arg)
{
	(void)fd;
	(void)cmd;
	(void)arg;
	__builtin_trap(); /* nor touches file flags */
}

static int64_t fake_now(void)
{
	return ++sc.now;
}

static const struct s5_io fake_io = {
	.send = fake_send,
	.recv = fake_recv,
	.poll = fake_poll,
	.connect = fake_connect,
	.getsockopt = fake_getsockopt,
	.fcntl = fake_fcntl,
	.now_ms = fake_now,
};

static void make_dst(struct s5_addr *dst, unsigned kind)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };

	memset(dst, 0, sizeof(*dst));
	dst->port = 443;
	switch (kind) {
	case 0:
		dst->atyp = S5_ATYP_IPV4;
		memcpy(dst->u.v4, "\xc0\x00\x02\x07", 4);
		break;
	case 1:
		dst->atyp = S5_ATYP_IPV6;
		memcpy(dst->u.v6, v6, 16);
		break;
	case 2:
		s5_addr_from_name(dst, "example.com", 11, 80);
		break;
	case 3:
		dst->atyp = S5_ATYP_DOMAIN;
		dst->u.dom.name_len = S5_NAME_MAX;
		memset(dst->u.dom.name, 'a', S5_NAME_MAX);
		break;
	default:
		dst->atyp = 0; /* cannot be encoded */
		break;
	}
}

/* What one proxy's complete exchange sends: greeting, userpass,
 * request. */
static size_t transcript(uint8_t *buf, size_t cap, bool auth, uint8_t cmd,
			 const struct s5_addr *dst, const char *user,
			 size_t ulen, const char *pass, size_t plen)
{
	uint8_t m = auth ? S5_METHOD_USERPASS : S5_METHOD_NONE;
	size_t off;
	ssize_t n;

	n = s5_build_greeting(buf, cap, &m, 1);
	if (n <= 0)
		__builtin_trap();
	off = (size_t)n;
	if (auth) {
		n = s5_build_userpass(buf + off, cap - off, user, ulen, pass,
				      plen);
		if (n <= 0)
			__builtin_trap();
		off += (size_t)n;
	}
	if (cmd) {
		n = s5_build_request(buf + off, cap - off, cmd, dst);
		if (n > 0)
			off += (size_t)n;
	}
	return off;
}

/* The hops of chain mode. */
static void make_hops(struct s5_hop *h)
{
	memset(h, 0, HOPS * sizeof(*h));
	h[0].addr.atyp = S5_ATYP_IPV4;
	memcpy(h[0].addr.u.v4, "\xcb\x00\x71\x05", 4);
	h[0].addr.port = 1090;
	h[0].auth = true;
	memcpy(h[0].user, "u2", 2);
	h[0].user_len = 2;
	memcpy(h[0].pass, "p2", 2);
	h[0].pass_len = 2;
	s5_addr_from_name(&h[1].addr, "p3.test", 7, 1091);
}

/* The whole chain's transcript: each proxy's, the first with the
 * caller's credentials. */
static size_t chain_transcript(uint8_t *buf, size_t cap, bool auth,
			       uint8_t cmd, const struct s5_addr *dst,
			       const char *user, size_t ulen, const char *pass,
			       size_t plen, const struct s5_hop *h, size_t n)
{
	size_t off, i;

	off = transcript(buf, cap, auth, n ? S5_CMD_CONNECT : cmd,
			 n ? &h[0].addr : dst, user, ulen, pass, plen);
	for (i = 0; i < n; i++)
		off += transcript(buf + off, cap - off, h[i].auth,
				  i + 1 < n ? S5_CMD_CONNECT : cmd,
				  i + 1 < n ? &h[i + 1].addr : dst, h[i].user,
				  h[i].user_len, h[i].pass, h[i].pass_len);
	return off;
}

/* On success: exactly the server's messages were read, and the driver
 * saw in them what the parsers see. */
static void check_done(const struct s5_hs *hs, uint8_t cmd)
{
	struct s5_reply r;
	size_t off = 2, need;
	ssize_t n;

	if (sc.got_len < 2 || sc.got[0] != S5_VERSION ||
	    hs->method != sc.got[1] ||
	    hs->method != (hs->auth ? S5_METHOD_USERPASS : S5_METHOD_NONE))
		__builtin_trap();
	if (hs->auth) {
		if (sc.got_len < 4 || sc.got[3] != 0 || hs->auth_status != 0)
			__builtin_trap();
		off = 4;
	}
	if (cmd) {
		memset(&r, 0, sizeof(r));
		n = s5_parse_reply(sc.got + off, sc.got_len - off, &need, &r);
		if (n <= 0 || r.rep != S5_REP_SUCCEEDED ||
		    hs->reply.rep != S5_REP_SUCCEEDED ||
		    hs->reply.bound.atyp != r.bound.atyp ||
		    hs->reply.bound.port != r.bound.port)
			__builtin_trap();
		off += (size_t)n;
	}
	if (sc.got_len != off || hs->err != 0)
		__builtin_trap();
}

/* Runs the handshake with s5_hs_step, as an event loop would. */
static int drive_steps(struct s5_hs *hs, size_t bound)
{
	size_t i;
	int r;

	for (i = 0; i < bound; i++) {
		r = s5_hs_step(hs, FD, &fake_io);
		if (hs->out_off > hs->out_len || hs->in_len > sizeof(hs->in))
			__builtin_trap();
		if (r != -EAGAIN)
			return r;
		if (hs->state == S5HS_DONE || hs->state == S5HS_FAILED)
			__builtin_trap();
		if (hs->want != POLLIN && hs->want != POLLOUT)
			__builtin_trap();
	}
	__builtin_trap(); /* more waits than script bytes: a loop */
}

/* BIND: after the first reply, the second from what the script has
 * left; read to its end and not a byte further, or failed with a why. */
static void second_reply(struct s5_hs *hs, size_t bound)
{
	size_t before = sc.got_len, need;
	struct s5_reply rep;
	ssize_t n;
	int r;

	s5_hs_await_peer(hs);
	if (hs->state != S5HS_RECV_PEER)
		__builtin_trap();
	r = drive_steps(hs, bound);
	if (r == -EAGAIN || r > 0)
		__builtin_trap();
	if (r != 0) {
		if (hs->state != S5HS_FAILED || hs->err != r || !hs->why)
			__builtin_trap();
		return;
	}
	memset(&rep, 0, sizeof(rep));
	n = s5_parse_reply(sc.got + before, sc.got_len - before, &need, &rep);
	if (hs->state != S5HS_DONE || n <= 0 ||
	    (size_t)n != sc.got_len - before ||
	    rep.rep != S5_REP_SUCCEEDED || hs->reply.rep != rep.rep ||
	    hs->reply.bound.atyp != rep.bound.atyp ||
	    hs->reply.bound.port != rep.bound.port)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t cmds[4] = { S5_CMD_CONNECT, S5_CMD_UDP_ASSOCIATE,
					 0, S5_CMD_BIND };
	uint8_t expect[LOG_MAX];
	struct s5_hop hops[HOPS];
	struct s5_hs *hs;
	struct s5_addr dst;
	size_t ulen = 0, plen = 0, elen;
	char *user = NULL, *pass = NULL;
	unsigned flags, calls, kind;
	bool auth, chain;
	uint8_t cmd;
	int r;

	if (size < 3)
		return 0;
	flags = data[0];
	cmd = cmds[flags & 3];
	auth = flags & 4;
	chain = flags & 0x80;
	make_hops(hops);
	kind = flags >> 3 & 3;
	make_dst(&dst, kind == 3 && (flags & 0x20) ? 4 : kind);
	if (auth) {
		/* Exact sizes: ASan sees a read past either. */
		ulen = data[1];
		plen = data[2];
		user = malloc(ulen);
		pass = malloc(plen);
		if ((!user && ulen) || (!pass && plen))
			abort();
		if (ulen)
			memset(user, 'u', ulen);
		if (plen)
			memset(pass, 'p', plen);
	}
	hs = malloc(sizeof(*hs));
	if (!hs)
		abort();
	memset(&sc, 0, sizeof(sc));
	sc.p = data + 3;
	sc.n = size - 3;
	sc.hs = hs;
	sc.now = 1000;

	s5_hs_init(hs, cmd, &dst, auth, user, ulen, pass, plen);
	if (auth && ulen == 0) {
		if (hs->state != S5HS_FAILED || hs->err != -EINVAL ||
		    s5_hs_step(hs, FD, &fake_io) != -EINVAL || sc.calls)
			__builtin_trap();
		goto out;
	}
	if (hs->state != S5HS_SEND_GREETING)
		__builtin_trap();
	if (chain)
		s5_hs_chain(hs, hops, HOPS);
	if (flags & 0x40)
		r = s5_hs_run(hs, FD, &fake_io, sc.now + 600000);
	else
		r = drive_steps(hs, size + 8);
	if (r == -EAGAIN || r > 0)
		__builtin_trap();
	if (r == 0 ? hs->state != S5HS_DONE :
		     hs->state != S5HS_FAILED || hs->err != r || !hs->why)
		__builtin_trap();
	/* Once ended, it stays ended, without I/O. */
	calls = sc.calls;
	if (s5_hs_step(hs, FD, &fake_io) != r || sc.calls != calls)
		__builtin_trap();

	elen = chain_transcript(expect, sizeof(expect), auth, cmd, &dst, user,
				ulen, pass, plen, hops, chain ? HOPS : 0);
	if (sc.sent_len > elen || memcmp(sc.sent, expect, sc.sent_len) != 0)
		__builtin_trap();
	if (r == 0) {
		if (sc.sent_len != elen || hs->hop != (chain ? HOPS : 0))
			__builtin_trap();
		if (!chain)
			check_done(hs, cmd);
		if (cmd == S5_CMD_BIND)
			second_reply(hs, size + 8);
	}
	s5_hs_wipe(hs);
	if (!all_zero(hs->out, sizeof(hs->out)) ||
	    !all_zero(hs->in, sizeof(hs->in)) || hs->user || hs->pass)
		__builtin_trap();
out:
	free(hs);
	free(user);
	free(pass);
	return 0;
}
