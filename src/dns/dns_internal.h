/* The pool's shared layout and the helpers the dns files share; not part
 * of the s5_dns.h or s5_dnsmsg.h contract.
 *
 * Everything lives in one MAP_SHARED mapping: of a memfd, which every
 * process of a tree maps (at different addresses, after exec), or
 * anonymous (tests, and a process that lost its tree's table). Arrays are
 * found by offset from the header rather than by pointer.
 *
 *   struct s5_pool   header, lock, direct set
 *   uint32_t[]       bucket heads of the name index (slot + 1, 0 = empty)
 *   struct s5p_slot[]
 *   uint32_t[]       last use of each slot, apart from the slots so that
 *                    the LRU scan reads 4 bytes per slot, not a whole slot
 *
 * Lock order: p->lock is the only lock, and nothing else is taken while
 * it is held.
 */
#ifndef S5_DNS_INTERNAL_H
#define S5_DNS_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s5_dns.h"

#define S5P_NAME_TEXT_MAX 253 /* RFC 1035 section 2.3.4, without the last dot */
#define S5P_LABEL_MAX 63

/* Slot states. Zero is FREE so that a fresh mapping needs no init; USED
 * is an unlikely byte so that a torn write is not mistaken for it. */
#define S5P_SLOT_FREE 0
#define S5P_SLOT_USED 0xa5

#define S5P_NONE UINT32_MAX /* "no slot" */

struct s5p_slot {
	uint32_t next; /* next slot + 1 in the same bucket, 0 ends the chain */
	uint32_t hash; /* of name, so that unlinking need not rehash */
	uint8_t state; /* S5P_SLOT_FREE or S5P_SLOT_USED */
	uint8_t len;   /* strlen(name), 1..253 while USED */
	char name[S5_NAME_MAX + 1];
};

struct s5p_direct {
	uint8_t family; /* AF_INET, AF_INET6, or 0 for an empty entry */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
};

#define S5P_MAGIC 0x53355032u /* "S5P2" */

/* The header. The pool is shared by every process of a tree, 32-bit and
 * 64-bit builds of the library, the launcher (which may be built with
 * another C library) and its supervisor alike, so the layout is made of
 * fixed-size fields only, each at the offset the static assertions below
 * name, the same in every build: no pointers, no size_t, no libc types
 * (the lock is our own word, not a pthread_mutex_t, whose size differs
 * between ABIs and C libraries). */
struct s5_pool {
	uint32_t magic;       /* S5P_MAGIC: a pool of this layout */
	uint32_t header_size; /* sizeof(struct s5_pool), checked on attach */
	/* 0 when free, else the holder's token and flags: see pool.c. Guards
	 * every field marked "lock" and the three arrays after the header. */
	_Atomic uint32_t lock;

	/* Fixed by the creator, read without the lock. */
	uint32_t capacity, grace_s;
	uint32_t n_buckets; /* a power of two, at least 2 * capacity */

	uint32_t fresh; /* lock: slots [fresh, capacity) were never used */
	uint32_t direct_next; /* lock: the entry the next add overwrites */

	_Alignas(8) uint64_t map_len;
	uint64_t off_buckets, off_slots, off_last;
	/* The PID namespace (the inode of /proc/self/ns/pid) of the first
	 * process that took the lock, 0 before: a lock holder's process ID
	 * is only looked up by processes of the same namespace. */
	_Atomic uint64_t pid_ns;
	/* Random, set by the creator: which tree's table this is
	 * (SOCKS5WRAP_TABLE names it). */
	uint8_t id[S5_POOL_ID_LEN];
	struct s5_cidr net4, net6;
	struct s5p_direct direct[S5_POOL_DIRECT_MAX]; /* lock */
	/* Proxies that failed lately: no lock, each word atomic (the
	 * entries are hints, see src/net/try.c). */
	struct s5_backoff_entry backoff[S5_BACKOFF_SLOTS];
};

_Static_assert(sizeof(struct s5_cidr) == 22 &&
		       _Alignof(struct s5_cidr) == 2,
	       "struct s5_cidr is part of the shared layout");
_Static_assert(sizeof(struct s5p_slot) == 268 &&
		       _Alignof(struct s5p_slot) == 4,
	       "struct s5p_slot is part of the shared layout");
_Static_assert(sizeof(struct s5_backoff_entry) == 8 &&
		       _Alignof(struct s5_backoff_entry) == 4,
	       "struct s5_backoff_entry is part of the shared layout");
_Static_assert(sizeof(struct s5p_direct) == 17,
	       "struct s5p_direct is part of the shared layout");
_Static_assert(offsetof(struct s5_pool, lock) == 8 &&
		       offsetof(struct s5_pool, fresh) == 24 &&
		       offsetof(struct s5_pool, map_len) == 32 &&
		       offsetof(struct s5_pool, pid_ns) == 64 &&
		       offsetof(struct s5_pool, id) == 72 &&
		       offsetof(struct s5_pool, net4) == 88 &&
		       offsetof(struct s5_pool, direct) == 132 &&
		       offsetof(struct s5_pool, backoff) == 17540 &&
		       sizeof(struct s5_pool) == 17672,
	       "the pool header's layout is shared by every build");

static inline uint32_t *s5p_buckets(struct s5_pool *p)
{
	return (uint32_t *)(void *)((char *)p + (size_t)p->off_buckets);
}

static inline struct s5p_slot *s5p_slots(struct s5_pool *p)
{
	return (struct s5p_slot *)(void *)((char *)p + (size_t)p->off_slots);
}

static inline uint32_t *s5p_last(struct s5_pool *p)
{
	return (uint32_t *)(void *)((char *)p + (size_t)p->off_last);
}

/* Orders the stores of an update as written. A holder that dies is not
 * interrupted between CPU stores in a way another process can see out of
 * order (the kernel's exit path is a full barrier), but the compiler may
 * reorder them; this forbids that, so a half-done update is one of the
 * states the code was written to leave. */
static inline void s5p_step(void)
{
	atomic_signal_fence(memory_order_seq_cst);
}

/* The name index's hash of a normalised name (FNV-1a, 32 bits), and the
 * bucket it falls in. */
uint32_t s5p_hash(const char *name, size_t len);

static inline uint32_t s5p_bucket_of(const struct s5_pool *p, uint32_t hash)
{
	return hash & (p->n_buckets - 1);
}

/* Takes p->lock. When its holder died holding it, rebuilds the derived
 * data (s5p_repair) first. Returns 0, or -ETIMEDOUT when a holder that is
 * alive (stopped, say) or cannot be checked kept it for seconds. */
int s5p_lock(struct s5_pool *p);
void s5p_unlock(struct s5_pool *p);

/* After a holder died: drops what a half-done update left behind and
 * rebuilds the name index from the slots. Called with the lock held. */
void s5p_repair(struct s5_pool *p);

/* The direct set's share of s5p_repair. */
void s5p_direct_repair(struct s5_pool *p);

/* ---- addresses (addr.c) ---------------------------------------------- */

/* An IPv4-mapped IPv6 address is looked at as the IPv4 address it holds,
 * as the exclusion list does. Returns false for any other family. */
bool s5p_canon(int *family, const uint8_t **addr);

/* Usable slots in a range: its size less the first and last address,
 * or UINT32_MAX when that is more. */
uint32_t s5p_range_slots(const struct s5_cidr *c);

/* The slot an address in the pool's range stands for. Returns 0, or
 * -ENOENT for an address that is no slot. */
int s5p_slot_of(const struct s5_pool *p, int family, const uint8_t *addr,
		uint32_t *slot);

/* The addresses of slot (each output may be NULL). */
void s5p_addr_of(const struct s5_pool *p, uint32_t slot, uint8_t *v4,
		 uint8_t *v6);

/* The value of a lower-case hex digit, or -1. */
static inline int s5p_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* ASCII lower case. Not tolower(): a program may have set a locale (a
 * Turkish one folds 'I' elsewhere), and names must not depend on it. */
static inline char s5p_fold(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ---- DNS messages (msg.c, answer.c) ------------------------------------ */

#define S5P_TYPE_OPT 41 /* EDNS0 (RFC 6891) */
#define S5P_OPT_LEN 11  /* an OPT record without options */

static inline uint16_t s5p_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void s5p_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Reads the name at *off in the message m (len bytes) into out (wire
 * form, case folded, at most S5_DNS_NAME_WIRE bytes), following
 * compression pointers (RFC 1035 section 4.1.4), each of which must point
 * before the place it was read from, so the walk ends. *off moves past the
 * name where it starts. Returns the length in out, or -1. */
int s5p_read_name(const uint8_t *m, size_t len, size_t *off, uint8_t *out);

/* Writes an OPT record (RFC 6891 section 6.1.2) of S5P_OPT_LEN bytes at p:
 * payload as its UDP size, the DO bit when dnssec, no options. */
void s5p_put_opt(uint8_t *p, uint16_t payload, bool dnssec);

#endif
