/* Log lines about a finished handshake, shared by the preload and the
 * launcher's supervisor so both report a connection the same way. */
#include "s5_log.h"
#include "s5_net.h"
#include "s5_proto.h"

void s5_log_via(struct s5log_line *l, const struct sockaddr *proxy,
		socklen_t plen, const struct s5_hs *hs)
{
	size_t i;

	s5log_sockaddr(l, proxy, plen);
	for (i = 0; hs->next != NULL && i < hs->n_next; i++) {
		s5log_str(l, " -> ");
		s5log_s5addr(l, &hs->next[i].addr);
	}
}

void s5_log_hs_result(struct s5log_line *l, const struct s5_hs *hs, int r)
{
	if (r == 0) {
		s5log_str(l, ": ok");
		return;
	}
	s5log_str(l, ": ");
	if (hs->n_next > 0) {
		/* which proxy of the chain failed: 1 is the first */
		s5log_str(l, "at proxy ");
		s5log_uint(l, (unsigned)hs->hop + 1u);
		s5log_str(l, " of the chain: ");
	}
	if (hs->reply.rep != S5_REP_SUCCEEDED) {
		s5log_str(l, "proxy answered: ");
		s5log_str(l, s5_rep_str(hs->reply.rep));
	} else {
		s5log_str(l, hs->why != NULL ? hs->why
					     : "cannot reach the proxy");
	}
	s5log_str(l, " (");
	s5log_errno(l, -r);
	s5log_str(l, ")");
}

/* Proxy-side failures (unreachable, timeout, bad bytes, credentials) are
 * errors worth seeing by default; a destination the proxy could not reach
 * is the program's ordinary business and shows with -v. */
void s5_tcp_log_outcome(const struct s5_addr *dst,
			const struct sockaddr *proxy, socklen_t plen,
			const struct s5_hs *hs, int r, int64_t ms)
{
	enum s5log_level lvl = S5LOG_INFO;
	struct s5log_line l;

	if (r < 0 && hs->reply.rep == S5_REP_SUCCEEDED)
		lvl = S5LOG_ERROR;
	if (!s5log_enabled(lvl))
		return;
	s5log_begin(&l, lvl);
	s5log_str(&l, "connect ");
	s5log_s5addr(&l, dst);
	s5log_str(&l, " via ");
	s5_log_via(&l, proxy, plen, hs);
	s5_log_hs_result(&l, hs, r);
	s5log_str(&l, " in ");
	s5log_int(&l, (long long)ms);
	s5log_str(&l, " ms");
	s5log_end(&l);
}
