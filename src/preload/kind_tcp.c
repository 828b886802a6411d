/* S5FD_TCP: a TCP socket connected through the proxy. Its only state is
 * the peer the program asked for, which getpeername() reports instead of
 * the proxy. Set once before the entry is published, never changed. */
#include <errno.h>
#include <string.h>

#include "fd.h"
#include "fork.h"
#include "kind_tcp.h"
#include "real.h"
#include "slab.h"

struct tcp_peer {
	struct s5_obj obj; /* first */
	socklen_t len;
	struct sockaddr_storage peer;
};

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

int s5_tcp_mark(int fd, const struct sockaddr *peer, socklen_t len)
{
	struct tcp_peer *t = s5_slab_alloc(&slab);

	if (t == NULL)
		return -ENOMEM;
	if (len > sizeof(t->peer))
		len = sizeof(t->peer);
	memcpy(&t->peer, peer, len);
	t->len = len;
	s5_obj_init(&t->obj, &tcp_ops);
	return s5_fd_attach(fd, S5FD_TCP, &t->obj);
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
