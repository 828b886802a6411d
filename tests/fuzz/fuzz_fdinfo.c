/* libFuzzer target for the epoll fdinfo reader (src/net/fdinfo.c).
 *
 * Input: one byte that seeds how the rest is cut into pieces, then the
 * text. Beyond "no crash":
 *  - the registrations found are the same whether the text is fed whole
 *    or in pieces of any size, and so is the verdict on overlong lines;
 *  - every registration found parses back to itself when written in the
 *    kernel's format, and each one comes from a line that s5_fdinfo_line
 *    accepts on its own.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s5_net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REGS 512

struct list {
	struct s5_epoll_reg r[MAX_REGS];
	int n;
};

static int collect(void *ctx, const struct s5_epoll_reg *r)
{
	struct list *l = ctx;

	if (l->n == MAX_REGS)
		return -1;
	l->r[l->n++] = *r;
	return 0;
}

static int feed_whole(const char *text, size_t n, struct list *l)
{
	struct s5_fdinfo f;

	s5_fdinfo_init(&f);
	return s5_fdinfo_feed(&f, text, n, true, collect, l);
}

static int feed_pieces(const char *text, size_t n, uint8_t seed,
		       struct list *l)
{
	struct s5_fdinfo f;
	uint32_t x = seed | 1u;
	size_t off = 0, k;
	int r, total = 0;

	s5_fdinfo_init(&f);
	while (off < n) {
		x = x * 1103515245u + 12345u;
		k = 1 + (x >> 16) % 300;
		if (k > n - off)
			k = n - off;
		r = s5_fdinfo_feed(&f, text + off, k, false, collect, l);
		if (r < 0)
			return -1;
		total += r;
		off += k;
	}
	r = s5_fdinfo_feed(&f, text + off, 0, true, collect, l);
	return r < 0 ? -1 : total + r;
}

static void check_round_trip(const struct s5_epoll_reg *r)
{
	struct s5_epoll_reg back;
	char line[200];
	int n;

	n = snprintf(line, sizeof(line),
		     "tfd: %8d events: %8" PRIx32 " data: %16" PRIx64
		     "  pos:0 ino:%" PRIx64 " sdev:8",
		     r->tfd, r->events, r->data, r->ino);
	if (n <= 0 || (size_t)n >= sizeof(line) ||
	    !s5_fdinfo_line(line, (size_t)n, &back) || back.tfd != r->tfd ||
	    back.events != r->events || back.data != r->data ||
	    back.ino != r->ino)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct list whole, pieces;
	const char *text = (const char *)data + 1;
	int a, b, i;

	if (size < 1)
		return 0;
	whole.n = 0;
	pieces.n = 0;
	a = feed_whole(text, size - 1, &whole);
	b = feed_pieces(text, size - 1, data[0], &pieces);
	if (a != b || (a >= 0 && (whole.n != a || pieces.n != a)))
		abort();
	if (a < 0)
		return 0;
	for (i = 0; i < a; i++) {
		if (memcmp(&whole.r[i], &pieces.r[i], sizeof(whole.r[i])) != 0)
			abort();
		if (whole.r[i].tfd < 0)
			abort();
		check_round_trip(&whole.r[i]);
	}
	return 0;
}
