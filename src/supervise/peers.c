/* What getpeername() shows for sockets the supervisor connected through
 * the proxy: the destination the program asked for, not the proxy.
 *
 * Keyed by the socket's file (device and inode), which every copy of the
 * descriptor shares and which no descriptor number reuse can confuse. We
 * do not see close(), so an entry stays until the table is full (then
 * the oldest goes) or until a lookup finds its socket no longer connected
 * to the proxy. A socket whose entry went shows the proxy's address:
 * what the kernel knows, and nothing is sent anywhere because of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sup.h"

int s5s_peers_init(struct s5s_peers *p)
{
	p->tab = calloc(S5S_PEERS_MAX, sizeof(*p->tab));
	p->clock = 0;
	return p->tab ? 0 : -ENOMEM;
}

void s5s_peers_free(struct s5s_peers *p)
{
	free(p->tab);
	p->tab = NULL;
}

static bool file_of(int fd, uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

static struct s5s_peer *find(struct s5s_peers *p, uint64_t dev, uint64_t ino)
{
	size_t i;

	for (i = 0; i < S5S_PEERS_MAX; i++)
		if (p->tab[i].ino == ino && p->tab[i].dev == dev)
			return &p->tab[i];
	return NULL;
}

void s5s_peers_put(struct s5s_peers *p, int fd, const struct sockaddr *dst,
		   socklen_t dlen, const struct sockaddr *proxy,
		   socklen_t plen)
{
	struct s5s_peer *e, *oldest;
	uint64_t dev, ino;
	size_t i;

	if (!p->tab || !file_of(fd, &dev, &ino) || ino == 0)
		return;
	e = find(p, dev, ino);
	for (i = 0, oldest = &p->tab[0]; !e && i < S5S_PEERS_MAX; i++) {
		if (p->tab[i].ino == 0) {
			e = &p->tab[i];
			break;
		}
		if (p->tab[i].stamp < oldest->stamp)
			oldest = &p->tab[i];
	}
	if (!e)
		e = oldest;
	e->dev = dev;
	e->ino = ino;
	e->stamp = ++p->clock;
	memcpy(&e->dst, dst, dlen);
	e->dlen = dlen;
	memcpy(&e->proxy, proxy, plen);
	e->plen = plen;
}

const struct s5s_peer *s5s_peers_get(struct s5s_peers *p, int fd)
{
	struct sockaddr_storage now;
	socklen_t len = sizeof(now);
	struct s5s_peer *e;
	uint64_t dev, ino;

	if (!p->tab || !file_of(fd, &dev, &ino))
		return NULL;
	e = find(p, dev, ino);
	if (!e)
		return NULL;
	/* A socket that closed and whose inode came back for another one,
	 * or that was disconnected (connect AF_UNSPEC): forget it. */
	if (getpeername(fd, (struct sockaddr *)&now, &len) < 0 ||
	    len != e->plen || memcmp(&now, &e->proxy, len) != 0) {
		memset(e, 0, sizeof(*e));
		return NULL;
	}
	return e;
}
