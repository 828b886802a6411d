/* Sending a datagram through the relay (RFC 1928 section 7): the request
 * header goes in front of the payload as the first iovec of one sendmsg,
 * so the payload is never copied.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "s5_udp.h"
#include "udp_internal.h"

/* The caller's iovecs behind one of ours. Longer lists than the stack
 * array holds are rare (IOV_MAX is 1024) and go to the heap. */
static struct iovec *with_header(struct iovec *stack, uint8_t *hdr,
				 size_t hdr_len, const struct iovec *iov,
				 size_t iovcnt)
{
	struct iovec *v = stack;

	if (iovcnt > S5_UDP_IOV_STACK) {
		v = malloc((iovcnt + 1) * sizeof(*v));
		if (!v)
			return NULL;
	}
	v[0].iov_base = hdr;
	v[0].iov_len = hdr_len;
	if (iovcnt)
		memcpy(v + 1, iov, iovcnt * sizeof(*v));
	return v;
}

ssize_t s5_udp_send(struct s5_udp *u, int fd, const struct s5_addr *dst,
		    const struct iovec *iov, size_t iovcnt, int flags,
		    const struct s5_udp_io *io)
{
	struct iovec stack[S5_UDP_IOV_STACK + 1];
	uint8_t hdr[S5_UDP_HEADER_MAX];
	struct msghdr m;
	ssize_t hlen, r;

	if (iovcnt > IOV_MAX - 1)
		return -EMSGSIZE;
	if (u->relay_len == 0)
		return -ENOTCONN;
	/* RSV RSV FRAG=0 ATYP DST.ADDR DST.PORT: FRAG 0 is a whole datagram,
	 * the only kind we send. */
	hlen = s5_build_udp_header(hdr, sizeof(hdr), dst);
	if (hlen < 0)
		return hlen;
	memset(&m, 0, sizeof(m));
	m.msg_name = &u->relay;
	m.msg_namelen = u->relay_len;
	m.msg_iov = with_header(stack, hdr, (size_t)hlen, iov, iovcnt);
	if (!m.msg_iov)
		return -ENOMEM;
	m.msg_iovlen = iovcnt + 1;
	r = io->sendmsg(fd, &m, flags);
	if (r < 0)
		r = -errno;
	else if (r < hlen)
		r = -EIO; /* UDP sends a datagram whole or not at all */
	else
		r -= hlen;
	if (m.msg_iov != stack)
		free(m.msg_iov);
	return r;
}
