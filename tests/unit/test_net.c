/* Unit tests for src/net: the handshake driver, connect with a deadline,
 * and the whole proxy connect, through a scripted fake I/O seam (no
 * sleeping: the fake clock moves only when the fake poll says so), plus
 * one run over a real loopback socket against a tiny server thread. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "s5_net.h"

/* ---- the fake seam ---- */

enum act_kind {
	ACT_DATA,    /* recv/send: move up to n bytes (0: all asked) */
	ACT_ERR,     /* fail with err */
	ACT_EOF,     /* recv: return 0 */
	ACT_READY,   /* poll: ready with revents n (0: the events asked) */
	ACT_TIMEOUT, /* poll: the clock moves by the timeout, return 0 */
	ACT_ZERO,    /* poll: return 0, the clock stays (a coarse clock) */
};

struct act {
	enum act_kind kind;
	size_t n;
	int err;
};

#define MAX_ACTS 128

/* Actions are taken in order; dflt when the list is used up. */
struct script {
	struct act a[MAX_ACTS];
	size_t n, pos;
	struct act dflt;
};

static struct fake {
	/* What the server sends: one stream, with the end of every message
	 * that the handshake may read. Bytes after the last end belong to
	 * the program and must never be read. */
	uint8_t srv[1024];
	size_t srv_len, srv_pos;
	size_t msg_end[8];
	size_t n_msgs;
	struct script rx;
	size_t recv_calls;

	uint8_t sent[2048];
	size_t sent_len;
	struct script tx;
	size_t send_calls;

	struct script po;
	int64_t now, poll_cost; /* every poll call costs poll_cost ms */
	int poll_timeouts[MAX_ACTS];
	short poll_events;
	size_t poll_calls;

	int connect_err; /* 0: connect succeeds at once */
	size_t connect_calls;
	int flags_at_connect;
	int so_error;

	int flags; /* F_GETFL / F_SETFL */
	bool zero_poll_ok; /* the asynchronous path looks with timeout 0 */
	int getfl_err, setfl_err;
	size_t setfl_calls;
} F;

static void push(struct script *s, enum act_kind kind, size_t n, int err)
{
	assert_true(s->n < MAX_ACTS);
	s->a[s->n].kind = kind;
	s->a[s->n].n = n;
	s->a[s->n].err = err;
	s->n++;
}

static struct act next_act(struct script *s)
{
	if (s->pos < s->n)
		return s->a[s->pos++];
	return s->dflt;
}

static size_t current_msg_end(void)
{
	size_t i;

	for (i = 0; i < F.n_msgs; i++)
		if (F.msg_end[i] > F.srv_pos)
			return F.msg_end[i];
	return 0;
}

static ssize_t fake_recv(int fd, void *buf, size_t len, int flags)
{
	size_t end = current_msg_end(), k;
	struct act a;

	(void)fd;
	(void)flags;
	F.recv_calls++;
	/* The driver must never ask for more than the message still lacks:
	 * what follows the reply is the program's data. */
	assert_true(len > 0);
	assert_true(end != 0);
	assert_true(F.srv_pos + len <= end);
	a = next_act(&F.rx);
	if (a.kind == ACT_ERR) {
		errno = a.err;
		return -1;
	}
	if (a.kind == ACT_EOF)
		return 0;
	k = len;
	if (a.n && a.n < k)
		k = a.n;
	if (k > F.srv_len - F.srv_pos)
		k = F.srv_len - F.srv_pos;
	memcpy(buf, F.srv + F.srv_pos, k);
	F.srv_pos += k;
	return (ssize_t)k;
}

static ssize_t fake_send(int fd, const void *buf, size_t len, int flags)
{
	struct act a;
	size_t k;

	(void)fd;
	F.send_calls++;
	assert_true(flags & MSG_NOSIGNAL);
	assert_true(len > 0);
	a = next_act(&F.tx);
	if (a.kind == ACT_ERR) {
		errno = a.err;
		return -1;
	}
	k = len;
	if (a.n && a.n < k)
		k = a.n;
	assert_true(F.sent_len + k <= sizeof(F.sent));
	memcpy(F.sent + F.sent_len, buf, k);
	F.sent_len += k;
	return (ssize_t)k;
}

static int fake_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	struct act a;

	assert_int_equal(n, 1);
	assert_true(timeout_ms > 0 || (F.zero_poll_ok && timeout_ms == 0));
	assert_true(F.poll_calls < MAX_ACTS);
	F.poll_timeouts[F.poll_calls++] = timeout_ms;
	F.poll_events = fds[0].events;
	F.now += F.poll_cost;
	a = next_act(&F.po);
	switch (a.kind) {
	case ACT_ERR:
		errno = a.err;
		return -1;
	case ACT_TIMEOUT:
		F.now += timeout_ms;
		return 0;
	case ACT_ZERO:
		return 0;
	default:
		fds[0].revents = a.n ? (short)a.n : fds[0].events;
		return 1;
	}
}

static int fake_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)fd;
	(void)sa;
	(void)len;
	F.connect_calls++;
	F.flags_at_connect = F.flags;
	if (F.connect_err) {
		errno = F.connect_err;
		return -1;
	}
	return 0;
}

static int fake_getsockopt(int fd, int level, int name, void *val,
			   socklen_t *len)
{
	(void)fd;
	assert_int_equal(level, SOL_SOCKET);
	assert_int_equal(name, SO_ERROR);
	assert_int_equal(*len, sizeof(int));
	memcpy(val, &F.so_error, sizeof(int));
	return 0;
}

static int fake_fcntl(int fd, int cmd, int arg)
{
	(void)fd;
	if (cmd == F_GETFL) {
		if (F.getfl_err) {
			errno = F.getfl_err;
			return -1;
		}
		return F.flags;
	}
	assert_int_equal(cmd, F_SETFL);
	F.setfl_calls++;
	if (F.setfl_err) {
		errno = F.setfl_err;
		return -1;
	}
	F.flags = arg;
	return 0;
}

static int64_t fake_now(void)
{
	return F.now;
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

static int reset_fake(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	F.now = 1000;
	F.rx.dflt.kind = ACT_DATA;
	F.tx.dflt.kind = ACT_DATA;
	F.po.dflt.kind = ACT_READY;
	return 0;
}

/* A server message of full bytes, of which only the first have arrive. */
static void srv_msg_cut(const uint8_t *b, size_t have, size_t full)
{
	assert_true(F.srv_len + have <= sizeof(F.srv));
	assert_true(F.n_msgs < 8);
	memcpy(F.srv + F.srv_len, b, have);
	F.msg_end[F.n_msgs++] = F.srv_len + full;
	F.srv_len += have;
}

static void srv_msg(const uint8_t *b, size_t n)
{
	srv_msg_cut(b, n, n);
}

/* Bytes the server sends after the reply: the program's, not ours. */
static void srv_after(const uint8_t *b, size_t n)
{
	assert_true(F.srv_len + n <= sizeof(F.srv));
	memcpy(F.srv + F.srv_len, b, n);
	F.srv_len += n;
}

/* ---- fixtures ---- */

static const uint8_t M_NONE[] = { 5, 0 };
static const uint8_t M_USERPASS[] = { 5, 2 };
static const uint8_t AUTH_OK[] = { 1, 0 };
static const uint8_t REPLY_V4[] = { 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90 };

static const uint8_t GREETING_NONE[] = { 5, 1, 0 };
static const uint8_t GREETING_USERPASS[] = { 5, 1, 2 };
static const uint8_t USERPASS[] = { 1, 4, 'u', 's', 'e', 'r',
				    6, 's', 'e', 'c', 'r', 'e', 't' };
/* CONNECT 192.0.2.7:443 */
static const uint8_t REQUEST[] = { 5, 1, 0, 1, 192, 0, 2, 7, 0x01, 0xbb };

static struct s5_addr dst_v4(void)
{
	struct s5_addr a;

	memset(&a, 0, sizeof(a));
	a.atyp = S5_ATYP_IPV4;
	a.u.v4[0] = 192;
	a.u.v4[1] = 0;
	a.u.v4[2] = 2;
	a.u.v4[3] = 7;
	a.port = 443;
	return a;
}

static void init_plain(struct s5_hs *hs, uint8_t cmd)
{
	struct s5_addr d = dst_v4();

	s5_hs_init(hs, cmd, &d, false, NULL, 0, NULL, 0);
}

static void init_auth(struct s5_hs *hs, uint8_t cmd)
{
	struct s5_addr d = dst_v4();

	s5_hs_init(hs, cmd, &d, true, "user", 4, "secret", 6);
}

static void assert_sent(const uint8_t *a, size_t na, const uint8_t *b,
			size_t nb, const uint8_t *c, size_t nc)
{
	assert_int_equal(F.sent_len, na + nb + nc);
	assert_memory_equal(F.sent, a, na);
	if (nb)
		assert_memory_equal(F.sent + na, b, nb);
	if (nc)
		assert_memory_equal(F.sent + na + nb, c, nc);
}

static void assert_failed(const struct s5_hs *hs, int r, int err)
{
	assert_int_equal(r, err);
	assert_int_equal(hs->err, err);
	assert_int_equal(hs->state, S5HS_FAILED);
	assert_non_null(hs->why);
}

static bool contains(const void *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* ---- chains (s5_hs_chain) ---- */

/* Proxy 2 at 203.0.113.5:1090 with user "u2"/"p2", proxy 3 by the name
 * "p3.test":1091 without credentials. */
static void chain_hops(struct s5_hop h[2])
{
	memset(h, 0, 2 * sizeof(*h));
	h[0].addr.atyp = S5_ATYP_IPV4;
	h[0].addr.u.v4[0] = 203;
	h[0].addr.u.v4[1] = 0;
	h[0].addr.u.v4[2] = 113;
	h[0].addr.u.v4[3] = 5;
	h[0].addr.port = 1090;
	h[0].auth = true;
	memcpy(h[0].user, "u2", 3);
	h[0].user_len = 2;
	memcpy(h[0].pass, "p2", 3);
	h[0].pass_len = 2;
	h[1].addr.atyp = S5_ATYP_DOMAIN;
	memcpy(h[1].addr.u.dom.name, "p3.test", 8);
	h[1].addr.u.dom.name_len = 7;
	h[1].addr.port = 1091;
}

static const uint8_t REQ_HOP2[] = { 5, 1, 0, 1, 203, 0, 113, 5, 0x04, 0x42 };
static const uint8_t UP_HOP2[] = { 1, 2, 'u', '2', 2, 'p', '2' };
static const uint8_t REQ_HOP3[] = { 5, 1, 0, 3, 7, 'p', '3', '.', 't', 'e',
				    's', 't', 0x04, 0x43 };

static void chain_connects_through_each_proxy_with_its_credentials(
	void **state)
{
	uint8_t want[256];
	struct s5_hop h[2];
	struct s5_hs hs;
	size_t n = 0;

	(void)state;
	chain_hops(h);
	/* proxy 1: user/pass "user"/"secret", CONNECT to proxy 2 */
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	/* proxy 2: "u2"/"p2", CONNECT to proxy 3 by name */
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	/* proxy 3: no authentication, the target */
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	srv_after((const uint8_t *)"DATA", 4);
	init_auth(&hs, S5_CMD_CONNECT);
	s5_hs_chain(&hs, h, 2);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(hs.state, S5HS_DONE);
	assert_int_equal(hs.hop, 2);
	assert_true(hs.greeted);
#define ADD(x) (memcpy(want + n, x, sizeof(x)), n += sizeof(x))
	ADD(GREETING_USERPASS);
	ADD(USERPASS);
	ADD(REQ_HOP2);
	ADD(GREETING_USERPASS);
	ADD(UP_HOP2);
	ADD(REQ_HOP3);
	ADD(GREETING_NONE);
	ADD(REQUEST);
#undef ADD
	assert_int_equal(F.sent_len, n);
	assert_memory_equal(F.sent, want, n);
	/* the program's bytes after the last reply stay unread */
	assert_int_equal(F.srv_pos, F.srv_len - 4);
}

static void chain_failure_at_the_second_proxy_says_which(void **state)
{
	static const uint8_t refused[] = { 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };
	struct s5_hop h[2];
	struct s5_hs hs;
	int r;

	(void)state;
	chain_hops(h);
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(refused, sizeof(refused));
	init_plain(&hs, S5_CMD_CONNECT);
	s5_hs_chain(&hs, h, 2);
	r = s5_hs_step(&hs, 3, &fake_io);
	assert_failed(&hs, r, -ECONNREFUSED);
	assert_int_equal(hs.hop, 1); /* proxy 2 (hop 1) refused proxy 3 */
	assert_true(hs.greeted);
}

static void chain_pipelines_each_proxy_separately(void **state)
{
	uint8_t want[256];
	struct s5_hop h[1];
	struct s5_hop two[2];
	struct s5_hs hs;
	size_t n = 0;

	(void)state;
	chain_hops(two);
	h[0] = two[0];
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	s5_hs_chain(&hs, h, 1);
	s5_hs_pipeline(&hs);
	/* proxy 1's three messages leave at once; only after its reply
	 * may proxy 2's go (proxy 1 would otherwise relay them to
	 * nowhere): the first send is greeting + request to proxy 2. */
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	assert_false(s5_hs_sent_all(&hs)); /* not the last proxy yet */
	assert_int_equal(F.sent_len, sizeof(GREETING_NONE) + sizeof(REQ_HOP2));
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
#define ADD(x) (memcpy(want + n, x, sizeof(x)), n += sizeof(x))
	ADD(GREETING_NONE);
	ADD(REQ_HOP2);
	ADD(GREETING_USERPASS);
	ADD(UP_HOP2);
	ADD(REQUEST);
#undef ADD
	assert_int_equal(F.sent_len, n);
	assert_memory_equal(F.sent, want, n);
	assert_int_equal(F.send_calls, 2);
}

static void chain_check_stops_after_the_last_proxys_authentication(
	void **state)
{
	struct s5_hop h[2];
	struct s5_hs hs;

	(void)state;
	chain_hops(h);
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	srv_msg(M_NONE, sizeof(M_NONE));
	s5_hs_init(&hs, 0, NULL, false, NULL, 0, NULL, 0);
	s5_hs_chain(&hs, h, 2);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(hs.state, S5HS_DONE);
	assert_int_equal(hs.hop, 2);
	assert_int_equal(F.srv_pos, F.srv_len);
}

static void unanswered_greeting_leaves_greeted_false(void **state)
{
	struct s5_hs hs;
	int r;

	(void)state;
	srv_msg_cut(M_NONE, 0, sizeof(M_NONE)); /* never comes */
	init_plain(&hs, S5_CMD_CONNECT);
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	r = s5_hs_expire(&hs);
	assert_failed(&hs, r, -ETIMEDOUT);
	assert_false(hs.greeted);
}

static void garbage_for_a_greeting_counts_as_an_answer(void **state)
{
	static const uint8_t http[] = { 'H', 'T' };
	struct s5_hs hs;
	int r;

	(void)state;
	srv_msg(http, sizeof(http));
	init_plain(&hs, S5_CMD_CONNECT);
	r = s5_hs_step(&hs, 3, &fake_io);
	assert_failed(&hs, r, -EPROTO);
	assert_true(hs.greeted); /* something answers there: not skipped */
}

/* ---- the happy paths ---- */

static void handshake_without_auth_sends_greeting_then_request(void **state)
{
	struct s5_hs hs;

	(void)state;
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(hs.state, S5HS_DONE);
	assert_int_equal(hs.err, 0);
	assert_int_equal(hs.method, S5_METHOD_NONE);
	assert_sent(GREETING_NONE, sizeof(GREETING_NONE), REQUEST,
		    sizeof(REQUEST), NULL, 0);
	assert_int_equal(hs.reply.rep, 0);
	assert_int_equal(hs.reply.bound.atyp, S5_ATYP_IPV4);
	assert_int_equal(hs.reply.bound.port, 8080);
	assert_int_equal(hs.reply.bound.u.v4[0], 10);
	assert_int_equal(hs.reply.bound.u.v4[3], 1);
}

static void handshake_with_auth_sends_userpass_between_greeting_and_request(
	void **state)
{
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_auth(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(hs.state, S5HS_DONE);
	assert_int_equal(hs.method, S5_METHOD_USERPASS);
	assert_int_equal(hs.auth_status, 0);
	assert_sent(GREETING_USERPASS, sizeof(GREETING_USERPASS), USERPASS,
		    sizeof(USERPASS), REQUEST, sizeof(REQUEST));
}

static void empty_password_is_sent_as_plen_zero(void **state)
{
	static const uint8_t up[] = { 1, 1, 'u', 0 };
	struct s5_addr d = dst_v4();
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	s5_hs_init(&hs, S5_CMD_CONNECT, &d, true, "u", 1, "", 0);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_sent(GREETING_USERPASS, sizeof(GREETING_USERPASS), up,
		    sizeof(up), REQUEST, sizeof(REQUEST));
}

static void auth_reply_with_socks_version_byte_is_accepted(void **state)
{
	static const uint8_t ok5[] = { 5, 0 };
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(ok5, sizeof(ok5));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_auth(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
}

static void handshake_reads_one_byte_per_recv_call(void **state)
{
	struct s5_hs hs;

	(void)state;
	F.rx.dflt.n = 1;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_auth(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(F.recv_calls, 2 + 2 + sizeof(REPLY_V4));
	assert_int_equal(F.srv_pos, F.srv_len);
	assert_int_equal(hs.reply.bound.port, 8080);
}

static void eintr_before_every_recv_and_send_is_retried(void **state)
{
	struct s5_hs hs;
	size_t i;

	(void)state;
	for (i = 0; i < 40; i++) {
		push(&F.rx, ACT_ERR, 0, EINTR);
		push(&F.rx, ACT_DATA, 1, 0);
		push(&F.tx, ACT_ERR, 0, EINTR);
		push(&F.tx, ACT_DATA, 1, 0);
	}
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_auth(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_sent(GREETING_USERPASS, sizeof(GREETING_USERPASS), USERPASS,
		    sizeof(USERPASS), REQUEST, sizeof(REQUEST));
	assert_int_equal(F.srv_pos, F.srv_len);
}

static void partial_sends_continue_from_where_they_stopped(void **state)
{
	struct s5_hs hs;
	size_t calls;

	(void)state;
	push(&F.tx, ACT_DATA, 2, 0); /* greeting: 2 + 1 */
	push(&F.tx, ACT_DATA, 0, 0);
	push(&F.tx, ACT_DATA, 5, 0); /* userpass: 5 + 3 + 5 */
	push(&F.tx, ACT_DATA, 3, 0);
	push(&F.tx, ACT_DATA, 0, 0);
	push(&F.tx, ACT_DATA, 9, 0); /* request: 9 + 1 */
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_auth(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	calls = F.send_calls;
	assert_int_equal(calls, 2 + 3 + 2);
	assert_sent(GREETING_USERPASS, sizeof(GREETING_USERPASS), USERPASS,
		    sizeof(USERPASS), REQUEST, sizeof(REQUEST));
}

static void would_block_recv_returns_eagain_and_wants_pollin(void **state)
{
	struct s5_hs hs;

	(void)state;
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	push(&F.rx, ACT_DATA, 1, 0);
	push(&F.rx, ACT_ERR, 0, EWOULDBLOCK);
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	assert_int_equal(hs.want, POLLIN);
	assert_int_equal(hs.state, S5HS_RECV_METHOD);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	assert_int_equal(hs.in_len, 1);
	assert_int_equal(hs.err, 0);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(hs.state, S5HS_DONE);
}


/* ---- BIND: the second reply ---- */

/* The peer 203.0.113.7:20 connected. */
static const uint8_t PEER_V4[] = { 5, 0, 0, 1, 203, 0, 113, 7, 0, 20 };

static void bind_runs_to_the_first_reply(struct s5_hs *hs)
{
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(hs, S5_CMD_BIND);
	assert_int_equal(s5_hs_step(hs, 3, &fake_io), 0);
	assert_int_equal(hs->state, S5HS_DONE);
	assert_int_equal(F.sent[sizeof(GREETING_NONE) + 1], S5_CMD_BIND);
	assert_int_equal(hs->reply.bound.port, 8080);
	s5_hs_await_peer(hs);
	assert_int_equal(hs->state, S5HS_RECV_PEER);
}

static void bind_second_reply_names_the_peer_and_leaves_its_data(
	void **state)
{
	static const uint8_t data[] = "from the peer";
	struct s5_hs hs;

	(void)state;
	bind_runs_to_the_first_reply(&hs);
	srv_msg(PEER_V4, sizeof(PEER_V4));
	srv_after(data, sizeof(data));
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(hs.state, S5HS_DONE);
	assert_int_equal(hs.reply.rep, 0);
	assert_int_equal(hs.reply.bound.atyp, S5_ATYP_IPV4);
	assert_int_equal(hs.reply.bound.u.v4[0], 203);
	assert_int_equal(hs.reply.bound.u.v4[3], 7);
	assert_int_equal(hs.reply.bound.port, 20);
	/* not one byte of the peer's stream was taken */
	assert_int_equal(F.srv_pos, F.srv_len - sizeof(data));
}

static void bind_second_reply_waits_without_blocking(void **state)
{
	struct s5_hs hs;

	(void)state;
	bind_runs_to_the_first_reply(&hs);
	srv_msg(PEER_V4, sizeof(PEER_V4));
	/* the script was empty so far: what follows is for the second */
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	push(&F.rx, ACT_DATA, 3, 0);
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	assert_int_equal(hs.want, POLLIN);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	assert_int_equal(hs.in_len, 3);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(hs.reply.bound.port, 20);
}

static void bind_second_reply_gives_eintr_when_asked(void **state)
{
	struct s5_hs hs;

	(void)state;
	bind_runs_to_the_first_reply(&hs);
	srv_msg(PEER_V4, sizeof(PEER_V4));
	hs.give_eintr = true;
	push(&F.rx, ACT_ERR, 0, EINTR);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EINTR);
	assert_int_equal(hs.state, S5HS_RECV_PEER);
	assert_int_equal(hs.err, 0);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(hs.reply.bound.port, 20);
}

static void bind_second_reply_failure_code_is_its_errno(void **state)
{
	static const uint8_t refused[] = { 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };
	struct s5_hs hs;
	int r;

	(void)state;
	bind_runs_to_the_first_reply(&hs);
	srv_msg(refused, sizeof(refused));
	r = s5_hs_step(&hs, 3, &fake_io);
	assert_failed(&hs, r, -ECONNREFUSED);
	assert_int_equal(hs.reply.rep, 5);
}

static void bind_proxy_closing_before_the_peer_is_eproto(void **state)
{
	struct s5_hs hs;
	int r;

	(void)state;
	bind_runs_to_the_first_reply(&hs);
	srv_msg(PEER_V4, sizeof(PEER_V4));
	push(&F.rx, ACT_EOF, 0, 0);
	r = s5_hs_step(&hs, 3, &fake_io);
	assert_failed(&hs, r, -EPROTO);
	assert_non_null(strstr(hs.why, "before the peer connected"));
}

static void bind_garbage_second_reply_is_eproto(void **state)
{
	static const uint8_t junk[] = { 'H', 'T', 'T', 'P', '/', '1',
					'.', '1', ' ', '2' };
	struct s5_hs hs;
	int r;

	(void)state;
	bind_runs_to_the_first_reply(&hs);
	srv_msg(junk, sizeof(junk));
	r = s5_hs_step(&hs, 3, &fake_io);
	assert_failed(&hs, r, -EPROTO);
}

static void await_peer_leaves_an_unfinished_handshake_alone(void **state)
{
	struct s5_hs hs;

	(void)state;
	init_plain(&hs, S5_CMD_BIND);
	s5_hs_await_peer(&hs);
	assert_int_equal(hs.state, S5HS_SEND_GREETING);
}

static void would_block_send_returns_eagain_and_wants_pollout(void **state)
{
	struct s5_hs hs;

	(void)state;
	push(&F.tx, ACT_DATA, 1, 0);
	push(&F.tx, ACT_ERR, 0, EAGAIN);
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	assert_int_equal(hs.want, POLLOUT);
	assert_int_equal(hs.state, S5HS_SEND_GREETING);
	assert_int_equal(hs.out_off, 1);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_sent(GREETING_NONE, sizeof(GREETING_NONE), REQUEST,
		    sizeof(REQUEST), NULL, 0);
}

/* ---- what the proxy may answer ---- */

static void method_reply_that_is_not_socks5_is_eproto(void **state)
{
	static const uint8_t bad[] = { 4, 0 };
	struct s5_hs hs;

	(void)state;
	srv_msg(bad, sizeof(bad));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
}

static void method_ff_is_eacces_because_no_method_is_acceptable(void **state)
{
	static const uint8_t none[] = { 5, 0xff };
	struct s5_hs hs;

	(void)state;
	srv_msg(none, sizeof(none));
	init_auth(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EACCES);
	assert_string_equal(hs.why, "proxy accepts none of our methods");
	assert_sent(GREETING_USERPASS, sizeof(GREETING_USERPASS), NULL, 0,
		    NULL, 0);
}

static void method_we_did_not_offer_is_eproto(void **state)
{
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
}

static void proxy_skipping_the_offered_auth_is_eproto(void **state)
{
	struct s5_hs hs;

	(void)state;
	srv_msg(M_NONE, sizeof(M_NONE));
	init_auth(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
	/* the credentials never left */
	assert_int_equal(F.sent_len, sizeof(GREETING_USERPASS));
}

static void rejected_credentials_are_eacces(void **state)
{
	static const uint8_t no[] = { 1, 1 };
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(no, sizeof(no));
	init_auth(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EACCES);
	assert_string_equal(hs.why, "proxy rejected the username/password");
	assert_int_equal(hs.auth_status, 1);
}

static void malformed_auth_reply_is_eproto(void **state)
{
	static const uint8_t bad[] = { 7, 0 };
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(bad, sizeof(bad));
	init_auth(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
}

static void every_failed_reply_code_maps_to_its_errno(void **state)
{
	static const int table[] = { 0, ECONNREFUSED, EACCES, ENETUNREACH,
				     EHOSTUNREACH, ECONNREFUSED, ETIMEDOUT,
				     EOPNOTSUPP, EAFNOSUPPORT };
	uint8_t reply[sizeof(REPLY_V4)];
	struct s5_hs hs;
	unsigned rep;
	int want;

	for (rep = 1; rep <= 255; rep++) {
		reset_fake(state);
		memcpy(reply, REPLY_V4, sizeof(reply));
		reply[1] = (uint8_t)rep;
		srv_msg(M_NONE, sizeof(M_NONE));
		srv_msg(reply, sizeof(reply));
		init_plain(&hs, S5_CMD_CONNECT);
		want = rep < 9 ? table[rep] : ECONNREFUSED;
		assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -want);
		assert_string_equal(hs.why, s5_rep_str((uint8_t)rep));
		assert_int_equal(hs.reply.rep, rep);
		/* the whole reply was read, nothing more */
		assert_int_equal(F.srv_pos, F.srv_len);
	}
}

static void reply_cut_short_by_eof_is_eproto_at_every_length(void **state)
{
	struct s5_hs hs;
	size_t k;

	for (k = 0; k < sizeof(REPLY_V4); k++) {
		reset_fake(state);
		srv_msg(M_NONE, sizeof(M_NONE));
		srv_msg_cut(REPLY_V4, k, sizeof(REPLY_V4));
		init_plain(&hs, S5_CMD_CONNECT);
		assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
		assert_string_equal(hs.why, "proxy closed the connection "
				    "before its reply was complete");
	}
}

static void eof_during_greeting_is_eproto(void **state)
{
	struct s5_hs hs;

	(void)state;
	srv_msg_cut(M_NONE, 1, 2);
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
	assert_string_equal(hs.why,
			    "proxy closed the connection during the greeting");
}

static void eof_during_authentication_is_eproto(void **state)
{
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg_cut(AUTH_OK, 0, 2);
	init_auth(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
}

static void malformed_reply_is_eproto(void **state)
{
	static const uint8_t bad_ver[] = { 4, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t bad_atyp[] = { 5, 0, 0, 9, 0, 0, 0, 0, 0, 0 };
	static const uint8_t empty_name[] = { 5, 0, 0, 3, 0, 0, 0, 0 };
	const uint8_t *bad[] = { bad_ver, bad_atyp, empty_name };
	struct s5_hs hs;
	size_t i;

	for (i = 0; i < 3; i++) {
		reset_fake(state);
		srv_msg(M_NONE, sizeof(M_NONE));
		srv_msg(bad[i], 8);
		init_plain(&hs, S5_CMD_CONNECT);
		assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
		assert_string_equal(hs.why, "proxy sent a malformed reply");
	}
}

static void reply_with_domain_bound_address_is_parsed(void **state)
{
	static const uint8_t reply[] = { 5, 0, 0, 3, 11, 'e', 'x', 'a', 'm',
					 'p', 'l', 'e', '.', 'o', 'r', 'g',
					 0, 80 };
	struct s5_hs hs;
	size_t chunk;

	for (chunk = 0; chunk <= 1; chunk++) {
		reset_fake(state);
		F.rx.dflt.n = chunk;
		srv_msg(M_NONE, sizeof(M_NONE));
		srv_msg(reply, sizeof(reply));
		init_plain(&hs, S5_CMD_CONNECT);
		assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
		assert_int_equal(hs.reply.bound.atyp, S5_ATYP_DOMAIN);
		assert_int_equal(hs.reply.bound.u.dom.name_len, 11);
		assert_string_equal(hs.reply.bound.u.dom.name, "example.org");
		assert_int_equal(hs.reply.bound.port, 80);
	}
}

static void bytes_after_the_reply_stay_in_the_socket(void **state)
{
	static const uint8_t reply6[] = { 5, 0, 0, 4, 0x20, 1, 0xd, 0xb8, 0,
					  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
					  0, 53 };
	static const char app[] = "HTTP/1.1 200 OK\r\n";
	struct s5_hs hs;

	(void)state;
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(reply6, sizeof(reply6));
	srv_after((const uint8_t *)app, sizeof(app) - 1);
	init_plain(&hs, S5_CMD_CONNECT);
	/* fake_recv fails the test if a read reaches into app */
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(F.srv_pos, sizeof(M_NONE) + sizeof(reply6));
	assert_int_equal(hs.reply.bound.atyp, S5_ATYP_IPV6);
	assert_int_equal(hs.reply.bound.u.v6[15], 1);
	assert_int_equal(hs.reply.bound.port, 53);
}

static void recv_error_is_returned_negated(void **state)
{
	struct s5_hs hs;

	(void)state;
	/* An ICMP error on the way to the proxy, for example. */
	push(&F.rx, ACT_ERR, 0, EHOSTUNREACH);
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EHOSTUNREACH);
	assert_string_equal(hs.why, "could not read the proxy's method choice");
}

static void send_error_is_returned_negated(void **state)
{
	struct s5_hs hs;

	(void)state;
	/* fake_send checks MSG_NOSIGNAL on every call: a proxy that hangs
	 * up must never raise SIGPIPE in the program. */
	push(&F.tx, ACT_DATA, 0, 0);
	push(&F.tx, ACT_ERR, 0, ENOBUFS);
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -ENOBUFS);
	assert_string_equal(hs.why, "could not send the request to the proxy");
}

/* A proxy that goes away mid-handshake resets the connection when bytes
 * of ours were still unread (recv: ECONNRESET) and makes the next send
 * fail (EPIPE or ECONNRESET): the same hang-up as an EOF, so the same
 * EPROTO (README, "Errors a program sees"). */
static void reset_while_reading_the_method_is_eproto(void **state)
{
	struct s5_hs hs;

	(void)state;
	push(&F.rx, ACT_ERR, 0, ECONNRESET);
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
	assert_string_equal(hs.why,
			    "proxy closed the connection during the greeting");
}

static void reset_while_reading_the_reply_is_eproto(void **state)
{
	struct s5_hs hs;

	(void)state;
	push(&F.rx, ACT_DATA, 0, 0);
	push(&F.rx, ACT_ERR, 0, ECONNRESET);
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
	assert_string_equal(hs.why, "proxy closed the connection before its "
				    "reply was complete");
}

static void reset_or_epipe_while_sending_is_eproto(void **state)
{
	static const int errs[] = { ECONNRESET, EPIPE };
	struct s5_hs hs;
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		reset_fake(state);
		/* The greeting fails at once... */
		push(&F.tx, ACT_ERR, 0, errs[i]);
		srv_msg(M_NONE, sizeof(M_NONE));
		init_plain(&hs, S5_CMD_CONNECT);
		assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
		assert_string_equal(hs.why, "proxy closed the connection "
					    "before the greeting was sent");

		/* ...and so do the credentials and the request, later on. */
		reset_fake(state);
		push(&F.tx, ACT_DATA, 0, 0);
		push(&F.tx, ACT_ERR, 0, errs[i]);
		srv_msg(M_USERPASS, sizeof(M_USERPASS));
		init_auth(&hs, S5_CMD_CONNECT);
		assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
		assert_string_equal(hs.why, "proxy closed the connection "
					    "before the username/password "
					    "was sent");

		reset_fake(state);
		push(&F.tx, ACT_DATA, 0, 0);
		push(&F.tx, ACT_ERR, 0, errs[i]);
		srv_msg(M_NONE, sizeof(M_NONE));
		init_plain(&hs, S5_CMD_CONNECT);
		assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
		assert_string_equal(hs.why, "proxy closed the connection "
					    "before the request was sent");
	}
}

static void reset_reported_by_poll_is_eproto(void **state)
{
	struct s5_hs hs;

	(void)state;
	F.rx.dflt.kind = ACT_ERR;
	F.rx.dflt.err = EAGAIN;
	F.po.dflt.n = POLLERR;
	F.so_error = ECONNRESET;
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_run(&hs, 3, &fake_io, F.now + 5000),
		      -EPROTO);
	assert_int_equal(F.poll_calls, 1);
}

static void reset_after_a_pipelined_request_names_pipelining(void **state)
{
	struct s5_hs hs;

	(void)state;
	push(&F.rx, ACT_DATA, 0, 0);
	push(&F.rx, ACT_ERR, 0, ECONNRESET);
	srv_msg(M_NONE, sizeof(M_NONE));
	/* The reply the proxy never sends. */
	srv_msg_cut(REPLY_V4, 0, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	s5_hs_pipeline(&hs);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
	assert_non_null(strstr(hs.why, "pipelin"));
}

static void step_after_failure_keeps_returning_the_error(void **state)
{
	struct s5_hs hs;
	size_t calls;

	(void)state;
	srv_msg_cut(M_NONE, 0, 2);
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EPROTO);
	calls = F.recv_calls + F.send_calls;
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EPROTO);
	assert_int_equal(F.recv_calls + F.send_calls, calls);
}

static void overlong_credentials_fail_before_any_io(void **state)
{
	char big[300];
	struct s5_addr d = dst_v4();
	struct s5_hs hs;

	(void)state;
	memset(big, 'x', sizeof(big));
	s5_hs_init(&hs, S5_CMD_CONNECT, &d, true, big, 256, "p", 1);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EINVAL);
	s5_hs_init(&hs, S5_CMD_CONNECT, &d, true, "u", 1, big, 256);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EINVAL);
	s5_hs_init(&hs, S5_CMD_CONNECT, &d, true, "", 0, "p", 1);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EINVAL);
	assert_int_equal(F.send_calls, 0);
}

static void destination_that_cannot_be_encoded_is_einval(void **state)
{
	struct s5_addr d;
	struct s5_hs hs;

	(void)state;
	memset(&d, 0, sizeof(d));
	d.atyp = S5_ATYP_DOMAIN; /* name_len 0 */
	srv_msg(M_NONE, sizeof(M_NONE));
	s5_hs_init(&hs, S5_CMD_CONNECT, &d, false, NULL, 0, NULL, 0);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EINVAL);
}

static void udp_associate_request_carries_its_command(void **state)
{
	static const uint8_t req[] = { 5, 3, 0, 1, 192, 0, 2, 7, 0x01, 0xbb };
	struct s5_hs hs;

	(void)state;
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_UDP_ASSOCIATE);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_sent(GREETING_NONE, sizeof(GREETING_NONE), req, sizeof(req),
		    NULL, 0);
}

/* ---- credentials ---- */

static void credentials_reach_the_buffer_only_when_sent_and_are_wiped(
	void **state)
{
	struct s5_hs hs;

	(void)state;
	push(&F.tx, ACT_DATA, 0, 0);         /* greeting */
	push(&F.tx, ACT_DATA, 4, 0);         /* part of userpass */
	push(&F.tx, ACT_ERR, 0, EAGAIN);     /* then the socket is full */
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_auth(&hs, S5_CMD_CONNECT);
	assert_false(contains(hs.out, sizeof(hs.out), "secret"));
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	assert_int_equal(hs.state, S5HS_SEND_AUTH);
	assert_true(contains(hs.out, sizeof(hs.out), "secret"));
	s5_hs_wipe(&hs);
	assert_false(contains(hs.out, sizeof(hs.out), "secret"));
	assert_false(contains(hs.out, sizeof(hs.out), "user"));
	assert_null(hs.pass);
	assert_null(hs.user);
}

static void credentials_leave_the_buffer_once_sent(void **state)
{
	static const uint8_t zero[sizeof(((struct s5_hs *)0)->out)];
	static const uint8_t zin[sizeof(((struct s5_hs *)0)->in)];
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	push(&F.rx, ACT_DATA, 0, 0);     /* method reply */
	push(&F.rx, ACT_ERR, 0, EAGAIN); /* auth reply not there yet */
	init_auth(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	assert_int_equal(hs.state, S5HS_RECV_AUTH);
	assert_false(contains(hs.out, sizeof(hs.out), "secret"));
	assert_false(contains(hs.out, sizeof(hs.out), "user"));
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	s5_hs_wipe(&hs);
	assert_memory_equal(hs.out, zero, sizeof(zero));
	assert_memory_equal(hs.in, zin, sizeof(zin));
}

/* ---- cmd 0: a proxy check ---- */

static void check_with_auth_stops_after_authentication(void **state)
{
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	init_auth(&hs, 0);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(hs.state, S5HS_DONE);
	assert_sent(GREETING_USERPASS, sizeof(GREETING_USERPASS), USERPASS,
		    sizeof(USERPASS), NULL, 0);
}

static void check_without_auth_stops_after_the_method_reply(void **state)
{
	struct s5_hs hs;

	(void)state;
	srv_msg(M_NONE, sizeof(M_NONE));
	s5_hs_init(&hs, 0, NULL, false, NULL, 0, NULL, 0);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_sent(GREETING_NONE, sizeof(GREETING_NONE), NULL, 0, NULL, 0);
}

/* ---- pipelining ---- */

static void pipelined_handshake_sends_greeting_and_request_in_one_write(
	void **state)
{
	struct s5_hs hs;

	(void)state;
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	s5_hs_pipeline(&hs);
	assert_true(hs.pipelined);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(hs.state, S5HS_DONE);
	assert_int_equal(F.send_calls, 1);
	assert_sent(GREETING_NONE, sizeof(GREETING_NONE), REQUEST,
		    sizeof(REQUEST), NULL, 0);
}

static void pipelined_handshake_with_auth_sends_all_three_in_one_write(
	void **state)
{
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_auth(&hs, S5_CMD_CONNECT);
	s5_hs_pipeline(&hs);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(hs.state, S5HS_DONE);
	assert_int_equal(F.send_calls, 1);
	assert_sent(GREETING_USERPASS, sizeof(GREETING_USERPASS), USERPASS,
		    sizeof(USERPASS), REQUEST, sizeof(REQUEST));
	/* Sent: the credentials are gone from the buffer at once. */
	assert_false(contains(hs.out, sizeof(hs.out), "secret"));
}

static void pipelined_handshake_still_checks_the_auth_reply(void **state)
{
	static const uint8_t auth_no[] = { 1, 1 };
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(auth_no, sizeof(auth_no));
	init_auth(&hs, S5_CMD_CONNECT);
	s5_hs_pipeline(&hs);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EACCES);
}

static void pipelined_request_left_unanswered_times_out_naming_pipelining(
	void **state)
{
	struct s5_hs hs;

	(void)state;
	push(&F.rx, ACT_DATA, 0, 0);
	F.rx.dflt.kind = ACT_ERR;
	F.rx.dflt.err = EAGAIN;
	F.po.dflt.kind = ACT_TIMEOUT;
	srv_msg(M_NONE, sizeof(M_NONE));
	/* The reply the proxy never sends. */
	srv_msg_cut(REPLY_V4, 0, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	s5_hs_pipeline(&hs);
	assert_failed(&hs, s5_hs_run(&hs, 3, &fake_io, F.now + 5000),
		      -ETIMEDOUT);
	assert_non_null(strstr(hs.why, "pipelin"));
}

static void proxy_hanging_up_after_a_pipelined_request_names_pipelining(
	void **state)
{
	struct s5_hs hs;

	(void)state;
	push(&F.rx, ACT_DATA, 0, 0);
	push(&F.rx, ACT_EOF, 0, 0);
	srv_msg(M_NONE, sizeof(M_NONE));
	/* The reply the proxy never sends. */
	srv_msg_cut(REPLY_V4, 0, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	s5_hs_pipeline(&hs);
	assert_failed(&hs, s5_hs_step(&hs, 3, &fake_io), -EPROTO);
	assert_non_null(strstr(hs.why, "pipelin"));
}

static void pipelining_a_proxy_check_adds_only_the_credentials(void **state)
{
	struct s5_hs hs;

	(void)state;
	srv_msg(M_USERPASS, sizeof(M_USERPASS));
	srv_msg(AUTH_OK, sizeof(AUTH_OK));
	init_auth(&hs, 0);
	s5_hs_pipeline(&hs);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_int_equal(F.send_calls, 1);
	assert_sent(GREETING_USERPASS, sizeof(GREETING_USERPASS), USERPASS,
		    sizeof(USERPASS), NULL, 0);
}

/* ---- s5_hs_run: waiting and deadlines ---- */

static void run_waits_with_poll_and_then_finishes(void **state)
{
	struct s5_hs hs;

	(void)state;
	push(&F.tx, ACT_ERR, 0, EAGAIN);
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_run(&hs, 3, &fake_io, F.now + 5000), 0);
	assert_int_equal(F.poll_calls, 2);
	assert_int_equal(F.poll_events, POLLIN);
	assert_int_equal(F.poll_timeouts[0], 5000);
}

static void run_times_out_when_the_proxy_stays_silent(void **state)
{
	struct s5_hs hs;

	(void)state;
	F.rx.dflt.kind = ACT_ERR;
	F.rx.dflt.err = EAGAIN;
	F.po.dflt.kind = ACT_TIMEOUT;
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_run(&hs, 3, &fake_io, F.now + 5000),
		      -ETIMEDOUT);
	assert_string_equal(hs.why, "proxy did not answer in time");
	assert_int_equal(F.poll_calls, 1);
	assert_int_equal(F.now, 6000);
}

static void run_with_a_passed_deadline_times_out_without_polling(
	void **state)
{
	struct s5_hs hs;

	(void)state;
	F.tx.dflt.kind = ACT_ERR;
	F.tx.dflt.err = EAGAIN;
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_run(&hs, 3, &fake_io, F.now), -ETIMEDOUT);
	assert_int_equal(F.poll_calls, 0);
}

static void run_retries_poll_eintr_with_the_time_left(void **state)
{
	struct s5_hs hs;

	(void)state;
	F.poll_cost = 1000;
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	push(&F.po, ACT_ERR, 0, EINTR);
	push(&F.po, ACT_ERR, 0, EINTR);
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_run(&hs, 3, &fake_io, F.now + 5000), 0);
	assert_int_equal(F.poll_calls, 3);
	assert_int_equal(F.poll_timeouts[0], 5000);
	assert_int_equal(F.poll_timeouts[1], 4000);
	assert_int_equal(F.poll_timeouts[2], 3000);
}

static void run_stops_at_the_deadline_when_poll_keeps_being_interrupted(
	void **state)
{
	struct s5_hs hs;

	(void)state;
	F.poll_cost = 2000;
	F.po.dflt.kind = ACT_ERR;
	F.po.dflt.err = EINTR;
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_run(&hs, 3, &fake_io, F.now + 5000),
		      -ETIMEDOUT);
	assert_int_equal(F.poll_calls, 3);
}

static void run_returns_a_poll_error(void **state)
{
	struct s5_hs hs;

	(void)state;
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	push(&F.po, ACT_ERR, 0, ENOMEM);
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_run(&hs, 3, &fake_io, F.now + 5000),
		      -ENOMEM);
}

static void run_does_not_spin_on_hangup_when_recv_would_block(void **state)
{
	struct s5_hs hs;

	(void)state;
	F.rx.dflt.kind = ACT_ERR;
	F.rx.dflt.err = EAGAIN;
	F.po.dflt.n = POLLHUP;
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_run(&hs, 3, &fake_io, F.now + 5000),
		      -EPROTO);
	assert_int_equal(F.poll_calls, 1);

	reset_fake(state);
	F.rx.dflt.kind = ACT_ERR;
	F.rx.dflt.err = EAGAIN;
	F.po.dflt.n = POLLERR;
	F.so_error = EHOSTUNREACH;
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_run(&hs, 3, &fake_io, F.now + 5000),
		      -EHOSTUNREACH);

	reset_fake(state);
	F.rx.dflt.kind = ACT_ERR;
	F.rx.dflt.err = EAGAIN;
	F.po.dflt.n = POLLNVAL;
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_run(&hs, 3, &fake_io, F.now + 5000),
		      -EBADF);
}

static void run_lets_recv_report_the_error_after_pollerr(void **state)
{
	struct s5_hs hs;

	(void)state;
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	push(&F.rx, ACT_ERR, 0, EHOSTUNREACH);
	F.po.dflt.n = POLLIN | POLLERR;
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_hs_run(&hs, 3, &fake_io, F.now + 5000),
		      -EHOSTUNREACH);
	assert_string_equal(hs.why, "could not read the proxy's method choice");
}

/* ---- s5_connect_wait ---- */

static struct sockaddr_in proxy_sin(void)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(1080);
	sin.sin_addr.s_addr = htonl(0xc0000201);
	return sin;
}

#define SA(p) ((const struct sockaddr *)(p))

static void connect_wait_returns_zero_when_connect_succeeds_at_once(
	void **state)
{
	struct sockaddr_in sin = proxy_sin();

	(void)state;
	assert_int_equal(s5_connect_wait(3, SA(&sin), sizeof(sin), &fake_io,
					 F.now + 1000), 0);
	assert_int_equal(F.poll_calls, 0);
}

static void connect_wait_polls_for_pollout_then_reads_so_error(void **state)
{
	struct sockaddr_in sin = proxy_sin();

	(void)state;
	F.connect_err = EINPROGRESS;
	assert_int_equal(s5_connect_wait(3, SA(&sin), sizeof(sin), &fake_io,
					 F.now + 1000), 0);
	assert_int_equal(F.poll_events, POLLOUT);
	assert_int_equal(F.poll_timeouts[0], 1000);

	reset_fake(state);
	F.connect_err = EINPROGRESS;
	F.so_error = ECONNREFUSED;
	F.po.dflt.n = POLLOUT | POLLERR | POLLHUP;
	assert_int_equal(s5_connect_wait(3, SA(&sin), sizeof(sin), &fake_io,
					 F.now + 1000), -ECONNREFUSED);
}

static void connect_wait_treats_eintr_and_ealready_as_in_progress(
	void **state)
{
	struct sockaddr_in sin = proxy_sin();

	(void)state;
	F.connect_err = EINTR;
	assert_int_equal(s5_connect_wait(3, SA(&sin), sizeof(sin), &fake_io,
					 F.now + 1000), 0);
	assert_int_equal(F.poll_calls, 1);
	F.connect_err = EALREADY;
	assert_int_equal(s5_connect_wait(3, SA(&sin), sizeof(sin), &fake_io,
					 F.now + 1000), 0);
	assert_int_equal(F.poll_calls, 2);
}

static void connect_wait_returns_an_immediate_connect_error(void **state)
{
	struct sockaddr_in sin = proxy_sin();

	(void)state;
	F.connect_err = ENETUNREACH;
	assert_int_equal(s5_connect_wait(3, SA(&sin), sizeof(sin), &fake_io,
					 F.now + 1000), -ENETUNREACH);
	assert_int_equal(F.poll_calls, 0);
}

static void connect_wait_times_out_at_the_deadline(void **state)
{
	struct sockaddr_in sin = proxy_sin();

	(void)state;
	F.connect_err = EINPROGRESS;
	F.po.dflt.kind = ACT_TIMEOUT;
	assert_int_equal(s5_connect_wait(3, SA(&sin), sizeof(sin), &fake_io,
					 F.now + 1000), -ETIMEDOUT);
	assert_int_equal(F.now, 2000);
}

static void poll_returning_zero_is_a_timeout_even_if_the_clock_lags(
	void **state)
{
	struct sockaddr_in sin = proxy_sin();

	(void)state;
	F.connect_err = EINPROGRESS;
	F.po.dflt.kind = ACT_ZERO;
	assert_int_equal(s5_connect_wait(3, SA(&sin), sizeof(sin), &fake_io,
					 F.now + 1000), -ETIMEDOUT);
	assert_int_equal(F.poll_calls, 1);
}

static void connect_wait_retries_poll_eintr(void **state)
{
	struct sockaddr_in sin = proxy_sin();

	(void)state;
	F.connect_err = EINPROGRESS;
	F.poll_cost = 300;
	push(&F.po, ACT_ERR, 0, EINTR);
	assert_int_equal(s5_connect_wait(3, SA(&sin), sizeof(sin), &fake_io,
					 F.now + 1000), 0);
	assert_int_equal(F.poll_calls, 2);
	assert_int_equal(F.poll_timeouts[1], 700);
}

/* ---- s5_proxy_connect ---- */

#define OTHER_FLAGS (O_RDWR | O_APPEND)

static void proxy_connect_is_nonblocking_inside_and_restores_flags_after(
	void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.flags = OTHER_FLAGS;
	F.connect_err = EINPROGRESS;
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_proxy_connect(3, SA(&sin), sizeof(sin), &hs,
					  &fake_io, 5000), 0);
	assert_int_equal(F.flags_at_connect, OTHER_FLAGS | O_NONBLOCK);
	assert_int_equal(F.flags, OTHER_FLAGS);
	assert_int_equal(F.setfl_calls, 2);
	assert_int_equal(hs.state, S5HS_DONE);
}

static void proxy_connect_restores_flags_when_connect_fails(void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.flags = OTHER_FLAGS;
	F.connect_err = ECONNREFUSED;
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_proxy_connect(3, SA(&sin), sizeof(sin), &hs,
					    &fake_io, 5000), -ECONNREFUSED);
	assert_string_equal(hs.why, "could not connect to the proxy");
	assert_int_equal(F.flags, OTHER_FLAGS);
	assert_int_equal(F.setfl_calls, 2);
}

static void proxy_connect_restores_flags_when_the_handshake_fails(
	void **state)
{
	static const uint8_t refused[] = { 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.flags = OTHER_FLAGS;
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(refused, sizeof(refused));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_proxy_connect(3, SA(&sin), sizeof(sin), &hs,
					    &fake_io, 5000), -ECONNREFUSED);
	assert_int_equal(F.flags, OTHER_FLAGS);
}

static void proxy_connect_restores_flags_when_it_times_out(void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.flags = OTHER_FLAGS;
	F.rx.dflt.kind = ACT_ERR;
	F.rx.dflt.err = EAGAIN;
	F.po.dflt.kind = ACT_TIMEOUT;
	srv_msg(M_NONE, sizeof(M_NONE));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_proxy_connect(3, SA(&sin), sizeof(sin), &hs,
					    &fake_io, 5000), -ETIMEDOUT);
	assert_int_equal(F.flags, OTHER_FLAGS);
}

static void proxy_connect_leaves_a_nonblocking_socket_alone(void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.flags = OTHER_FLAGS | O_NONBLOCK;
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_proxy_connect(3, SA(&sin), sizeof(sin), &hs,
					  &fake_io, 5000), 0);
	assert_int_equal(F.setfl_calls, 0);
	assert_int_equal(F.flags, OTHER_FLAGS | O_NONBLOCK);
}

static void proxy_connect_shares_one_deadline_between_connect_and_handshake(
	void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.connect_err = EINPROGRESS;
	F.poll_cost = 2000; /* the connect takes 2 s */
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_proxy_connect(3, SA(&sin), sizeof(sin), &hs,
					  &fake_io, 3000), 0);
	assert_int_equal(F.poll_calls, 2);
	assert_int_equal(F.poll_timeouts[0], 3000);
	assert_int_equal(F.poll_timeouts[1], 1000);
}

static void proxy_connect_fails_cleanly_when_flags_cannot_be_read(
	void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.getfl_err = EBADF;
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_proxy_connect(3, SA(&sin), sizeof(sin), &hs,
					    &fake_io, 5000), -EBADF);
	assert_int_equal(F.connect_calls, 0);
	assert_int_equal(F.setfl_calls, 0);
}

static void proxy_connect_does_not_connect_when_nonblock_cannot_be_set(
	void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.setfl_err = EPERM;
	init_plain(&hs, S5_CMD_CONNECT);
	assert_failed(&hs, s5_proxy_connect(3, SA(&sin), sizeof(sin), &hs,
					    &fake_io, 5000), -EPERM);
	assert_int_equal(F.connect_calls, 0);
}

/* ---- the real kernel path: a loopback server thread ---- */

struct tiny_server {
	int lfd;
	bool auth;
	uint8_t got[64];
	size_t got_len;
	bool ok;
};

static bool read_exact(int fd, uint8_t *buf, size_t n)
{
	return recv(fd, buf, n, MSG_WAITALL) == (ssize_t)n;
}

static bool write_all(int fd, const void *buf, size_t n)
{
	return send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n;
}

/* Answers one handshake; the reply and the first application bytes go
 * out in one write, so both sit in the client's socket together. */
static void *tiny_server_main(void *arg)
{
	static const uint8_t reply_and_data[] = { 5, 0, 0, 1, 127, 0, 0, 1,
						  0x04, 0x38, 'h', 'e', 'l',
						  'l', 'o' };
	struct tiny_server *s = arg;
	size_t greet = 3, req = sizeof(REQUEST);
	int fd = accept(s->lfd, NULL, NULL);
	uint8_t *p = s->got;

	if (fd < 0)
		return NULL;
	if (!read_exact(fd, p, greet))
		goto out;
	p += greet;
	if (!write_all(fd, s->auth ? M_USERPASS : M_NONE, 2))
		goto out;
	if (s->auth) {
		if (!read_exact(fd, p, sizeof(USERPASS)) ||
		    !write_all(fd, AUTH_OK, sizeof(AUTH_OK)))
			goto out;
		p += sizeof(USERPASS);
	}
	if (!read_exact(fd, p, req))
		goto out;
	p += req;
	if (!write_all(fd, reply_and_data, sizeof(reply_and_data)))
		goto out;
	s->ok = true;
out:
	s->got_len = (size_t)(p - s->got);
	close(fd);
	return NULL;
}

static void run_against_tiny_server(bool auth)
{
	struct tiny_server srv = { .auth = auth };
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	pthread_t th;
	struct s5_hs hs;
	char buf[8];
	int fd, flags;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(srv.lfd >= 0);
	assert_int_equal(bind(srv.lfd, SA(&sin), sizeof(sin)), 0);
	assert_int_equal(listen(srv.lfd, 1), 0);
	assert_int_equal(getsockname(srv.lfd, (struct sockaddr *)&sin, &len),
			 0);
	assert_int_equal(pthread_create(&th, NULL, tiny_server_main, &srv),
			 0);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	flags = fcntl(fd, F_GETFL);
	assert_false(flags & O_NONBLOCK);
	if (auth)
		init_auth(&hs, S5_CMD_CONNECT);
	else
		init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_proxy_connect(fd, SA(&sin), sizeof(sin), &hs,
					  &s5_io_libc, 5000), 0);
	s5_hs_wipe(&hs);
	assert_int_equal(fcntl(fd, F_GETFL), flags);
	assert_int_equal(hs.reply.bound.port, 0x0438);
	/* the program's bytes were left in the socket */
	assert_int_equal(recv(fd, buf, 5, MSG_WAITALL), 5);
	assert_memory_equal(buf, "hello", 5);
	close(fd);
	assert_int_equal(pthread_join(th, NULL), 0);
	close(srv.lfd);

	assert_true(srv.ok);
	if (auth) {
		assert_int_equal(srv.got_len, 3 + sizeof(USERPASS) +
				 sizeof(REQUEST));
		assert_memory_equal(srv.got, GREETING_USERPASS, 3);
		assert_memory_equal(srv.got + 3, USERPASS, sizeof(USERPASS));
	} else {
		assert_int_equal(srv.got_len, 3 + sizeof(REQUEST));
		assert_memory_equal(srv.got, GREETING_NONE, 3);
	}
	assert_memory_equal(srv.got + srv.got_len - sizeof(REQUEST), REQUEST,
			    sizeof(REQUEST));
}

static void proxy_connect_over_loopback_leaves_the_program_its_data(
	void **state)
{
	(void)state;
	run_against_tiny_server(false);
}

static void proxy_connect_over_loopback_with_auth_works(void **state)
{
	(void)state;
	run_against_tiny_server(true);
}

static void libc_connect_wait_reports_a_refused_loopback_port(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int lfd, fd;

	(void)state;
	/* A port that was just free: bind, learn it, close. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, SA(&sin), sizeof(sin)), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	close(lfd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_int_equal(s5_connect_wait(fd, SA(&sin), sizeof(sin),
					 &s5_io_libc, s5_now_ms() + 5000),
			 -ECONNREFUSED);
	close(fd);
}

static void monotonic_clock_does_not_go_back(void **state)
{
	int64_t a = s5_now_ms(), b = s5_now_ms();

	(void)state;
	assert_true(a > 0);
	assert_true(b >= a);
}

#define T(f) cmocka_unit_test_setup(f, reset_fake)
#define PIPELINE_TESTS                                                       \
	T(pipelined_handshake_sends_greeting_and_request_in_one_write),       \
	T(pipelined_handshake_with_auth_sends_all_three_in_one_write),        \
	T(pipelined_handshake_still_checks_the_auth_reply),                   \
	T(pipelined_request_left_unanswered_times_out_naming_pipelining),     \
	T(proxy_hanging_up_after_a_pipelined_request_names_pipelining),       \
	T(pipelining_a_proxy_check_adds_only_the_credentials)

/* ---- the asynchronous path: s5_proxy_start, then steps ---- */

static void async_start_in_progress_then_steps_send_the_greeting(void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.zero_poll_ok = true;
	F.connect_err = EINPROGRESS;
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_proxy_start(3, SA(&sin), sizeof(sin), &hs,
					 &fake_io), -EINPROGRESS);
	assert_true(hs.connecting);
	assert_int_equal(hs.want, POLLOUT);
	/* Not connected yet: nothing is sent, it waits for POLLOUT. */
	push(&F.po, ACT_ZERO, 0, 0);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	assert_int_equal(hs.want, POLLOUT);
	assert_int_equal(F.sent_len, 0);
	/* Connected: the greeting leaves, then it waits for the answer. */
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	srv_msg(M_NONE, sizeof(M_NONE));
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	assert_false(hs.connecting);
	assert_int_equal(hs.want, POLLIN);
	assert_sent(GREETING_NONE, sizeof(GREETING_NONE), NULL, 0, NULL, 0);
	assert_int_equal(F.poll_timeouts[0], 0);
	assert_false(s5_hs_sent_all(&hs)); /* not pipelined */
}

static void async_connect_failure_shows_at_the_step(void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.zero_poll_ok = true;
	F.connect_err = EINPROGRESS;
	F.so_error = ECONNREFUSED;
	F.po.dflt.n = POLLOUT | POLLERR | POLLHUP;
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_proxy_start(3, SA(&sin), sizeof(sin), &hs,
					 &fake_io), -EINPROGRESS);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -ECONNREFUSED);
	assert_int_equal(hs.state, S5HS_FAILED);
	assert_string_equal(hs.why, "could not connect to the proxy");
	assert_int_equal(F.sent_len, 0);
}

static void async_start_fails_at_once_with_the_connect_errno(void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.connect_err = ENETUNREACH;
	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_proxy_start(3, SA(&sin), sizeof(sin), &hs,
					 &fake_io), -ENETUNREACH);
	assert_int_equal(hs.state, S5HS_FAILED);
	assert_int_equal(F.poll_calls, 0);
}

static void async_pipelined_request_sent_all_then_reply_completes(
	void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.zero_poll_ok = true;
	init_plain(&hs, S5_CMD_CONNECT);
	s5_hs_pipeline(&hs);
	assert_int_equal(s5_proxy_start(3, SA(&sin), sizeof(sin), &hs,
					 &fake_io), 0);
	push(&F.rx, ACT_ERR, 0, EAGAIN);
	srv_msg(M_NONE, sizeof(M_NONE));
	srv_msg(REPLY_V4, sizeof(REPLY_V4));
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), -EAGAIN);
	/* Everything left in one write: only the replies are missing. */
	assert_true(s5_hs_sent_all(&hs));
	assert_int_equal(F.send_calls, 1);
	assert_int_equal(s5_hs_step(&hs, 3, &fake_io), 0);
	assert_false(s5_hs_sent_all(&hs));
}

static void expire_says_which_phase_ran_out_of_time(void **state)
{
	struct sockaddr_in sin = proxy_sin();
	struct s5_hs hs;

	(void)state;
	F.connect_err = EINPROGRESS;
	init_plain(&hs, S5_CMD_CONNECT);
	(void)s5_proxy_start(3, SA(&sin), sizeof(sin), &hs, &fake_io);
	assert_int_equal(s5_hs_expire(&hs), -ETIMEDOUT);
	assert_string_equal(hs.why,
			    "proxy did not accept the connection in time");

	init_plain(&hs, S5_CMD_CONNECT);
	s5_hs_pipeline(&hs);
	assert_int_equal(s5_hs_expire(&hs), -ETIMEDOUT);
	assert_non_null(strstr(hs.why, "pipelin"));

	init_plain(&hs, S5_CMD_CONNECT);
	assert_int_equal(s5_hs_expire(&hs), -ETIMEDOUT);
	assert_string_equal(hs.why, "proxy did not answer in time");
	assert_int_equal(hs.state, S5HS_FAILED);
}

/* ---- epoll fdinfo (fdinfo.c) ---- */

static int fdinfo_collect(void *ctx, const struct s5_epoll_reg *r)
{
	struct s5_epoll_reg *out = ctx;
	int i;

	for (i = 0; out[i].ino != 0; i++)
		;
	if (i == 3)
		return -1; /* room for three */
	out[i] = *r;
	return 0;
}

static void fdinfo_line_reads_the_kernel_format(void **state)
{
	static const char k[] = "tfd:        5 events:       19 data:"
				"     7f00deadbeef  pos:0 ino:2d3f sdev:8";
	struct s5_epoll_reg r;

	(void)state;
	assert_int_equal(s5_fdinfo_line(k, sizeof(k) - 1, &r), 1);
	assert_int_equal(r.tfd, 5);
	assert_int_equal(r.events, 0x19);
	assert_true(r.data == 0x7f00deadbeefULL);
	assert_true(r.ino == 0x2d3f);
	/* The header lines, and lines cut short or out of range. */
	assert_int_equal(s5_fdinfo_line("pos:\t0", 6, &r), 0);
	assert_int_equal(s5_fdinfo_line("ino:\t1057", 9, &r), 0);
	assert_int_equal(s5_fdinfo_line("tfd: 5 events: 19 data: 5", 26, &r),
			 0);
	assert_int_equal(s5_fdinfo_line("tfd: 2147483648 events: 1 data: 1 "
					 "ino:1", 42, &r), 0);
	assert_int_equal(s5_fdinfo_line("tfd: 1 events: 100000000 data: 1 "
					 "ino:1", 41, &r), 0);
	assert_int_equal(s5_fdinfo_line("tfd: 1 events: 1 data: "
					 "10000000000000000 ino:1", 47, &r), 0);
	assert_int_equal(s5_fdinfo_line("tfd: -1 events: 1 data: 1 ino:1",
					 31, &r), 0);
}

static void fdinfo_feed_joins_lines_cut_between_reads(void **state)
{
	static const char text[] = "pos:\t0\nflags:\t02\n"
				   "tfd: 5 events: 19 data: 5 pos:0 ino:a\n"
				   "tfd: 6 events: 4 data: ff pos:0 ino:b";
	struct s5_epoll_reg got[4];
	struct s5_fdinfo f;
	size_t i, n = sizeof(text) - 1;
	int total = 0, r;

	(void)state;
	memset(got, 0, sizeof(got));
	s5_fdinfo_init(&f);
	/* One byte at a time; the last line has no newline. */
	for (i = 0; i < n; i++) {
		r = s5_fdinfo_feed(&f, text + i, 1, false, fdinfo_collect, got);
		assert_true(r >= 0);
		total += r;
	}
	r = s5_fdinfo_feed(&f, text, 0, true, fdinfo_collect, got);
	total += r;
	assert_int_equal(total, 2);
	assert_int_equal(got[0].tfd, 5);
	assert_true(got[0].ino == 0xa);
	assert_int_equal(got[1].tfd, 6);
	assert_true(got[1].data == 0xff);
}

static void fdinfo_feed_refuses_an_overlong_line_and_a_full_list(
	void **state)
{
	struct s5_epoll_reg got[4];
	char long_line[S5_FDINFO_LINE_MAX + 2];
	static const char four[] = "tfd: 1 events: 1 data: 1 pos:0 ino:1\n"
				   "tfd: 2 events: 1 data: 1 pos:0 ino:2\n"
				   "tfd: 3 events: 1 data: 1 pos:0 ino:3\n"
				   "tfd: 4 events: 1 data: 1 pos:0 ino:4\n";
	struct s5_fdinfo f;

	(void)state;
	memset(got, 0, sizeof(got));
	memset(long_line, 'x', sizeof(long_line));
	s5_fdinfo_init(&f);
	assert_int_equal(s5_fdinfo_feed(&f, long_line, sizeof(long_line),
					true, fdinfo_collect, got), -1);
	assert_true(f.overlong);
	/* The collector takes three: the fourth stops the reader. */
	s5_fdinfo_init(&f);
	assert_int_equal(s5_fdinfo_feed(&f, four, sizeof(four) - 1, true,
					fdinfo_collect, got), -1);
	assert_int_equal(got[2].tfd, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(handshake_without_auth_sends_greeting_then_request),
		T(handshake_with_auth_sends_userpass_between_greeting_and_request),
		PIPELINE_TESTS,
		T(empty_password_is_sent_as_plen_zero),
		T(auth_reply_with_socks_version_byte_is_accepted),
		T(handshake_reads_one_byte_per_recv_call),
		T(eintr_before_every_recv_and_send_is_retried),
		T(partial_sends_continue_from_where_they_stopped),
		T(would_block_recv_returns_eagain_and_wants_pollin),
		T(bind_second_reply_names_the_peer_and_leaves_its_data),
		T(bind_second_reply_waits_without_blocking),
		T(bind_second_reply_gives_eintr_when_asked),
		T(bind_second_reply_failure_code_is_its_errno),
		T(bind_proxy_closing_before_the_peer_is_eproto),
		T(bind_garbage_second_reply_is_eproto),
		T(await_peer_leaves_an_unfinished_handshake_alone),
		T(would_block_send_returns_eagain_and_wants_pollout),
		T(method_reply_that_is_not_socks5_is_eproto),
		T(method_ff_is_eacces_because_no_method_is_acceptable),
		T(method_we_did_not_offer_is_eproto),
		T(proxy_skipping_the_offered_auth_is_eproto),
		T(rejected_credentials_are_eacces),
		T(malformed_auth_reply_is_eproto),
		T(every_failed_reply_code_maps_to_its_errno),
		T(reply_cut_short_by_eof_is_eproto_at_every_length),
		T(eof_during_greeting_is_eproto),
		T(eof_during_authentication_is_eproto),
		T(malformed_reply_is_eproto),
		T(reply_with_domain_bound_address_is_parsed),
		T(bytes_after_the_reply_stay_in_the_socket),
		T(recv_error_is_returned_negated),
		T(send_error_is_returned_negated),
		T(reset_while_reading_the_method_is_eproto),
		T(reset_while_reading_the_reply_is_eproto),
		T(reset_or_epipe_while_sending_is_eproto),
		T(reset_reported_by_poll_is_eproto),
		T(reset_after_a_pipelined_request_names_pipelining),
		T(step_after_failure_keeps_returning_the_error),
		T(overlong_credentials_fail_before_any_io),
		T(destination_that_cannot_be_encoded_is_einval),
		T(udp_associate_request_carries_its_command),
		T(credentials_reach_the_buffer_only_when_sent_and_are_wiped),
		T(credentials_leave_the_buffer_once_sent),
		T(check_with_auth_stops_after_authentication),
		T(check_without_auth_stops_after_the_method_reply),
		T(run_waits_with_poll_and_then_finishes),
		T(run_times_out_when_the_proxy_stays_silent),
		T(run_with_a_passed_deadline_times_out_without_polling),
		T(run_retries_poll_eintr_with_the_time_left),
		T(run_stops_at_the_deadline_when_poll_keeps_being_interrupted),
		T(run_returns_a_poll_error),
		T(run_does_not_spin_on_hangup_when_recv_would_block),
		T(run_lets_recv_report_the_error_after_pollerr),
		T(connect_wait_returns_zero_when_connect_succeeds_at_once),
		T(connect_wait_polls_for_pollout_then_reads_so_error),
		T(connect_wait_treats_eintr_and_ealready_as_in_progress),
		T(connect_wait_returns_an_immediate_connect_error),
		T(connect_wait_times_out_at_the_deadline),
		T(poll_returning_zero_is_a_timeout_even_if_the_clock_lags),
		T(connect_wait_retries_poll_eintr),
		T(proxy_connect_is_nonblocking_inside_and_restores_flags_after),
		T(proxy_connect_restores_flags_when_connect_fails),
		T(proxy_connect_restores_flags_when_the_handshake_fails),
		T(proxy_connect_restores_flags_when_it_times_out),
		T(proxy_connect_leaves_a_nonblocking_socket_alone),
		T(proxy_connect_shares_one_deadline_between_connect_and_handshake),
		T(proxy_connect_fails_cleanly_when_flags_cannot_be_read),
		T(proxy_connect_does_not_connect_when_nonblock_cannot_be_set),
		T(proxy_connect_over_loopback_leaves_the_program_its_data),
		T(proxy_connect_over_loopback_with_auth_works),
		T(libc_connect_wait_reports_a_refused_loopback_port),
		T(monotonic_clock_does_not_go_back),
		T(chain_connects_through_each_proxy_with_its_credentials),
		T(chain_failure_at_the_second_proxy_says_which),
		T(chain_pipelines_each_proxy_separately),
		T(chain_check_stops_after_the_last_proxys_authentication),
		T(unanswered_greeting_leaves_greeted_false),
		T(garbage_for_a_greeting_counts_as_an_answer),
		T(async_start_in_progress_then_steps_send_the_greeting),
		T(async_connect_failure_shows_at_the_step),
		T(async_start_fails_at_once_with_the_connect_errno),
		T(async_pipelined_request_sent_all_then_reply_completes),
		T(expire_says_which_phase_ran_out_of_time),
		T(fdinfo_line_reads_the_kernel_format),
		T(fdinfo_feed_joins_lines_cut_between_reads),
		T(fdinfo_feed_refuses_an_overlong_line_and_a_full_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
