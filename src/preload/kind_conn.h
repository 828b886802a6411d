/* S5FD_CONN: a non-blocking connect() through the proxy whose handshake
 * runs while the program waits (kind_conn.c), and S5FD_EPOLL, the epoll
 * instances the program made, which kind_conn.c looks into.
 *
 * connect() on a non-blocking TCP socket starts the TCP connect to the
 * proxy and returns EINPROGRESS; the handshake then advances inside the
 * calls the program makes anyway while it waits for the socket: the
 * readiness calls (wait.c, epoll.c), getsockopt(SO_ERROR), a repeated
 * connect() and the read/write family on that socket. No thread, process
 * or signal of the library's own is involved.
 *
 * Until the CONNECT reply arrived the program sees a socket whose connect
 * is in progress: not writable, ENOTCONN from getpeername, EAGAIN from
 * reads and writes, EALREADY from connect. Then it sees the outcome a
 * direct non-blocking connect would have: writable and SO_ERROR 0, or
 * POLLOUT|POLLERR|POLLHUP and SO_ERROR with the errno (once).
 *
 * The fast path of every readiness hook is one load of s5_conn_word: no
 * handshake in progress, nothing to do. */
#ifndef S5_KIND_CONN_H
#define S5_KIND_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "s5_net.h"
#include "s5_try.h"

struct s5_conn;

/* Low 32 bits: handshakes in progress (plus one for good once a tag of
 * ours may have been left in an epoll set). High 32 bits: a count of
 * handshakes ever started, so a wait that began with none in progress
 * can tell that one started (and may have tagged its events) meanwhile. */
extern _Atomic uint64_t s5_conn_word;

static inline uint64_t s5_conn_now(void)
{
	return atomic_load_explicit(&s5_conn_word, memory_order_acquire);
}

static inline bool s5_conn_idle(uint64_t w)
{
	return (uint32_t)w == 0;
}

/* connect() on a non-blocking socket fd towards dst, through the proxy
 * at proxy, with hs prepared (s5_hs_init). Returns -EINPROGRESS (the
 * handshake runs on), 0 or -errno when it ended at once, or S5_PASS when
 * it cannot run asynchronously (no room, no copy of the descriptor, epoll
 * sets it cannot read): the caller then runs it blocking. hs is copied
 * (and wiped by the caller as usual), and t, the proxies left to try
 * when this one is not there (failover). show_bnd: getsockname() is to show
 * the reply's BND afterwards (s5_tcp_mark). */
int s5_conn_start(int fd, const struct sockaddr *proxy, socklen_t plen,
		  const struct sockaddr *dst, socklen_t dlen,
		  const struct s5_hs *hs, const struct s5_try *t,
		  bool optimistic, bool show_bnd);

/* ---- per descriptor: S5_PASS when fd has no such entry ---------------- */

/* The read/write family: -EAGAIN while the handshake runs on a
 * non-blocking socket (a blocking one waits for the end), the failure's
 * errno once, S5_PASS otherwise. dontwait: MSG_DONTWAIT was given. With
 * optimistic data, writes pass as soon as the request left and reads
 * first take the replies. */
int s5_conn_io(int fd, bool dontwait, bool reading);

/* A repeated connect(): -EALREADY, -EISCONN, the failure once; S5_PASS
 * when fd has no entry or its failure was reported (connect afresh). */
int s5_conn_connect(int fd);

/* getsockopt(SO_ERROR): 0 with *err set, or S5_PASS (the kernel's). */
int s5_conn_so_error(int fd, int *err);

/* TCP_NODELAY while optimistic data holds it on (kind_conn.c): get (set
 * NULL) gives the program's value, set (get NULL) records it; 0 then, or
 * S5_PASS: the kernel's own option applies. */
int s5_conn_nodelay(int fd, const int *set, int *get);

/* getpeername(): -ENOTCONN until the handshake succeeded, then 0 with
 * the destination; S5_PASS without an entry. */
int s5_conn_peer(int fd, struct sockaddr_storage *peer, socklen_t *len);

/* ---- readiness waits (wait.c, epoll.c) -------------------------------- */

/* fd's handshake with a reference (s5_conn_put), or NULL. */
struct s5_conn *s5_conn_get(int fd);
void s5_conn_put(struct s5_conn *c);

/* What to poll fd for while its handshake runs (POLLIN or POLLOUT), or 0
 * when it ended: then the program's own events apply. */
short s5_conn_want(struct s5_conn *c);

/* Bits to add to what the kernel reports for the program: POLLERR while
 * a failure is not yet reported; for a socket inherited mid-handshake
 * (another process drives it), the whole failure. */
short s5_conn_extra(struct s5_conn *c);

/* True for a socket inherited mid-handshake: never waited on. */
bool s5_conn_inherited(struct s5_conn *c);

/* True while optimistic data waits for the replies: readable may mean
 * only they arrived. */
bool s5_conn_optimistic(struct s5_conn *c);

/* Advances the handshake without blocking; another thread that holds it
 * is told to go on instead. */
void s5_conn_drive(struct s5_conn *c);

/* Fails the handshakes past their deadline (ETIMEDOUT), and returns the
 * earliest deadline of those still in progress (s5_now_ms time), or
 * INT64_MAX: one look at every handshake per round of a wait. */
int64_t s5_conn_expire(void);

/* An epoll event: S5_TAG_NONE for the program's; else the library's,
 * which the caller drops: S5_TAG_OURS (its handshake was advanced) or
 * S5_TAG_STALE (a handshake this process cannot drive: ended, or its
 * parent's after a fork, which the parent will take). */
enum { S5_TAG_NONE, S5_TAG_OURS, S5_TAG_STALE };
int s5_conn_epoll_event(uint64_t data);

/* In a fork child, for an event of the program's on epfd: EPOLLERR |
 * EPOLLHUP when it belongs to a handshake the child inherited (it failed
 * here), else 0. */
uint32_t s5_conn_epoll_inherited(int epfd, uint64_t data);

/* epoll_ctl() on a socket whose handshake runs: the program's events and
 * data are kept aside and restored when it ends. S5_PASS otherwise. */
int s5_conn_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);

/* A new epoll instance of the program's (epoll_create*). */
void s5_epoll_track(int epfd);

/* A registration of a descriptor in one of the program's epoll sets. */
struct s5_epoll_at {
	int epfd;
	uint32_t events;
	uint64_t data;
};

/* The registrations of fd (under that number) in the epoll instances the
 * program made, up to max into at: how many, or -1 when a set cannot be
 * read or there are more. */
int s5_epoll_regs(int fd, struct s5_epoll_at *at, int max);

/* Removes fd (still open) from every epoll instance the program made, as
 * the kernel does when the last descriptor of a file closes: for a file
 * that the library keeps open under another number (kind_bind.c). Nothing
 * when a set cannot be read or fd has more than 64 registrations. */
void s5_epoll_forget(int fd);

#endif
