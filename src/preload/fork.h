/* One pthread_atfork entry for the whole library (fork.c). Each module
 * that holds a lock registers its own handlers, so no module includes
 * another's internals. fork() with a lock held by another thread must not
 * leave the child with a lock nobody will release: prepare takes the
 * module's locks, parent releases them, child makes them new. */
#ifndef S5_FORK_H
#define S5_FORK_H

/* The lock order, lowest first: prepare runs in this order, parent and
 * child in the reverse one. */
enum s5_fork_order {
	S5_FORK_PROXY,   /* init.c: the proxy name lookup */
	S5_FORK_UDP_NEW, /* udp.c: making a socket's state */
	S5_FORK_UDP,     /* udpsock.c: associations */
	S5_FORK_HOSTS,   /* names.c: /etc/hosts */
	S5_FORK_BLOCKS,  /* getaddrinfo.c: result blocks */
	S5_FORK_LOG,     /* init.c: reopening the log file */
	S5_FORK_SLAB_UDP, /* object memory of each kind (slab.h) */
	S5_FORK_SLAB_TCP,
	S5_FORK_ORDERS
};

struct s5_fork_ops {
	void (*prepare)(void);
	void (*parent)(void);
	void (*child)(void);
};

/* Called from each module's constructor, before any thread of the
 * program can fork; one entry per order. */
void s5_fork_register(enum s5_fork_order order, const struct s5_fork_ops *ops);

/* Installs the handlers (once, from s5_init). */
void s5_fork_install(void);

#endif
