/* The supervisor's modules: the state they share.
 *
 *   filter.c   the seccomp program (which calls notify, which are refused)
 *   spawn.c    fork, install the filter in the child, fetch its listener,
 *              exec; signals and exit statuses
 *   loop.c     the event loop: notifications, pending operations,
 *              deadlines, the DNS responder's sockets
 *   calls.c    one handler per caught call (connect, sendto, sendmsg,
 *              sendmmsg, getpeername)
 *   target.c   reaching into a supervised process: its memory, its
 *              descriptors (pidfd_getfd), answering a notification
 *   route.c    where a destination goes: the proxy, direct, the DNS
 *              responder, or nowhere
 *   peers.c    the destinations of sockets connected through the proxy,
 *              for getpeername
 *   dnssrv.c   the DNS responder: name servers' queries answered with
 *              fake addresses, names excluded from the proxy forwarded
 *
 * One thread: every wait is a poll in the loop, so a slow proxy holds up
 * only the call waiting for it.
 */
#ifndef S5_SUP_H
#define S5_SUP_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "s5_config.h"
#include "s5_net.h"
#include "s5_try.h"
#include "s5_proto.h"

struct s5_pool;

/* ---- filter.c ---------------------------------------------------------- */

#define S5S_FILTER_MAX 32

/* Writes the filter program into out (room for S5S_FILTER_MAX). Returns
 * its length, or 0 when this architecture is not known. */
size_t s5s_filter(struct sock_filter *out);

/* ---- peers.c ----------------------------------------------------------- */

#define S5S_PEERS_MAX 4096

/* A socket connected through the proxy: what getpeername must show. */
struct s5s_peer {
	uint64_t dev, ino; /* the socket's file (fstat) */
	uint64_t stamp;    /* for replacing the oldest when full */
	struct sockaddr_storage dst, proxy;
	socklen_t dlen, plen;
};

struct s5s_peers {
	struct s5s_peer *tab; /* S5S_PEERS_MAX entries, ino 0 = free */
	uint64_t clock;
};

int s5s_peers_init(struct s5s_peers *p);
void s5s_peers_free(struct s5s_peers *p);
void s5s_peers_put(struct s5s_peers *p, int fd, const struct sockaddr *dst,
		   socklen_t dlen, const struct sockaddr *proxy,
		   socklen_t plen);
/* The entry for the socket fd, when it is still connected to the proxy
 * it was connected to; NULL otherwise. */
const struct s5s_peer *s5s_peers_get(struct s5s_peers *p, int fd);

/* ---- dnssrv.c ---------------------------------------------------------- */

#define S5S_NS_MAX 8
#define S5S_FWD_MAX 64

struct s5s_fwd {
	int fd; /* -1: free */
	int64_t deadline;
	uint16_t id; /* the program's query ID */
	int rsock;   /* the responder socket the query came in on */
	struct sockaddr_storage from;
	socklen_t fromlen;
};

struct s5s_dns {
	/* The name servers of resolv.conf (port 53): datagrams to these are
	 * the program's DNS queries. */
	struct s5_addr ns[S5S_NS_MAX];
	size_t n_ns;
	/* The first of them as a sockaddr: where forwarded queries go. */
	struct sockaddr_storage fwd_to;
	socklen_t fwd_to_len;
	/* The responder: UDP on 127.0.0.1 and ::1, ports the kernel chose
	 * (fd -1 when absent). */
	int fd4, fd6;
	struct sockaddr_in addr4;
	struct sockaddr_in6 addr6;
	/* Queries for names resolved locally, forwarded to ns[0]. */
	struct s5s_fwd fwd[S5S_FWD_MAX];
};

struct sup;

int s5s_dns_init(struct sup *s);
void s5s_dns_free(struct s5s_dns *d);
/* True when a is one of the name servers, port 53. */
bool s5s_dns_is_ns(const struct s5s_dns *d, const struct s5_addr *a);
/* The responder's address for a socket of this domain (an IPv6 socket
 * that is not IPV6_V6ONLY gets the IPv4-mapped one). Returns 0, or
 * -EAFNOSUPPORT / -ENETUNREACH when there is none. */
int s5s_dns_addr(const struct s5s_dns *d, int domain, bool v6only,
		 struct sockaddr_storage *out, socklen_t *len);
/* A query arrived on the responder socket fd: answer it. */
void s5s_dns_serve(struct sup *s, int fd);
/* A forwarded query's socket is readable, or its deadline passed. */
void s5s_dns_fwd_ready(struct sup *s, struct s5s_fwd *f);
void s5s_dns_fwd_expire(struct sup *s, int64_t now);

/* ---- route.c ----------------------------------------------------------- */

enum s5s_route {
	S5S_DIRECT = 1, /* the kernel may do it (we do it on our copy) */
	S5S_PROXY,      /* through the proxy: target filled */
	S5S_DNS,        /* a name server's port 53: the responder */
};

/* Where a datagram or connection from a socket of this domain/type to the
 * program's sockaddr goes. sa is as read from the program (len bytes);
 * target gets the SOCKS address (a name for a fake address). Returns a
 * route, or -errno: -EAFNOSUPPORT for an address the kernel would refuse,
 * -EHOSTUNREACH for a fake address no name maps to (logged). */
int s5s_route(struct sup *s, int domain, int type, const struct sockaddr *sa,
	      socklen_t len, struct s5_addr *target);

/* ---- target.c ---------------------------------------------------------- */

/* One caught call. */
struct s5s_call {
	uint64_t id;
	pid_t tid;
	int nr;
	uint64_t args[6];
	int fd; /* our copy of the program's descriptor args[0], or -1 */
	int domain, type, protocol;
};

/* Copies len bytes from the calling thread's memory. Returns 0, -EFAULT
 * for an address it cannot read there, -EPERM when the process cannot be
 * read at all (logged once per call). */
int s5s_mem_read(const struct s5s_call *c, uint64_t addr, void *buf,
		 size_t len);
int s5s_mem_write(const struct s5s_call *c, uint64_t addr, const void *buf,
		  size_t len);
/* Takes a copy of the program's descriptor args[0] into c->fd and reads
 * its domain, type and protocol (domain -1 when it is not a socket).
 * Returns 0 or -errno (-EBADF as the program's call would give). */
int s5s_take_fd(struct sup *s, struct s5s_call *c);
/* Answers: the call returns val, or fails with err (> 0). */
void s5s_answer(struct sup *s, const struct s5s_call *c, int err,
		int64_t val);
/* The kernel runs the call as the program made it. */
void s5s_continue(struct sup *s, const struct s5s_call *c);
/* A send we made for the program failed with EPIPE: the thread gets the
 * SIGPIPE the kernel would have sent it, unless flags has MSG_NOSIGNAL.
 * Call before answering. */
void s5s_sigpipe(struct sup *s, const struct s5s_call *c, int flags);
/* True while the call still waits for us (the thread was not killed). */
bool s5s_call_valid(struct sup *s, const struct s5s_call *c);

/* ---- calls.c ----------------------------------------------------------- */

void s5s_handle(struct sup *s, struct s5s_call *c);

/* After the handshake of op failed with r: when the proxy was not there
 * and the list has another (s5_try_failed), dissolves the socket's
 * association and starts the handshake with the next proxy, with a fresh
 * deadline. Returns true when op goes on, false when r stands. */
struct s5s_op;
bool s5s_proxy_next(struct sup *s, struct s5s_op *op, int r);

/* ---- loop.c: pending operations -------------------------------------- */

enum s5s_op_kind {
	S5S_OP_PROXY,  /* a handshake with the proxy */
	S5S_OP_DIRECT, /* a direct connect on a blocking socket */
};

struct s5s_op {
	enum s5s_op_kind kind;
	struct s5s_call call;
	int saved_fl; /* the file's status flags before we made it
			 non-blocking */
	int64_t t0, deadline; /* deadline -1: none */
	short want;
	struct s5_hs hs;
	struct s5_try try; /* which proxies are left (s5_try.h) */
	struct sockaddr_storage dst, proxy;
	socklen_t dlen, plen;
	/* sendto/sendmsg with MSG_FASTOPEN: the data to send once
	 * connected (malloc'd) */
	uint8_t *data;
	size_t data_len;
	int send_flags;
};

/* Takes op (malloc'd) into the loop's pending list. */
int s5s_op_add(struct sup *s, struct s5s_op *op);
/* Ends op: restores the file's flags, answers, frees. */
void s5s_op_finish(struct sup *s, struct s5s_op *op, int err, int64_t val);
/* Drives op after poll gave revents for its descriptor (0: the first
 * step). Returns true when the op is finished (and freed). */
bool s5s_op_step(struct sup *s, struct s5s_op *op, short revents);

/* ---- the whole state ------------------------------------------------- */

struct sup {
	const struct s5_config *cfg;
	/* Shared with the preload of the programs in the tree (a memfd:
	 * pool_fd), so a name either resolves means the same to both. */
	struct s5_pool *pool;
	int pool_fd;
	int listener;
	pid_t child;
	bool child_done, thread_pidfd_ok, thread_pidfd_tried, listener_hup;
	int child_status;
	int sigfd;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	size_t req_size, resp_size;
	struct s5s_op **ops;
	size_t n_ops, cap_ops;
	struct s5s_peers peers;
	struct s5s_dns dns;
};

/* loop.c: serves until the last supervised process is gone. Returns the
 * exit status. */
int s5s_loop(struct sup *s);

#endif
