/* The pool's mapping, its lock, and recovery from a holder that died.
 *
 * Recovery leans on one rule kept by every update: the slots are the
 * truth and the name index is derived from them. A slot is marked FREE
 * before its name is rewritten and USED only once the name is whole, so
 * after a death the index can be rebuilt from the USED slots alone.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns_internal.h"

/* Beyond this the mapping would be gigabytes; no program needs as many
 * live names, and the index arithmetic stays far from overflow. */
#define POOL_MAX_CAPACITY (1u << 24)
#define ALIGN 64 /* keeps each array on its own cache lines */

static size_t align_up(size_t n)
{
	return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

static bool range_ok(const struct s5_cidr *c, int family, unsigned max)
{
	return c && c->family == family && c->prefix >= 1 && c->prefix <= max;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Bits past the prefix are zero by the s5_cidr contract; clearing them
 * again costs nothing and keeps slot arithmetic exact if a caller built
 * the struct by hand. */
static void copy_range(struct s5_cidr *dst, const struct s5_cidr *src)
{
	unsigned i, prefix = src->prefix;

	*dst = *src;
	for (i = 0; i < sizeof(dst->addr); i++) {
		if (prefix >= 8) {
			prefix -= 8;
			continue;
		}
		dst->addr[i] &= (uint8_t)(0xff00u >> prefix);
		prefix = 0;
	}
}

static uint32_t bucket_count(uint32_t capacity)
{
	uint32_t n = 2;

	while (n < 2 * capacity)
		n *= 2;
	return n;
}

static int init_lock(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int rc;

	rc = pthread_mutexattr_init(&a);
	if (rc)
		return -rc;
	rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!rc)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!rc)
		rc = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

/* Fills the fixed part of the header and the array offsets. */
static void layout(struct s5_pool *h, uint32_t capacity)
{
	h->capacity = capacity;
	h->n_buckets = bucket_count(capacity);
	h->off_buckets = align_up(sizeof(*h));
	h->off_slots = align_up(h->off_buckets +
				(size_t)h->n_buckets * sizeof(uint32_t));
	h->off_last = align_up(h->off_slots +
			       (size_t)capacity * sizeof(struct s5p_slot));
	h->map_len = align_up(h->off_last +
			      (size_t)capacity * sizeof(uint32_t));
}

/* The header of a new pool (h), or -EINVAL / -ENOMEM. */
static int plan(struct s5_pool *h, const struct s5_cidr *net4,
		const struct s5_cidr *net6, uint32_t capacity, uint32_t grace_s)
{
	if (!range_ok(net4, AF_INET, 30) || !range_ok(net6, AF_INET6, 126) ||
	    capacity == 0)
		return -EINVAL;
	capacity = min_u32(capacity, s5p_range_slots(net4));
	capacity = min_u32(capacity, s5p_range_slots(net6));
	if (capacity > POOL_MAX_CAPACITY)
		return -ENOMEM;
	memset(h, 0, sizeof(*h));
	layout(h, capacity);
	h->magic = S5P_MAGIC;
	h->grace_s = grace_s;
	copy_range(&h->net4, net4);
	copy_range(&h->net6, net6);
	return 0;
}

/* Puts header h into a fresh zeroed mapping: every bucket is empty, every
 * slot FREE, every direct entry empty. Pages are only touched as slots
 * fill. */
static int fill(void *map, const struct s5_pool *h, struct s5_pool **out)
{
	struct s5_pool *p = map;
	int rc;

	memcpy(p, h, sizeof(*h));
	rc = init_lock(&p->lock);
	if (rc) {
		munmap(map, h->map_len);
		return rc;
	}
	*out = p;
	return 0;
}

int s5_pool_create(struct s5_pool **out, const struct s5_cidr *net4,
		   const struct s5_cidr *net6, uint32_t capacity,
		   uint32_t grace_s)
{
	struct s5_pool h;
	void *map;
	int rc = plan(&h, net4, net6, capacity, grace_s);

	if (rc)
		return rc;
	map = mmap(NULL, h.map_len, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -ENOMEM;
	return fill(map, &h, out);
}

int s5_pool_create_shared(struct s5_pool **out, int *fd_out,
			  const struct s5_cidr *net4,
			  const struct s5_cidr *net6, uint32_t capacity,
			  uint32_t grace_s)
{
	struct s5_pool h;
	void *map;
	int fd, rc = plan(&h, net4, net6, capacity, grace_s);

	if (rc)
		return rc;
	fd = memfd_create("socks5wrap-names", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)h.map_len) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	map = mmap(NULL, h.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	if (map == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	rc = fill(map, &h, out);
	if (rc) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

int s5_pool_attach(struct s5_pool **out, int fd, const struct s5_cidr *net4,
		   const struct s5_cidr *net6)
{
	struct s5_pool want;
	const struct s5_pool *h;
	struct stat st;
	void *map;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(*h) ||
	    (uint64_t)st.st_size > ((uint64_t)1 << 36))
		return -EINVAL;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -EINVAL;
	h = map;
	/* Our layout for its capacity, our ranges: anything else is not a
	 * pool this build can use (or not a pool at all). */
	if (h->magic != S5P_MAGIC || h->capacity == 0 ||
	    h->capacity > POOL_MAX_CAPACITY ||
	    plan(&want, net4, net6, h->capacity, h->grace_s) != 0 ||
	    want.capacity != h->capacity || want.map_len != h->map_len ||
	    want.map_len != (size_t)st.st_size ||
	    want.n_buckets != h->n_buckets ||
	    want.off_buckets != h->off_buckets ||
	    want.off_slots != h->off_slots || want.off_last != h->off_last ||
	    memcmp(&want.net4, &h->net4, sizeof(want.net4)) != 0 ||
	    memcmp(&want.net6, &h->net6, sizeof(want.net6)) != 0) {
		munmap(map, (size_t)st.st_size);
		return -EINVAL;
	}
	*out = map;
	return 0;
}

void s5_pool_destroy(struct s5_pool *p)
{
	/* No pthread_mutex_destroy: a forked child may still map the pool
	 * and use its lock; the pages go when the last process unmaps them. */
	if (p)
		munmap(p, p->map_len);
}

uint32_t s5_pool_capacity(const struct s5_pool *p)
{
	return p->capacity;
}

int s5p_lock(struct s5_pool *p)
{
	int rc = pthread_mutex_lock(&p->lock);

	/* A holder died (a forked child killed mid-lookup, say). Its update
	 * may be half done; repair before anyone else looks, then tell the
	 * mutex it is usable again, or it would refuse every later lock. */
	if (rc == EOWNERDEAD) {
		s5p_repair(p);
		rc = pthread_mutex_consistent(&p->lock);
		if (rc) {
			pthread_mutex_unlock(&p->lock);
			return -rc;
		}
	}
	return -rc;
}

void s5p_unlock(struct s5_pool *p)
{
	pthread_mutex_unlock(&p->lock);
}

/* A USED slot whose bytes are not a whole name is what a dead writer
 * could leave if the rule above were ever broken; it is freed rather
 * than trusted. */
static bool slot_whole(const struct s5p_slot *s)
{
	return s->len >= 1 && s->len <= S5P_NAME_TEXT_MAX &&
	       s->name[s->len] == '\0' && memchr(s->name, '\0', s->len) == NULL;
}

static bool same_name(const struct s5p_slot *a, const struct s5p_slot *b)
{
	return a->len == b->len && memcmp(a->name, b->name, a->len) == 0;
}

/* Whether an earlier slot in the rebuilt chain of s already holds its
 * name; the chain is rebuilt from scratch, so it has no loops. */
static bool name_indexed(struct s5_pool *p, const struct s5p_slot *s)
{
	struct s5p_slot *slots = s5p_slots(p);
	uint32_t idx = s5p_buckets(p)[s5p_bucket_of(p, s->hash)];

	for (; idx; idx = slots[idx - 1].next)
		if (same_name(&slots[idx - 1], s))
			return true;
	return false;
}

void s5p_repair(struct s5_pool *p)
{
	struct s5p_slot *slots = s5p_slots(p);
	uint32_t *buckets = s5p_buckets(p);
	uint32_t i;

	if (p->fresh > p->capacity)
		p->fresh = p->capacity;
	memset(buckets, 0, (size_t)p->n_buckets * sizeof(*buckets));
	for (i = 0; i < p->fresh; i++) {
		struct s5p_slot *s = &slots[i];

		if (s->state != S5P_SLOT_USED || !slot_whole(s)) {
			s->state = S5P_SLOT_FREE;
			continue;
		}
		/* The stored hash is not trusted: the death may have come
		 * between writing the name and writing its hash. */
		s->hash = s5p_hash(s->name, s->len);
		if (name_indexed(p, s)) {
			s->state = S5P_SLOT_FREE;
			continue;
		}
		s->next = buckets[s5p_bucket_of(p, s->hash)];
		buckets[s5p_bucket_of(p, s->hash)] = i + 1;
	}
	s5p_direct_repair(p);
}
