/* One socket in two epoll sets during the asynchronous connect
 * (async.h): set A level-triggered, registered after connect(); set B
 * edge-triggered (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET), registered
 * before it, each registration with its own epoll_data.
 *   - The handshake ends inside a wait on A: A reports the socket
 *     writable; B, waited on afterwards, reports it too, with B's data,
 *     once (edge), while A keeps reporting it (level).
 *   - A delayed success, a refused CONNECT (REP 4) and a stall past the
 *     deadline, with one thread waiting on B and the main thread on A,
 *     both with an infinite timeout: each set reports each outcome to its
 *     own waiter, with its own data, when the proxy answered (or at the
 *     deadline); SO_ERROR then gives each errno once. */
#include <stdatomic.h>

#include "async_waiters.h"

#define TAG_A(fd) (0xaaaa000000000000ULL | (uint32_t)(fd))
#define TAG_B(fd) (0xbbbb000000000000ULL | (uint32_t)(fd))
#define ET_FLAGS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static int in_turn(void)
{
	double t0;
	int a, b, s;

	ASYNC_STEP("two sets, one after the other");
	a = epoll_create1(EPOLL_CLOEXEC);
	b = epoll_create1(EPOLL_CLOEXEC);
	s = async_socket();
	if (a < 0 || b < 0 || s < 0 ||
	    async_ep_ctl(b, EPOLL_CTL_ADD, s, ET_FLAGS, TAG_B(s)) != 0)
		FAIL("set-up: %s", async_errname(errno));
	if (async_connect(s, PORT_OK(100), &t0) != 0)
		return 1;
	if (async_ep_ctl(a, EPOLL_CTL_ADD, s, EPOLLOUT, TAG_A(s)) != 0)
		FAIL("ADD to A: %s", async_errname(errno));
	if (async_ep_quiet(b, 0, "B right after connect") != 0 ||
	    async_ep_one(a, 1000, TAG_A(s), EPOLLOUT, 0, t0, 90, "A") != 0 ||
	    async_ep_one(b, 0, TAG_B(s), EPOLLOUT, 0, t0, 90, "B after A") ||
	    async_ep_quiet(b, 0, "B, edge taken") != 0 ||
	    async_ep_one(a, 0, TAG_A(s), EPOLLOUT, 0, t0, 90, "A again") != 0)
		return 1;
	if (async_so_error(s) != 0 || async_echo(s, "in turn") != 0)
		return 1;
	close(s);
	close(a);
	close(b);
	return 0;
}

struct outcome {
	int port, want, min_ms, max_ms;
	int fd;
	double t0;
	double seen[2]; /* when A, B reported it */
	uint32_t ev[2];
};

struct b_waiter {
	int ep, stop;
	struct outcome *o;
	int n;
	char why[160];
};

static int record(struct outcome *o, int n, int set, uint64_t data,
		  uint32_t ev, char *why, size_t len)
{
	int i;

	for (i = 0; i < n; i++) {
		if (data != (set ? TAG_B(o[i].fd) : TAG_A(o[i].fd)))
			continue;
		/* Edge-triggered: a later wake-up (the proxy hanging up
		 * after its refusal) may report a failure again. */
		if (o[i].seen[set] != 0)
			return 0;
		o[i].seen[set] = async_ms();
		o[i].ev[set] = ev;
		return 1;
	}
	snprintf(why, len, "set %c: epoll data %#llx not registered there",
		 "AB"[set], (unsigned long long)data);
	return -1;
}

static void *wait_b(void *arg)
{
	struct b_waiter *x = arg;
	struct epoll_event e[8];
	int i, k, r, m, got = 0;

	for (i = 0; i < 20 && got < x->n; i++) {
		r = epoll_wait(x->ep, e, 8, -1);
		if (r <= 0) {
			snprintf(x->why, sizeof(x->why),
				 "B: epoll_wait returned %d (%s)", r,
				 async_errname(errno));
			return NULL;
		}
		for (k = 0; k < r; k++) {
			if (e[k].data.u64 == 0xfeed) {
				snprintf(x->why, sizeof(x->why),
					 "B: released with %d of %d outcomes",
					 got, x->n);
				return NULL;
			}
			m = record(x->o, x->n, 1, e[k].data.u64, e[k].events,
				   x->why, sizeof(x->why));
			if (m < 0)
				return NULL;
			got += m;
		}
	}
	return NULL;
}

static int check(const struct outcome *o, int set)
{
	double t = o->seen[set] - o->t0;
	uint32_t ev = o->ev[set];

	if (o->seen[set] == 0)
		FAIL("set %c never reported port %d", "AB"[set], o->port);
	if (t < o->min_ms || t > o->max_ms)
		FAIL("set %c reported port %d after %.0f ms, expected %d to "
		     "%d", "AB"[set], o->port, t, o->min_ms, o->max_ms);
	if (o->want == 0 ? ev != EPOLLOUT
			 : (ev & ASYNC_EP_FAIL) != ASYNC_EP_FAIL ||
				   (ev & ~(ASYNC_EP_FAIL | ASYNC_EP_FAIL_MAY)))
		FAIL("set %c, port %d: events %#x", "AB"[set], o->port, ev);
	return 0;
}

static int together(void)
{
	struct outcome o[3] = {
		{ .port = PORT_OK(300), .want = 0, .min_ms = 290 },
		{ .port = PORT_REP(4), .want = EHOSTUNREACH, .min_ms = 90 },
		{ .port = PORT_STALL, .want = ETIMEDOUT,
		  .min_ms = ASYNC_DEADLINE_MS - 50 },
	};
	struct b_waiter x;
	struct epoll_event e[8];
	struct timespec ts;
	pthread_t th;
	int a, b, pp[2], i, k, r, got = 0, err;
	char why[160] = "";

	ASYNC_STEP("two sets, a thread on each");
	a = epoll_create1(EPOLL_CLOEXEC);
	b = epoll_create1(EPOLL_CLOEXEC);
	if (a < 0 || b < 0 || pipe(pp) != 0 ||
	    async_ep_ctl(b, EPOLL_CTL_ADD, pp[0], EPOLLIN, 0xfeed) != 0)
		FAIL("set-up: %s", strerror(errno));
	for (i = 0; i < 3; i++) {
		o[i].max_ms = ASYNC_DEADLINE_MS + 1000;
		o[i].fd = async_socket();
		if (o[i].fd < 0 || async_ep_ctl(b, EPOLL_CTL_ADD, o[i].fd,
						ET_FLAGS, TAG_B(o[i].fd)) != 0)
			FAIL("ADD to B: %s", async_errname(errno));
		if (async_connect(o[i].fd, o[i].port, &o[i].t0) != 0)
			return 1;
		if (async_ep_ctl(a, EPOLL_CTL_ADD, o[i].fd, EPOLLOUT,
				 TAG_A(o[i].fd)) != 0)
			FAIL("ADD to A: %s", async_errname(errno));
	}
	memset(&x, 0, sizeof(x));
	x.ep = b;
	x.o = o;
	x.n = 3;
	if (pthread_create(&th, NULL, wait_b, &x) != 0)
		FAIL("pthread_create");
	for (i = 0; i < 20 && got < 3 && why[0] == '\0'; i++) {
		r = epoll_wait(a, e, 8, -1);
		if (r <= 0) {
			err = errno;
			snprintf(why, sizeof(why), "A: epoll_wait %d (%s)", r,
				 async_errname(err));
		}
		for (k = 0; k < r && why[0] == '\0'; k++) {
			if (record(o, 3, 0, e[k].data.u64, e[k].events, why,
				   sizeof(why)) < 0)
				break;
			/* level-triggered: stop it repeating */
			epoll_ctl(a, EPOLL_CTL_DEL,
				  (int)(uint32_t)e[k].data.u64, NULL);
			got++;
		}
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	if (pthread_timedjoin_np(th, NULL, &ts) != 0) {
		if (write(pp[1], "x", 1) != 1)
			FAIL("write: %s", strerror(errno));
		ts.tv_sec += 2;
		if (pthread_timedjoin_np(th, NULL, &ts) != 0)
			FAIL("the thread waiting on B never returned");
	}
	if (why[0] != '\0')
		FAIL("%s", why);
	if (x.why[0] != '\0')
		FAIL("%s", x.why);
	for (i = 0; i < 3; i++)
		if (check(&o[i], 0) != 0 || check(&o[i], 1) != 0)
			return 1;
	for (i = 0; i < 3; i++) {
		err = async_so_error(o[i].fd);
		if (err != o[i].want || (err != 0 && async_so_error(o[i].fd)))
			FAIL("port %d: SO_ERROR %s (expected %s, once)",
			     o[i].port, async_errname(err),
			     async_errname(o[i].want));
		if (o[i].want == 0 && async_echo(o[i].fd, "together") != 0)
			return 1;
		close(o[i].fd);
	}
	close(a);
	close(b);
	close(pp[0]);
	close(pp[1]);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	if (async_setup() != 0 || in_turn() != 0 || together() != 0)
		return 1;
	return async_blocking_ok();
}
