/* Unit tests for src/net/try.c: the failover order, which failures move
 * on to the next proxy, and the back-off shared through the name table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "s5_config.h"
#include "s5_dns.h"
#include "s5_net.h"
#include "s5_try.h"
#include "config/cfg.h"

struct env {
	const char *proxy, *chain;
};

static const char *get(const char *name, void *ctx)
{
	const struct env *e = ctx;

	if (strcmp(name, "SOCKS5_PROXY") == 0)
		return e->proxy;
	if (strcmp(name, "SOCKS5WRAP_CHAIN") == 0)
		return e->chain;
	return NULL;
}

static struct s5_config cfg;

static void load(const char *proxy, const char *chain)
{
	struct env e = { proxy, chain };

	assert_int_equal(s5_config_load_from(&cfg, get, &e, false), 0);
	assert_true(cfg.usable);
}

static int teardown(void **state)
{
	(void)state;
	s5_config_free(&cfg);
	memset(s5_try_local_backoff(), 0,
	       S5_BACKOFF_SLOTS * sizeof(struct s5_backoff_entry));
	return 0;
}

/* A handshake that failed with r; greeted: the proxy had answered. */
static struct s5_hs failed_hs(bool greeted)
{
	struct s5_hs hs;

	s5_hs_init(&hs, S5_CMD_CONNECT, NULL, false, NULL, 0, NULL, 0);
	hs.greeted = greeted;
	hs.state = S5HS_FAILED;
	hs.why = "test";
	return hs;
}

static unsigned idx(const struct s5_try *t)
{
	return (unsigned)(s5_try_proxy(t) - &cfg.proxy[0]);
}

static void list_is_tried_in_order(void **state)
{
	struct s5_try t;

	(void)state;
	load("192.0.2.1:1080, 192.0.2.2:1081 ,[2001:db8::3]:1082", NULL);
	s5_try_begin(&t, &cfg, NULL);
	assert_int_equal(t.n, 3);
	assert_int_equal(idx(&t), 0);
	assert_true(s5_try_skip(&t));
	assert_int_equal(idx(&t), 1);
	assert_true(s5_try_skip(&t));
	assert_int_equal(idx(&t), 2);
	assert_false(s5_try_skip(&t));
}

static void absent_proxy_moves_on_and_goes_last_for_the_next(void **state)
{
	struct s5_hs hs = failed_hs(false);
	struct s5_try t, u;

	(void)state;
	load("192.0.2.1:1080,192.0.2.2:1081,192.0.2.3:1082", NULL);
	s5_try_begin(&t, &cfg, NULL);
	assert_true(s5_try_failed(&t, &hs, -ECONNREFUSED));
	assert_int_equal(idx(&t), 1);
	s5_try_begin(&u, &cfg, NULL);
	assert_int_equal(u.n, 3); /* still tried, after the others */
	assert_int_equal(u.order[0], 1);
	assert_int_equal(u.order[1], 2);
	assert_int_equal(u.order[2], 0);
	/* it answered later: alive again, first again */
	s5_try_skip(&u);
	s5_try_skip(&u);
	s5_try_alive(&u);
	s5_try_begin(&u, &cfg, NULL);
	assert_int_equal(u.order[0], 0);
}

static void only_silence_and_refusal_count_as_absent(void **state)
{
	static const int absent[] = { ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH,
				      ENETUNREACH, ECONNRESET, EPROTO };
	static const int present[] = { EACCES, EINVAL, ENOMEM, EMFILE,
				       ECONNABORTED, EINTR };
	struct s5_hs quiet = failed_hs(false), answered = failed_hs(true);
	struct s5_try t;
	size_t i;

	(void)state;
	load("192.0.2.1:1080,192.0.2.2:1081", NULL);
	for (i = 0; i < sizeof(present) / sizeof(present[0]); i++) {
		s5_try_begin(&t, &cfg, NULL);
		assert_false(s5_try_failed(&t, &quiet, -present[i]));
		assert_int_equal(idx(&t), 0);
	}
	/* a proxy that answered the greeting lives: a reply code (here
	 * "connection refused" for the target) or a timeout waiting for
	 * the target is the target's problem */
	for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		s5_try_begin(&t, &cfg, NULL);
		assert_false(s5_try_failed(&t, &answered, -absent[i]));
	}
	s5_try_begin(&t, &cfg, NULL);
	assert_int_equal(t.order[0], 0); /* nothing was marked */
	for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		s5_try_begin(&t, &cfg, NULL);
		assert_int_equal(idx(&t), 0);
		assert_true(s5_try_failed(&t, &quiet, -absent[i]));
		s5_try_alive(&t); /* proxy 2 answered; 1 stays marked */
		teardown(NULL);
		load("192.0.2.1:1080,192.0.2.2:1081", NULL);
	}
}

static void last_proxy_failing_ends_the_tries(void **state)
{
	struct s5_hs hs = failed_hs(false);
	struct s5_try t;

	(void)state;
	load("192.0.2.1:1080,192.0.2.2:1081", NULL);
	s5_try_begin(&t, &cfg, NULL);
	assert_true(s5_try_failed(&t, &hs, -ETIMEDOUT));
	assert_false(s5_try_failed(&t, &hs, -ETIMEDOUT));
	/* both dead: both still tried, in list order */
	s5_try_begin(&t, &cfg, NULL);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.order[0], 0);
	assert_int_equal(t.order[1], 1);
}

static void chain_is_one_attempt_through_all(void **state)
{
	struct s5_hs hs = failed_hs(false), h2;
	struct s5_addr d = { .atyp = S5_ATYP_IPV4, .port = 80 };
	struct s5_try t;

	(void)state;
	load("192.0.2.1:1080,socks5://u:p@proxy2.test:1081,[2001:db8::3]:1082",
	     "1");
	s5_try_begin(&t, &cfg, NULL);
	assert_int_equal(t.n, 1);
	assert_false(s5_try_failed(&t, &hs, -ECONNREFUSED));
	s5_try_hs(&t, &h2, S5_CMD_CONNECT, &d);
	assert_int_equal(h2.n_next, 2);
	assert_ptr_equal(h2.next, &cfg.hop[1]);
	assert_int_equal(h2.next[0].addr.atyp, S5_ATYP_DOMAIN);
	assert_string_equal(h2.next[0].addr.u.dom.name, "proxy2.test");
	assert_true(h2.next[0].auth);
	assert_int_equal(h2.next[1].addr.atyp, S5_ATYP_IPV6);
	assert_int_equal(h2.next[1].addr.port, 1082);
	assert_false(h2.auth);
	s5_hs_wipe(&h2);
}

static void unresolved_proxy_is_not_tried(void **state)
{
	struct s5_try t;

	(void)state;
	load("192.0.2.1:1080,192.0.2.2:1081,192.0.2.3:1082", NULL);
	cfg.proxy[1].unresolved = true;
	s5_try_begin(&t, &cfg, NULL);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.order[0], 0);
	assert_int_equal(t.order[1], 2);
}

static struct s5_pool *make_pool(void)
{
	struct s5_cidr a = { .family = AF_INET, .prefix = 15 };
	struct s5_cidr b = { .family = AF_INET6, .prefix = 64 };
	struct s5_pool *p = NULL;
	int fd = -1;

	inet_pton(AF_INET, "198.18.0.0", a.addr);
	inet_pton(AF_INET6, "fd53:5357::", b.addr);
	assert_int_equal(s5_pool_create_shared(&p, &fd, &a, &b, 64, 60), 0);
	close(fd);
	return p;
}

static void back_off_is_shared_through_the_table(void **state)
{
	struct s5_hs hs = failed_hs(false);
	struct s5_pool *pool = make_pool();
	struct s5_try t;
	pid_t pid;
	int st;

	(void)state;
	load("192.0.2.1:1080,192.0.2.2:1081", NULL);
	/* a child process finds proxy 1 dead ... */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		s5_try_begin(&t, &cfg, pool);
		_exit(s5_try_failed(&t, &hs, -ECONNREFUSED) ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* ... and its parent skips it without trying */
	s5_try_begin(&t, &cfg, pool);
	assert_int_equal(t.order[0], 1);
	/* this process's own table knows nothing of it */
	s5_try_begin(&t, &cfg, NULL);
	assert_int_equal(t.order[0], 0);
	/* an entry whose time passed is alive */
	{
		struct s5_backoff_entry *b = s5_pool_backoff(pool);
		struct timespec ts;
		size_t i;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		for (i = 0; i < S5_BACKOFF_SLOTS; i++)
			if (atomic_load(&b[i].key) != 0)
				atomic_store(&b[i].until_ms,
					     (uint32_t)(ts.tv_sec * 1000 - 1));
	}
	s5_try_begin(&t, &cfg, pool);
	assert_int_equal(t.order[0], 0);
	s5_pool_destroy(pool);
}

static void full_table_keeps_the_newest_marks(void **state)
{
	char list[S5_PROXY_MAX * 24] = "";
	struct s5_hs hs = failed_hs(false);
	struct s5_pool *pool = make_pool();
	struct s5_try t;
	unsigned i, round;

	(void)state;
	for (i = 0; i < S5_PROXY_MAX; i++) {
		char one[24];

		snprintf(one, sizeof(one), "%s192.0.2.%u:1080", i ? "," : "",
			 i + 1);
		strcat(list, one);
	}
	load(list, NULL);
	/* more marks than entries (other processes' lists): none is lost
	 * that is newer than every kept one, and nothing breaks */
	for (round = 0; round < 3; round++) {
		s5_try_begin(&t, &cfg, pool);
		while (s5_try_failed(&t, &hs, -ECONNREFUSED))
			;
		teardown(NULL);
		snprintf(list, sizeof(list), "198.51.100.%u:1080,"
			 "198.51.100.%u:1080,198.51.100.%u:1080,"
			 "198.51.100.%u:1080,198.51.100.%u:1080,"
			 "198.51.100.%u:1080,198.51.100.%u:1080,"
			 "198.51.100.%u:1080", round * 8 + 1, round * 8 + 2,
			 round * 8 + 3, round * 8 + 4, round * 8 + 5,
			 round * 8 + 6, round * 8 + 7, round * 8 + 8);
		load(list, NULL);
	}
	s5_try_begin(&t, &cfg, pool);
	/* the list just loaded was marked nowhere yet: every entry alive */
	for (i = 0; i < t.n; i++)
		assert_int_equal(t.order[i], i);
	s5_pool_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, teardown)
		T(list_is_tried_in_order),
		T(absent_proxy_moves_on_and_goes_last_for_the_next),
		T(only_silence_and_refusal_count_as_absent),
		T(last_proxy_failing_ends_the_tries),
		T(chain_is_one_attempt_through_all),
		T(unresolved_proxy_is_not_tried),
		T(back_off_is_shared_through_the_table),
		T(full_table_keeps_the_newest_marks),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
