/* Levelled logging for code that runs inside someone else's process.
 *
 * No stdio and no malloc: a line is assembled in a fixed buffer on the
 * caller's stack and written with one write(2), so lines from threads and
 * forked children do not interleave. A line that does not fit is cut and
 * ends with "...". Every line starts "socks5wrap[PID]: LEVEL: ".
 *
 * Never pass credentials to any of these functions.
 */
#ifndef S5_LOG_H
#define S5_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct s5_addr;

enum s5log_level {
	S5LOG_NONE = 0,
	S5LOG_ERROR = 1,
	S5LOG_WARN = 2,
	S5LOG_INFO = 3,
	S5LOG_DEBUG = 4,
};

#define S5LOG_LINE_MAX 512

typedef ssize_t (*s5log_write_fn)(int fd, const void *buf, size_t len);

/* Sets the level, the descriptor lines go to, and the write function
 * (NULL: lines are dropped; a program passes write). The preload passes a
 * writer of its own so that logging never goes through its hooks. Safe
 * to call while other threads log. */
void s5log_setup(enum s5log_level level, int fd, s5log_write_fn writer);

/* Current level and descriptor. */
enum s5log_level s5log_level(void);
int s5log_fd(void);

/* True when lines of this level are written. */
bool s5log_enabled(enum s5log_level level);

/* Parses "none", "error", "warn", "info", "debug" (any case). Returns 0 and
 * sets *out, or -EINVAL. */
int s5log_parse_level(const char *s, enum s5log_level *out);

/* One line under construction. */
struct s5log_line {
	enum s5log_level level;
	size_t len;
	bool cut;
	char buf[S5LOG_LINE_MAX];
};

void s5log_begin(struct s5log_line *l, enum s5log_level level);
void s5log_str(struct s5log_line *l, const char *s);
void s5log_strn(struct s5log_line *l, const char *s, size_t n);
void s5log_uint(struct s5log_line *l, unsigned long long v);
void s5log_int(struct s5log_line *l, long long v);
/* "192.0.2.1:80" or "[2001:db8::1]:80"; "?" for other families. */
void s5log_sockaddr(struct s5log_line *l, const struct sockaddr *sa,
		    socklen_t len);
/* Same for a SOCKS address; names are written as "name:port". Bytes of a
 * name that are not printable ASCII are written as '?'. */
void s5log_s5addr(struct s5log_line *l, const struct s5_addr *a);
/* strerror-like text for an errno value, without strerror's locale. */
void s5log_errno(struct s5log_line *l, int err);
/* Appends '\n' and writes the line if its level is enabled. */
void s5log_end(struct s5log_line *l);

/* Writes v in decimal at the end of out (20 bytes, no NUL); returns the
 * index of its first digit. Shared with the config's error texts. */
size_t s5_fmt_uint(char out[20], unsigned long long v);

/* Longest address text s5_fmt_ip writes, with its NUL. */
#define S5_IP_TEXT_MAX 46

/* An IPv4 (4 bytes) or IPv6 (16 bytes) address as text, as the log lines
 * write it but without port or brackets: "192.0.2.1", "2001:db8::1".
 * out is NUL-terminated; returns the text's length ("?" for another
 * family). Shared with the config's error texts. */
size_t s5_fmt_ip(char out[S5_IP_TEXT_MAX], int family, const uint8_t *addr);

/* The error line for a connect to a fake address no name maps to (any
 * more, or in this process): "connect ADDR: a fake address that no host
 * name maps to (hint); refused". */
void s5log_unmapped(const struct s5_addr *a, const char *hint);

/* Convenience: one line made of NULL-terminated list of strings. */
void s5log_msg(enum s5log_level level, const char *first, ...)
	__attribute__((sentinel));

#endif
