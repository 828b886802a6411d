/* Moving bytes inside a scatter list.
 *
 * s5_udp_recv lets the kernel write the RFC 1928 section 7 header into a
 * buffer of its own and the payload straight into the program's iovecs.
 * When the header is not as long as guessed, the payload sits a few bytes
 * away from where the program expects it, possibly across iovec
 * boundaries; these helpers move it there without a bounce buffer.
 */
#include <stdint.h>
#include <string.h>

#include "udp_internal.h"

/* A place in the stream: byte off of iov[i]. */
struct pos {
	size_t i;
	size_t off;
};

static uint8_t *at(const struct iovec *iov, struct pos p)
{
	return (uint8_t *)iov[p.i].iov_base + p.off;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Where stream byte p starts, past any empty iovecs. i == cnt at the end. */
static struct pos start_of(const struct iovec *iov, size_t cnt, size_t p)
{
	struct pos c = { 0, p };

	while (c.i < cnt && c.off >= iov[c.i].iov_len) {
		c.off -= iov[c.i].iov_len;
		c.i++;
	}
	return c;
}

/* Where stream byte p - 1 ends (p > 0): off is in 1..iov_len, so a
 * backward copy can take off bytes from this iovec. */
static struct pos end_of(const struct iovec *iov, size_t cnt, size_t p)
{
	struct pos c = { 0, p };

	while (c.i < cnt && c.off > iov[c.i].iov_len) {
		c.off -= iov[c.i].iov_len;
		c.i++;
	}
	return c;
}

static void forward(const struct iovec *iov, size_t cnt, struct pos *c,
		    size_t k)
{
	c->off += k;
	while (c->i < cnt && c->off == iov[c->i].iov_len) {
		c->i++;
		c->off = 0;
	}
}

static void backward(const struct iovec *iov, struct pos *c, size_t k)
{
	c->off -= k;
	while (c->off == 0 && c->i > 0) {
		c->i--;
		c->off = iov[c->i].iov_len;
	}
}

size_t s5_iov_total(const struct iovec *iov, size_t cnt)
{
	size_t t = 0;
	size_t i;

	for (i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - t)
			return SIZE_MAX;
		t += iov[i].iov_len;
	}
	return t;
}

size_t s5_iov_copy_out(const struct iovec *iov, size_t cnt, size_t off,
		       void *dst, size_t n)
{
	struct pos c = start_of(iov, cnt, off);
	uint8_t *d = dst;
	size_t done = 0;
	size_t k;

	while (done < n && c.i < cnt) {
		k = min_size(n - done, iov[c.i].iov_len - c.off);
		memcpy(d + done, at(iov, c), k);
		done += k;
		forward(iov, cnt, &c, k);
	}
	return done;
}

size_t s5_iov_copy_in(const struct iovec *iov, size_t cnt, size_t off,
		      const void *src, size_t n)
{
	struct pos c = start_of(iov, cnt, off);
	const uint8_t *s = src;
	size_t done = 0;
	size_t k;

	while (done < n && c.i < cnt) {
		k = min_size(n - done, iov[c.i].iov_len - c.off);
		memcpy(at(iov, c), s + done, k);
		done += k;
		forward(iov, cnt, &c, k);
	}
	return done;
}

/* Towards the start (dst < src): copying front to back never overwrites a
 * byte before it has been read. Within one iovec the two pieces may
 * overlap, hence memmove. */
static void move_down(const struct iovec *iov, size_t cnt, size_t dst,
		      size_t src, size_t n)
{
	struct pos d = start_of(iov, cnt, dst);
	struct pos s = start_of(iov, cnt, src);
	size_t k;

	while (n > 0) {
		k = min_size(n, min_size(iov[d.i].iov_len - d.off,
					 iov[s.i].iov_len - s.off));
		memmove(at(iov, d), at(iov, s), k);
		n -= k;
		forward(iov, cnt, &d, k);
		forward(iov, cnt, &s, k);
	}
}

/* Towards the end (dst > src): the same, back to front. */
static void move_up(const struct iovec *iov, size_t cnt, size_t dst,
		    size_t src, size_t n)
{
	struct pos d = end_of(iov, cnt, dst + n);
	struct pos s = end_of(iov, cnt, src + n);
	size_t k;

	while (n > 0) {
		k = min_size(n, min_size(d.off, s.off));
		memmove(at(iov, d) - k, at(iov, s) - k, k);
		n -= k;
		backward(iov, &d, k);
		backward(iov, &s, k);
	}
}

void s5_iov_move(const struct iovec *iov, size_t cnt, size_t dst, size_t src,
		 size_t n)
{
	if (n == 0 || dst == src)
		return;
	if (dst < src)
		move_down(iov, cnt, dst, src, n);
	else
		move_up(iov, cnt, dst, src, n);
}
