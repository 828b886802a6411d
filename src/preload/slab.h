/* Type-stable memory for the table's objects: slabs that are never
 * unmapped, recycled through a free list per kind. A freed object's
 * reference count stays readable (zero), which is what lets the table
 * take references without a lock (fd.h). */
#ifndef S5_SLAB_H
#define S5_SLAB_H

#include <pthread.h>
#include <stddef.h>

struct s5_slab_free {
	struct s5_slab_free *next;
};

struct s5_slab {
	size_t size;                /* of one object, a multiple of 16 */
	pthread_mutex_t lock;       /* guards free; registered with fork.h */
	struct s5_slab_free *free;
};

/* Where a free object keeps its free-list link: after the reference count
 * and the operations pointer, which must stay readable while it is free.
 * Every object has room for the link there, however small its type (a
 * struct s5_epoll is 16 bytes with 32-bit pointers: its link would be
 * the next object's reference count, and the last one's past the slab). */
#define S5_SLAB_LINK_OFFSET 16
#define S5_SLAB_MIN (S5_SLAB_LINK_OFFSET + sizeof(struct s5_slab_free))

#define S5_SLAB_INIT(type)                                                    \
	{ .size = ((sizeof(type) > S5_SLAB_MIN ? sizeof(type) : S5_SLAB_MIN) + \
		   15) & ~(size_t)15,                                        \
	  .lock = PTHREAD_MUTEX_INITIALIZER, .free = NULL }

/* A zeroed object but for its first int (the reference count, left as the
 * last owner left it: zero), or NULL. */
void *s5_slab_alloc(struct s5_slab *s);
void s5_slab_free(struct s5_slab *s, void *p);

#endif
