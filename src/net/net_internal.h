/* Helpers shared by the net files; not part of the s5_net.h contract. */
#ifndef S5_NET_INTERNAL_H
#define S5_NET_INTERNAL_H

#include <stdint.h>

#include "s5_net.h"

/* Waits with io->poll until fd reports one of events or deadline_ms (on
 * io->now_ms) passes. Retries EINTR with the time that is left. Returns 0
 * and sets *revents, -ETIMEDOUT, or the poll errno (negated). */
int s5_net_wait(int fd, short events, const struct s5_io *io,
		int64_t deadline_ms, short *revents);

/* Marks hs as FAILED with err and a static text for logs. Returns err. */
int s5_hs_fail(struct s5_hs *hs, int err, const char *why);

#endif
