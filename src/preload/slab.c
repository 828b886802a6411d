/* Type-stable allocation (slab.h). mmap rather than malloc: hooks run in
 * malloc-sensitive places, and the memory must never go back. */
#include <string.h>
#include <sys/mman.h>

#include "slab.h"

#define S5_SLAB_BYTES (64u * 1024u)

/* The free-list link sits after the reference count, which must stay
 * readable as zero while the object is free (slab.h). */
#define LINK_OFFSET S5_SLAB_LINK_OFFSET

static struct s5_slab_free *link_of(void *p)
{
	return (struct s5_slab_free *)(void *)((char *)p + LINK_OFFSET);
}

static void *obj_of(struct s5_slab_free *l)
{
	return (char *)l - LINK_OFFSET;
}

static int refill(struct s5_slab *s)
{
	size_t i, n = S5_SLAB_BYTES / s->size;
	char *slab = mmap(NULL, S5_SLAB_BYTES, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (slab == MAP_FAILED)
		return -1;
	for (i = 0; i < n; i++) {
		struct s5_slab_free *l = link_of(slab + i * s->size);

		l->next = s->free;
		s->free = l;
	}
	return 0;
}

void *s5_slab_alloc(struct s5_slab *s)
{
	struct s5_slab_free *l;
	void *p;

	pthread_mutex_lock(&s->lock);
	if (s->free == NULL && refill(s) < 0) {
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	l = s->free;
	s->free = l->next;
	pthread_mutex_unlock(&s->lock);
	p = obj_of(l);
	memset((char *)p + sizeof(int), 0, s->size - sizeof(int));
	return p;
}

void s5_slab_free(struct s5_slab *s, void *p)
{
	struct s5_slab_free *l = link_of(p);

	pthread_mutex_lock(&s->lock);
	l->next = s->free;
	s->free = l;
	pthread_mutex_unlock(&s->lock);
}
