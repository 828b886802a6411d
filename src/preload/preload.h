/* Internals of the preloaded library: the real libc functions, start-up,
 * the reentrancy guard, the per-descriptor table and the TCP policy.
 * Only this directory knows it runs inside someone else's process. */
#ifndef S5_PRELOAD_H
#define S5_PRELOAD_H

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "s5_config.h"
#include "s5_net.h"
#include "s5_udp.h"

#define S5_EXPORT __attribute__((visibility("default")))

/* Every libc function the library calls that it also interposes, or may
 * interpose later, is called through this table, never by name: a call by
 * name from inside the library would land in its own hook. */
struct __res_state; /* resolv.h */
#define S5_REAL_SYMBOLS(X)                                                    \
	X(connect, int, (int, const struct sockaddr *, socklen_t))            \
	X(getpeername, int, (int, struct sockaddr *, socklen_t *))            \
	X(sendto, ssize_t,                                                     \
	  (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(sendmsg, ssize_t, (int, const struct msghdr *, int))                \
	X(send, ssize_t, (int, const void *, size_t, int))                    \
	X(recv, ssize_t, (int, void *, size_t, int))                          \
	X(recvfrom, ssize_t,                                                   \
	  (int, void *, size_t, int, struct sockaddr *, socklen_t *))         \
	X(recvmsg, ssize_t, (int, struct msghdr *, int))                      \
	X(recvmmsg, int,                                                       \
	  (int, struct mmsghdr *, unsigned int, int, struct timespec *))      \
	X(sendmmsg, int, (int, struct mmsghdr *, unsigned int, int))          \
	X(read, ssize_t, (int, void *, size_t))                               \
	X(readv, ssize_t, (int, const struct iovec *, int))                   \
	X(writev, ssize_t, (int, const struct iovec *, int))                  \
	X(__read_chk, ssize_t, (int, void *, size_t, size_t))                 \
	X(__recv_chk, ssize_t, (int, void *, size_t, size_t, int))            \
	X(__recvfrom_chk, ssize_t,                                             \
	  (int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *)) \
	X(poll, int, (struct pollfd *, nfds_t, int))                          \
	X(write, ssize_t, (int, const void *, size_t))                        \
	X(close, int, (int))                                                  \
	X(close_range, int, (unsigned int, unsigned int, int))                \
	X(dup, int, (int))                                                    \
	X(dup2, int, (int, int))                                              \
	X(dup3, int, (int, int, int))                                         \
	X(fcntl, int, (int, int, ...))                                        \
	X(fcntl64, int, (int, int, ...))                                      \
	X(getsockopt, int, (int, int, int, void *, socklen_t *))              \
	X(setsockopt, int, (int, int, int, const void *, socklen_t))          \
	X(syscall, long, (long, ...))                                         \
	X(shutdown, int, (int, int))                                          \
	X(getaddrinfo, int,                                                    \
	  (const char *, const char *, const struct addrinfo *,               \
	   struct addrinfo **))                                               \
	X(freeaddrinfo, void, (struct addrinfo *))                            \
	X(getnameinfo, int,                                                    \
	  (const struct sockaddr *, socklen_t, char *, socklen_t, char *,     \
	   socklen_t, int))                                                   \
	X(gethostbyname2, struct hostent *, (const char *, int))              \
	X(gethostbyname2_r, int,                                               \
	  (const char *, int, struct hostent *, char *, size_t,               \
	   struct hostent **, int *))                                         \
	X(gethostbyaddr, struct hostent *, (const void *, socklen_t, int))    \
	X(gethostbyaddr_r, int,                                                \
	  (const void *, socklen_t, int, struct hostent *, char *, size_t,    \
	   struct hostent **, int *))                                         \
	X(__res_init, int, (void))                                            \
	X(res_nmkquery, int, (struct __res_state *, int, const char *, int,   \
	  int, const unsigned char *, int, const unsigned char *,             \
	  unsigned char *, int))                                              \
	X(res_query, int, (const char *, int, int, unsigned char *, int))     \
	X(res_search, int, (const char *, int, int, unsigned char *, int))    \
	X(res_querydomain, int,                                                \
	  (const char *, const char *, int, int, unsigned char *, int))       \
	X(res_send, int, (const unsigned char *, int, unsigned char *, int))  \
	X(res_nquery, int, (struct __res_state *, const char *, int, int,     \
	  unsigned char *, int))                                              \
	X(res_nsearch, int, (struct __res_state *, const char *, int, int,    \
	  unsigned char *, int))                                              \
	X(res_nquerydomain, int, (struct __res_state *, const char *,         \
	  const char *, int, int, unsigned char *, int))                      \
	X(res_nsend, int, (struct __res_state *, const unsigned char *, int,  \
	  unsigned char *, int))

struct s5_real {
#define S5_REAL_FIELD(name, ret, args) ret(*name) args;
	S5_REAL_SYMBOLS(S5_REAL_FIELD)
#undef S5_REAL_FIELD
};

/* Filled once by s5_init(); read-only afterwards. */
extern struct s5_real real;

/* The configuration, read once by s5_init(); immutable afterwards (the
 * proxy's addresses are completed once by s5_proxy_ready()). */
extern struct s5_config s5_cfg;

/* The I/O seam for the net layer, made of real libc functions; filled by
 * s5_io_real_init() during s5_init(), read-only afterwards. */
extern struct s5_io s5_io_real;
void s5_io_real_init(void);

/* Start-up: real symbols, configuration, logging. Cheap after the first
 * call (pthread_once). Every hook calls it before anything else. */
void s5_init(void);

/* Only the real symbols (no allocation, no configuration): for hooks that
 * pass most calls straight to libc and may run inside an allocator's own
 * start-up. s5_init() includes it. */
void s5_init_symbols(void);

/* False when a real symbol could not be found: hooks then fail closed. */
bool s5_ready(void);

/* Resolves a proxy host name once, on first use (the resolver may connect,
 * so this runs inside the guard). Returns true when the configuration can
 * proxy a connection. */
bool s5_proxy_ready(void);

/* Reentrancy guard: while set on this thread, hooks pass straight to libc.
 * Set around our own use of libc functions that may call hooked symbols
 * (the resolver connects to name servers). */
bool s5_guarded(void);
void s5_guard_enter(void);
void s5_guard_leave(void);

/* Logs the configuration error once per process (at the first connection
 * it refuses), so programs that never connect stay silent. */
void s5_report_config_error(void);

/* ---- per-descriptor table (fdtable.c) -------------------------------- */

enum s5_fd_kind {
	S5FD_NONE = 0,
	S5FD_TCP = 1,      /* connected through the proxy; peer is virtual */
	S5FD_INTERNAL = 2, /* one of ours (log file, UDP control connection):
			      the program cannot close it */
	S5FD_UDP = 3,      /* a UDP socket with state (struct s5_udp_sock) */
};

/* State of one UDP socket, shared by its descriptors (udpsock.c). */
struct s5_udp_sock {
	_Atomic int refs;   /* first: zeroed last on reuse */
	struct s5_udp u;    /* the association; set up under s5_udp_lock */
	bool associated;    /* an association existed once */
	pid_t assoc_pid;    /* process associating it now, or 0 (udp lock) */
	int refused;        /* -errno when the proxy refused UDP ASSOCIATE */
	/* The UDP_SEGMENT socket option (GSO for every send) when nonzero:
	 * read when the socket is first seen, then kept by setsockopt(). */
	_Atomic int gso;
	/* Virtual peer after connect(); guarded by s5_udp_lock for writes. */
	bool connected;
	struct sockaddr_storage peer; /* as the program gave it */
	socklen_t peer_len;
	struct s5_addr peer_target;   /* what the relay is told */
	/* Fake-address destinations, by port, to name the source of their
	 * replies (the relay reports the address the proxy resolved). */
	uint8_t n_named;
	struct {
		uint16_t port;
		struct sockaddr_storage fake;
		socklen_t len;
	} named[8];
	struct s5_udp_sock *next_free; /* free list */
};

#define S5_FD_CHUNK_BITS 10
#define S5_FD_CHUNK (1u << S5_FD_CHUNK_BITS)
#define S5_FD_CHUNKS 2048 /* covers descriptors below 2 Mi */

struct s5_fd_chunk;
extern _Atomic(struct s5_fd_chunk *) s5_fd_chunks[S5_FD_CHUNKS];

/* False for almost every descriptor a program uses: its part of the
 * table was never mapped. Inline, one load: the fast path of the
 * read/write-family hooks. */
static inline bool s5_fd_maybe_ours(int fd)
{
	return (unsigned int)fd < S5_FD_CHUNK * S5_FD_CHUNKS &&
	       atomic_load_explicit(
		       &s5_fd_chunks[(unsigned int)fd >> S5_FD_CHUNK_BITS],
		       memory_order_relaxed) != NULL;
}

/* Kind of fd: one atomic load for descriptors we never touched. */
enum s5_fd_kind s5_fd_kind(int fd);

/* Records that fd carries a proxied TCP connection to peer. Returns 0 or
 * -ENOMEM / -EBADF (fd beyond what the table covers: then getpeername
 * shows the proxy, nothing else breaks). */
int s5_fd_set_tcp(int fd, const struct sockaddr *peer, socklen_t len);

/* Copies the virtual peer of fd if it is a proxied TCP socket that is
 * still the same socket (same inode) as when it was recorded. */
bool s5_fd_peer(int fd, struct sockaddr_storage *peer, socklen_t *len);

/* Marks fd as internal. Returns 0 or -errno. */
int s5_fd_set_internal(int fd);

/* Forgets fd (close, or a descriptor replaced by dup2). */
void s5_fd_clear(int fd);

/* Forgets every fd in [first, last]. */
void s5_fd_clear_range(unsigned int first, unsigned int last);

/* After newfd became a copy of oldfd: newfd gets oldfd's state. */
void s5_fd_copy(int oldfd, int newfd);

/* The lowest internal descriptor in [from, last], or -1. */
int s5_fd_next_internal(unsigned int from, unsigned int last);

/* A program wants the number of one of our descriptors (dup2 onto it): our
 * descriptor moves to another high number and its owner is told. The old
 * number is closed. Returns 0 or -errno. */
int s5_internal_relocate(int fd);

/* Tells the owner of an internal descriptor that it moved (init.c). */
void s5_internal_moved(int oldfd, int newfd, struct s5_udp_sock *owner);

/* UDP entries: fd gets s (taking over one reference); the state of fd with
 * a new reference (s5_udp_sock_put when done), or NULL. */
int s5_fd_set_udp(int fd, struct s5_udp_sock *s);
struct s5_udp_sock *s5_fd_udp_get(int fd);

/* The owner of an internal descriptor (a UDP socket's control
 * connection), so a relocation can tell it; NULL for the log file. */
void s5_fd_set_owner(int fd, struct s5_udp_sock *owner);
struct s5_udp_sock *s5_fd_owner(int fd);

/* Moves an internal descriptor to a high number, close-on-exec, and marks
 * it internal. Returns the new descriptor (the old one is closed), or the
 * old one when no move was possible. */
int s5_fd_move_high(int fd);

/* ---- names (names.c) ------------------------------------------------- */

enum s5_name_route {
	S5_NAME_LIBC,    /* numeric, localhost, /etc/hosts, or DNS=local */
	S5_NAME_DIRECT,  /* the exclusion list names it: libc, then direct */
	S5_NAME_FAKE,    /* the proxy resolves it: hand out a fake address */
	S5_NAME_INVALID, /* cannot be a DNS name: EAI_NONAME */
	S5_NAME_LOOPBACK, /* below "localhost": the loopback addresses */
};

/* 127.0.0.1 and ::1, the answer for names below localhost. */
extern const uint8_t s5_loopback4[4];
extern const uint8_t s5_loopback6[16];

/* Decides who answers node; for every route but LIBC-by-number, norm
 * (S5_NAME_MAX + 1 bytes) gets the normalised name. */
enum s5_name_route s5_name_route(const char *node, char *norm);

struct s5_pool;
/* The process's pool, mapped on first use; NULL when it cannot be. */
struct s5_pool *s5_pool(void);
/* Seconds on CLOCK_MONOTONIC (shared by all processes: fork-safe). */
uint32_t s5_now_s(void);

/* Remembers an address that an excluded name resolved to. */
void s5_remember_direct(const struct sockaddr *sa);
/* True for an address remembered by s5_remember_direct. */
bool s5_is_direct(int family, const uint8_t *addr);
/* True when a reverse lookup of sa may ask the system resolver: local
 * DNS mode, or an address that is loopback or excluded. In remote mode a
 * PTR query for any other address would tell the local resolver whom the
 * program talks to. */
bool s5_reverse_allowed(const struct sockaddr *sa, socklen_t len);

/* True when addr lies in the configured fake range of its family. */
bool s5_is_fake(int family, const uint8_t *addr);
/* The name behind a fake address: its length, or -ENOENT. */
int s5_fake_to_name(int family, const uint8_t *addr, char *name);

/* The real resolver functions with the reentrancy guard set, so the
 * queries libc sends go to its name server directly (libc_resolver.c). */
int s5_libc_getaddrinfo(const char *node, const char *service,
			const struct addrinfo *hints, struct addrinfo **res);
int s5_libc_getnameinfo(const struct sockaddr *sa, socklen_t salen,
			char *host, socklen_t hostlen, char *serv,
			socklen_t servlen, int flags);
int s5_libc_gethostbyname2_r(const char *name, int af, struct hostent *ret,
			     char *buf, size_t buflen,
			     struct hostent **result, int *h_errnop);
struct hostent *s5_libc_gethostbyname2(const char *name, int af);
int s5_libc_gethostbyaddr_r(const void *addr, socklen_t len, int type,
			    struct hostent *ret, char *buf, size_t buflen,
			    struct hostent **result, int *h_errnop);
struct hostent *s5_libc_gethostbyaddr(const void *addr, socklen_t len,
				      int type);

/* Lays out a hostent for one address (4 or 16 bytes per af) and its
 * name in buf. Returns 0 or ERANGE (hostent.c). */
int s5_hostent_fill(struct hostent *he, char *buf, size_t buflen,
		    const char *name, int af, const uint8_t *addr);

/* True when sa holds a fake address; gives its family and bytes. */
bool s5_sockaddr_fake(const struct sockaddr *sa, socklen_t len, int *family,
		      uint8_t addr[16]);

/* fork() with our resolver locks held by another thread must not leave
 * the child with a lock nobody will release (getaddrinfo.c, names.c). */
void s5_blocks_atfork_prepare(void);
void s5_blocks_atfork_parent(void);
void s5_blocks_atfork_child(void);
void s5_hosts_atfork_prepare(void);
void s5_hosts_atfork_parent(void);
void s5_hosts_atfork_child(void);

/* ---- UDP (udpsock.c, udp.c) ------------------------------------------ */

extern struct s5_udp_io s5_udp_io_real;

/* A new socket state with one reference, for a socket of family. */
struct s5_udp_sock *s5_udp_sock_new(int family);
/* Takes a reference unless the count already reached zero. */
bool s5_udp_sock_ref(struct s5_udp_sock *s);
/* Drops a reference; the last one closes the association. */
void s5_udp_sock_put(struct s5_udp_sock *s);
/* Makes sure s has a live association (creating or renewing it). Returns
 * 0 or -errno (the proxy's refusal, or why it could not be reached). */
int s5_udp_sock_ready(struct s5_udp_sock *s, int fd);
/* Closes the association (the next send makes a new one). */
void s5_udp_sock_drop_assoc(struct s5_udp_sock *s);
void s5_udp_lock(void);
void s5_udp_unlock(void);
void s5_udp_atfork_prepare(void);
void s5_udp_atfork_parent(void);
void s5_udp_atfork_child(void);

/* Send and receive policy: S5_PASS (libc does it), or the result (bytes or
 * -errno). */
ssize_t s5_udp_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t s5_udp_recvmsg(int fd, struct msghdr *msg, int flags);
/* connect() on a datagram socket: S5_PASS, 0 or -errno. */
int s5_udp_connect(int fd, const struct sockaddr *sa, socklen_t len);
/* The virtual peer of a connected proxied UDP socket. */
bool s5_udp_peer(int fd, struct sockaddr_storage *peer, socklen_t *len);
/* After a successful setsockopt(): notes the options the relay cannot
 * carry (UDP_SEGMENT) on a UDP socket the library keeps state for. */
void s5_udp_setsockopt(int fd, int level, int name);

/* ---- policy (policy.c) ----------------------------------------------- */

/* Returned by the policy when the call is not ours: pass it to libc. A
 * value no real result can take: send and receive results are byte
 * counts (a 1-byte datagram must never read as "not ours"). */
#define S5_PASS INT_MAX

struct s5_sock_info {
	int domain, type, protocol;
};

/* SO_DOMAIN, SO_TYPE and SO_PROTOCOL of fd. Returns 0 or -1 (not a
 * socket, bad descriptor). */
int s5_sock_info(int fd, struct s5_sock_info *si);

/* Where a destination goes: S5_PASS (direct: unspecified, excluded, the
 * proxy, or an address an excluded name resolved to), 0 (through the
 * proxy: target is what to ask for, a fake address turned back into its
 * name, *fake then true), or -EHOSTUNREACH (a fake address no name maps
 * to). */
int s5_route_dst(const struct sockaddr *sa, socklen_t len,
		 struct s5_addr *target, bool *fake);

/* A raw or non-UDP datagram socket towards sa: S5_PASS when sa is not
 * proxied, else -EPERM with a log line. */
int s5_refuse_other(const struct sockaddr *sa, socklen_t len,
		    const struct s5_sock_info *si);

/* Decides and carries out a TCP connect: S5_PASS (let libc connect), 0
 * (connected through the proxy), or -errno. */
int s5_tcp_connect(int fd, const struct sockaddr *sa, socklen_t len);

/* True when an IPv6 socket is IPV6_V6ONLY (cannot reach IPv4-mapped
 * addresses). */
bool s5_v6only(int fd);

struct s5log_line;
/* Appends ": ok" or ": why (errno text)" for a finished handshake. */
void s5_log_hs_result(struct s5log_line *l, const struct s5_hs *hs, int r);

/* MSG_FASTOPEN towards dst: on a TCP socket, connects it as connect()
 * would (0 then means "now send without an address"); else S5_PASS. */
int s5_tcp_fastopen(int fd, const struct sockaddr *dst, socklen_t dlen);

/* Hook epilogue: r < 0 sets errno and gives -1; otherwise restores the
 * errno the program had (a successful call leaves errno untouched). */
static inline ssize_t s5_result(ssize_t r, int saved_errno)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	errno = saved_errno;
	return r;
}

/* True for a descriptor whose datagrams the library handles. The first
 * check of every read/write-style hook: one load for all others. */
static inline bool s5_fd_is_udp(int fd)
{
	return s5_fd_maybe_ours(fd) && s5_fd_kind(fd) == S5FD_UDP &&
	       !s5_guarded();
}

#endif
