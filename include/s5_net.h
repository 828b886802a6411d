/* Driving a SOCKS5 exchange over a socket, with a deadline.
 *
 * All kernel calls go through a small table of function pointers (the I/O
 * seam), so unit tests can feed short reads, EINTR, EAGAIN and garbage, and
 * the preload can pass the real libc functions instead of its own hooks.
 *
 * The handshake is a resumable state machine: s5_hs_step does as much as
 * the socket allows without blocking and says what it waits for. Blocking
 * callers use s5_hs_run; an event-loop caller can keep the struct and call
 * s5_hs_step again when the socket is ready.
 */
#ifndef S5_NET_H
#define S5_NET_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "s5_proto.h"

struct s5_io {
	ssize_t (*send)(int fd, const void *buf, size_t len, int flags);
	ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
	int (*poll)(struct pollfd *fds, nfds_t n, int timeout_ms);
	int (*connect)(int fd, const struct sockaddr *sa, socklen_t len);
	int (*getsockopt)(int fd, int level, int name, void *val,
			  socklen_t *len);
	int (*fcntl)(int fd, int cmd, int arg); /* F_GETFL / F_SETFL only */
	int64_t (*now_ms)(void);               /* monotonic milliseconds */
};

/* The plain libc functions (for the launcher and tests). */
extern const struct s5_io s5_io_libc;

/* Monotonic clock in milliseconds (CLOCK_MONOTONIC). */
int64_t s5_now_ms(void);

enum s5_hs_state {
	S5HS_SEND_GREETING,
	S5HS_RECV_METHOD,
	S5HS_SEND_AUTH,
	S5HS_RECV_AUTH,
	S5HS_SEND_REQUEST,
	S5HS_RECV_REPLY,
	S5HS_RECV_PEER, /* BIND's second reply (s5_hs_await_peer) */
	S5HS_DONE,
	S5HS_FAILED,
};

/* One handshake: greeting, optional RFC 1929 authentication, one request.
 * Reads never go past the end of the reply, so bytes the server sends
 * after it stay in the socket for the program. */
struct s5_hs {
	enum s5_hs_state state;
	uint8_t cmd; /* 0: stop after authentication (a proxy check) */
	bool auth;   /* offer username/password as the only method */
	bool pipelined; /* greeting, auth and request went in one write */
	uint8_t user_len, pass_len;
	const char *user, *pass; /* not copied until needed; wiped after */
	struct s5_addr dst;

	/* pending bytes: one message, or all three when pipelined */
	uint8_t out[S5_GREETING_MAX + S5_USERPASS_MAX + S5_REQUEST_MAX];
	size_t out_len, out_off;
	uint8_t in[S5_REPLY_MAX];
	size_t in_len;

	/* results */
	uint8_t method;        /* the method the server chose */
	uint8_t auth_status;   /* RFC 1929 STATUS, when auth ran */
	struct s5_reply reply; /* when the request ran */
	int err;               /* 0 or -errno once FAILED */
	const char *why;       /* static text for logs once FAILED */
	short want;            /* POLLIN or POLLOUT after -EAGAIN */
	bool connecting;       /* the TCP connect to the proxy is under way
				  (s5_proxy_start); the first step checks it */
	bool give_eintr;       /* reads return -EINTR instead of retrying
				  (a blocking accept() a signal must end) */
	/* A chain (s5_hs_chain): the proxies after the first. hop counts
	 * those entered so far: while hop < n_next the request is a
	 * CONNECT to next[hop], and its success starts the greeting of
	 * next[hop] over the same stream. */
	const struct s5_hop *next;
	uint8_t n_next, hop;
	bool pipe_each; /* s5_hs_pipeline: each proxy's messages in one write */
	bool greeted;   /* the first proxy sent a byte: something answers */
};

/* Prepares a handshake. cmd is S5_CMD_CONNECT, S5_CMD_UDP_ASSOCIATE, or 0
 * to stop after authentication. With auth, user/pass must stay valid until
 * the handshake ends (ulen 1..255, plen 0..255). */
void s5_hs_init(struct s5_hs *hs, uint8_t cmd, const struct s5_addr *dst,
		bool auth, const char *user, size_t ulen, const char *pass,
		size_t plen);

/* Makes hs a chain, right after s5_hs_init (which named the first proxy's
 * credentials) and before s5_hs_pipeline: next[0..n-1] are the proxies
 * after the first, in order, and must stay valid while hs runs. The first
 * proxy is asked to CONNECT to next[0].addr; once it replied, the
 * greeting, authentication and request go to next[0] through that
 * stream, and so on; the last proxy gets hs's own request (or, with cmd
 * 0, the check stops after its authentication). A failure at any proxy
 * ends the handshake; hs->hop says how far it got. */
void s5_hs_chain(struct s5_hs *hs, const struct s5_hop *next, size_t n);

/* Opt-in, right after s5_hs_init: the authentication and the request are
 * sent together with the greeting, in one write, which saves one round
 * trip (two with authentication). Only possible because we offer a single
 * method, so we know the server's choice in advance. Servers that read one
 * message per read may lose the request; the reply then never comes and
 * the handshake times out with a why that says so. */
void s5_hs_pipeline(struct s5_hs *hs);

/* Advances without blocking (the socket should be non-blocking; a blocking
 * one works too, it just blocks). Returns 0 when done, -EAGAIN with
 * hs->want set when it must wait, or the failure -errno (also kept in
 * hs->err, with hs->why): EPROTO for bytes that are not SOCKS5 or end too
 * early, EACCES when the server accepts none of our methods or rejects the
 * credentials, the reply code's errno (s5_rep_errno) for a failed request,
 * or the errno of a failed send/recv. EINTR is retried. */
int s5_hs_step(struct s5_hs *hs, int fd, const struct s5_io *io);

/* Runs the handshake to its end, waiting with io->poll until deadline_ms
 * (io->now_ms time). Returns 0, -ETIMEDOUT, or s5_hs_step's errors. */
int s5_hs_run(struct s5_hs *hs, int fd, const struct s5_io *io,
	      int64_t deadline_ms);

/* Fails hs after a poll() reported POLLERR, POLLHUP or POLLNVAL (revents)
 * and s5_hs_step still had nothing to do, with the socket's error, or as
 * a truncated exchange. Returns the -errno. An event loop calls this
 * rather than wait again: poll would keep returning at once. */
int s5_hs_poll_failed(struct s5_hs *hs, int fd, const struct s5_io *io,
		      short revents);

/* Fails hs because its deadline passed, with the why that fits the phase
 * it was in (the TCP connect, a pipelined request, a reply). Returns
 * -ETIMEDOUT. */
int s5_hs_expire(struct s5_hs *hs);

/* True once a pipelined handshake has sent everything it will send: only
 * the replies are missing. */
bool s5_hs_sent_all(const struct s5_hs *hs);

/* BIND (RFC 1928 section 4) sends two replies: the first when the proxy
 * listens for the peer (the handshake ends DONE with it), the second when
 * the peer connected. This sets a DONE handshake to read the second:
 * s5_hs_step then ends DONE again with hs->reply holding it, or FAILED
 * for a failure code (its errno), bytes that are not a reply, or a proxy
 * that closed first (EPROTO). Reads stop at its end: what the peer sends
 * after it stays in the socket. */
void s5_hs_await_peer(struct s5_hs *hs);

/* Wipes the buffers that held credentials. Call when done, also on error. */
void s5_hs_wipe(struct s5_hs *hs);

/* connect() that waits until deadline_ms: on a non-blocking socket,
 * connect, poll for POLLOUT, read SO_ERROR. Returns 0, -ETIMEDOUT, or the
 * connect errno (negated). EINTR from poll is retried. */
int s5_connect_wait(int fd, const struct sockaddr *sa, socklen_t len,
		    const struct s5_io *io, int64_t deadline_ms);

/* The whole TCP path on the caller's own descriptor: make it non-blocking
 * for the duration, connect to the proxy, run hs, restore the file status
 * flags exactly as they were (also on failure). Returns 0 or -errno as
 * s5_connect_wait / s5_hs_run. */
int s5_proxy_connect(int fd, const struct sockaddr *proxy, socklen_t plen,
		     struct s5_hs *hs, const struct s5_io *io, int timeout_ms);

/* ---- the registrations of an epoll instance (fdinfo.c) ---- */

/* One line of /proc/self/fdinfo/<epoll fd>: a watched descriptor. */
struct s5_epoll_reg {
	int tfd;          /* the number it is registered under */
	uint32_t events;  /* its events */
	uint64_t data;    /* its data */
	uint64_t ino;     /* the inode of the file behind it */
};

/* 1 and *r when line (len bytes, no newline) is a registration line; 0
 * for any other line (headers, garbage, numbers out of range). */
int s5_fdinfo_line(const char *line, size_t len, struct s5_epoll_reg *r);

#define S5_FDINFO_LINE_MAX 256

/* A reader fed the file in pieces of any size. */
struct s5_fdinfo {
	char line[S5_FDINFO_LINE_MAX];
	size_t len;
	bool overlong; /* a line was longer than S5_FDINFO_LINE_MAX */
};

void s5_fdinfo_init(struct s5_fdinfo *f);

/* Feeds n bytes (eof: they are the last, and an unterminated last line
 * counts). fn gets each registration line completed; a negative return
 * from it stops. Returns how many it got, or -1 when fn stopped or a line
 * was too long (the caller then cannot know the whole list). */
int s5_fdinfo_feed(struct s5_fdinfo *f, const char *buf, size_t n, bool eof,
		   int (*fn)(void *ctx, const struct s5_epoll_reg *r),
		   void *ctx);

/* The asynchronous form, on a socket the caller made non-blocking: starts
 * the TCP connect to the proxy and returns 0 (connected at once: step
 * now), -EINPROGRESS (hs->connecting is set: s5_hs_step first checks that
 * the connect finished, waiting for POLLOUT), or the connect's -errno
 * (hs FAILED). The caller then drives hs with s5_hs_step and enforces its
 * own deadline with s5_hs_expire: the same state machine as the blocking
 * path, resumed from whatever call the program makes next. */
int s5_proxy_start(int fd, const struct sockaddr *proxy, socklen_t plen,
		   struct s5_hs *hs, const struct s5_io *io);

/* ---- log lines (outcome.c) ---- */

struct s5log_line;
/* Appends the proxy's address, and for a chain the proxies after it as
 * the requests named them: "192.0.2.1:1080 -> 203.0.113.1:1090". */
void s5_log_via(struct s5log_line *l, const struct sockaddr *proxy,
		socklen_t plen, const struct s5_hs *hs);

/* Appends ": ok" or ": why (errno text)" for a finished handshake; for a
 * chain, which of its proxies failed. */
void s5_log_hs_result(struct s5log_line *l, const struct s5_hs *hs, int r);

/* Logs how a connect through the proxy ended (ms: how long it took):
 * info for a destination the proxy could not reach, error for the proxy's
 * own failures. */
void s5_tcp_log_outcome(const struct s5_addr *dst,
			const struct sockaddr *proxy, socklen_t plen,
			const struct s5_hs *hs, int r, int64_t ms);

#endif
