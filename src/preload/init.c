/* Start-up of the preloaded library: real symbols, configuration, logging;
 * the reentrancy guard; the proxy's address (real.h, hook.h, conf.h).
 *
 * The configuration is read in the library's constructor, while the
 * environment is still the one the program was started with (a program may
 * clear it later), and again through pthread_once by any hook that runs
 * first: another library's constructor can call connect() before ours. */
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conf.h"
#include "fork.h"
#include "hook.h"
#include "names.h"
#include "logfile.h"
#include "tcp.h"
#include "s5_log.h"

struct s5_real real;
struct s5_config s5_cfg;

static pthread_once_t symbols_once = PTHREAD_ONCE_INIT;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* A proxy given by name is looked up when the first connection needs it.
 * A failed lookup is tried again by the next connection: it may have
 * failed for a passing reason (no descriptor left, a resolver timeout),
 * and glibc's error codes do not tell which. The log line about it is
 * written at most once a second. Guarded by proxy_lock; the addresses are
 * published with proxy_resolved (release/acquire). */
static pthread_mutex_t proxy_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool proxy_resolved;
static int64_t proxy_logged_ms = -1; /* last failure logged, guarded */
static bool symbols_ok;
static atomic_bool config_error_reported;

/* Nonzero while this thread runs our own calls into libc that may come
 * back into a hook (the resolver connects to name servers). initial-exec:
 * the library is loaded at start-up, and a plain TLS load keeps the hooks'
 * fast path free of __tls_get_addr. */
static _Thread_local int guard_depth __attribute__((tls_model("initial-exec")));

bool s5_guarded(void)
{
	return guard_depth != 0;
}

void s5_guard_enter(void)
{
	guard_depth++;
}

void s5_guard_leave(void)
{
	guard_depth--;
}

/* Where this library is mapped, found once: a real symbol that lies in
 * it would be one of our own hooks. */
struct self_range {
	uintptr_t lo, hi;
};

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct self_range *r = arg;
	uintptr_t me = (uintptr_t)(void *)find_self, lo, hi;
	int i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type != PT_LOAD)
			continue;
		lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
		hi = lo + info->dlpi_phdr[i].p_memsz;
		if (me >= lo && me < hi) {
			r->lo = info->dlpi_addr;
			r->hi = hi;
			return 1;
		}
	}
	return 0;
}

/* Before glibc 2.34 the res_* functions lived in libresolv, under their
 * __res_* names only (resolv.h renamed the calls). */
static void *lookup_res_old(const char *name)
{
	char old[32] = "__";

	if (strlen(name) + 3 > sizeof(old))
		return NULL;
	strcat(old, name);
	return dlsym(RTLD_NEXT, old);
}

static bool is_optional(const char *name);

/* A symbol that resolves to ourselves would make every call recurse
 * forever; that happens only when the library is loaded in a way it was
 * not built for, and is reported once. The check is an address compare:
 * dladdr() per symbol scanned libc's whole symbol table each time and was
 * most of the library's start-up cost. */
static void *lookup(const char *name, const struct self_range *self)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == NULL && strncmp(name, "res_", 4) == 0)
		p = lookup_res_old(name);
	if (p == NULL) {
		if (!is_optional(name))
			s5log_msg(S5LOG_ERROR, "libc function '", name,
				  "' not found; refusing network calls", NULL);
		return NULL;
	}
	if ((uintptr_t)p >= self->lo && (uintptr_t)p < self->hi) {
		s5log_msg(S5LOG_ERROR, "'", name,
			  "' resolves to socks5wrap itself; refusing network "
			  "calls",
			  NULL);
		return NULL;
	}
	return p;
}

/* close_range appeared in glibc 2.34 and fcntl64 in 2.28; a program built
 * against an older libc never calls them, so their absence is no error. */
static bool is_optional(const char *name)
{
	/* The resolver functions are only there if the program links
	 * libresolv on a glibc older than 2.34 (a program calling them does). */
	/* epoll_pwait2 is 2.35's; the fortified polls are for fortified
	 * programs. */
	return strcmp(name, "close_range") == 0 || strcmp(name, "fcntl64") == 0 ||
	       strcmp(name, "epoll_pwait2") == 0 ||
	       strcmp(name, "__poll_chk") == 0 ||
	       strcmp(name, "__ppoll_chk") == 0 ||
	       strncmp(name, "res_", 4) == 0 || strcmp(name, "__res_init") == 0;
}

static bool resolve_symbols(void)
{
	struct self_range self = { 0, 0 };
	bool ok = true;

	dl_iterate_phdr(find_self, &self);
	/* Whether a symbol may be missing is asked only of one that is:
	 * comparing every name with the optional ones took a quarter of
	 * the lookups' time. */
#define S5_REAL_LOOKUP(name, ret, args)                                      \
	do {                                                                  \
		real.name = (ret(*) args)lookup(#name, &self);                \
		if (real.name == NULL && !is_optional(#name))                 \
			ok = false;                                           \
	} while (0);
	S5_REAL_SYMBOLS(S5_REAL_LOOKUP)
#undef S5_REAL_LOOKUP
	return ok;
}

static const char *env_get(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

/* Stage one: the real symbols, nothing else. No allocation here: hooks on
 * read, write, close, syscall... may run inside a malloc that is still
 * initialising itself (jemalloc makes raw syscall() calls while holding
 * its init lock), and a malloc from us there would deadlock. */
static void symbols_once_fn(void)
{
	s5_guard_enter();
	s5_logfile_early();
	symbols_ok = resolve_symbols();
	if (symbols_ok)
		s5_io_real_init();
	s5_guard_leave();
}

void s5_init_symbols(void)
{
	pthread_once(&symbols_once, symbols_once_fn);
}

/* Stage two: the configuration and logging, for hooks that decide where a
 * connection, datagram or name goes. */
static void init_once_fn(void)
{
	s5_init_symbols();
	s5_guard_enter();
	if (s5_config_load(&s5_cfg, env_get, NULL) < 0) {
		s5_cfg.usable = false;
		strcpy(s5_cfg.error, "out of memory reading the configuration");
	}
	s5_fork_install();
	s5_logfile_setup(s5_cfg.log_level,
			 symbols_ok ? s5_cfg.log_file : NULL);
	s5_pool_early();
	if (s5_cfg.notice[0])
		s5log_msg(S5LOG_DEBUG, s5_cfg.notice, NULL);
	s5_guard_leave();
}

void s5_init(void)
{
	pthread_once(&init_once, init_once_fn);
}

bool s5_ready(void)
{
	return symbols_ok;
}

/* Whether some proxy the library connects to is given by name. */
static bool s5_cfg_has_names(void)
{
	unsigned i, n = s5_cfg.chain ? 1 : s5_cfg.n_proxies;

	for (i = 0; i < n && i < S5_PROXY_MAX; i++)
		if (s5_cfg.proxy[i].is_name)
			return true;
	return false;
}

/* The lookup works on a copy (the configuration is read by other threads
 * meanwhile); it is large, so static, under proxy_lock. */
static struct s5_config resolve_tmp;

static bool resolve_proxy_locked(void)
{
	struct s5_config *tmp = &resolve_tmp;
	int64_t now = s5_now_ms();
	unsigned i;

	*tmp = s5_cfg;
	s5_guard_enter();
	s5_config_resolve_proxy(tmp, real.getaddrinfo, real.freeaddrinfo);
	s5_guard_leave();
	if (!tmp->usable) {
		if (proxy_logged_ms < 0 || now - proxy_logged_ms >= 1000) {
			proxy_logged_ms = now;
			s5log_msg(S5LOG_ERROR, tmp->error,
				  "; refusing connections that should go "
				  "through the proxy until it resolves",
				  NULL);
		}
		explicit_bzero(tmp->proxy, sizeof(tmp->proxy));
		return false;
	}
	for (i = 0; i < S5_PROXY_MAX; i++) {
		s5_cfg.proxy[i].has4 = tmp->proxy[i].has4;
		s5_cfg.proxy[i].has6 = tmp->proxy[i].has6;
		s5_cfg.proxy[i].addr4 = tmp->proxy[i].addr4;
		s5_cfg.proxy[i].addr6 = tmp->proxy[i].addr6;
		s5_cfg.proxy[i].unresolved = tmp->proxy[i].unresolved;
		if (tmp->proxy[i].unresolved)
			s5log_msg(S5LOG_WARN, "proxy ", tmp->proxy[i].label,
				  ": its name does not resolve; it is skipped",
				  NULL);
	}
	explicit_bzero(tmp->proxy, sizeof(tmp->proxy));
	atomic_store_explicit(&proxy_resolved, true, memory_order_release);
	return true;
}

bool s5_proxy_ready(void)
{
	bool ok;

	if (!s5_cfg.usable)
		return false;
	if (!s5_cfg_has_names() ||
	    atomic_load_explicit(&proxy_resolved, memory_order_acquire))
		return true;
	pthread_mutex_lock(&proxy_lock);
	ok = atomic_load(&proxy_resolved) || resolve_proxy_locked();
	pthread_mutex_unlock(&proxy_lock);
	return ok;
}

void s5_report_config_error(void)
{
	/* A proxy name that does not resolve says so on each try. */
	if (s5_cfg.usable || atomic_exchange(&config_error_reported, true))
		return;
	s5log_msg(S5LOG_ERROR, s5_cfg.error,
		  "; refusing connections that should go through the proxy",
		  NULL);
}

__attribute__((constructor)) static void s5_constructor(void)
{
	s5_fork_lock(S5_FORK_PROXY, &proxy_lock, NULL);
	s5_init();
}
