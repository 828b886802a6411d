/* Per-descriptor state, indexed by descriptor number.
 *
 * Two levels: a fixed array of chunk pointers, each chunk holding
 * S5_FD_CHUNK entries, mapped on first use. A descriptor we never touched
 * costs one atomic load (a NULL chunk or a zero kind) in every hook.
 *
 * Concurrency: descriptor numbers are unique while open, so two threads
 * update one entry at the same time only when the program itself races
 * close() against use. Each entry has a sequence counter (odd while it is
 * written) so a reader never returns a half-written peer; close() only
 * stores a zero kind, which keeps it async-signal-safe (no locks, no free).
 * Chunks are never unmapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preload.h"

#define S5_SEQ_TRIES 64

struct s5_fd_entry {
	_Atomic uint32_t kind;
	_Atomic uint32_t seq; /* odd while the fields below are written */
	ino_t ino;            /* the socket's inode when recorded */
	socklen_t peer_len;
	struct sockaddr_storage peer;
	/* S5FD_UDP: the socket's state, one reference held by the entry.
	 * S5FD_INTERNAL: the owner of a control connection (no reference),
	 * or NULL for the log file. */
	_Atomic(struct s5_udp_sock *) obj;
};

struct s5_fd_chunk {
	struct s5_fd_entry e[S5_FD_CHUNK];
};

/* Non-static for s5_fd_maybe_ours() in preload.h; only this file writes
 * it. */
_Atomic(struct s5_fd_chunk *) s5_fd_chunks[S5_FD_CHUNKS];
#define chunks s5_fd_chunks

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
	/* mmap rather than malloc: hooks may run inside malloc-sensitive
	 * contexts, and the memory is zeroed for free. */
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

static ino_t inode_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static void write_begin(struct s5_fd_entry *e)
{
	atomic_fetch_add_explicit(&e->seq, 1, memory_order_acq_rel);
}

static void write_end(struct s5_fd_entry *e)
{
	atomic_fetch_add_explicit(&e->seq, 1, memory_order_release);
}

int s5_fd_set_tcp(int fd, const struct sockaddr *peer, socklen_t len)
{
	struct s5_fd_entry *e = entry(fd, true);

	if (e == NULL)
		return fd < 0 ? -EBADF : -ENOMEM;
	if (len > sizeof(e->peer))
		len = sizeof(e->peer);
	write_begin(e);
	e->ino = inode_of(fd);
	e->peer_len = len;
	memcpy(&e->peer, peer, len);
	atomic_store_explicit(&e->kind, S5FD_TCP, memory_order_release);
	write_end(e);
	return 0;
}

bool s5_fd_peer(int fd, struct sockaddr_storage *peer, socklen_t *len)
{
	struct s5_fd_entry *e = entry(fd, false);
	uint32_t s1, s2;
	ino_t ino = 0;
	int tries;

	if (e == NULL)
		return false;
	for (tries = 0; tries < S5_SEQ_TRIES; tries++) {
		s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		if (atomic_load_explicit(&e->kind, memory_order_acquire) !=
		    S5FD_TCP)
			return false;
		ino = e->ino;
		*len = e->peer_len;
		memcpy(peer, &e->peer, *len);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&e->seq, memory_order_relaxed);
		if (s1 == s2)
			break;
	}
	if (tries == S5_SEQ_TRIES)
		return false;
	/* A descriptor closed behind our back (fclose on an fdopen'd socket
	 * closes without calling close()) and reused must not inherit the
	 * old peer. */
	return ino != 0 && inode_of(fd) == ino;
}

int s5_fd_set_internal(int fd)
{
	struct s5_fd_entry *e = entry(fd, true);

	if (e == NULL)
		return fd < 0 ? -EBADF : -ENOMEM;
	s5_fd_clear(fd);
	atomic_store_explicit(&e->kind, S5FD_INTERNAL, memory_order_release);
	return 0;
}

void s5_fd_clear(int fd)
{
	struct s5_fd_entry *e = entry(fd, false);
	struct s5_udp_sock *s;
	uint32_t kind;

	if (e == NULL)
		return;
	kind = atomic_exchange(&e->kind, S5FD_NONE);
	s = atomic_exchange(&e->obj, NULL);
	if (kind == S5FD_UDP && s != NULL)
		s5_udp_sock_put(s);
}

int s5_fd_set_udp(int fd, struct s5_udp_sock *s)
{
	struct s5_fd_entry *e = entry(fd, true);

	if (e == NULL)
		return fd < 0 ? -EBADF : -ENOMEM;
	s5_fd_clear(fd);
	atomic_store(&e->obj, s);
	atomic_store_explicit(&e->kind, S5FD_UDP, memory_order_release);
	return 0;
}

struct s5_udp_sock *s5_fd_udp_get(int fd)
{
	struct s5_fd_entry *e = entry(fd, false);
	struct s5_udp_sock *s;
	int tries;

	if (e == NULL)
		return NULL;
	for (tries = 0; tries < S5_SEQ_TRIES; tries++) {
		if (atomic_load_explicit(&e->kind, memory_order_acquire) !=
		    S5FD_UDP)
			return NULL;
		s = atomic_load(&e->obj);
		if (s == NULL || !s5_udp_sock_ref(s))
			return NULL;
		/* Still this descriptor's? Else a close raced us. */
		if (atomic_load(&e->obj) == s)
			return s;
		s5_udp_sock_put(s);
	}
	return NULL;
}

void s5_fd_set_owner(int fd, struct s5_udp_sock *owner)
{
	struct s5_fd_entry *e = entry(fd, false);

	if (e != NULL)
		atomic_store(&e->obj, owner);
}

struct s5_udp_sock *s5_fd_owner(int fd)
{
	struct s5_fd_entry *e = entry(fd, false);

	if (e == NULL || atomic_load(&e->kind) != S5FD_INTERNAL)
		return NULL;
	return atomic_load(&e->obj);
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
		if (skip_unmapped(&fd))
			continue;
		if (s5_fd_kind((int)fd) != S5FD_INTERNAL)
			s5_fd_clear((int)fd);
	}
}

void s5_fd_copy(int oldfd, int newfd)
{
	struct sockaddr_storage peer;
	struct s5_udp_sock *s;
	socklen_t len;

	s = s5_fd_udp_get(oldfd);
	if (s != NULL) {
		/* The new descriptor keeps the reference we just took. */
		if (s5_fd_set_udp(newfd, s) < 0)
			s5_udp_sock_put(s);
		return;
	}
	if (s5_fd_peer(oldfd, &peer, &len))
		s5_fd_set_tcp(newfd, (struct sockaddr *)&peer, len);
	else
		s5_fd_clear(newfd);
}

/* Internal descriptors live out of the low range programs count on: from
 * 1024 up (also clear of select()'s FD_SETSIZE) when the soft limit allows,
 * else just below the soft limit. */
static int high_base(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 1024;
	if (rl.rlim_cur > 1024 + 64)
		return 1024;
	if (rl.rlim_cur > 128)
		return (int)rl.rlim_cur - 64;
	return (int)rl.rlim_cur / 2;
}

int s5_fd_move_high(int fd)
{
	int nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, high_base());

	if (nfd < 0) {
		real.fcntl(fd, F_SETFD, FD_CLOEXEC);
		s5_fd_set_internal(fd);
		return fd;
	}
	real.close(fd);
	s5_fd_set_internal(nfd);
	return nfd;
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
		if (s5_fd_kind((int)fd) == S5FD_INTERNAL)
			return (int)fd;
	}
	return -1;
}

int s5_internal_relocate(int fd)
{
	struct s5_udp_sock *owner = s5_fd_owner(fd);
	int nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, high_base());

	if (nfd < 0)
		return -errno;
	s5_fd_set_internal(nfd);
	s5_fd_set_owner(nfd, owner);
	s5_internal_moved(fd, nfd, owner);
	s5_fd_clear(fd);
	real.close(fd);
	return 0;
}
