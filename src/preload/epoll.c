/* epoll_create*, epoll_ctl() and the epoll waits: where a program waits
 * with epoll for a socket whose connect through the proxy runs on
 * (kind_conn.h), the handshake advances.
 *
 * The library knows the epoll instances the program made (so it can find a
 * socket's registrations when its connect starts). While a handshake runs
 * its socket's registrations carry the library's tag instead of the
 * program's data (kind_conn.c); epoll_ctl() on that socket is kept aside
 * until the end. A wait drops the tagged events after advancing their
 * handshakes, and waits on for the rest of the program's timeout when
 * nothing else was left; no round outlasts the earliest handshake
 * deadline. With no handshake in progress anywhere a wait is libc's after
 * one load, and one more after it returns: a handshake that started
 * meanwhile in another thread may have tagged events of this wait. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>

#include "fd.h"
#include "hook.h"
#include "kind_conn.h"
#include "s5_net.h"

#define MS_NONE INT64_MAX

/* Drops the library's events (advancing their handshakes); returns how
 * many of the program's are left, in order. *stale: some were for
 * handshakes this process cannot drive. */
static int filter(int epfd, struct epoll_event *ev, int n, bool *stale)
{
	int i, j = 0, t;

	for (i = 0; i < n; i++) {
		t = s5_conn_epoll_event(ev[i].data.u64);
		if (t == S5_TAG_STALE)
			*stale = true;
		if (t != S5_TAG_NONE)
			continue;
		ev[i].events |= s5_conn_epoll_inherited(epfd, ev[i].data.u64);
		ev[j++] = ev[i];
	}
	return j;
}

/* The slow path of every epoll wait: end in ms (MS_NONE: no end). */
static int wait_slow(int epfd, struct epoll_event *ev, int max, int64_t end,
		     const sigset_t *ss)
{
	struct timespec pause = { 0, 1000000 };
	int64_t cap, dl, left;
	bool stale;
	int r;

	for (;;) {
		dl = s5_conn_expire();
		cap = dl < end ? dl + 1 : end;
		if (cap == MS_NONE) {
			left = -1;
		} else {
			left = cap - s5_now_ms();
			if (left < 0)
				left = 0;
			if (left > INT_MAX)
				left = INT_MAX;
		}
		r = real.epoll_pwait(epfd, ev, max, (int)left, ss);
		if (r < 0)
			return -errno;
		stale = false;
		r = filter(epfd, ev, r, &stale);
		if (r > 0 || (end != MS_NONE && s5_now_ms() >= end))
			return r;
		/* Only events another process (the parent after a fork) will
		 * take: they stay ready until it does; leave it the moment. */
		if (stale)
			nanosleep(&pause, NULL);
	}
}

/* A handshake started in another thread while a fast-path wait ran: the
 * events it tagged meanwhile are not the program's. What is left may be
 * nothing: an early return that a loop takes for its timeout. */
static __attribute__((noinline)) int raced(int epfd, struct epoll_event *ev,
					   int n)
{
	int saved = errno;
	bool stale = false;

	n = filter(epfd, ev, n, &stale);
	errno = saved;
	return n;
}

/* The end of a wait of ms, or of ts (epoll_pwait2), in ms. */
static int64_t end_of(int ms, const struct timespec *ts, bool two)
{
	if (!two)
		return ms < 0 ? MS_NONE : s5_now_ms() + ms;
	if (ts == NULL || ts->tv_sec < 0 || ts->tv_sec > INT32_MAX)
		return MS_NONE;
	return s5_now_ms() + (int64_t)ts->tv_sec * 1000 +
	       (ts->tv_nsec + 999999) / 1000000;
}

/* Every epoll wait once a handshake runs somewhere (or before the
 * start-up). */
static __attribute__((noinline)) int
wait_hook(int epfd, struct epoll_event *ev, int max, int ms,
	  const struct timespec *ts, const sigset_t *ss, bool two)
{
	int saved = errno, r;

	switch (s5_hook_begin(epoll_pwait, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return two ? real.epoll_pwait2(epfd, ev, max, ts, ss)
			   : real.epoll_pwait(epfd, ev, max, ms, ss);
	case S5_HOOK_OURS:
		break;
	}
	if (two && real.epoll_pwait2 == NULL)
		return (int)s5_result(-ENOSYS, saved);
	if (max <= 0 || ev == NULL) /* the kernel's EINVAL or EFAULT */
		return two ? real.epoll_pwait2(epfd, ev, max, ts, ss)
			   : real.epoll_pwait(epfd, ev, max, ms, ss);
	r = wait_slow(epfd, ev, max, end_of(ms, ts, two), ss);
	return (int)s5_result(r, saved);
}

/* The fast path: one load before libc's call and one after it. */
S5_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int ms)
{
	uint64_t w = s5_conn_now();
	int r;

	if (__builtin_expect(real.epoll_wait == NULL || !s5_conn_idle(w), 0))
		return wait_hook(epfd, ev, max, ms, NULL, NULL, false);
	r = real.epoll_wait(epfd, ev, max, ms);
	if (__builtin_expect(r <= 0 || s5_conn_now() == w, 1))
		return r;
	return raced(epfd, ev, r);
}

S5_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int ms,
			  const sigset_t *ss)
{
	uint64_t w = s5_conn_now();
	int r;

	if (__builtin_expect(real.epoll_pwait == NULL || !s5_conn_idle(w), 0))
		return wait_hook(epfd, ev, max, ms, NULL, ss, false);
	r = real.epoll_pwait(epfd, ev, max, ms, ss);
	if (__builtin_expect(r <= 0 || s5_conn_now() == w, 1))
		return r;
	return raced(epfd, ev, r);
}

S5_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max,
			   const struct timespec *ts, const sigset_t *ss)
{
	uint64_t w = s5_conn_now();
	int r;

	if (__builtin_expect(real.epoll_pwait2 == NULL || !s5_conn_idle(w), 0))
		return wait_hook(epfd, ev, max, 0, ts, ss, true);
	r = real.epoll_pwait2(epfd, ev, max, ts, ss);
	if (__builtin_expect(r <= 0 || s5_conn_now() == w, 1))
		return r;
	return raced(epfd, ev, r);
}

static __attribute__((noinline)) int epoll_ctl_slow(int epfd, int op, int fd,
						    struct epoll_event *ev)
{
	int saved = errno, r;

	switch (s5_hook_begin(epoll_ctl, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.epoll_ctl(epfd, op, fd, ev);
	case S5_HOOK_OURS:
		break;
	}
	r = s5_fd_maybe_ours(fd) && s5_fd_kind(fd) == S5FD_CONN
		    ? s5_conn_epoll_ctl(epfd, op, fd, ev)
		    : S5_PASS;
	if (r == S5_PASS)
		return real.epoll_ctl(epfd, op, fd, ev);
	return (int)s5_result(r, saved);
}

/* One load and a tail call while no handshake runs. */
S5_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (__builtin_expect(real.epoll_ctl != NULL &&
				     s5_conn_idle(s5_conn_now()), 1))
		return real.epoll_ctl(epfd, op, fd, ev);
	return epoll_ctl_slow(epfd, op, fd, ev);
}

/* A new instance is recorded, so that a connect can find the socket's
 * registrations in it. */
static int track(int epfd)
{
	if (epfd >= 0)
		s5_epoll_track(epfd);
	return epfd;
}

S5_EXPORT int epoll_create(int size)
{
	switch (s5_hook_begin(epoll_create, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		errno = ENOSYS;
		return -1;
	case S5_HOOK_LIBC:
		return real.epoll_create(size);
	case S5_HOOK_OURS:
		break;
	}
	return track(real.epoll_create(size));
}

S5_EXPORT int epoll_create1(int flags)
{
	switch (s5_hook_begin(epoll_create1, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		errno = ENOSYS;
		return -1;
	case S5_HOOK_LIBC:
		return real.epoll_create1(flags);
	case S5_HOOK_OURS:
		break;
	}
	return track(real.epoll_create1(flags));
}
