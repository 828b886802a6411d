/* poll(), ppoll(), select(), pselect() and their fortified forms: where a
 * program waits for a socket whose connect through the proxy runs on
 * (kind_conn.h), the handshake advances.
 *
 * With no handshake in progress anywhere (one load) the call is libc's.
 * Otherwise each such socket is waited on for what its handshake needs
 * next instead of what the program asked for; what it reports is used for
 * the handshake and hidden; once the handshake ended the program's own
 * events apply and the kernel reports the outcome. A wait that saw only
 * the library's events goes on for the rest of the program's timeout, and
 * no wait outlasts the earliest handshake deadline, so the deadline holds
 * even under an infinite timeout. select() and pselect() are done with
 * ppoll() while they involve such a socket. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "fd.h"
#include "hook.h"
#include "kind_conn.h"

#define NS_NONE INT64_MAX /* no end: an infinite timeout */

/* glibc declares them only under _FORTIFY_SOURCE. */
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		const sigset_t *ss, size_t fdslen);

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The end of a wait that starts now: NS_NONE for none (a negative or
 * missing timeout). */
static int64_t end_ms(int ms)
{
	return ms < 0 ? NS_NONE : now_ns() + (int64_t)ms * 1000000;
}

static int64_t end_ts(const struct timespec *ts)
{
	if (ts == NULL || ts->tv_sec < 0 || ts->tv_sec > INT32_MAX)
		return NS_NONE;
	return now_ns() + (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static struct timespec *left_ts(int64_t end, struct timespec *ts)
{
	int64_t left;

	if (end == NS_NONE)
		return NULL;
	left = end - now_ns();
	if (left < 0)
		left = 0;
	ts->tv_sec = left / 1000000000;
	ts->tv_nsec = left % 1000000000;
	return ts;
}

/* One socket of the program's set whose handshake may run. */
struct item {
	nfds_t i;
	int fd;
	short events; /* the program's */
	short want;   /* what was waited for in the last round, or 0 */
	struct s5_conn *c;
};

#define ITEMS_ON_STACK 16

struct items {
	struct item *v, stack[ITEMS_ON_STACK];
	size_t n, cap;
};

static void items_add(struct items *it, nfds_t i, int fd, short events,
		      struct s5_conn *c)
{
	struct item *v;

	if (it->n == it->cap) {
		v = malloc(2 * it->cap * sizeof(*v));
		if (v == NULL) { /* this socket is then waited on as it is */
			s5_conn_put(c);
			return;
		}
		memcpy(v, it->v, it->n * sizeof(*v));
		if (it->v != it->stack)
			free(it->v);
		it->v = v;
		it->cap *= 2;
	}
	it->v[it->n++] = (struct item){ .i = i, .fd = fd, .events = events,
					 .c = c };
}

static void items_done(struct items *it, struct pollfd *fds)
{
	size_t k;

	for (k = 0; k < it->n; k++) {
		fds[it->v[k].i].fd = it->v[k].fd;
		fds[it->v[k].i].events = it->v[k].events;
		s5_conn_put(it->v[k].c);
	}
	if (it->v != it->stack)
		free(it->v);
}

/* Fails the handshakes past their deadline, sets each socket up for the
 * next round; returns when the round must end at the latest (the
 * earliest deadline of a handshake, or end). */
static int64_t prepare(struct items *it, struct pollfd *fds, int64_t end)
{
	int64_t cap = end, dl = s5_conn_expire();
	size_t k;

	for (k = 0; k < it->n; k++) {
		struct item *x = &it->v[k];

		x->want = s5_conn_want(x->c);
		fds[x->i].fd = s5_conn_inherited(x->c) ? -1 : x->fd;
		fds[x->i].events = x->want ? x->want : x->events;
	}
	if (dl != INT64_MAX && dl <= INT64_MAX / 1000000 &&
	    (cap == NS_NONE || dl * 1000000 < cap))
		cap = dl * 1000000 + 1000000; /* rounded up to its ms */
	return cap;
}

/* After a round: advances the handshakes that had events, hides those
 * events, adds what the kernel cannot show. Returns how many descriptors
 * the program sees ready; *ended: a handshake ended. */
static int settle(struct items *it, struct pollfd *fds, nfds_t n,
		  bool *ended)
{
	size_t k;
	nfds_t i;
	int count = 0;

	for (k = 0; k < it->n; k++) {
		struct item *x = &it->v[k];
		short extra;

		if (x->want) {
			if (fds[x->i].revents)
				s5_conn_drive(x->c);
			fds[x->i].revents = 0;
			if (s5_conn_want(x->c) == 0)
				*ended = true;
			continue;
		}
		/* Optimistic data: what made the socket readable may be
		 * only the replies; taken, the next look tells. */
		if ((fds[x->i].revents & POLLIN) && s5_conn_optimistic(x->c)) {
			s5_conn_drive(x->c);
			fds[x->i].revents = 0;
			*ended = true;
			continue;
		}
		extra = s5_conn_extra(x->c);
		fds[x->i].revents |= (short)(extra & (x->events | POLLERR |
						      POLLHUP));
	}
	for (i = 0; i < n; i++)
		if (fds[i].revents)
			count++;
	return count;
}

/* The slow path of every wait here: ppoll() semantics, end in ns. */
static int wait_fds(struct pollfd *fds, nfds_t n, int64_t end,
		    const sigset_t *ss)
{
	struct items it = { .v = it.stack, .n = 0, .cap = ITEMS_ON_STACK };
	struct timespec ts;
	struct s5_conn *c;
	bool ended, now = false;
	int64_t cap;
	nfds_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (fds[i].fd < 0 || !s5_fd_maybe_ours(fds[i].fd) ||
		    s5_fd_kind(fds[i].fd) != S5FD_CONN)
			continue;
		c = s5_conn_get(fds[i].fd);
		if (c != NULL)
			items_add(&it, i, fds[i].fd, fds[i].events, c);
	}
	if (it.n == 0) {
		items_done(&it, fds);
		r = real.ppoll(fds, n, left_ts(end, &ts), ss);
		return r < 0 ? -errno : r;
	}
	for (;;) {
		cap = prepare(&it, fds, end);
		if (now) {
			ts.tv_sec = 0;
			ts.tv_nsec = 0;
		}
		r = real.ppoll(fds, n, now ? &ts : left_ts(cap, &ts), ss);
		if (r < 0) {
			r = -errno;
			break;
		}
		ended = false;
		r = settle(&it, fds, n, &ended);
		if (r > 0)
			break;
		/* A handshake that just ended shows its outcome at once. */
		now = ended;
		if (!now && end != NS_NONE && now_ns() >= end)
			break;
	}
	items_done(&it, fds);
	return r;
}

static bool busy(void)
{
	return !s5_conn_idle(s5_conn_now());
}

static __attribute__((noinline)) int
ppoll_slow(struct pollfd *fds, nfds_t n, const struct timespec *ts,
	   const sigset_t *ss)
{
	int saved = errno;

	switch (s5_hook_begin(ppoll, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.ppoll(fds, n, ts, ss);
	case S5_HOOK_OURS:
		break;
	}
	return (int)s5_result(wait_fds(fds, n, end_ts(ts), ss), saved);
}

/* One load and a tail call on the fast path. */
S5_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		    const sigset_t *ss)
{
	if (__builtin_expect(real.ppoll != NULL && !busy(), 1))
		return real.ppoll(fds, n, ts, ss);
	return ppoll_slow(fds, n, ts, ss);
}

static __attribute__((noinline)) int poll_slow(struct pollfd *fds, nfds_t n,
					       int ms)
{
	int saved = errno;

	switch (s5_hook_begin(poll, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.poll(fds, n, ms);
	case S5_HOOK_OURS:
		break;
	}
	if (real.ppoll == NULL)
		return real.poll(fds, n, ms);
	return (int)s5_result(wait_fds(fds, n, end_ms(ms), NULL), saved);
}

S5_EXPORT int poll(struct pollfd *fds, nfds_t n, int ms)
{
	if (__builtin_expect(real.poll != NULL && !busy(), 1))
		return real.poll(fds, n, ms);
	return poll_slow(fds, n, ms);
}

/* _FORTIFY_SOURCE forms: libc's own check (and abort) on a short array. */
S5_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int ms, size_t fdslen)
{
	if (real.__poll_chk != NULL &&
	    (!busy() || fdslen / sizeof(*fds) < n))
		return real.__poll_chk(fds, n, ms, fdslen);
	return poll(fds, n, ms);
}

S5_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n,
			  const struct timespec *ts, const sigset_t *ss,
			  size_t fdslen)
{
	if (real.__ppoll_chk != NULL &&
	    (!busy() || fdslen / sizeof(*fds) < n))
		return real.__ppoll_chk(fds, n, ts, ss, fdslen);
	return ppoll(fds, n, ts, ss);
}

/* ---- select -------------------------------------------------------------- */

/* True when a descriptor below nfds in one of the sets has a handshake. */
static bool sets_involve(int nfds, fd_set *const sets[3])
{
	int fd, k;

	for (fd = 0; fd < nfds; fd++) {
		if (!s5_fd_maybe_ours(fd) || s5_fd_kind(fd) != S5FD_CONN)
			continue;
		for (k = 0; k < 3; k++)
			if (sets[k] != NULL && FD_ISSET(fd, sets[k]))
				return true;
	}
	return false;
}

/* select() semantics (as the kernel maps poll bits to the three sets)
 * over wait_fds(). */
static int select_fds(int nfds, fd_set *const sets[3], int64_t end,
		      const sigset_t *ss)
{
	static const short ask[3] = { POLLIN, POLLOUT, POLLPRI };
	static const short got[3] = {
		POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR,
		POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR, POLLPRI };
	struct pollfd fds[FD_SETSIZE];
	nfds_t n = 0, i;
	int fd, k, r, count = 0;

	for (fd = 0; fd < nfds; fd++) {
		short ev = 0;

		for (k = 0; k < 3; k++)
			if (sets[k] != NULL && FD_ISSET(fd, sets[k]))
				ev |= ask[k];
		if (ev != 0)
			fds[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	r = wait_fds(fds, n, end, ss);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++)
		if (fds[i].revents & POLLNVAL)
			return -EBADF;
	for (k = 0; k < 3; k++)
		if (sets[k] != NULL)
			FD_ZERO(sets[k]);
	for (i = 0; i < n; i++)
		for (k = 0; k < 3; k++)
			if (sets[k] != NULL && (fds[i].events & ask[k]) &&
			    (fds[i].revents & got[k])) {
				FD_SET(fds[i].fd, sets[k]);
				count++;
			}
	return count;
}

static __attribute__((noinline)) int select_slow(int nfds, fd_set *rd,
						 fd_set *wr, fd_set *ex,
						 struct timeval *tv)
{
	fd_set *const sets[3] = { rd, wr, ex };
	int saved = errno, r;
	int64_t end, left;

	switch (s5_hook_begin(select, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.select(nfds, rd, wr, ex, tv);
	case S5_HOOK_OURS:
		break;
	}
	if (nfds < 0 || nfds > FD_SETSIZE || real.ppoll == NULL ||
	    (tv != NULL && (tv->tv_sec < 0 || tv->tv_usec < 0 ||
			    tv->tv_usec >= 1000000)) ||
	    !sets_involve(nfds, sets))
		return real.select(nfds, rd, wr, ex, tv);
	end = tv == NULL ? NS_NONE
			 : now_ns() + (int64_t)tv->tv_sec * 1000000000 +
				   (int64_t)tv->tv_usec * 1000;
	r = select_fds(nfds, sets, end, NULL);
	/* Linux's select() leaves the time that was left. */
	if (tv != NULL) {
		left = end - now_ns();
		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000000000;
		tv->tv_usec = (left % 1000000000) / 1000;
	}
	return (int)s5_result(r, saved);
}

S5_EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
		     struct timeval *tv)
{
	if (__builtin_expect(real.select != NULL && !busy(), 1))
		return real.select(nfds, rd, wr, ex, tv);
	return select_slow(nfds, rd, wr, ex, tv);
}

static __attribute__((noinline)) int
pselect_slow(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
	     const struct timespec *ts, const sigset_t *ss)
{
	fd_set *const sets[3] = { rd, wr, ex };
	int saved = errno;

	switch (s5_hook_begin(pselect, S5_STAGE_SYMBOLS)) {
	case S5_HOOK_FAIL:
		return (int)s5_result(-ENOSYS, saved);
	case S5_HOOK_LIBC:
		return real.pselect(nfds, rd, wr, ex, ts, ss);
	case S5_HOOK_OURS:
		break;
	}
	if (nfds < 0 || nfds > FD_SETSIZE || real.ppoll == NULL ||
	    (ts != NULL && (ts->tv_sec < 0 || ts->tv_nsec < 0 ||
			    ts->tv_nsec >= 1000000000)) ||
	    !sets_involve(nfds, sets))
		return real.pselect(nfds, rd, wr, ex, ts, ss);
	return (int)s5_result(select_fds(nfds, sets, end_ts(ts), ss), saved);
}

S5_EXPORT int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
		      const struct timespec *ts, const sigset_t *ss)
{
	if (__builtin_expect(real.pselect != NULL && !busy(), 1))
		return real.pselect(nfds, rd, wr, ex, ts, ss);
	return pselect_slow(nfds, rd, wr, ex, ts, ss);
}
