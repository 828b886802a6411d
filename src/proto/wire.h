/* Helpers shared by the proto files: the address part of a request, a
 * reply and a UDP header (ATYP DST.ADDR DST.PORT, RFC 1928 section 5) is
 * the same everywhere, so it is encoded and decoded in one place.
 */
#ifndef S5_PROTO_WIRE_H
#define S5_PROTO_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "s5_proto.h"

/* Smallest encoded address: ATYP, a one-byte name with its length, port. */
#define S5_WIRE_ADDR_MIN (1 + 1 + 1 + 2)

/* Bytes that the address a takes on the wire, or -EINVAL when it cannot be
 * encoded (unknown ATYP, name length 0). */
ssize_t s5_wire_addr_len(const struct s5_addr *a);

/* Writes ATYP ADDR PORT at buf. Returns the length written, -ENOBUFS or
 * -EINVAL. */
ssize_t s5_wire_put_addr(uint8_t *buf, size_t cap, const struct s5_addr *a);

/* Reads ATYP ADDR PORT from buf. Returns the length consumed; 0 when more
 * bytes are needed, with *need set to the address length it has at least;
 * -EPROTO for an unknown ATYP or an empty name. */
ssize_t s5_wire_get_addr(const uint8_t *buf, size_t len, size_t *need,
			 struct s5_addr *out);

static inline void s5_wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t s5_wire_get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

#endif
