/* The per-descriptor table: which descriptors carry state of the library,
 * of which kind, and the object that holds it.
 *
 * Each entry holds a kind and a reference-counted object (struct s5_obj)
 * with its own operations; the table knows no kind's internals. Every
 * entry records the identity of the open file it was made for (device and
 * inode), and every lookup that hands state out checks it first: a number
 * the kernel gave to another file after a close the hooks did not see
 * (fclose of an fdopen()ed socket, closefrom(), a raw close_range system
 * call) is never mistaken for ours, and its stale entry is dropped.
 *
 * A new kind of state is one file (its object and operations) and one
 * enum value here. */
#ifndef S5_FD_H
#define S5_FD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum s5_fd_kind {
	S5FD_NONE = 0,
	S5FD_TCP = 1,      /* connected through the proxy (kind_tcp.c) */
	S5FD_INTERNAL = 2, /* one of ours: the log file, a UDP control
			      connection (kind_internal.c); the program
			      cannot close it */
	S5FD_UDP = 3,      /* a UDP socket with state (udpsock.c) */
	S5FD_CONN = 4,     /* a non-blocking connect through the proxy,
			      handshake running or just ended (kind_conn.c) */
	S5FD_EPOLL = 5,    /* an epoll instance the program made
			      (kind_conn.c looks into it) */
	S5FD_BIND = 6,     /* bound to an ephemeral port, or listening
			      through the proxy (kind_bind.c) */
};

struct s5_obj;

struct s5_obj_ops {
	/* The last reference went: free the object (and close what it
	 * owns). */
	void (*release)(struct s5_obj *o);
	/* An internal descriptor the object owns moved from oldfd to
	 * newfd (a program wanted its number); optional. */
	void (*moved)(struct s5_obj *o, int oldfd, int newfd);
};

/* The head of every object in the table. Objects live in type-stable
 * memory (slab.c): a reference is taken only while refs is above zero,
 * so a thread that races a close() never touches freed memory. */
struct s5_obj {
	_Atomic int refs;
	const struct s5_obj_ops *ops;
};

/* Sets refs to 1 (last: until then nobody can take a reference). */
void s5_obj_init(struct s5_obj *o, const struct s5_obj_ops *ops);
/* Takes a reference unless the count already reached zero. */
bool s5_obj_ref(struct s5_obj *o);
/* Drops a reference; the last one calls ops->release. */
void s5_obj_put(struct s5_obj *o);

#define S5_FD_CHUNK_BITS 10
#define S5_FD_CHUNK (1u << S5_FD_CHUNK_BITS)
#define S5_FD_CHUNKS 2048 /* covers descriptors below 2 Mi */

struct s5_fd_chunk;
extern _Atomic(struct s5_fd_chunk *) s5_fd_chunks[S5_FD_CHUNKS];

/* False for almost every descriptor a program uses: its part of the table
 * was never mapped. Inline, one load: the fast path of the read/write
 * family of hooks. */
static inline bool s5_fd_maybe_ours(int fd)
{
	return (unsigned int)fd < S5_FD_CHUNK * S5_FD_CHUNKS &&
	       atomic_load_explicit(
		       &s5_fd_chunks[(unsigned int)fd >> S5_FD_CHUNK_BITS],
		       memory_order_relaxed) != NULL;
}

/* The kind recorded for fd, unchecked: one load. A hint for dispatch; the
 * state itself comes from s5_fd_get(), which checks identity. */
enum s5_fd_kind s5_fd_kind(int fd);

/* Records obj as fd's state of this kind, with fd's identity now; the
 * entry takes over one reference to obj (also on failure, when it is
 * dropped). An internal entry holds its owner without a reference (the
 * owner closes the descriptor before it goes), and obj may be NULL there.
 * Whatever fd had before is dropped. Returns 0, -EBADF (fd out of the
 * table's range, or not open) or -ENOMEM. */
int s5_fd_attach(int fd, enum s5_fd_kind kind, struct s5_obj *obj);

/* fd's object of this kind with a new reference (s5_obj_put when done),
 * or NULL: no such state, or fd is no longer the file it was recorded
 * for (the stale entry is then dropped). */
struct s5_obj *s5_fd_get(int fd, enum s5_fd_kind kind);

/* fd's object of this kind with a new reference, or NULL, by the record
 * alone: no look at the file. For kinds whose files all look alike to
 * fstat (every epoll instance shares one anonymous inode), where the check
 * would prove nothing and would touch descriptors other threads own. */
struct s5_obj *s5_fd_peek(int fd, enum s5_fd_kind kind);

/* True when fd is an internal descriptor and still the file the library
 * opened (a stale mark is dropped). */
bool s5_fd_is_internal(int fd);

/* The owner of a valid internal descriptor, with a reference; NULL for
 * none (the log file has a static owner). */
struct s5_obj *s5_fd_owner(int fd);

/* Forgets fd (before a close, or when its number now means another file). */
void s5_fd_clear(int fd);

/* Forgets every fd in [first, last] except valid internal ones. */
void s5_fd_clear_range(unsigned int first, unsigned int last);

/* After newfd became a copy of oldfd (dup and friends): newfd shares
 * oldfd's state, or has none. Internal state is never copied. */
void s5_fd_copy(int oldfd, int newfd);

/* The object of this kind that another descriptor for the same open file
 * as fd has, with a new reference; NULL if none. For state made on one
 * copy of a socket after the copies were made (dup and friends copy only
 * existing state): the copies are one socket. Walks the mapped table. */
struct s5_obj *s5_fd_find_same(int fd, enum s5_fd_kind kind);

/* The lowest descriptor from `from` on whose entry is of this kind, by
 * the unchecked record (s5_fd_get checks it), or -1. */
int s5_fd_next(unsigned int from, enum s5_fd_kind kind);

/* The lowest valid internal descriptor in [from, last], or -1. */
int s5_fd_next_internal(unsigned int from, unsigned int last);

#endif
