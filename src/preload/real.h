/* The real libc functions the library calls, and its two-stage start-up.
 *
 * Every libc function the library calls that it also interposes, or may
 * interpose later, is called through this table, never by name: inside
 * the library a call by name lands in its own hook. Depends on nothing
 * else in preload/. */
#ifndef S5_REAL_H
#define S5_REAL_H

#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#define S5_EXPORT __attribute__((visibility("default")))

struct __res_state; /* resolv.h */
#define S5_REAL_SYMBOLS(X)                                                    \
	X(socket, int, (int, int, int))                                       \
	X(bind, int, (int, const struct sockaddr *, socklen_t))               \
	X(listen, int, (int, int))                                            \
	X(accept4, int, (int, struct sockaddr *, socklen_t *, int))           \
	X(getsockname, int, (int, struct sockaddr *, socklen_t *))            \
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
	X(__poll_chk, int, (struct pollfd *, nfds_t, int, size_t))            \
	X(ppoll, int, (struct pollfd *, nfds_t, const struct timespec *,      \
	  const sigset_t *))                                                  \
	X(__ppoll_chk, int, (struct pollfd *, nfds_t,                          \
	  const struct timespec *, const sigset_t *, size_t))                 \
	X(select, int, (int, fd_set *, fd_set *, fd_set *, struct timeval *)) \
	X(pselect, int, (int, fd_set *, fd_set *, fd_set *,                    \
	  const struct timespec *, const sigset_t *))                         \
	X(epoll_create, int, (int))                                           \
	X(epoll_create1, int, (int))                                          \
	X(epoll_ctl, int, (int, int, int, struct epoll_event *))              \
	X(epoll_wait, int, (int, struct epoll_event *, int, int))             \
	X(epoll_pwait, int, (int, struct epoll_event *, int, int,              \
	  const sigset_t *))                                                  \
	X(epoll_pwait2, int, (int, struct epoll_event *, int,                  \
	  const struct timespec *, const sigset_t *))                         \
	X(write, ssize_t, (int, const void *, size_t))                        \
	X(close, int, (int))                                                  \
	X(close_range, int, (unsigned int, unsigned int, int))                \
	X(fclose, int, (FILE *))                                              \
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

/* Filled once by s5_init_symbols() (a NULL field: the symbol was not
 * found); read-only afterwards. */
extern struct s5_real real;

/* Stage one: only the real symbols (no allocation, no configuration), for
 * hooks that pass most calls straight to libc and may run inside an
 * allocator's own start-up. Cheap after the first call (pthread_once). */
void s5_init_symbols(void);

/* Stage two: the configuration and logging as well, for hooks that decide
 * where a connection, datagram or name goes. Includes stage one. */
void s5_init(void);

/* False when a required real symbol could not be found: hooks then fail
 * closed. */
bool s5_ready(void);

#endif
