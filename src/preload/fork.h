/* One pthread_atfork entry for the whole library (fork.c). fork() with a
 * lock held by another thread must not leave the child with a lock nobody
 * will release: each module registers its locks here (from a
 * constructor, before the program can fork), and around fork() they are
 * all taken in the lock order below, released in the parent and made new
 * in the child. No module includes another's internals for it. */
#ifndef S5_FORK_H
#define S5_FORK_H

#include <pthread.h>

/* The lock order, lowest first: one value per lock. */
enum s5_fork_order {
	S5_FORK_PROXY,      /* init.c: the proxy name lookup */
	S5_FORK_UDP_NEW,    /* udp.c: making a socket's state */
	S5_FORK_UDP,        /* udpsock.c: associations */
	S5_FORK_CONN,       /* kind_conn.c: handshakes in progress */
	S5_FORK_HOSTS,      /* names.c: /etc/hosts */
	S5_FORK_BLOCKS,     /* getaddrinfo.c: result blocks */
	S5_FORK_LOG,        /* logfile.c: reopening the log file */
	S5_FORK_SLAB_SOCK,  /* object memory of each kind (slab.h) */
	S5_FORK_SLAB_ASSOC,
	S5_FORK_SLAB_TCP,
	S5_FORK_SLAB_CONN,
	S5_FORK_SLAB_EPOLL,
	S5_FORK_SLAB_BIND,
	S5_FORK_ORDERS
};

/* Registers lock m at its place in the order; child (or NULL) runs in the
 * child after m was made new (to renew what goes with it, a condition
 * variable). */
void s5_fork_lock(enum s5_fork_order order, pthread_mutex_t *m,
		  void (*child)(void));

/* Installs the handlers (once, from s5_init). */
void s5_fork_install(void);

#endif
