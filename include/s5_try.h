/* Which proxy a new connection goes through (try.c).
 *
 * A chain is one attempt through every proxy of the list. A failover list
 * gives each new connection, UDP association or BIND an order: the
 * proxies in list order, those thought dead (back-off) after the others,
 * those whose name did not resolve not at all. A proxy that refused the
 * TCP connection, could not be reached, or did not answer the greeting
 * in time is marked dead for S5_BACKOFF_MS in the back-off table, which
 * the tree's name table holds (src/dns/pool.c), so that every process of
 * the tree skips it, and the next proxy is tried with a fresh deadline.
 * A proxy that answered anything is alive (even bytes that are not SOCKS5):
 * its reply code, or its refusal of the
 * credentials, ends the connection as with one proxy.
 */
#ifndef S5_TRY_H
#define S5_TRY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "s5_config.h"
#include "s5_net.h"

struct s5_pool;

struct s5_try {
	const struct s5_config *cfg;
	struct s5_pool *pool; /* the back-off's home, or NULL: this process's */
	uint8_t order[S5_PROXY_MAX]; /* indexes into cfg->proxy */
	uint8_t n, k;                /* k: the one being tried */
};

/* Starts the order for one connection. */
void s5_try_begin(struct s5_try *t, const struct s5_config *c,
		  struct s5_pool *pool);

/* The proxy being tried, or NULL when none is left. */
const struct s5_proxy *s5_try_proxy(const struct s5_try *t);

/* Its address for a socket of this domain (s5_config_pick_proxy). */
int s5_try_pick(const struct s5_try *t, int domain, bool v6only,
		struct sockaddr_storage *out, socklen_t *len);

/* Prepares hs for the proxy being tried: its credentials, the other
 * proxies of a chain, pipelining when the configuration asks for it. */
void s5_try_hs(const struct s5_try *t, struct s5_hs *hs, uint8_t cmd,
	       const struct s5_addr *dst);

/* True when the failure r of hs says the proxy is not there (refused,
 * unreachable, silent until the deadline) and another proxy is left:
 * marks the one tried dead and moves to the next. */
bool s5_try_failed(struct s5_try *t, const struct s5_hs *hs, int r);

/* Moves on without marking (this socket cannot reach that proxy's
 * address family). True when another proxy is left. */
bool s5_try_skip(struct s5_try *t);

/* The address of the first proxy from the current one on that a socket
 * of this domain can reach (s5_try_pick, s5_try_skip past the others).
 * Returns 0 or -EAFNOSUPPORT (none left). */
int s5_try_pick_any(struct s5_try *t, int domain, bool v6only,
		    struct sockaddr_storage *out, socklen_t *len);

/* After hs failed with r on the TCP socket fd: when the proxy is not
 * there (s5_try_failed) and another one this socket can reach is left,
 * picks its address into out and makes fd ready to connect again:
 * connect(AF_UNSPEC) through io dissolves the failed attempt (Linux; the
 * socket's options and bound address stay), and the error that leaves
 * is read and dropped. Returns 0, or -1 when there is nothing to try. */
int s5_try_next(struct s5_try *t, const struct s5_hs *hs, int r, int fd,
		int domain, bool v6only, const struct s5_io *io,
		struct sockaddr_storage *out, socklen_t *len);

/* The proxy answered: forget a back-off it had. */
void s5_try_alive(const struct s5_try *t);

/* The back-off table of this process, when it has no name table. */
struct s5_backoff_entry *s5_try_local_backoff(void);

/* "host:port" of proxy i, or "a -> b -> c" for the chain, into buf. */
void s5_try_label(const struct s5_config *c, char *buf, size_t cap);

#endif
