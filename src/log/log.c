/* Levelled logging: one line per call chain begin..end, assembled on the
 * caller's stack and written with one write(2), so that lines from threads
 * and forked children do not interleave and nothing allocates.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <unistd.h>

#include "s5_log.h"

/* Set by s5log_setup: once by a program, a few times by the preload (its
 * start-up, and when its log file moves or is opened again while threads
 * run), hence atomics. Until the first s5log_setup there is no writer and
 * lines are dropped: the preload sets one before anything can log, and a
 * default of write(2) here would be the preload's own hook. */
static _Atomic int log_level = S5LOG_ERROR;
static _Atomic int log_fd = STDERR_FILENO;
static _Atomic(s5log_write_fn) log_write;

/* Room for text: the last byte of the buffer is kept for '\n'. */
#define TEXT_MAX (S5LOG_LINE_MAX - 1)
#define CUT_MARK "..."
#define CUT_MARK_LEN (sizeof(CUT_MARK) - 1)

void s5log_setup(enum s5log_level level, int fd, s5log_write_fn writer)
{
	atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
	atomic_store_explicit(&log_write, writer, memory_order_release);
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum s5log_level s5log_level(void)
{
	return (enum s5log_level)atomic_load_explicit(&log_level,
						      memory_order_relaxed);
}

int s5log_fd(void)
{
	return atomic_load_explicit(&log_fd, memory_order_relaxed);
}

bool s5log_enabled(enum s5log_level level)
{
	return level != S5LOG_NONE && level <= s5log_level();
}

static const char *const level_names[] = {
	[S5LOG_NONE] = "none",
	[S5LOG_ERROR] = "error",
	[S5LOG_WARN] = "warn",
	[S5LOG_INFO] = "info",
	[S5LOG_DEBUG] = "debug",
};

#define LEVEL_COUNT (sizeof(level_names) / sizeof(level_names[0]))

/* ASCII-only, so the result does not depend on the program's locale. */
static bool ascii_caseeq(const char *a, const char *b)
{
	unsigned char x, y;

	do {
		x = (unsigned char)*a++;
		y = (unsigned char)*b++;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	} while (x);
	return true;
}

int s5log_parse_level(const char *s, enum s5log_level *out)
{
	size_t i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < LEVEL_COUNT; i++) {
		if (ascii_caseeq(s, level_names[i])) {
			*out = (enum s5log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* A line whose level is off is started as S5LOG_NONE: appending to it
 * then costs one comparison and s5log_end writes nothing. */
static bool discarded(const struct s5log_line *l)
{
	return l->level == S5LOG_NONE;
}

/* Appends n bytes; control characters become '?' so that one call is one
 * line on the terminal, whatever a host name or path contains. */
static void put_bytes(struct s5log_line *l, const char *s, size_t n)
{
	unsigned char c;

	if (discarded(l) || l->cut)
		return;
	for (; n > 0; n--, s++) {
		if (l->len == TEXT_MAX) {
			l->cut = true;
			return;
		}
		c = (unsigned char)*s;
		l->buf[l->len++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
}

void s5log_strn(struct s5log_line *l, const char *s, size_t n)
{
	size_t len = 0;

	if (!s) {
		put_bytes(l, "(null)", 6);
		return;
	}
	while (len < n && s[len])
		len++;
	put_bytes(l, s, len);
}

void s5log_str(struct s5log_line *l, const char *s)
{
	s5log_strn(l, s, (size_t)-1);
}

size_t s5_fmt_uint(char out[20], unsigned long long v)
{
	size_t i = 20; /* 2^64 - 1 has 20 digits */

	do {
		out[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return i;
}

void s5log_uint(struct s5log_line *l, unsigned long long v)
{
	char tmp[20];
	size_t i = s5_fmt_uint(tmp, v);

	put_bytes(l, tmp + i, sizeof(tmp) - i);
}

void s5log_int(struct s5log_line *l, long long v)
{
	if (v >= 0) {
		s5log_uint(l, (unsigned long long)v);
		return;
	}
	put_bytes(l, "-", 1);
	/* -(v + 1) + 1 does not overflow for LLONG_MIN. */
	s5log_uint(l, (unsigned long long)-(v + 1) + 1);
}

void s5log_begin(struct s5log_line *l, enum s5log_level level)
{
	l->level = s5log_enabled(level) ? level : S5LOG_NONE;
	l->len = 0;
	l->cut = false;
	if (discarded(l))
		return;
	/* getpid at each line: a forked child logs its own PID. */
	s5log_str(l, "socks5wrap[");
	s5log_int(l, (long long)getpid());
	s5log_str(l, "]: ");
	s5log_str(l, level_names[l->level]);
	s5log_str(l, ": ");
}

/* Writes the whole line, going on after a short write or EINTR a bounded
 * number of times (a signal storm must not keep a hook spinning here);
 * gives up silently on any other error: there is nowhere to report it. */
static void write_all(const char *buf, size_t len)
{
	s5log_write_fn w = atomic_load_explicit(&log_write,
						memory_order_acquire);
	ssize_t n;
	int tries = 0;

	while (w != NULL && len > 0 && tries++ < 16) {
		n = w(s5log_fd(), buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void s5log_end(struct s5log_line *l)
{
	int saved = errno; /* hooks log and must leave errno as it was */

	if (discarded(l))
		return;
	if (l->cut) {
		/* TEXT_MAX is far longer than any prefix, so the mark fits. */
		l->len = TEXT_MAX;
		for (size_t i = 0; i < CUT_MARK_LEN; i++)
			l->buf[TEXT_MAX - CUT_MARK_LEN + i] = CUT_MARK[i];
	}
	l->buf[l->len++] = '\n';
	write_all(l->buf, l->len);
	l->level = S5LOG_NONE; /* a second s5log_end writes nothing */
	errno = saved;
}

void s5log_msg(enum s5log_level level, const char *first, ...)
{
	struct s5log_line l;
	const char *s;
	va_list ap;

	if (!s5log_enabled(level))
		return;
	s5log_begin(&l, level);
	va_start(ap, first);
	for (s = first; s; s = va_arg(ap, const char *))
		s5log_str(&l, s);
	va_end(ap);
	s5log_end(&l);
}
