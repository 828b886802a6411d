/* The per-descriptor table (fd.h).
 *
 * Two levels: a fixed array of chunk pointers, each chunk holding
 * S5_FD_CHUNK entries, mapped on first use. A descriptor the library never
 * touched costs one atomic load (a NULL chunk or a zero kind) in every
 * hook. Chunks are never unmapped.
 *
 * Concurrency: descriptor numbers are unique while open, so two threads
 * write one entry at the same time only when the program itself races
 * close() against use. Writers take the entry's sequence counter from even
 * to odd (a few instructions, no system call inside); readers copy the
 * entry and retry when the counter moved. Objects are taken with a
 * reference that fails once the count reached zero, from type-stable
 * memory (slab.h). Nothing here takes a lock or allocates beyond the
 * first use of a chunk, so close() stays cheap; a kind's release may lock
 * (UDP takes its own locks to close an association).
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fd.h"

#define S5_SEQ_TRIES 64

struct s5_fd_entry {
	_Atomic uint32_t kind;
	_Atomic uint32_t seq; /* odd while a writer owns the entry */
	/* The identity of the open file the entry was made for. */
	_Atomic uint64_t dev, ino;
	/* The state; for S5FD_INTERNAL the owner, without a reference. */
	_Atomic(struct s5_obj *) obj;
};

struct s5_fd_chunk {
	struct s5_fd_entry e[S5_FD_CHUNK];
};

/* Non-static for s5_fd_maybe_ours() in fd.h; only this file writes it. */
_Atomic(struct s5_fd_chunk *) s5_fd_chunks[S5_FD_CHUNKS];
#define chunks s5_fd_chunks

/* ---- objects ---------------------------------------------------------- */

void s5_obj_init(struct s5_obj *o, const struct s5_obj_ops *ops)
{
	o->ops = ops;
	atomic_store_explicit(&o->refs, 1, memory_order_release);
}

bool s5_obj_ref(struct s5_obj *o)
{
	int r = atomic_load(&o->refs);

	while (r > 0)
		if (atomic_compare_exchange_weak(&o->refs, &r, r + 1))
			return true;
	return false;
}

void s5_obj_put(struct s5_obj *o)
{
	if (atomic_fetch_sub(&o->refs, 1) == 1)
		o->ops->release(o);
}

/* ---- entries ---------------------------------------------------------- */

static struct s5_fd_entry *entry(int fd, bool create)
{
	unsigned int i, j;
	struct s5_fd_chunk *c, *expected = NULL;

	if (fd < 0 || (unsigned int)fd >= S5_FD_CHUNK * S5_FD_CHUNKS)
		return NULL;
	i = (unsigned int)fd >> S5_FD_CHUNK_BITS;
	j = (unsigned int)fd & (S5_FD_CHUNK - 1);
	c = atomic_load_explicit(&chunks[i], memory_order_acquire);
	if (c != NULL || !create)
		return c ? &c->e[j] : NULL;
	/* Zeroed memory, and no malloc inside a hook. */
	c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong(&chunks[i], &expected, c)) {
		munmap(c, sizeof(*c));
		c = expected;
	}
	return &c->e[j];
}

enum s5_fd_kind s5_fd_kind(int fd)
{
	struct s5_fd_entry *e = entry(fd, false);

	if (e == NULL)
		return S5FD_NONE;
	return (enum s5_fd_kind)atomic_load_explicit(&e->kind,
						     memory_order_acquire);
}

/* fstat, not through any hook (fstat is not interposed). */
static bool identity(int fd, uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return false;
	*dev = (uint64_t)st.st_dev;
	*ino = (uint64_t)st.st_ino;
	return true;
}

static uint32_t write_begin(struct s5_fd_entry *e)
{
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);
	unsigned int spins = 0;

	for (;;) {
		if (!(s & 1) &&
		    atomic_compare_exchange_weak_explicit(
			    &e->seq, &s, s + 1, memory_order_acquire,
			    memory_order_relaxed))
			return s + 1;
		if (++spins % 64 == 0)
			sched_yield();
		s = atomic_load_explicit(&e->seq, memory_order_relaxed);
	}
}

static void write_end(struct s5_fd_entry *e)
{
	atomic_fetch_add_explicit(&e->seq, 1, memory_order_release);
}

/* Takes the entry's contents out (the caller drops them). */
static void take(struct s5_fd_entry *e, uint32_t *kind, struct s5_obj **obj)
{
	*kind = atomic_exchange_explicit(&e->kind, S5FD_NONE,
					 memory_order_acq_rel);
	*obj = atomic_exchange_explicit(&e->obj, NULL, memory_order_acq_rel);
}

static void drop(uint32_t kind, struct s5_obj *obj)
{
	/* Internal entries hold no reference to their owner. */
	if (obj != NULL && kind != S5FD_INTERNAL && kind != S5FD_NONE)
		s5_obj_put(obj);
}

int s5_fd_attach(int fd, enum s5_fd_kind kind, struct s5_obj *obj)
{
	struct s5_fd_entry *e = entry(fd, true);
	struct s5_obj *old;
	uint64_t dev, ino;
	uint32_t oldkind;

	if (e == NULL || !identity(fd, &dev, &ino)) {
		drop(kind, obj);
		return e == NULL && fd >= 0 &&
				       (unsigned int)fd <
					       S5_FD_CHUNK * S5_FD_CHUNKS
			       ? -ENOMEM
			       : -EBADF;
	}
	write_begin(e);
	take(e, &oldkind, &old);
	atomic_store_explicit(&e->dev, dev, memory_order_relaxed);
	atomic_store_explicit(&e->ino, ino, memory_order_relaxed);
	atomic_store_explicit(&e->obj, obj, memory_order_relaxed);
	atomic_store_explicit(&e->kind, kind, memory_order_release);
	write_end(e);
	drop(oldkind, old);
	return 0;
}

struct snapshot {
	uint32_t seq, kind;
	uint64_t dev, ino;
	struct s5_obj *obj;
};

static bool read_entry(struct s5_fd_entry *e, struct snapshot *s)
{
	int tries;

	for (tries = 0; tries < S5_SEQ_TRIES; tries++) {
		s->seq = atomic_load_explicit(&e->seq, memory_order_acquire);
		if (s->seq & 1) {
			sched_yield();
			continue;
		}
		/* Acquire loads: the second look at seq below cannot move
		 * before them (a fence would do too, but ThreadSanitizer
		 * does not model fences). */
		s->kind = atomic_load_explicit(&e->kind, memory_order_acquire);
		s->dev = atomic_load_explicit(&e->dev, memory_order_acquire);
		s->ino = atomic_load_explicit(&e->ino, memory_order_acquire);
		s->obj = atomic_load_explicit(&e->obj, memory_order_acquire);
		if (atomic_load_explicit(&e->seq, memory_order_relaxed) ==
		    s->seq)
			return true;
	}
	return false;
}

/* Drops the entry if it is still what the snapshot saw. */
static void clear_if_same(struct s5_fd_entry *e, const struct snapshot *s)
{
	struct s5_obj *old;
	uint32_t oldkind, expected = s->seq;

	if (!atomic_compare_exchange_strong_explicit(&e->seq, &expected,
						     s->seq + 1,
						     memory_order_acquire,
						     memory_order_relaxed))
		return;
	take(e, &oldkind, &old);
	write_end(e);
	drop(oldkind, old);
}

/* A valid snapshot of fd's entry of this kind: true when fd is still the
 * file the entry was made for. A stale entry is dropped. */
static bool lookup(int fd, enum s5_fd_kind kind, struct s5_fd_entry **ep,
		   struct snapshot *s)
{
	struct s5_fd_entry *e = entry(fd, false);
	uint64_t dev, ino;

	if (e == NULL || !read_entry(e, s) || s->kind != (uint32_t)kind)
		return false;
	*ep = e;
	if (identity(fd, &dev, &ino) && dev == s->dev && ino == s->ino)
		return true;
	clear_if_same(e, s);
	return false;
}

/* The snapshot's object with a new reference, if the entry still holds
 * it (else a close or attach raced us). */
static struct s5_obj *ref_current(struct s5_fd_entry *e,
				  const struct snapshot *s)
{
	if (s->obj == NULL || !s5_obj_ref(s->obj))
		return NULL;
	if (atomic_load_explicit(&e->seq, memory_order_acquire) == s->seq)
		return s->obj;
	s5_obj_put(s->obj);
	return NULL;
}

struct s5_obj *s5_fd_get(int fd, enum s5_fd_kind kind)
{
	struct s5_fd_entry *e;
	struct snapshot s;

	if (kind == S5FD_INTERNAL || !lookup(fd, kind, &e, &s))
		return NULL;
	return ref_current(e, &s);
}

struct s5_obj *s5_fd_peek(int fd, enum s5_fd_kind kind)
{
	struct s5_fd_entry *e = entry(fd, false);
	struct snapshot s;

	if (kind == S5FD_INTERNAL || e == NULL || !read_entry(e, &s) ||
	    s.kind != (uint32_t)kind)
		return NULL;
	return ref_current(e, &s);
}

bool s5_fd_is_internal(int fd)
{
	struct s5_fd_entry *e;
	struct snapshot s;

	return lookup(fd, S5FD_INTERNAL, &e, &s);
}

struct s5_obj *s5_fd_owner(int fd)
{
	struct s5_fd_entry *e;
	struct snapshot s;

	if (!lookup(fd, S5FD_INTERNAL, &e, &s) || s.obj == NULL ||
	    !s5_obj_ref(s.obj))
		return NULL;
	return s.obj;
}

void s5_fd_clear(int fd)
{
	struct s5_fd_entry *e = entry(fd, false);
	struct s5_obj *old;
	uint32_t oldkind;

	if (e == NULL ||
	    atomic_load_explicit(&e->kind, memory_order_acquire) == S5FD_NONE)
		return;
	write_begin(e);
	take(e, &oldkind, &old);
	write_end(e);
	drop(oldkind, old);
}

/* At the start of a chunk that was never mapped, moves *fd to its last
 * descriptor and says so: range walks skip whole empty chunks. */
static bool skip_unmapped(unsigned int *fd)
{
	if ((*fd & (S5_FD_CHUNK - 1)) != 0 ||
	    atomic_load_explicit(&chunks[*fd >> S5_FD_CHUNK_BITS],
				 memory_order_acquire) != NULL)
		return false;
	*fd |= S5_FD_CHUNK - 1;
	return true;
}

void s5_fd_clear_range(unsigned int first, unsigned int last)
{
	unsigned int limit = S5_FD_CHUNK * S5_FD_CHUNKS - 1;
	unsigned int fd;

	if (last > limit)
		last = limit;
	for (fd = first; fd <= last && fd >= first; fd++) {
		if (skip_unmapped(&fd) || s5_fd_kind((int)fd) == S5FD_NONE)
			continue;
		/* A stale internal mark is dropped by the check itself. */
		if (!s5_fd_is_internal((int)fd))
			s5_fd_clear((int)fd);
	}
}

void s5_fd_copy(int oldfd, int newfd)
{
	enum s5_fd_kind kind = s5_fd_kind(oldfd);
	struct s5_obj *o = NULL;

	if (kind != S5FD_NONE && kind != S5FD_INTERNAL)
		o = s5_fd_get(oldfd, kind);
	if (o == NULL) {
		s5_fd_clear(newfd);
		return;
	}
	/* The new entry keeps the reference just taken. */
	(void)s5_fd_attach(newfd, kind, o);
}

struct s5_obj *s5_fd_find_same(int fd, enum s5_fd_kind kind)
{
	unsigned int i, j, other;
	struct s5_fd_chunk *c;
	struct s5_obj *o;
	struct snapshot s;
	uint64_t dev, ino;

	if (kind == S5FD_INTERNAL || !identity(fd, &dev, &ino))
		return NULL;
	for (i = 0; i < S5_FD_CHUNKS; i++) {
		c = atomic_load_explicit(&chunks[i], memory_order_acquire);
		for (j = 0; c != NULL && j < S5_FD_CHUNK; j++) {
			other = i << S5_FD_CHUNK_BITS | j;
			if (other == (unsigned int)fd ||
			    atomic_load_explicit(&c->e[j].kind,
						 memory_order_relaxed) !=
				    (uint32_t)kind ||
			    !read_entry(&c->e[j], &s) || s.dev != dev ||
			    s.ino != ino)
				continue;
			/* Checks that the other number still is that file. */
			o = s5_fd_get((int)other, kind);
			if (o != NULL)
				return o;
		}
	}
	return NULL;
}

int s5_fd_next(unsigned int from, enum s5_fd_kind kind)
{
	unsigned int fd;

	for (fd = from; fd < S5_FD_CHUNK * S5_FD_CHUNKS; fd++) {
		if (skip_unmapped(&fd))
			continue;
		if (s5_fd_kind((int)fd) == kind)
			return (int)fd;
	}
	return -1;
}

int s5_fd_next_internal(unsigned int from, unsigned int last)
{
	unsigned int limit = S5_FD_CHUNK * S5_FD_CHUNKS - 1;
	unsigned int fd;

	if (last > limit)
		last = limit;
	for (fd = from; fd <= last && fd >= from; fd++) {
		if (skip_unmapped(&fd))
			continue;
		if (s5_fd_kind((int)fd) == S5FD_INTERNAL &&
		    s5_fd_is_internal((int)fd))
			return (int)fd;
	}
	return -1;
}
