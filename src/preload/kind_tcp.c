/* S5FD_TCP: a TCP socket connected through the proxy. Its state is the
 * peer the program asked for, which getpeername() reports instead of the
 * proxy, and the address the proxy connected from (the reply's BND), which
 * getsockname() reports instead of the client's own: the address the peer
 * sees, which protocols that announce their address (FTP's PORT) must
 * name. Set once before the entry is published, never changed. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "fd.h"
#include "fork.h"
#include "kind_tcp.h"
#include "real.h"
#include "slab.h"

struct tcp_peer {
	struct s5_obj obj; /* first */
	socklen_t len;
	socklen_t local_len; /* 0: no address of the proxy's known */
	socklen_t own_len;   /* 0: its own address is not known */
	uint64_t seq;        /* order of the connections */
	struct sockaddr_storage peer;
	struct sockaddr_storage local;
	struct sockaddr_storage own; /* the kernel's getsockname at the end */
};

static _Atomic uint64_t last_seq;

static struct s5_slab slab = S5_SLAB_INIT(struct tcp_peer);

static void release(struct s5_obj *o)
{
	s5_slab_free(&slab, o);
}

static const struct s5_obj_ops tcp_ops = { .release = release };

__attribute__((constructor)) static void register_fork(void)
{
	s5_fork_lock(S5_FORK_SLAB_TCP, &slab.lock, NULL);
}

static bool unspecified(const struct s5_addr *a)
{
	static const uint8_t zero[16];

	if (a->atyp == S5_ATYP_IPV4)
		return memcmp(a->u.v4, zero, 4) == 0;
	if (a->atyp == S5_ATYP_IPV6)
		return memcmp(a->u.v6, zero, 16) == 0;
	return true; /* a name: not an address a peer can be told */
}

int s5_bnd_sockaddr(int fd, int family, const struct s5_addr *bound,
		    struct sockaddr_storage *out)
{
	struct sockaddr_storage ps;
	socklen_t plen = sizeof(ps);
	struct s5_addr a;
	int r;

	if (!unspecified(bound))
		return s5_addr_to_sockaddr(bound, family, out);
	if (real.getpeername(fd, (struct sockaddr *)&ps, &plen) < 0)
		return -errno;
	r = s5_addr_from_sockaddr(&a, (struct sockaddr *)&ps, plen);
	if (r < 0)
		return r;
	a.port = bound->port;
	return s5_addr_to_sockaddr(&a, family, out);
}

int s5_tcp_mark(int fd, const struct sockaddr *peer, socklen_t len,
		const struct s5_addr *bound, unsigned int flags)
{
	struct tcp_peer *t = s5_slab_alloc(&slab);
	int r;

	if (t == NULL)
		return -ENOMEM;
	if (len > sizeof(t->peer))
		len = sizeof(t->peer);
	memcpy(&t->peer, peer, len);
	t->len = len;
	t->local_len = 0;
	if (bound != NULL) {
		r = s5_bnd_sockaddr(fd, peer->sa_family, bound, &t->local);
		t->local_len = r > 0 ? (socklen_t)r : 0;
	}
	t->own_len = sizeof(t->own);
	if (real.getsockname(fd, (struct sockaddr *)&t->own, &t->own_len) < 0)
		t->own_len = 0;
	/* seq 0 is never a candidate in s5_tcp_find_live */
	t->seq = (flags & S5_TCP_ACCEPTED) ? 0
					   : atomic_fetch_add(&last_seq, 1) + 1;
	s5_obj_init(&t->obj, &tcp_ops);
	return s5_fd_attach(fd, S5FD_TCP, &t->obj);
}

bool s5_tcp_local(int fd, struct sockaddr_storage *out, socklen_t *len)
{
	struct tcp_peer *t = (struct tcp_peer *)s5_fd_get(fd, S5FD_TCP);
	bool ok;

	if (t == NULL)
		return false;
	ok = t->local_len > 0;
	if (ok) {
		memcpy(out, &t->local, t->local_len);
		*len = t->local_len;
	}
	s5_obj_put(&t->obj);
	return ok;
}

/* Same address, ports aside; IPv4-mapped IPv6 equals IPv4. */
static bool same_host(const struct sockaddr *a, socklen_t alen,
		      const struct sockaddr *b, socklen_t blen)
{
	struct s5_addr x, y;

	if (s5_addr_from_sockaddr(&x, a, alen) < 0 ||
	    s5_addr_from_sockaddr(&y, b, blen) < 0 || x.atyp != y.atyp)
		return false;
	return x.atyp == S5_ATYP_IPV4 ? memcmp(x.u.v4, y.u.v4, 4) == 0
				      : memcmp(x.u.v6, y.u.v6, 16) == 0;
}

/* By the records alone: the descriptors are other threads' to use and
 * close meanwhile, and a connection closed behind the hooks' back only
 * makes a listener name its destination. */
bool s5_tcp_find_live(const struct sockaddr *local, socklen_t llen,
		      struct s5_tcp_live *out)
{
	struct tcp_peer *t;
	uint64_t best = 0;
	int fd = -1;

	while ((fd = s5_fd_next((unsigned int)(fd + 1), S5FD_TCP)) >= 0) {
		t = (struct tcp_peer *)s5_fd_peek(fd, S5FD_TCP);
		if (t == NULL)
			continue;
		if (t->seq > best && t->own_len > 0 &&
		    (local == NULL ||
		     same_host(local, llen, (struct sockaddr *)&t->own,
			       t->own_len) ||
		     (t->local_len > 0 &&
		      same_host(local, llen, (struct sockaddr *)&t->local,
				t->local_len)))) {
			best = t->seq;
			out->fd = fd;
			out->plen = t->len;
			memcpy(&out->peer, &t->peer, t->len);
			out->real_len = t->own_len;
			memcpy(&out->real_local, &t->own, t->own_len);
		}
		s5_obj_put(&t->obj);
	}
	return best != 0;
}

bool s5_tcp_connected(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return s5_tcp_peer(fd, &ss, &len) &&
	       real.getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}

bool s5_tcp_peer(int fd, struct sockaddr_storage *peer, socklen_t *len)
{
	struct s5_obj *o = s5_fd_get(fd, S5FD_TCP);
	struct tcp_peer *t = (struct tcp_peer *)o;

	if (o == NULL)
		return false;
	memcpy(peer, &t->peer, t->len);
	*len = t->len;
	s5_obj_put(o);
	return true;
}
