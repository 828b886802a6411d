/* Builders for the messages a SOCKS5 client sends (RFC 1928, RFC 1929).
 * Each checks its values, then the room in the buffer, then writes.
 */
#include <errno.h>
#include <string.h>

#include "s5_proto.h"
#include "wire.h"

ssize_t s5_build_greeting(uint8_t *buf, size_t cap, const uint8_t *methods,
			  size_t n)
{
	/* Section 3: NMETHODS is one octet and at least one method is
	 * offered. */
	if (!methods || n == 0 || n > 255)
		return -EINVAL;
	if (cap < 2 + n)
		return -ENOBUFS;
	buf[0] = S5_VERSION;
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, methods, n);
	return (ssize_t)(2 + n);
}

ssize_t s5_build_userpass(uint8_t *buf, size_t cap, const char *user,
			  size_t ulen, const char *pass, size_t plen)
{
	uint8_t *p = buf;

	/* RFC 1929 section 2: ULEN is 1..255; PLEN may be 0. */
	if (!user || ulen == 0 || ulen > S5_CRED_MAX)
		return -EINVAL;
	if ((!pass && plen) || plen > S5_CRED_MAX)
		return -EINVAL;
	if (cap < 3 + ulen + plen)
		return -ENOBUFS;
	*p++ = S5_AUTH_VERSION;
	*p++ = (uint8_t)ulen;
	memcpy(p, user, ulen);
	p += ulen;
	*p++ = (uint8_t)plen;
	if (plen)
		memcpy(p, pass, plen);
	return (ssize_t)(3 + ulen + plen);
}

/* A request and a UDP header are three fixed octets followed by an
 * address (sections 4 and 7). */
static ssize_t put_head_addr(uint8_t *buf, size_t cap, const uint8_t head[3],
			     const struct s5_addr *dst)
{
	ssize_t n;

	if (!dst)
		return -EINVAL;
	n = s5_wire_addr_len(dst);
	if (n < 0)
		return n;
	if (cap < 3 + (size_t)n)
		return -ENOBUFS;
	memcpy(buf, head, 3);
	return 3 + s5_wire_put_addr(buf + 3, cap - 3, dst);
}

ssize_t s5_build_request(uint8_t *buf, size_t cap, uint8_t cmd,
			 const struct s5_addr *dst)
{
	const uint8_t head[3] = { S5_VERSION, cmd, 0 /* RSV */ };

	return put_head_addr(buf, cap, head, dst);
}

ssize_t s5_build_udp_header(uint8_t *buf, size_t cap,
			    const struct s5_addr *dst)
{
	/* RSV (two octets), FRAG 0: a standalone datagram. */
	static const uint8_t head[3] = { 0, 0, 0 };

	return put_head_addr(buf, cap, head, dst);
}
