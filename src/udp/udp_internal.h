/* Internals of the udp layer, shared by its files and its unit test. */
#ifndef S5_UDP_INTERNAL_H
#define S5_UDP_INTERNAL_H

#include <stddef.h>
#include <sys/uio.h>

/* The caller's iovecs plus our one or two fit in a stack array up to this
 * many; only longer lists are copied to the heap. */
#define S5_UDP_IOV_STACK 16

/* The first guess at a relay header's length: RSV RSV FRAG ATYP=1, an IPv4
 * address and a port (RFC 1928 section 7), what most relays send. */
#define S5_UDP_GUESS_INIT 10

/* The shortest header: ATYP=3 with a one-byte name (3 + 1 + 1 + 1 + 2). */
#define S5_UDP_HEADER_MIN 8

/* An iovec list is seen as one stream of bytes, in the order the kernel
 * fills it; offsets count in that stream. */

/* Sum of the lengths, or SIZE_MAX when the sum does not fit. */
size_t s5_iov_total(const struct iovec *iov, size_t cnt);

/* Copy n bytes from the stream at off into dst (out) or from src into the
 * stream at off (in), stopping at the end of the stream. Return the number
 * of bytes copied. */
size_t s5_iov_copy_out(const struct iovec *iov, size_t cnt, size_t off,
		       void *dst, size_t n);
size_t s5_iov_copy_in(const struct iovec *iov, size_t cnt, size_t off,
		      const void *src, size_t n);

/* memmove() inside the stream: n bytes from src to dst. Both ranges must
 * lie within the stream. */
void s5_iov_move(const struct iovec *iov, size_t cnt, size_t dst, size_t src,
		 size_t n);

#endif
