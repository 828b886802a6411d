/* Which proxy a new connection goes through: the order of a failover
 * list, and the back-off that the tree shares (s5_try.h).
 *
 * The back-off entries are hints, written without a lock: each word is
 * atomic, and two processes that mark two proxies at once may lose one
 * mark (that proxy then costs one more timeout) but never make a live
 * proxy unusable: a proxy thought dead is still tried, after the others.
 * Time is CLOCK_MONOTONIC in milliseconds modulo 2^32, which every
 * process of the machine shares; a back-off is far shorter than the wrap
 * (49 days), so a signed difference orders two times.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "s5_dns.h"
#include "s5_log.h"
#include "s5_try.h"

static struct s5_backoff_entry local_backoff[S5_BACKOFF_SLOTS];

struct s5_backoff_entry *s5_try_local_backoff(void)
{
	return local_backoff;
}

static uint32_t now_ms32(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u +
			  (uint64_t)ts.tv_nsec / 1000000u);
}

static struct s5_backoff_entry *table(const struct s5_try *t)
{
	return t->pool ? s5_pool_backoff(t->pool) : local_backoff;
}

/* FNV-1a of the proxy's label ("host:port"), never 0: processes that
 * list the same proxy, in any place of their lists, share its entry. */
static uint32_t key_of(const struct s5_proxy *p)
{
	uint32_t h = 2166136261u;
	const char *s;

	for (s = p->label; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h ? h : 1;
}

static bool dead(struct s5_backoff_entry *b, uint32_t key, uint32_t now)
{
	unsigned i;

	for (i = 0; i < S5_BACKOFF_SLOTS; i++)
		if (atomic_load(&b[i].key) == key)
			return (int32_t)(atomic_load(&b[i].until_ms) - now) > 0;
	return false;
}

/* Marks key dead until until (0: alive again). An entry of its own, else
 * a free or expired one, else the one that expires first. */
static void mark(struct s5_backoff_entry *b, uint32_t key, uint32_t until,
		 uint32_t now)
{
	unsigned i, pick = 0;
	uint32_t k, best = 0;
	int32_t left, least = INT32_MAX;

	for (i = 0; i < S5_BACKOFF_SLOTS; i++)
		if (atomic_load(&b[i].key) == key) {
			atomic_store(&b[i].until_ms, until);
			return;
		}
	if (until == 0)
		return;
	for (i = 0; i < S5_BACKOFF_SLOTS; i++) {
		k = atomic_load(&b[i].key);
		left = (int32_t)(atomic_load(&b[i].until_ms) - now);
		if (k == 0 || left <= 0) {
			pick = i;
			best = k;
			break;
		}
		if (left < least) {
			least = left;
			pick = i;
			best = k;
		}
	}
	/* Another process may take the same entry meanwhile: then one of
	 * the two marks is lost, which only costs a timeout. */
	atomic_store(&b[pick].until_ms, until);
	(void)atomic_compare_exchange_strong(&b[pick].key, &best, key);
}

void s5_try_begin(struct s5_try *t, const struct s5_config *c,
		  struct s5_pool *pool)
{
	uint8_t later[S5_PROXY_MAX];
	unsigned i, n_later = 0, n = c->n_proxies;
	uint32_t now;

	memset(t, 0, sizeof(*t));
	t->cfg = c;
	t->pool = pool;
	if (n > S5_PROXY_MAX)
		n = S5_PROXY_MAX;
	if (c->chain || n <= 1) {
		t->n = n ? 1 : 0;
		return;
	}
	now = now_ms32();
	for (i = 0; i < n; i++) {
		if (c->proxy[i].unresolved)
			continue;
		if (dead(table(t), key_of(&c->proxy[i]), now))
			later[n_later++] = (uint8_t)i;
		else
			t->order[t->n++] = (uint8_t)i;
	}
	memcpy(t->order + t->n, later, n_later);
	t->n = (uint8_t)(t->n + n_later);
}

const struct s5_proxy *s5_try_proxy(const struct s5_try *t)
{
	return t->k < t->n ? &t->cfg->proxy[t->order[t->k]] : NULL;
}

int s5_try_pick(const struct s5_try *t, int domain, bool v6only,
		struct sockaddr_storage *out, socklen_t *len)
{
	const struct s5_proxy *p = s5_try_proxy(t);

	return p ? s5_config_pick_proxy(p, domain, v6only, out, len)
		 : -EAFNOSUPPORT;
}

void s5_try_hs(const struct s5_try *t, struct s5_hs *hs, uint8_t cmd,
	       const struct s5_addr *dst)
{
	const struct s5_config *c = t->cfg;
	const struct s5_proxy *p = s5_try_proxy(t);
	const struct s5_hop *h;

	if (p == NULL)
		p = &c->proxy[0];
	h = s5_config_hop(c, p);
	s5_hs_init(hs, cmd, dst, h->auth, h->user, h->user_len, h->pass,
		   h->pass_len);
	if (c->chain && c->n_proxies > 1)
		s5_hs_chain(hs, &c->hop[1], c->n_proxies - 1);
	if (c->pipeline)
		s5_hs_pipeline(hs);
}

/* The proxy is not there: nothing came back from it, and the failure is
 * one of a connection that did not happen or a silent peer. */
static bool proxy_absent(const struct s5_hs *hs, int r)
{
	if (hs->greeted)
		return false;
	switch (-r) {
	case ECONNREFUSED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case ECONNRESET:
	case EPIPE:
	case EPROTO: /* closed before it sent a byte */
		return true;
	default:
		return false;
	}
}

static void log_next(const struct s5_proxy *p, const struct s5_proxy *next,
		     const struct s5_hs *hs, int r)
{
	struct s5log_line l;

	if (!s5log_enabled(S5LOG_WARN))
		return;
	s5log_begin(&l, S5LOG_WARN);
	s5log_str(&l, "proxy ");
	s5log_str(&l, p->label);
	s5log_str(&l, ": ");
	s5log_str(&l, hs && hs->why ? hs->why : "cannot connect");
	s5log_str(&l, " (");
	s5log_errno(&l, -r);
	s5log_str(&l, "); it is skipped for ");
	s5log_uint(&l, S5_BACKOFF_MS / 1000);
	s5log_str(&l, " s; trying ");
	s5log_str(&l, next->label);
	s5log_end(&l);
}

bool s5_try_failed(struct s5_try *t, const struct s5_hs *hs, int r)
{
	const struct s5_proxy *p = s5_try_proxy(t);
	uint32_t now, until;

	if (p == NULL || t->cfg->chain || !proxy_absent(hs, r))
		return false;
	now = now_ms32();
	until = now + S5_BACKOFF_MS;
	mark(table(t), key_of(p), until ? until : 1, now);
	if (t->k + 1 >= t->n)
		return false;
	t->k++;
	log_next(p, s5_try_proxy(t), hs, r);
	return true;
}

bool s5_try_skip(struct s5_try *t)
{
	if (t->k + 1 >= t->n)
		return false;
	t->k++;
	return true;
}

int s5_try_pick_any(struct s5_try *t, int domain, bool v6only,
		    struct sockaddr_storage *out, socklen_t *len)
{
	for (;;) {
		if (s5_try_pick(t, domain, v6only, out, len) == 0)
			return 0;
		if (!s5_try_skip(t))
			return -EAFNOSUPPORT;
	}
}

int s5_try_next(struct s5_try *t, const struct s5_hs *hs, int r, int fd,
		int domain, bool v6only, const struct s5_io *io,
		struct sockaddr_storage *out, socklen_t *len)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };
	socklen_t elen = sizeof(int);
	int err;

	if (!s5_try_failed(t, hs, r) ||
	    s5_try_pick_any(t, domain, v6only, out, len) < 0)
		return -1;
	(void)io->connect(fd, &sa, sizeof(sa));
	(void)io->getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	return 0;
}

void s5_try_alive(const struct s5_try *t)
{
	const struct s5_proxy *p = s5_try_proxy(t);
	uint32_t now;

	if (p == NULL || t->n <= 1)
		return;
	now = now_ms32();
	if (dead(table(t), key_of(p), now))
		mark(table(t), key_of(p), 0, now);
}

void s5_try_label(const struct s5_config *c, char *buf, size_t cap)
{
	size_t len = 0, n;
	unsigned i;

	if (cap == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < c->n_proxies && i < S5_PROXY_MAX; i++) {
		const char *sep = i == 0 ? "" : c->chain ? " -> " : ", ";

		n = strlen(sep) + strlen(c->proxy[i].label);
		if (len + n + 1 > cap)
			return;
		memcpy(buf + len, sep, strlen(sep));
		memcpy(buf + len + strlen(sep), c->proxy[i].label,
		       strlen(c->proxy[i].label));
		len += n;
		buf[len] = '\0';
	}
}
