/* The direct set: real addresses of names that the exclusion list sent to
 * the local resolver, so that connect() to them goes direct as well.
 *
 * A ring of S5_POOL_DIRECT_MAX entries, searched linearly: at most 1024
 * compares of 17 bytes per connect(), next to a system call and a TCP
 * handshake, does not pay for an index and the repair it would need.
 */
#include <netinet/in.h>
#include <string.h>

#include "dns_internal.h"

/* The stored form of an address: IPv4 (mapped or not) in the first 4
 * bytes, the rest zero. Returns false for an unknown family. */
static bool entry_of(int family, const uint8_t *addr, struct s5p_direct *e)
{
	if (!s5p_canon(&family, &addr))
		return false;
	memset(e, 0, sizeof(*e));
	e->family = (uint8_t)family;
	memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
	return true;
}

static bool direct_find(const struct s5_pool *p, const struct s5p_direct *e)
{
	size_t i;

	for (i = 0; i < S5_POOL_DIRECT_MAX; i++)
		if (p->direct[i].family == e->family &&
		    memcmp(p->direct[i].addr, e->addr, sizeof(e->addr)) == 0)
			return true;
	return false;
}

void s5_pool_direct_add(struct s5_pool *p, int family, const uint8_t *addr)
{
	struct s5p_direct e, *slot;

	if (!entry_of(family, addr, &e) || s5p_lock(p))
		return;
	/* Adding an address twice would push a live entry out for nothing. */
	if (!direct_find(p, &e)) {
		slot = &p->direct[p->direct_next];
		/* Empty while the address changes: a torn entry must never
		 * match, or some other address would bypass the proxy. */
		slot->family = 0;
		s5p_step();
		memcpy(slot->addr, e.addr, sizeof(e.addr));
		s5p_step();
		slot->family = e.family;
		p->direct_next = (p->direct_next + 1) % S5_POOL_DIRECT_MAX;
	}
	s5p_unlock(p);
}

bool s5_pool_direct_has(struct s5_pool *p, int family, const uint8_t *addr)
{
	struct s5p_direct e;
	bool found;

	if (!entry_of(family, addr, &e) || s5p_lock(p))
		return false;
	found = direct_find(p, &e);
	s5p_unlock(p);
	return found;
}

void s5p_direct_repair(struct s5_pool *p)
{
	size_t i;

	if (p->direct_next >= S5_POOL_DIRECT_MAX)
		p->direct_next = 0;
	for (i = 0; i < S5_POOL_DIRECT_MAX; i++)
		if (p->direct[i].family != AF_INET &&
		    p->direct[i].family != AF_INET6)
			p->direct[i].family = 0;
}
