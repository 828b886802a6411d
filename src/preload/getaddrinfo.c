/* getaddrinfo() and freeaddrinfo(): names the proxy resolves get fake
 * addresses; everything else is libc's.
 *
 * A fake answer is made by asking libc itself for the numeric fake address
 * with the program's own hints (plus AI_NUMERICHOST), so services, socket
 * types, protocols and error codes are exactly libc's. The answer is then
 * copied into one block of our own and remembered, so that freeaddrinfo()
 * can tell our blocks from libc's lists: a program may hold both. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fork.h"
#include "hook.h"
#include "names.h"
#include "s5_dns.h"
#include "s5_log.h"

/* ---- our result blocks ------------------------------------------------ */

/* Open-addressing set of block addresses, linear probing, deletion by
 * backward shift. Guarded by blocks_lock (reset in a forked child: see
 * fork.h). */
static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;
static void **blocks;
static size_t blocks_cap, blocks_n; /* cap: 0 or a power of two */

static size_t slot_of(const void *p, size_t cap)
{
	uintptr_t h = (uintptr_t)p;

	h ^= h >> 17;
	h *= (uintptr_t)0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 7) & (cap - 1);
}

static void set_put(void **tab, size_t cap, void *p)
{
	size_t i = slot_of(p, cap);

	while (tab[i] != NULL)
		i = (i + 1) & (cap - 1);
	tab[i] = p;
}

static int blocks_grow(void)
{
	size_t cap = blocks_cap ? blocks_cap * 2 : 64, i;
	void **tab = calloc(cap, sizeof(*tab));

	if (tab == NULL)
		return -ENOMEM;
	for (i = 0; i < blocks_cap; i++)
		if (blocks[i] != NULL)
			set_put(tab, cap, blocks[i]);
	free(blocks);
	blocks = tab;
	blocks_cap = cap;
	return 0;
}

static int blocks_add(void *p)
{
	int r = 0;

	pthread_mutex_lock(&blocks_lock);
	if ((blocks_n + 1) * 2 > blocks_cap)
		r = blocks_grow();
	if (r == 0) {
		set_put(blocks, blocks_cap, p);
		blocks_n++;
	}
	pthread_mutex_unlock(&blocks_lock);
	return r;
}

/* Removes p if it is one of ours; true when it was. */
static bool blocks_take(void *p)
{
	size_t i, j, k;
	bool found = false;

	pthread_mutex_lock(&blocks_lock);
	if (blocks_cap == 0)
		goto out;
	for (i = slot_of(p, blocks_cap); blocks[i] != NULL;
	     i = (i + 1) & (blocks_cap - 1)) {
		if (blocks[i] == p) {
			found = true;
			break;
		}
	}
	if (!found)
		goto out;
	blocks[i] = NULL;
	blocks_n--;
	/* Backward shift: move later members of the probe run into the
	 * hole when their home slot allows it. */
	for (j = (i + 1) & (blocks_cap - 1); blocks[j] != NULL;
	     j = (j + 1) & (blocks_cap - 1)) {
		k = slot_of(blocks[j], blocks_cap);
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && (k <= i && k > j))) {
			blocks[i] = blocks[j];
			blocks[j] = NULL;
			i = j;
		}
	}
out:
	pthread_mutex_unlock(&blocks_lock);
	return found;
}

__attribute__((constructor)) static void register_fork(void)
{
	s5_fork_lock(S5_FORK_BLOCKS, &blocks_lock, NULL);
}

/* Copies libc's lists, in order, into one block: the nodes, then their
 * addresses, then the canonical name (on the first node only, as libc
 * does). libc's lists are left as they are, for real freeaddrinfo. */
static struct addrinfo *copy_lists(struct addrinfo *const *lists, size_t n,
				   const char *canon)
{
	size_t count = 0, addrs = 0, clen = canon ? strlen(canon) + 1 : 0, i;
	const struct addrinfo *ai;
	struct addrinfo *out, *node, *prev = NULL;
	char *p;

	for (i = 0; i < n; i++)
		for (ai = lists[i]; ai != NULL; ai = ai->ai_next) {
			count++;
			addrs += ai->ai_addrlen;
		}
	if (count == 0)
		return NULL;
	out = malloc(count * sizeof(*out) + addrs + clen);
	if (out == NULL)
		return NULL;
	p = (char *)(out + count);
	node = out;
	for (i = 0; i < n; i++)
		for (ai = lists[i]; ai != NULL; ai = ai->ai_next, node++) {
			*node = *ai;
			node->ai_addr = (struct sockaddr *)(void *)p;
			memcpy(p, ai->ai_addr, ai->ai_addrlen);
			p += ai->ai_addrlen;
			node->ai_canonname = NULL;
			node->ai_next = NULL;
			if (prev != NULL)
				prev->ai_next = node;
			prev = node;
		}
	if (canon != NULL) {
		memcpy(p, canon, clen);
		out->ai_canonname = p;
	}
	return out;
}

/* ---- the fake answer -------------------------------------------------- */

/* AI_ADDRCONFIG: a family counts when some interface other than loopback
 * has an address of it (getaddrinfo(3)). */
static void configured_families(bool *v4, bool *v6)
{
	struct ifaddrs *ifa, *i;

	*v4 = *v6 = false;
	if (getifaddrs(&ifa) != 0) {
		*v4 = *v6 = true;
		return;
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			*v4 = true;
		else if (i->ifa_addr->sa_family == AF_INET6)
			*v6 = true;
	}
	freeifaddrs(ifa);
}

struct wanted {
	bool v4, v6, mapped; /* mapped: IPv4 as ::ffff:a.b.c.d, AF_INET6 */
};

static int wanted_families(const struct addrinfo *hints, struct wanted *w)
{
	int family = hints ? hints->ai_family : AF_UNSPEC;
	/* hints == NULL means AI_V4MAPPED | AI_ADDRCONFIG (getaddrinfo(3)). */
	int flags = hints ? hints->ai_flags : AI_V4MAPPED | AI_ADDRCONFIG;
	bool have4 = true, have6 = true;

	w->v4 = family == AF_UNSPEC || family == AF_INET;
	w->v6 = family == AF_UNSPEC || family == AF_INET6;
	w->mapped = family == AF_INET6 && (flags & AI_V4MAPPED) &&
		    (flags & AI_ALL);
	if (flags & AI_ADDRCONFIG) {
		configured_families(&have4, &have6);
		w->v4 = w->v4 && have4;
		w->v6 = w->v6 && have6;
		w->mapped = w->mapped && have4;
	}
	return w->v4 || w->v6 || w->mapped ? 0 : EAI_NONAME;
}

static void numeric_text(int family, const uint8_t *addr, bool mapped,
			 char *out)
{
	uint8_t m[16] = { [10] = 0xff, [11] = 0xff };

	if (mapped) {
		memcpy(m + 12, addr, 4);
		inet_ntop(AF_INET6, m, out, INET6_ADDRSTRLEN);
	} else {
		inet_ntop(family, addr, out, INET6_ADDRSTRLEN);
	}
}

/* Asks libc for one numeric fake address, with the program's hints. */
static int numeric_lookup(int family, const uint8_t *addr, bool mapped,
			  const char *service, const struct addrinfo *hints,
			  struct addrinfo **list)
{
	char text[INET6_ADDRSTRLEN];
	struct addrinfo h;

	memset(&h, 0, sizeof(h));
	if (hints != NULL)
		h = *hints;
	h.ai_family = mapped ? AF_INET6 : family;
	h.ai_flags &= ~(AI_CANONNAME | AI_ADDRCONFIG | AI_V4MAPPED | AI_ALL);
	h.ai_flags |= AI_NUMERICHOST;
	numeric_text(family, addr, mapped, text);
	return s5_libc_getaddrinfo(text, service, &h, list);
}

/* An answer made of one IPv4 and one IPv6 address (as the hints allow),
 * through libc's numeric lookup, in one block of our own. */
static int synth_answer(const char *node, const uint8_t *v4,
			const uint8_t *v6, const char *service,
			const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo *lists[3] = { NULL }, *out = NULL;
	const char *canon;
	struct wanted w;
	size_t i, n = 0;
	int r = wanted_families(hints, &w);

	if (r != 0)
		return r;
	/* IPv4 first: an IPv4 socket reaches every proxy we support. */
	if (w.v4)
		r = numeric_lookup(AF_INET, v4, false, service, hints,
				   &lists[n++]);
	if (w.v6 && r == 0)
		r = numeric_lookup(AF_INET6, v6, false, service, hints,
				   &lists[n++]);
	if (w.mapped && r == 0)
		r = numeric_lookup(AF_INET, v4, true, service, hints,
				   &lists[n++]);
	if (r == 0) {
		canon = hints && (hints->ai_flags & AI_CANONNAME) ? node : NULL;
		out = copy_lists(lists, n, canon);
		if (out == NULL || blocks_add(out) < 0) {
			free(out);
			r = EAI_MEMORY;
		}
	}
	for (i = 0; i < n; i++)
		if (lists[i] != NULL)
			real.freeaddrinfo(lists[i]);
	if (r == 0)
		*res = out;
	return r;
}

static int fake_answer(const char *node, const char *norm,
		       const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	struct s5_pool *pool = s5_pool();
	uint8_t v4[4], v6[16];
	int r;

	if (pool == NULL)
		return EAI_FAIL;
	r = s5_pool_lookup(pool, norm, s5_now_s(), v4, v6);
	if (r == -ENOSPC) {
		s5log_msg(S5LOG_ERROR, "fake-address pool full: cannot "
			  "resolve '", norm, "' now", NULL);
		return EAI_AGAIN;
	}
	if (r < 0)
		return EAI_NONAME;
	return synth_answer(node, v4, v6, service, hints, res);
}

/* An excluded name: libc answers, and its addresses are remembered so a
 * connect() to them goes direct even when no address rule matches. */
static int direct_answer(const char *node, const char *service,
			 const struct addrinfo *hints, struct addrinfo **res)
{
	const struct addrinfo *ai;
	int r = s5_libc_getaddrinfo(node, service, hints, res);

	if (r == 0)
		for (ai = *res; ai != NULL; ai = ai->ai_next)
			if (ai->ai_addr != NULL)
				s5_remember_direct(ai->ai_addr);
	return r;
}

S5_EXPORT int getaddrinfo(const char *node, const char *service,
			  const struct addrinfo *hints, struct addrinfo **res)
{
	char norm[S5_NAME_MAX + 1];
	int saved = errno, r;

	switch (s5_hook_begin(getaddrinfo, S5_STAGE_FULL)) {
	case S5_HOOK_FAIL:
		return EAI_FAIL;
	case S5_HOOK_LIBC:
		return real.getaddrinfo(node, service, hints, res);
	case S5_HOOK_OURS:
		break;
	}
	if (node == NULL || res == NULL ||
	    (hints != NULL && (hints->ai_flags & AI_NUMERICHOST)) ||
	    (hints != NULL && hints->ai_family != AF_UNSPEC &&
	     hints->ai_family != AF_INET && hints->ai_family != AF_INET6))
		return s5_libc_getaddrinfo(node, service, hints, res);
	switch (s5_name_route(node, norm)) {
	case S5_NAME_LIBC:
		return s5_libc_getaddrinfo(node, service, hints, res);
	case S5_NAME_DIRECT:
		return direct_answer(node, service, hints, res);
	case S5_NAME_INVALID:
		return EAI_NONAME;
	case S5_NAME_LOOPBACK:
		return synth_answer(node, s5_loopback4, s5_loopback6, service,
				    hints, res);
	case S5_NAME_FAKE:
		break;
	}
	r = fake_answer(node, norm, service, hints, res);
	if (r == 0)
		errno = saved;
	if (r == 0 && s5log_enabled(S5LOG_DEBUG))
		s5log_msg(S5LOG_DEBUG, "resolve '", norm,
			  "': fake address, the proxy will resolve it", NULL);
	return r;
}

S5_EXPORT void freeaddrinfo(struct addrinfo *res)
{
	enum s5_hook_mode mode = s5_hook_begin(freeaddrinfo,
					       S5_STAGE_SYMBOLS);

	/* A list the library made is freed here, whatever the mode. */
	if (res != NULL && blocks_take(res)) {
		free(res);
		return;
	}
	if (mode != S5_HOOK_FAIL)
		real.freeaddrinfo(res);
}
