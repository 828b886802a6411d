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

#define S5_SLAB_INIT(type)                                                    \
	{ .size = (sizeof(type) + 15) & ~(size_t)15,                          \
	  .lock = PTHREAD_MUTEX_INITIALIZER, .free = NULL }

/* A zeroed object but for its first int (the reference count, left as the
 * last owner left it: zero), or NULL. */
void *s5_slab_alloc(struct s5_slab *s);
void s5_slab_free(struct s5_slab *s, void *p);

#endif
