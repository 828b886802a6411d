/* Slot numbers <-> fake addresses.
 *
 * Slot i is the address base + 1 + i in each range. The base (all host
 * bits zero) and the last address (all ones) are never used: programs
 * and stacks treat them as the network and broadcast addresses.
 *
 * Capacity never exceeds 2^32 - 1, so only the low 32 bits of an address
 * ever differ from the base: the arithmetic is done on those, and for
 * IPv6 the 12 bytes in front must equal the base's.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "dns_internal.h"

static uint32_t get_be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static void put_be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

bool s5p_canon(int *family, const uint8_t **addr)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (*family == AF_INET6 && memcmp(*addr, mapped, sizeof(mapped)) == 0) {
		*family = AF_INET;
		*addr += sizeof(mapped);
	}
	return *family == AF_INET || *family == AF_INET6;
}

uint32_t s5p_range_slots(const struct s5_cidr *c)
{
	unsigned host_bits = (c->family == AF_INET ? 32u : 128u) - c->prefix;

	if (host_bits >= 32)
		return UINT32_MAX;
	return (uint32_t)((1ull << host_bits) - 2);
}

static const struct s5_cidr *range_of(const struct s5_pool *p, int family)
{
	return family == AF_INET ? &p->net4 : &p->net6;
}

bool s5_pool_in_range(const struct s5_pool *p, int family,
		      const uint8_t *addr)
{
	const struct s5_cidr *net;

	if (!s5p_canon(&family, &addr))
		return false;
	net = range_of(p, family);
	return s5_prefix_match(addr, net->addr, net->prefix);
}

int s5p_slot_of(const struct s5_pool *p, int family, const uint8_t *addr,
		uint32_t *slot)
{
	const struct s5_cidr *net;
	size_t low; /* where the low 32 bits start */
	uint32_t off;

	if (!s5_pool_in_range(p, family, addr))
		return -ENOENT;
	s5p_canon(&family, &addr);
	net = range_of(p, family);
	low = family == AF_INET ? 0 : 12;
	/* Host bits of the base are zero, network bits match: equal leading
	 * bytes mean the offset fits in 32 bits. */
	if (memcmp(net->addr, addr, low) != 0)
		return -ENOENT;
	off = get_be32(addr + low) - get_be32(net->addr + low);
	if (off == 0 || off - 1 >= p->capacity)
		return -ENOENT;
	*slot = off - 1;
	return 0;
}

/* The sum cannot carry out of the low 32 bits: the range is aligned on
 * its size, and slot + 1 stays below that size. */
static void addr_of(const struct s5_cidr *net, uint32_t slot, uint8_t *out,
		    size_t len)
{
	memcpy(out, net->addr, len);
	put_be32(out + len - 4, get_be32(net->addr + len - 4) + slot + 1);
}

void s5p_addr_of(const struct s5_pool *p, uint32_t slot, uint8_t *v4,
		 uint8_t *v6)
{
	if (v4)
		addr_of(&p->net4, slot, v4, 4);
	if (v6)
		addr_of(&p->net6, slot, v6, 16);
}
