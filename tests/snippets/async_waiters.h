/* The readiness APIs behind struct waiter (async.h): poll, ppoll, select,
 * pselect and epoll (level-triggered, EPOLLET, EPOLLONESHOT,
 * EPOLLEXCLUSIVE). Each keeps its own list of descriptors and interests.
 *
 * A wait returns -1 with errno EBADMSG, after a FAIL line of its own, when
 * the API's answer contradicts itself: a count that does not match the
 * descriptors marked, or epoll data the program never registered (the
 * library must hand back the program's epoll_data unchanged). */
#ifndef S5_SNIPPET_ASYNC_WAITERS_H
#define S5_SNIPPET_ASYNC_WAITERS_H

#include <sys/epoll.h>
#include <sys/select.h>

#include "async.h"

#define AW_NVAL 32 /* POLLNVAL: never expected */

static inline int aw_find(const struct waiter *w, int fd)
{
	int i;

	for (i = 0; i < w->n; i++)
		if (w->fds[i] == fd)
			return i;
	return -1;
}

static inline int aw_list_add(struct waiter *w, int fd, unsigned want)
{
	if (aw_find(w, fd) >= 0) {
		errno = EEXIST;
		return -1;
	}
	if (w->n == AW_MAX) {
		errno = ENOSPC;
		return -1;
	}
	w->fds[w->n] = fd;
	w->want[w->n++] = want;
	return 0;
}

static inline int aw_list_mod(struct waiter *w, int fd, unsigned want)
{
	int i = aw_find(w, fd);

	if (i < 0) {
		errno = ENOENT;
		return -1;
	}
	w->want[i] = want;
	return 0;
}

static inline int aw_list_del(struct waiter *w, int fd)
{
	int i = aw_find(w, fd);

	if (i < 0) {
		errno = ENOENT;
		return -1;
	}
	w->n--;
	w->fds[i] = w->fds[w->n];
	w->want[i] = w->want[w->n];
	return 0;
}

static inline void aw_nofini(struct waiter *w)
{
	(void)w;
}

static inline int aw_bad(const struct waiter *w, const char *what, int r,
			 int k)
{
	fprintf(stderr, "FAIL %s: %s (returned %d, found %d)\n", w->name,
		what, r, k);
	errno = EBADMSG;
	return -1;
}

static inline struct timespec aw_ts(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	return ts;
}

/* ---- poll, ppoll ---- */

static inline int aw_poll_call(struct waiter *w, struct pollfd *p,
			       int timeout_ms)
{
	struct timespec ts = aw_ts(timeout_ms);

	if (w->rotate)
		return ppoll(p, (nfds_t)w->n, timeout_ms < 0 ? NULL : &ts,
			     NULL);
	return poll(p, (nfds_t)w->n, timeout_ms);
}

static inline int aw_poll_wait(struct waiter *w, int timeout_ms,
			       struct aw_ev *ev, int max)
{
	struct pollfd p[AW_MAX];
	int i, k = 0, r;
	unsigned e;

	for (i = 0; i < w->n; i++) {
		p[i].fd = w->fds[i];
		p[i].events = (short)((w->want[i] & AW_IN ? POLLIN : 0) |
				      (w->want[i] & AW_OUT ? POLLOUT : 0));
		p[i].revents = 0;
	}
	r = aw_poll_call(w, p, timeout_ms);
	if (r <= 0)
		return r;
	for (i = 0; i < w->n; i++) {
		if (p[i].revents == 0)
			continue;
		if (p[i].revents & ~(p[i].events | POLLERR | POLLHUP |
				     POLLNVAL))
			return aw_bad(w, "revents not asked for", r,
				      p[i].revents);
		e = (p[i].revents & POLLIN ? AW_IN : 0) |
		    (p[i].revents & POLLOUT ? AW_OUT : 0) |
		    (p[i].revents & POLLERR ? AW_ERR : 0) |
		    (p[i].revents & POLLHUP ? AW_HUP : 0) |
		    (p[i].revents & POLLRDHUP ? AW_RDHUP : 0) |
		    (p[i].revents & POLLNVAL ? AW_NVAL : 0);
		if (k < max) {
			ev[k].fd = p[i].fd;
			ev[k].ev = e;
		}
		k++;
	}
	if (k != r)
		return aw_bad(w, "count differs from the entries with revents",
			      r, k);
	return k < max ? k : max;
}

/* poll(), or ppoll() with a timespec and no signal mask (ppoll != 0). */
static inline void aw_poll(struct waiter *w, int ppoll_too)
{
	memset(w, 0, sizeof(*w));
	w->name = ppoll_too ? "ppoll" : "poll";
	w->rotate = ppoll_too;
	w->shows_err = 1;
	w->level = 1;
	w->add = aw_list_add;
	w->mod = aw_list_mod;
	w->del = aw_list_del;
	w->wait = aw_poll_wait;
	w->fini = aw_nofini;
	w->epfd = -1;
}

/* ---- select, pselect ---- */

static inline int aw_select_wait(struct waiter *w, int timeout_ms,
				 struct aw_ev *ev, int max)
{
	fd_set rd, wr;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct timespec ts = aw_ts(timeout_ms);
	int i, k = 0, bits = 0, r, top = -1;
	unsigned e;

	FD_ZERO(&rd);
	FD_ZERO(&wr);
	for (i = 0; i < w->n; i++) {
		if (w->fds[i] >= FD_SETSIZE) {
			errno = EBADF;
			return -1;
		}
		if (w->want[i] & AW_IN)
			FD_SET(w->fds[i], &rd);
		if (w->want[i] & AW_OUT)
			FD_SET(w->fds[i], &wr);
		if (w->fds[i] > top)
			top = w->fds[i];
	}
	if (w->rotate)
		r = pselect(top + 1, &rd, &wr, NULL,
			    timeout_ms < 0 ? NULL : &ts, NULL);
	else
		r = select(top + 1, &rd, &wr, NULL,
			   timeout_ms < 0 ? NULL : &tv);
	if (r <= 0)
		return r;
	for (i = 0; i < w->n; i++) {
		e = (FD_ISSET(w->fds[i], &rd) ? AW_IN : 0) |
		    (FD_ISSET(w->fds[i], &wr) ? AW_OUT : 0);
		if ((e & AW_IN) && !(w->want[i] & AW_IN))
			return aw_bad(w, "marked a descriptor not asked for",
				      r, w->fds[i]);
		bits += !!(e & AW_IN) + !!(e & AW_OUT);
		if (e != 0 && k < max) {
			ev[k].fd = w->fds[i];
			ev[k++].ev = e;
		}
	}
	if (bits != r)
		return aw_bad(w, "count differs from the bits set", r, bits);
	return k;
}

/* select(), or pselect() with a timespec and no signal mask. */
static inline void aw_select(struct waiter *w, int pselect_too)
{
	aw_poll(w, 0);
	w->name = pselect_too ? "pselect" : "select";
	w->rotate = pselect_too;
	w->shows_err = 0;
	w->wait = aw_select_wait;
}

/* ---- epoll ---- */

/* The epoll_data each registration carries; it must come back as it
 * is. */
static inline uint64_t aw_tag(int fd)
{
	return 0x5eedc0de00000000ULL | (uint32_t)fd;
}

static inline uint32_t aw_epoll_events(const struct waiter *w,
				       unsigned want)
{
	return (want & AW_IN ? EPOLLIN : 0) | (want & AW_OUT ? EPOLLOUT : 0) |
	       w->flags;
}

static inline int aw_epoll_add(struct waiter *w, int fd, unsigned want)
{
	struct epoll_event e;

	memset(&e, 0, sizeof(e));
	e.events = aw_epoll_events(w, want);
	e.data.u64 = aw_tag(fd);
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e) != 0)
		return -1;
	if (aw_list_add(w, fd, want) != 0) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
		return -1;
	}
	return 0;
}

static inline int aw_epoll_del(struct waiter *w, int fd)
{
	if (epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL) != 0)
		return -1;
	return aw_list_del(w, fd);
}

/* EPOLL_CTL_MOD; an EPOLLEXCLUSIVE registration cannot be modified, so
 * that one is deleted and added again. */
static inline int aw_epoll_mod(struct waiter *w, int fd, unsigned want)
{
	struct epoll_event e;

	if (w->flags & EPOLLEXCLUSIVE)
		return aw_epoll_del(w, fd) != 0 ? -1
						: aw_epoll_add(w, fd, want);
	memset(&e, 0, sizeof(e));
	e.events = aw_epoll_events(w, want);
	e.data.u64 = aw_tag(fd);
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &e) != 0)
		return -1;
	return aw_list_mod(w, fd, want);
}

/* epoll_wait, or in turn epoll_wait, epoll_pwait and epoll_pwait2 when
 * w->rotate is set. */
static inline int aw_epoll_call(struct waiter *w, struct epoll_event *e,
				int max, int timeout_ms)
{
	struct timespec ts = aw_ts(timeout_ms);

	switch (w->rotate ? w->calls++ % 3 : 0) {
	case 1:
		return epoll_pwait(w->epfd, e, max, timeout_ms, NULL);
	case 2:
		return epoll_pwait2(w->epfd, e, max,
				    timeout_ms < 0 ? NULL : &ts, NULL);
	default:
		return epoll_wait(w->epfd, e, max, timeout_ms);
	}
}

/* Turns epoll events into aw_ev, checking each one's data. */
static inline int aw_epoll_convert(struct waiter *w,
				   const struct epoll_event *e, int r,
				   struct aw_ev *ev)
{
	uint64_t data;
	uint32_t x;
	int i, fd;

	for (i = 0; i < r; i++) {
		data = e[i].data.u64;
		fd = (int)(uint32_t)data;
		if (data != aw_tag(fd) || aw_find(w, fd) < 0) {
			fprintf(stderr, "FAIL %s: epoll data %#llx is not what "
					"the program registered\n",
				w->name, (unsigned long long)data);
			errno = EBADMSG;
			return -1;
		}
		x = e[i].events;
		ev[i].fd = fd;
		ev[i].ev = (x & EPOLLIN ? AW_IN : 0) |
			   (x & EPOLLOUT ? AW_OUT : 0) |
			   (x & EPOLLERR ? AW_ERR : 0) |
			   (x & EPOLLHUP ? AW_HUP : 0) |
			   (x & EPOLLRDHUP ? AW_RDHUP : 0);
	}
	return r;
}

static inline int aw_epoll_wait(struct waiter *w, int timeout_ms,
				struct aw_ev *ev, int max)
{
	struct epoll_event e[AW_MAX];
	int r;

	if (max > AW_MAX)
		max = AW_MAX;
	r = aw_epoll_call(w, e, max, timeout_ms);
	if (r <= 0)
		return r;
	return aw_epoll_convert(w, e, r, ev);
}

static inline void aw_epoll_fini(struct waiter *w)
{
	close(w->epfd);
	w->epfd = -1;
}

/* An epoll set whose registrations carry flags (0 for level-triggered,
 * EPOLLET|EPOLLRDHUP, EPOLLONESHOT, EPOLLEXCLUSIVE), registered before
 * connect() when before is set. 0, or -1 when epoll_create1 failed. */
static inline int aw_epoll(struct waiter *w, const char *name,
			   uint32_t flags, int before)
{
	aw_poll(w, 0);
	w->name = name;
	w->flags = flags;
	w->before_connect = before;
	w->level = !(flags & (EPOLLET | EPOLLONESHOT));
	w->oneshot = !!(flags & EPOLLONESHOT);
	w->add = aw_epoll_add;
	w->mod = aw_epoll_mod;
	w->del = aw_epoll_del;
	w->wait = aw_epoll_wait;
	w->fini = aw_epoll_fini;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	return w->epfd < 0 ? -1 : 0;
}

/* ---- plain epoll calls, for the snippets that need their own data ---- */

static inline int async_ep_ctl(int ep, int op, int fd, uint32_t events,
			       uint64_t data)
{
	struct epoll_event e;

	memset(&e, 0, sizeof(e));
	e.events = events;
	e.data.u64 = data;
	return epoll_ctl(ep, op, fd, &e);
}

/* epoll_wait(ep) must report exactly one event, with data, all of the
 * events in want and none outside want|allow, at least min_ms after t0
 * and before its timeout ran out. 0, or 1 (reported). */
static inline int async_ep_one(int ep, int timeout_ms, uint64_t data,
			       uint32_t want, uint32_t allow, double t0,
			       int min_ms, const char *why)
{
	struct epoll_event e[4];
	double t = async_ms(), now;
	int r = epoll_wait(ep, e, 4, timeout_ms);

	now = async_ms();
	if (r < 0)
		FAIL("%s: epoll_wait: %s", why, async_errname(errno));
	if (r == 0)
		FAIL("%s: nothing reported in %.0f ms", why, now - t);
	if (r != 1 || e[0].data.u64 != data)
		FAIL("%s: %d events, the first with data %#llx, expected one "
		     "with %#llx", why, r, (unsigned long long)e[0].data.u64,
		     (unsigned long long)data);
	if ((e[0].events & want) != want || (e[0].events & ~(want | allow)))
		FAIL("%s: events %#x, expected %#x (and maybe %#x)", why,
		     e[0].events, want, allow);
	if (now - t0 < min_ms)
		FAIL("%s: reported %.0f ms after connect, before the proxy's "
		     "answer (%d ms)", why, now - t0, min_ms);
	if (timeout_ms > 2 * ASYNC_SLACK_MS &&
	    now - t >= timeout_ms - ASYNC_SLACK_MS)
		FAIL("%s: reported only at the timeout", why);
	return 0;
}

/* epoll_wait(ep) must report nothing, and not before its timeout. */
static inline int async_ep_quiet(int ep, int timeout_ms, const char *why)
{
	struct epoll_event e[4];
	double t = async_ms(), took;
	int r = epoll_wait(ep, e, 4, timeout_ms);

	took = async_ms() - t;
	if (r < 0)
		FAIL("%s: epoll_wait: %s", why, async_errname(errno));
	if (r > 0)
		FAIL("%s: reported data %#llx events %#x", why,
		     (unsigned long long)e[0].data.u64, e[0].events);
	if (took < timeout_ms - ASYNC_SLACK_MS)
		FAIL("%s: returned 0 after %.0f of %d ms", why, took,
		     timeout_ms);
	return 0;
}

/* What a failed handshake shows: EPOLLOUT|EPOLLERR, perhaps with the
 * hang-up and readable flags a refused kernel connect shows too. */
#define ASYNC_EP_FAIL (EPOLLOUT | EPOLLERR)
#define ASYNC_EP_FAIL_MAY (EPOLLHUP | EPOLLIN | EPOLLRDHUP)

#endif
