/* Parsers for the messages a SOCKS5 server sends (RFC 1928, RFC 1929).
 * Stream messages may arrive in pieces: a parser that sees too few bytes
 * returns 0 and says how long the message is at least, so the reader
 * never takes bytes that belong to the program after the reply.
 */
#include <errno.h>
#include <string.h>

#include "s5_proto.h"
#include "wire.h"

static ssize_t want(size_t *need, size_t n)
{
	if (need)
		*need = n;
	return 0;
}

/* VER X, both one octet: the method reply (section 3) and the RFC 1929
 * status reply (section 2). A wrong version is reported as soon as its
 * byte is there. */
static ssize_t parse_two(const uint8_t *buf, size_t len, size_t *need,
			 uint8_t ver, uint8_t alt_ver, uint8_t *out)
{
	if (len >= 1 && buf[0] != ver && buf[0] != alt_ver)
		return -EPROTO;
	if (len < 2)
		return want(need, 2);
	*out = buf[1];
	return 2;
}

ssize_t s5_parse_method_reply(const uint8_t *buf, size_t len, size_t *need,
			      uint8_t *method)
{
	return parse_two(buf, len, need, S5_VERSION, S5_VERSION, method);
}

ssize_t s5_parse_auth_reply(const uint8_t *buf, size_t len, size_t *need,
			    uint8_t *status)
{
	/* Some servers put the SOCKS version in the sub-negotiation reply. */
	return parse_two(buf, len, need, S5_AUTH_VERSION, S5_VERSION, status);
}

ssize_t s5_parse_reply(const uint8_t *buf, size_t len, size_t *need,
		       struct s5_reply *out)
{
	size_t addr_need;
	ssize_t n;

	if (len >= 1 && buf[0] != S5_VERSION)
		return -EPROTO;
	/* RSV is not checked: section 6 only says it is reserved. */
	if (len < 3)
		return want(need, 3 + S5_WIRE_ADDR_MIN);
	n = s5_wire_get_addr(buf + 3, len - 3, &addr_need, &out->bound);
	if (n < 0)
		return n;
	if (n == 0)
		return want(need, 3 + addr_need);
	out->rep = buf[1];
	return 3 + n;
}

ssize_t s5_parse_udp_header(const uint8_t *buf, size_t len,
			    struct s5_addr *src)
{
	ssize_t n;

	if (len < 3 || buf[0] != 0 || buf[1] != 0)
		return -EPROTO;
	/* Section 7: an implementation that does not reassemble must drop
	 * any datagram whose FRAG is not 0. */
	if (buf[2] != 0)
		return -EPROTO;
	n = s5_wire_get_addr(buf + 3, len - 3, NULL, src);
	if (n <= 0)
		return -EPROTO;
	return 3 + n;
}
