/* Which names the real resolver answers and which get a fake address, and
 * the process's fake-address pool.
 *
 * Answered by libc: numeric hosts, "localhost" and names below it
 * (RFC 6761 section 6.3), names listed in /etc/hosts, names the exclusion
 * list matches, and every name when SOCKS5WRAP_DNS=local. Every other name
 * gets a fake address, and only its text ever leaves the process, inside a
 * CONNECT request. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "fork.h"
#include "hook.h"
#include "names.h"
#include "s5_dns.h"
#include "s5_log.h"

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
/* The process tree's table (tree.c), found or made at start-up; connect()
 * only reads it. */
static _Atomic(struct s5_pool *) pool;

static void make_pool(void)
{
	struct s5_pool *p = s5_tree_table();

	if (!p)
		s5log_msg(S5LOG_ERROR,
			  "cannot map the fake-address pool; host names will "
			  "not resolve",
			  NULL);
	atomic_store(&pool, p);
}

struct s5_pool *s5_pool(void)
{
	pthread_once(&pool_once, make_pool);
	return atomic_load(&pool);
}

void s5_pool_early(void)
{
	/* Now, before the program can close descriptors or clear its
	 * environment, and before it forks: a child that resolves the first
	 * name must share the table with its parent. */
	(void)s5_pool();
}

/* The pool if some name already made it, without making it. */
static struct s5_pool *existing_pool(void)
{
	return atomic_load(&pool);
}

uint32_t s5_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_sec;
}

/* ---- /etc/hosts ------------------------------------------------------- */

/* The names in /etc/hosts (parsed by src/dns/hosts.c); re-read when the
 * file changes. Guarded by hosts_lock. */
static pthread_mutex_t hosts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct s5_hosts hosts;
static struct timespec hosts_mtime;
static bool hosts_loaded;

#define S5_HOSTS_MAX (16u << 20) /* a larger file is read up to this */

static char *read_file(const char *path, size_t *len)
{
	char *buf = NULL, *nb;
	size_t cap = 0, n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	for (;;) {
		if (n == cap) {
			if (cap >= S5_HOSTS_MAX)
				break;
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap + 1);
			if (nb == NULL)
				break;
			buf = nb;
		}
		r = real.read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	real.close(fd);
	if (buf != NULL)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static void hosts_refresh(void)
{
	struct stat st;
	char *text;
	size_t len;

	if (stat("/etc/hosts", &st) != 0) {
		s5_hosts_free(&hosts);
		return;
	}
	if (hosts_loaded && st.st_mtim.tv_sec == hosts_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == hosts_mtime.tv_nsec)
		return;
	text = read_file("/etc/hosts", &len);
	if (text == NULL) {
		/* Unreadable now (no descriptor left, say): not cached, so
		 * the next lookup reads it again. */
		s5_hosts_free(&hosts);
		return;
	}
	hosts_loaded = true;
	hosts_mtime = st.st_mtim;
	/* Out of memory leaves the list empty, until the file changes. */
	s5_hosts_free(&hosts);
	s5_hosts_parse(text, len, &hosts);
	free(text);
}

__attribute__((constructor)) static void register_fork(void)
{
	s5_fork_lock(S5_FORK_HOSTS, &hosts_lock, NULL);
}

static bool in_hosts(const char *norm)
{
	bool found;

	pthread_mutex_lock(&hosts_lock);
	hosts_refresh();
	found = s5_hosts_has(&hosts, norm);
	pthread_mutex_unlock(&hosts_lock);
	return found;
}

const uint8_t s5_loopback4[4] = { 127, 0, 0, 1 };
const uint8_t s5_loopback6[16] = { [15] = 1 };

/* ---- the decision ----------------------------------------------------- */

static bool is_localhost(const char *norm, size_t len)
{
	static const char lh[] = "localhost";
	size_t l = sizeof(lh) - 1;

	if (len == l)
		return memcmp(norm, lh, l) == 0;
	return len > l && norm[len - l - 1] == '.' &&
	       memcmp(norm + len - l, lh, l) == 0;
}

/* Numeric hosts in every form libc accepts: inet_aton's ("10.1", "0x7f.1")
 * and IPv6 with an optional "%scope". */
static bool is_numeric(const char *node)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN + 1];
	const char *pct = strchr(node, '%');
	size_t n;

	if (inet_aton(node, &a4))
		return true;
	if (pct == NULL)
		return inet_pton(AF_INET6, node, &a6) == 1;
	n = (size_t)(pct - node);
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, node, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1;
}

enum s5_name_route s5_name_route(const char *node, char *norm)
{
	int n;

	if (is_numeric(node))
		return S5_NAME_LIBC;
	n = s5_name_normalize(node, norm);
	if (n < 0)
		return S5_NAME_INVALID;
	if (s5_exclude_match_name(&s5_cfg.exclude, norm, 0))
		return S5_NAME_DIRECT;
	/* /etc/hosts first: it may name "localhost" itself. Any other name
	 * below localhost is loopback without asking anyone (RFC 6761
	 * section 6.3); glibc would send it to the DNS server. */
	if (in_hosts(norm))
		return S5_NAME_LIBC;
	if (is_localhost(norm, (size_t)n))
		return S5_NAME_LOOPBACK;
	if (s5_cfg.dns == S5_DNS_LOCAL)
		return S5_NAME_LIBC;
	return S5_NAME_FAKE;
}

void s5_remember_direct(const struct sockaddr *sa)
{
	struct s5_pool *p = s5_pool();
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;

	if (p == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		memcpy(&s4, sa, sizeof(s4));
		s5_pool_direct_add(p, AF_INET, (const uint8_t *)&s4.sin_addr);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(&s6, sa, sizeof(s6));
		s5_pool_direct_add(p, AF_INET6,
				   (const uint8_t *)&s6.sin6_addr);
	}
}

bool s5_is_fake(int family, const uint8_t *addr)
{
	const struct s5_cidr *c = family == AF_INET ? &s5_cfg.fake4
						    : &s5_cfg.fake6;

	return c->family == family && s5_prefix_match(addr, c->addr, c->prefix);
}

int s5_fake_to_name(int family, const uint8_t *addr, char *name)
{
	struct s5_pool *p = existing_pool();

	if (p == NULL)
		return -ENOENT;
	return s5_pool_reverse(p, family, addr, s5_now_s(), name,
			       S5_NAME_MAX + 1);
}

bool s5_is_direct(int family, const uint8_t *addr)
{
	struct s5_pool *p = existing_pool();

	return p != NULL && s5_pool_direct_has(p, family, addr);
}

bool s5_reverse_allowed(const struct sockaddr *sa, socklen_t len)
{
	struct s5_addr a;

	if (s5_cfg.dns == S5_DNS_LOCAL ||
	    s5_addr_from_sockaddr(&a, sa, len) < 0)
		return true;
	if (a.atyp == S5_ATYP_IPV4 && a.u.v4[0] == 127)
		return true;
	if (a.atyp == S5_ATYP_IPV6 && memcmp(a.u.v6, s5_loopback6, 16) == 0)
		return true;
	return s5_exclude_match_addr(&s5_cfg.exclude, sa, len);
}
