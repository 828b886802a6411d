/* The pool's mapping, its lock, and recovery from a holder that died.
 *
 * Recovery leans on one rule kept by every update: the slots are the
 * truth and the name index is derived from them. A slot is marked FREE
 * before its name is rewritten and USED only once the name is whole, so
 * after a death the index can be rebuilt from the USED slots alone.
 *
 * The lock is one 32-bit word in the mapping, waited on with futex(2)
 * (shared, not private: the waiters are other processes): 0 when free,
 * else the holder's process ID, with LOCK_WAITERS when someone sleeps on
 * it and LOCK_FOREIGN when the holder's ID means nothing in the creator's
 * PID namespace (or cannot be known). It is not a pthread mutex because
 * 32-bit and 64-bit builds of the library and a launcher built with
 * another C library share it; and it is not a robust futex because the
 * robust list belongs to the C library. A waiter that sleeps long looks
 * the holder up instead: a holder of its own namespace that no longer
 * exists died inside an update, so the waiter takes the lock over and
 * repairs the pool. A holder that is alive but stopped, or that cannot be
 * looked up, is waited for a few seconds and then reported
 * (-ETIMEDOUT), never taken from.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
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

/* Fills the fixed part of the header and the array offsets. */
static void layout(struct s5_pool *h, uint32_t capacity)
{
	h->capacity = capacity;
	h->n_buckets = bucket_count(capacity);
	h->off_buckets = align_up(sizeof(*h));
	h->off_slots = align_up((size_t)h->off_buckets +
				(size_t)h->n_buckets * sizeof(uint32_t));
	h->off_last = align_up((size_t)h->off_slots +
			       (size_t)capacity * sizeof(struct s5p_slot));
	h->map_len = align_up((size_t)h->off_last +
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
	h->header_size = sizeof(*h);
	h->grace_s = grace_s;
	copy_range(&h->net4, net4);
	copy_range(&h->net6, net6);
	return 0;
}

/* The inode of this process's PID namespace, or 0 (no /proc: a
 * sandbox, say). */
static uint64_t my_pid_ns(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Puts header h into a fresh zeroed mapping: every bucket is empty, every
 * slot FREE, every direct entry empty, the lock free. Pages are only
 * touched as slots fill. */
static void fill(void *map, const struct s5_pool *h, struct s5_pool **out)
{
	struct s5_pool *p = map;

	/* The direct set is zero in h and in the fresh mapping: its 17 KB
	 * are left untouched, so that start-up faults in one page, not
	 * five. */
	memcpy(p, h, offsetof(struct s5_pool, direct));
	*out = p;
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
	map = mmap(NULL, (size_t)h.map_len, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -ENOMEM;
	fill(map, &h, out);
	return 0;
}

static int random_id(uint8_t *id)
{
	size_t got = 0;

	while (got < S5_POOL_ID_LEN) {
		ssize_t n = getrandom(id + got, S5_POOL_ID_LEN - got, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

/* A memfd of the plan's size, its user's alone; or -errno. */
static int table_memfd(const struct s5_pool *h)
{
	int fd = memfd_create("socks5wrap-names", MFD_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	/* Only its user may open it again through /proc (which also asks
	 * that the opener may ptrace the holder). */
	if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)h->map_len) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* The header of a new shared table (h, with its random id) and its
 * memfd; or -errno. */
static int new_table(struct s5_pool *h, const struct s5_cidr *net4,
		     const struct s5_cidr *net6, uint32_t capacity,
		     uint32_t grace_s)
{
	int rc = plan(h, net4, net6, capacity, grace_s);

	if (!rc)
		rc = random_id(h->id);
	return rc ? rc : table_memfd(h);
}

int s5_pool_create_file(int *fd_out, uint8_t *id_out,
			const struct s5_cidr *net4, const struct s5_cidr *net6,
			uint32_t capacity, uint32_t grace_s)
{
	struct s5_pool h;
	size_t len = offsetof(struct s5_pool, direct);
	int fd = new_table(&h, net4, net6, capacity, grace_s);

	if (fd < 0)
		return fd;
	/* The rest of the file reads as zeros, as in fill(). */
	if (pwrite(fd, &h, len, 0) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	memcpy(id_out, h.id, S5_POOL_ID_LEN);
	*fd_out = fd;
	return 0;
}

int s5_pool_create_shared(struct s5_pool **out, int *fd_out,
			  const struct s5_cidr *net4,
			  const struct s5_cidr *net6, uint32_t capacity,
			  uint32_t grace_s)
{
	struct s5_pool h;
	void *map;
	int fd = new_table(&h, net4, net6, capacity, grace_s);

	if (fd < 0)
		return fd;
	map = mmap(NULL, (size_t)h.map_len, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	fill(map, &h, out);
	*fd_out = fd;
	return 0;
}

int s5_pool_attach(struct s5_pool **out, int fd, const struct s5_cidr *net4,
		   const struct s5_cidr *net6, const uint8_t *id)
{
	struct s5_pool want;
	const struct s5_pool *h;
	struct stat st;
	void *map;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(*h) ||
	    (uint64_t)st.st_size > ((uint64_t)1 << 36) ||
	    (uint64_t)st.st_size > (uint64_t)SIZE_MAX)
		return -EINVAL;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -EINVAL;
	h = map;
	/* Our layout for its capacity, our ranges, the id asked for:
	 * anything else is not a pool this build can use (or not a pool at
	 * all, or another tree's). */
	if (h->magic != S5P_MAGIC || h->header_size != sizeof(*h) ||
	    h->capacity == 0 || h->capacity > POOL_MAX_CAPACITY ||
	    plan(&want, net4, net6, h->capacity, h->grace_s) != 0 ||
	    want.capacity != h->capacity || want.map_len != h->map_len ||
	    want.map_len != (uint64_t)st.st_size ||
	    want.n_buckets != h->n_buckets ||
	    want.off_buckets != h->off_buckets ||
	    want.off_slots != h->off_slots || want.off_last != h->off_last ||
	    memcmp(&want.net4, &h->net4, sizeof(want.net4)) != 0 ||
	    memcmp(&want.net6, &h->net6, sizeof(want.net6)) != 0 ||
	    (id && memcmp(id, h->id, S5_POOL_ID_LEN) != 0)) {
		munmap(map, (size_t)st.st_size);
		return -EINVAL;
	}
	*out = map;
	return 0;
}

void s5_pool_id(const struct s5_pool *p, uint8_t *id)
{
	memcpy(id, p->id, S5_POOL_ID_LEN);
}

struct s5_backoff_entry *s5_pool_backoff(struct s5_pool *p)
{
	return p->backoff;
}

void s5_pool_destroy(struct s5_pool *p)
{
	/* No pthread_mutex_destroy: a forked child may still map the pool
	 * and use its lock; the pages go when the last process unmaps them. */
	if (p)
		munmap(p, (size_t)p->map_len);
}

uint32_t s5_pool_capacity(const struct s5_pool *p)
{
	return p->capacity;
}

#define LOCK_WAITERS 0x80000000u
#define LOCK_FOREIGN 0x40000000u
#define LOCK_PID 0x3fffffffu /* a process ID is at most 2^22 */

#define LOCK_NAP_MS 50      /* a wait between looks at the holder */
#define LOCK_GIVE_UP_MS 2000 /* a live holder kept it this long */

/* This process's PID namespace, looked up once per process ID (a forked
 * child looks its own up: it may have been made in a new namespace). */
static uint64_t my_ns_cached(void)
{
	static _Atomic uint32_t cached_pid;
	static _Atomic uint64_t cached_ns;
	uint32_t pid = (uint32_t)getpid();
	uint64_t ns;

	if (atomic_load_explicit(&cached_pid, memory_order_acquire) == pid)
		return atomic_load_explicit(&cached_ns, memory_order_relaxed);
	ns = my_pid_ns();
	atomic_store_explicit(&cached_ns, ns, memory_order_relaxed);
	atomic_store_explicit(&cached_pid, pid, memory_order_release);
	return ns;
}

/* This process's token for p's lock: its ID, marked foreign when the
 * holder check of other processes could not find it by that ID. The
 * first process to take the lock names the pool's namespace (a /proc
 * lookup, which start-up need not pay). */
static uint32_t my_token(struct s5_pool *p)
{
	uint32_t pid = (uint32_t)getpid(), tok = pid & LOCK_PID;
	uint64_t ns = my_ns_cached(), none = 0;

	if (ns != 0 && atomic_load_explicit(&p->pid_ns,
					    memory_order_relaxed) == 0)
		atomic_compare_exchange_strong(&p->pid_ns, &none, ns);
	if (ns == 0 || ns != atomic_load(&p->pid_ns) || tok != pid)
		tok |= LOCK_FOREIGN;
	return tok;
}

/* Whether the holder whose token is word is known to be dead: it is of
 * our namespace, and no process has its ID. */
static bool holder_gone(uint32_t word, uint32_t me)
{
	pid_t pid = (pid_t)(word & LOCK_PID);

	if ((word | me) & LOCK_FOREIGN || pid == 0)
		return false;
	return kill(pid, 0) < 0 && errno == ESRCH;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps while the word is still val, LOCK_NAP_MS at most. The kernel's
 * timespec of SYS_futex is two longs on every ABI this builds for (on
 * i386 the 64-bit time one is another call). */
static void nap(_Atomic uint32_t *word, uint32_t val)
{
	struct {
		long sec, nsec;
	} ts = { 0, LOCK_NAP_MS * 1000000L };

	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, val, &ts, NULL, 0);
}

int s5p_lock(struct s5_pool *p)
{
	uint32_t me = my_token(p), cur = 0;
	int64_t start = -1, waited;
	int saved = errno;

	if (atomic_compare_exchange_strong_explicit(&p->lock, &cur, me,
						    memory_order_acquire,
						    memory_order_relaxed))
		return 0;
	for (;;) {
		cur = atomic_load_explicit(&p->lock, memory_order_relaxed);
		if (cur == 0) {
			/* Taken with LOCK_WAITERS, as others may sleep. */
			if (atomic_compare_exchange_strong_explicit(
				    &p->lock, &cur, me | LOCK_WAITERS,
				    memory_order_acquire,
				    memory_order_relaxed))
				break;
			continue;
		}
		if (!(cur & LOCK_WAITERS) &&
		    !atomic_compare_exchange_strong_explicit(
			    &p->lock, &cur, cur | LOCK_WAITERS,
			    memory_order_relaxed, memory_order_relaxed))
			continue;
		cur |= LOCK_WAITERS;
		waited = start < 0 ? 0 : now_ms() - start;
		if (start < 0)
			start = now_ms();
		if (waited >= LOCK_NAP_MS && holder_gone(cur, me)) {
			/* Only one waiter wins the word from the dead. */
			if (atomic_compare_exchange_strong_explicit(
				    &p->lock, &cur, me | LOCK_WAITERS,
				    memory_order_acquire,
				    memory_order_relaxed)) {
				s5p_repair(p);
				break;
			}
			continue;
		}
		if (waited > LOCK_GIVE_UP_MS) {
			errno = saved;
			return -ETIMEDOUT;
		}
		nap(&p->lock, cur);
	}
	errno = saved;
	return 0;
}

void s5p_unlock(struct s5_pool *p)
{
	uint32_t old = atomic_exchange_explicit(&p->lock, 0,
						memory_order_release);

	if (old & LOCK_WAITERS) {
		int saved = errno;

		syscall(SYS_futex, (uint32_t *)&p->lock, FUTEX_WAKE, INT_MAX,
			NULL, NULL, 0);
		errno = saved;
	}
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
