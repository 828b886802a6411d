/* The fake-address pool: host name <-> reserved address.
 *
 * A name the proxy must resolve gets an address from a reserved range (one
 * IPv4 range, one IPv6 range; a name has the same slot in both). connect()
 * to such an address is turned back into the name and sent to the proxy
 * as a DOMAINNAME. The pool lives in one shared mapping, a memfd that
 * every process of a tree maps (s5_pool_create_shared, s5_pool_attach), so
 * they all see the same names at the same addresses; it is guarded by a
 * lock of our own in the mapping, which a process that dies holding it
 * does not wedge (pool.c).
 *
 * Slots are recycled least-recently-used first, and only when their last
 * use is older than the grace period: an address the program may still
 * hold is never handed to another name. When every slot is younger than
 * that, allocation fails (-ENOSPC) rather than reuse one.
 *
 * The pool also keeps a small "direct set": addresses that came from
 * names the exclusion list resolves locally, so that a connect() to them
 * goes direct even when no address rule matches them.
 *
 * Time is passed in by the caller (seconds on a clock shared by all
 * processes: CLOCK_MONOTONIC), which keeps the module testable.
 */
#ifndef S5_DNS_H
#define S5_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "s5_config.h"

#define S5_POOL_DEFAULT_CAPACITY 8192
#define S5_POOL_DEFAULT_GRACE_S 600
#define S5_POOL_DIRECT_MAX 1024

struct s5_pool;

/* Maps a new pool. net4 (AF_INET, prefix 1..30) and net6 (AF_INET6, prefix
 * 1..126) are the ranges; capacity is capped by the size of the smaller
 * range less its first and last address, which are never handed out.
 * Returns 0 or -EINVAL / -ENOMEM. */
int s5_pool_create(struct s5_pool **out, const struct s5_cidr *net4,
		   const struct s5_cidr *net6, uint32_t capacity,
		   uint32_t grace_s);

/* The same pool in a memfd (*fd_out, close-on-exec, mode 0600) with a
 * random id, so that processes that are not forks of each other can map
 * it: every process of one tree, 32-bit and 64-bit, and the launcher's
 * supervisor. Returns as s5_pool_create, or the -errno of memfd_create,
 * ftruncate or getrandom. */
int s5_pool_create_shared(struct s5_pool **out, int *fd_out,
			  const struct s5_cidr *net4,
			  const struct s5_cidr *net6, uint32_t capacity,
			  uint32_t grace_s);

/* The same as s5_pool_create_shared, for a process that only hands the
 * table on (the launcher before it execs the program): the header is
 * written into the memfd without mapping it. *id_out gets its id. */
int s5_pool_create_file(int *fd_out, uint8_t *id_out,
			const struct s5_cidr *net4, const struct s5_cidr *net6,
			uint32_t capacity, uint32_t grace_s);

/* Maps the pool that fd holds when it is one of this layout for these
 * ranges (any capacity), and, when id is not NULL, that id: 0, or -EINVAL
 * for anything else. The descriptor may be closed afterwards. */
int s5_pool_attach(struct s5_pool **out, int fd, const struct s5_cidr *net4,
		   const struct s5_cidr *net6, const uint8_t *id);

#define S5_POOL_ID_LEN 16

/* The pool's id (S5_POOL_ID_LEN bytes; zero for s5_pool_create's). */
void s5_pool_id(const struct s5_pool *p, uint8_t *id);

/* ---- finding a tree's table (tableref.c) ------------------------------ */

/* The variable that names the process tree's table to the processes it
 * starts: "ID:PID:FD", the id in 32 lower-case hex digits, a process that
 * holds the table (its creator) and the descriptor number it holds it
 * under (s5_table_hold), which every holder keeps it at when it can. */
#define S5_TABLE_ENV "SOCKS5WRAP_TABLE"
#define S5_TABLE_REF_MAX 56 /* the longest value, with its NUL */

struct s5_table_ref {
	uint8_t id[S5_POOL_ID_LEN];
	int pid; /* 1 .. 2^22 (the kernel's PID_MAX_LIMIT) */
	int fd;  /* 0 .. 2^20 */
};

/* Parses a value of S5_TABLE_ENV: 0, or -EINVAL for anything that is not
 * exactly that form. */
int s5_table_ref_parse(const char *s, struct s5_table_ref *out);

/* Writes r's value into out (S5_TABLE_REF_MAX bytes). */
void s5_table_ref_format(const struct s5_table_ref *r, char *out);

/* Where the library keeps its own descriptors, the table's among them:
 * out of the low range programs count on, from 1024 up (also clear of
 * select()'s FD_SETSIZE) when the soft limit allows, else just below the
 * soft limit. */
int s5_high_fd_base(void);

/* Trades fd (a table's memfd, which is closed) for the descriptor that
 * holds the table for the programs this process starts: an O_PATH one,
 * without close-on-exec, at min or above when the limit allows. It opens
 * the table again through /proc/PID/fd for its user alone (the memfd is
 * 0600): a program of another user that inherits it (a setuid one that
 * changes user) can neither read nor write the table through it. Returns
 * the descriptor, or -1 (no /proc). */
int s5_table_hold(int fd, int min);

/* Sets S5_TABLE_ENV to name the table of that id (S5_POOL_ID_LEN
 * bytes), held by this process under fd. Returns 0 or -errno of setenv. */
int s5_table_env_set(const uint8_t *id, int fd);

/* Proxies that failed lately, shared by the tree like the names: key is
 * a non-zero hash that names a proxy, until_ms the CLOCK_MONOTONIC time
 * (milliseconds, modulo 2^32) until which it counts as dead; key 0 is a
 * free entry. Read and written without the lock (src/net/try.c). */
#define S5_BACKOFF_SLOTS 16
struct s5_backoff_entry {
	_Atomic uint32_t key;
	_Atomic uint32_t until_ms;
};

/* The pool's S5_BACKOFF_SLOTS entries. */
struct s5_backoff_entry *s5_pool_backoff(struct s5_pool *p);

/* Unmaps the pool (tests; the library keeps its pool for life). */
void s5_pool_destroy(struct s5_pool *p);

/* Number of slots. */
uint32_t s5_pool_capacity(const struct s5_pool *p);

/* Normalises a host name for the pool and the proxy: lower case, one
 * trailing dot removed. Returns the new length, or -EINVAL for a name that
 * cannot be a DNS name (empty, > 253 bytes, an empty label or one > 63
 * bytes, a byte that is a control character, a space, or not ASCII...).
 * out must have room for S5_NAME_MAX + 1 bytes. */
int s5_name_normalize(const char *name, char *out);

/* The slot for name (normalised), allocating or recycling one if needed,
 * and marks it used at now_s. Fills v4 (4 bytes) and v6 (16 bytes), each
 * may be NULL. Returns 0, -EINVAL (bad name), -ENOSPC (every slot in use
 * within the grace period), or the pool lock's error (-ETIMEDOUT). */
int s5_pool_lookup(struct s5_pool *p, const char *name, uint32_t now_s,
		   uint8_t *v4, uint8_t *v6);

/* True when addr (4 or 16 bytes, per family) is inside the pool's range.
 * Here and below, an IPv4-mapped IPv6 address counts as its IPv4 address. */
bool s5_pool_in_range(const struct s5_pool *p, int family,
		      const uint8_t *addr);

/* The name behind a fake address; marks the slot used at now_s. Returns the
 * name length (name NUL-terminated, cap >= S5_NAME_MAX + 1), or -ENOENT
 * (-ERANGE if cap is too small for the name, or the lock's error). */
int s5_pool_reverse(struct s5_pool *p, int family, const uint8_t *addr,
		    uint32_t now_s, char *name, size_t cap);

/* Direct set: remembers addr; the oldest entry goes when full. */
void s5_pool_direct_add(struct s5_pool *p, int family, const uint8_t *addr);
bool s5_pool_direct_has(struct s5_pool *p, int family, const uint8_t *addr);

/* ---- /etc/hosts (hosts.c) --------------------------------------------- */

/* The host names an /etc/hosts text lists (aliases included, addresses
 * left out), normalised as by s5_name_normalize, in the order of the text,
 * each followed by a NUL. A name listed twice is there twice. */
struct s5_hosts {
	char *names; /* malloc'd; NULL once freed or after -ENOMEM */
	size_t len;  /* bytes used in names, NULs included */
};

/* Parses len bytes of text (a NUL byte ends it early), which is not
 * modified. Fields that are not valid names are skipped. Returns 0, or
 * -ENOMEM with *out empty. */
int s5_hosts_parse(const char *text, size_t len, struct s5_hosts *out);

/* True when the normalised name is in the list. */
bool s5_hosts_has(const struct s5_hosts *h, const char *name);

/* Frees the list and leaves it empty; harmless on an empty one. */
void s5_hosts_free(struct s5_hosts *h);

#endif
