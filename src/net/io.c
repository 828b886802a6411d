/* The clock, and waiting on a descriptor. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

#include "s5_net.h"
#include "net_internal.h"

int64_t s5_now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer (clock_gettime(2)),
	 * and it does not jump when someone sets the wall clock. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int poll_ms(int64_t left)
{
	return left > INT_MAX ? INT_MAX : (int)left;
}

int s5_net_wait(int fd, short events, const struct s5_io *io,
		int64_t deadline_ms, short *revents)
{
	struct pollfd p;
	int64_t left;
	int n;

	for (;;) {
		left = deadline_ms - io->now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		n = io->poll(&p, 1, poll_ms(left));
		if (n > 0) {
			*revents = p.revents;
			return 0;
		}
		/* poll() returning 0 means it waited the whole timeout: stop
		 * here rather than trust a clock that may not have moved.
		 * Only a deadline beyond INT_MAX ms needs another round. */
		if (n == 0 && left <= INT_MAX)
			return -ETIMEDOUT;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}
