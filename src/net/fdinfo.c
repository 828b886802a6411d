/* The registrations listed in an epoll instance's /proc/self/fdinfo file
 * (proc(5)): one line per watched descriptor,
 *
 *   tfd:        5 events:       19 data:                5  pos:0 ino:2d3f sdev:8
 *
 * tfd in decimal, events, data and ino in hexadecimal. Read in pieces of
 * any size: a line cut between two reads is kept until its end comes.
 * The text comes from the kernel, but the parser trusts nothing: numbers
 * that overflow, missing fields and overlong lines are refused, never
 * read past. */
#include <stdint.h>
#include <string.h>

#include "s5_net.h"

static const char *skip_spaces(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* "name:" then spaces; NULL when the line does not go on so. */
static const char *field(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);

	if ((size_t)(end - p) < n || memcmp(p, name, n) != 0)
		return NULL;
	return skip_spaces(p + n, end);
}

static int digit(char c, unsigned int base)
{
	unsigned int d;

	if (c >= '0' && c <= '9')
		d = (unsigned int)(c - '0');
	else if (base == 16 && c >= 'a' && c <= 'f')
		d = (unsigned int)(c - 'a' + 10);
	else if (base == 16 && c >= 'A' && c <= 'F')
		d = (unsigned int)(c - 'A' + 10);
	else
		return -1;
	return (int)d;
}

/* An unsigned number up to max in base; NULL when there is none or it
 * is larger. */
static const char *number(const char *p, const char *end, unsigned int base,
			  uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = p;
	int d;

	while (p < end && (d = digit(*p, base)) >= 0) {
		if (v > (max - (uint64_t)d) / base)
			return NULL;
		v = v * base + (uint64_t)d;
		p++;
	}
	if (p == start)
		return NULL;
	*out = v;
	return p;
}

int s5_fdinfo_line(const char *line, size_t len, struct s5_epoll_reg *r)
{
	const char *p = line, *end = line + len;
	uint64_t tfd, events, data, ino;

	if ((p = field(p, end, "tfd:")) == NULL ||
	    (p = number(p, end, 10, INT32_MAX, &tfd)) == NULL ||
	    (p = field(skip_spaces(p, end), end, "events:")) == NULL ||
	    (p = number(p, end, 16, UINT32_MAX, &events)) == NULL ||
	    (p = field(skip_spaces(p, end), end, "data:")) == NULL ||
	    (p = number(p, end, 16, UINT64_MAX, &data)) == NULL)
		return 0;
	/* pos: and whatever a kernel puts before ino: */
	for (;;) {
		p = skip_spaces(p, end);
		if (p == end)
			return 0;
		if (field(p, end, "ino:") != NULL)
			break;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
	}
	p = field(p, end, "ino:");
	if (number(p, end, 16, UINT64_MAX, &ino) == NULL)
		return 0;
	r->tfd = (int)tfd;
	r->events = (uint32_t)events;
	r->data = data;
	r->ino = ino;
	return 1;
}

void s5_fdinfo_init(struct s5_fdinfo *f)
{
	f->len = 0;
	f->overlong = false;
}

/* One complete line: its registration to fn. */
static int line_done(const char *line, size_t len,
		     int (*fn)(void *ctx, const struct s5_epoll_reg *r),
		     void *ctx)
{
	struct s5_epoll_reg r;

	if (!s5_fdinfo_line(line, len, &r))
		return 0;
	return fn(ctx, &r) < 0 ? -1 : 1;
}

int s5_fdinfo_feed(struct s5_fdinfo *f, const char *buf, size_t n, bool eof,
		   int (*fn)(void *ctx, const struct s5_epoll_reg *r),
		   void *ctx)
{
	const char *nl;
	size_t take;
	int regs = 0, r;

	while (n > 0) {
		nl = memchr(buf, '\n', n);
		take = nl != NULL ? (size_t)(nl - buf) : n;
		if (f->len + take > sizeof(f->line)) {
			f->overlong = true; /* refused, whatever follows */
			return -1;
		}
		memcpy(f->line + f->len, buf, take);
		f->len += take;
		if (nl == NULL)
			break;
		r = line_done(f->line, f->len, fn, ctx);
		if (r < 0)
			return -1;
		regs += r;
		f->len = 0;
		buf = nl + 1;
		n -= take + 1;
	}
	if (eof && f->len > 0) {
		r = line_done(f->line, f->len, fn, ctx);
		f->len = 0;
		if (r < 0)
			return -1;
		regs += r;
	}
	return regs;
}
