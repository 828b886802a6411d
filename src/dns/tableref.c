/* The value of SOCKS5WRAP_TABLE, "ID:PID:FD", read and written.
 *
 * The variable comes from the environment, which the program (or anyone
 * who starts it) controls, so the parser takes exactly one form: 32
 * lower-case hex digits, a colon, a decimal process ID without sign or
 * leading zero, a colon, a decimal descriptor number likewise, and
 * nothing after. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dns_internal.h"

#define PID_LIMIT (1 << 22) /* the kernel's PID_MAX_LIMIT */
#define FD_LIMIT (1 << 20)  /* the kernel's default fs.nr_open */

/* A decimal number in [lo, max] at *s, up to end (a ':' or the NUL);
 * moves *s past it. */
static int number(const char **s, char end, long lo, long max, int *out)
{
	const char *p = *s;
	long v = 0;

	if (*p < '0' || *p > '9' || (*p == '0' && p[1] != end))
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > max)
			return -EINVAL;
	}
	if (*p != end || v < lo)
		return -EINVAL;
	*out = (int)v;
	*s = p;
	return 0;
}

int s5_table_ref_parse(const char *s, struct s5_table_ref *out)
{
	struct s5_table_ref r;
	int i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < 2 * S5_POOL_ID_LEN; i += 2) {
		int hi = s5p_hex_digit(s[i]), lo = hi < 0 ? -1 : s5p_hex_digit(s[i + 1]);

		if (lo < 0)
			return -EINVAL;
		r.id[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	s += 2 * S5_POOL_ID_LEN;
	if (*s++ != ':' || number(&s, ':', 1, PID_LIMIT, &r.pid) < 0)
		return -EINVAL;
	s++;
	if (number(&s, '\0', 0, FD_LIMIT, &r.fd) < 0)
		return -EINVAL;
	*out = r;
	return 0;
}

void s5_table_ref_format(const struct s5_table_ref *r, char *out)
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < S5_POOL_ID_LEN; i++) {
		out[2 * i] = digits[r->id[i] >> 4];
		out[2 * i + 1] = digits[r->id[i] & 15];
	}
	snprintf(out + 2 * S5_POOL_ID_LEN,
		 S5_TABLE_REF_MAX - 2 * S5_POOL_ID_LEN, ":%d:%d", r->pid,
		 r->fd);
}

int s5_table_env_set(const uint8_t *id, int fd)
{
	struct s5_table_ref r;
	char v[S5_TABLE_REF_MAX];

	memcpy(r.id, id, S5_POOL_ID_LEN);
	r.pid = (int)getpid();
	r.fd = fd;
	s5_table_ref_format(&r, v);
	return setenv(S5_TABLE_ENV, v, 1) == 0 ? 0 : -errno;
}

int s5_table_hold(int fd, int min)
{
	char path[32];
	int o, held;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	o = open(path, O_PATH);
	close(fd);
	if (o < 0)
		return -1;
	held = o < min ? fcntl(o, F_DUPFD, min) : o;
	if (held < 0) {
		held = o; /* a low limit on descriptors: it stays where it is */
	} else if (held != o) {
		close(o);
	}
	fcntl(held, F_SETFD, 0);
	return held;
}

int s5_high_fd_base(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 1024;
	if (rl.rlim_cur > 1024 + 64)
		return 1024;
	if (rl.rlim_cur > 128)
		return (int)rl.rlim_cur - 64;
	return (int)rl.rlim_cur / 2;
}
