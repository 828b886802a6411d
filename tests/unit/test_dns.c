/* Unit tests for src/dns: the fake-address pool and name normalisation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "s5_dns.h"
#include "dns/dns_internal.h" /* only for the lock tests */

static struct s5_pool *pool;

static struct s5_cidr cidr(const char *text, uint8_t prefix)
{
	struct s5_cidr c = { .prefix = prefix };

	if (inet_pton(AF_INET, text, c.addr) == 1)
		c.family = AF_INET;
	else if (inet_pton(AF_INET6, text, c.addr) == 1)
		c.family = AF_INET6;
	else
		fail_msg("bad test address %s", text);
	return c;
}

static void make_pool(const char *n4, uint8_t p4, const char *n6, uint8_t p6,
		      uint32_t capacity, uint32_t grace)
{
	struct s5_cidr a = cidr(n4, p4), b = cidr(n6, p6);

	s5_pool_destroy(pool);
	pool = NULL;
	assert_int_equal(s5_pool_create(&pool, &a, &b, capacity, grace), 0);
}

static int setup(void **state)
{
	(void)state;
	make_pool("198.18.0.0", 15, "fd00:5357::", 64,
		  S5_POOL_DEFAULT_CAPACITY, S5_POOL_DEFAULT_GRACE_S);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	s5_pool_destroy(pool);
	pool = NULL;
	return 0;
}

/* A pool of /29 (6 slots) with a 10 s grace period. */
static int setup_small(void **state)
{
	(void)state;
	make_pool("192.0.2.0", 29, "2001:db8::", 64, 8192, 10);
	return 0;
}

static void v4_of(const char *text, uint8_t a[4])
{
	assert_int_equal(inet_pton(AF_INET, text, a), 1);
}

static void v6_of(const char *text, uint8_t a[16])
{
	assert_int_equal(inet_pton(AF_INET6, text, a), 1);
}

static void lookup_ok(const char *name, uint32_t now, uint8_t v4[4],
		      uint8_t v6[16])
{
	int rc = s5_pool_lookup(pool, name, now, v4, v6);

	if (rc)
		fail_msg("lookup '%s' at %u: %d", name, now, rc);
}

static void assert_v4(const uint8_t a[4], const char *text)
{
	uint8_t want[4];

	v4_of(text, want);
	assert_memory_equal(a, want, 4);
}

static void assert_reverse(int family, const uint8_t *addr, const char *name)
{
	char got[S5_NAME_MAX + 1];
	int rc = s5_pool_reverse(pool, family, addr, 0, got, sizeof(got));

	if (rc < 0)
		fail_msg("reverse for '%s': %d", name, rc);
	assert_int_equal(rc, strlen(name));
	assert_string_equal(got, name);
}

/* ---- forward and reverse ---- */

static void same_name_gets_the_same_address(void **state)
{
	uint8_t a[4], b[4], a6[16], b6[16];

	(void)state;
	lookup_ok("example.com", 1, a, a6);
	lookup_ok("example.com", 2, b, b6);
	assert_memory_equal(a, b, 4);
	assert_memory_equal(a6, b6, 16);
}

static void first_name_gets_the_second_address_of_each_range(void **state)
{
	uint8_t a[4], a6[16], want6[16];

	(void)state;
	lookup_ok("example.com", 1, a, a6);
	assert_v4(a, "198.18.0.1");
	v6_of("fd00:5357::1", want6);
	assert_memory_equal(a6, want6, 16);
}

static void either_family_may_be_left_out(void **state)
{
	uint8_t a[4], a6[16], b[4], b6[16];

	(void)state;
	lookup_ok("v4.example", 1, a, NULL);
	lookup_ok("v4.example", 1, NULL, a6);
	lookup_ok("v4.example", 1, b, b6);
	assert_memory_equal(a, b, 4);
	assert_memory_equal(a6, b6, 16);
}

static void case_and_trailing_dot_do_not_change_the_address(void **state)
{
	uint8_t a[4], b[4], c[4];

	(void)state;
	lookup_ok("Example.COM", 1, a, NULL);
	lookup_ok("example.com.", 1, b, NULL);
	lookup_ok("EXAMPLE.COM.", 1, c, NULL);
	assert_memory_equal(a, b, 4);
	assert_memory_equal(a, c, 4);
	assert_reverse(AF_INET, a, "example.com");
}

static void different_names_get_different_addresses(void **state)
{
	uint8_t a[4], b[4], a6[16], b6[16];

	(void)state;
	lookup_ok("one.example", 1, a, a6);
	lookup_ok("two.example", 1, b, b6);
	assert_memory_not_equal(a, b, 4);
	assert_memory_not_equal(a6, b6, 16);
}

static void reverse_gives_the_name_back_in_both_families(void **state)
{
	uint8_t a[4], a6[16], mapped[16] = { [10] = 0xff, [11] = 0xff };

	(void)state;
	lookup_ok("a.example", 1, NULL, NULL);
	lookup_ok("b.example", 1, a, a6);
	assert_reverse(AF_INET, a, "b.example");
	assert_reverse(AF_INET6, a6, "b.example");
	memcpy(mapped + 12, a, 4);
	assert_reverse(AF_INET6, mapped, "b.example");
}

static void reverse_refuses_a_buffer_too_small(void **state)
{
	uint8_t a[4];
	char small[5];

	(void)state;
	lookup_ok("long.example", 1, a, NULL);
	assert_int_equal(s5_pool_reverse(pool, AF_INET, a, 1, small,
					 sizeof(small)),
			 -ERANGE);
}

static void unknown_address_in_range_is_enoent(void **state)
{
	char name[S5_NAME_MAX + 1];
	uint8_t a[4], a6[16];

	(void)state;
	lookup_ok("only.example", 1, NULL, NULL);
	v4_of("198.18.0.2", a); /* the second slot, never handed out */
	assert_true(s5_pool_in_range(pool, AF_INET, a));
	assert_int_equal(s5_pool_reverse(pool, AF_INET, a, 1, name,
					 sizeof(name)),
			 -ENOENT);
	v4_of("198.18.0.0", a); /* the network address is never a slot */
	assert_int_equal(s5_pool_reverse(pool, AF_INET, a, 1, name,
					 sizeof(name)),
			 -ENOENT);
	v6_of("fd00:5357::1:0:0:1", a6); /* in the /64, past 32 bits */
	assert_true(s5_pool_in_range(pool, AF_INET6, a6));
	assert_int_equal(s5_pool_reverse(pool, AF_INET6, a6, 1, name,
					 sizeof(name)),
			 -ENOENT);
}

static void address_outside_the_range_is_not_in_range(void **state)
{
	char name[S5_NAME_MAX + 1];
	uint8_t a[4], a6[16], mapped[16] = { [10] = 0xff, [11] = 0xff };

	(void)state;
	v4_of("198.20.0.1", a);
	assert_false(s5_pool_in_range(pool, AF_INET, a));
	assert_int_equal(s5_pool_reverse(pool, AF_INET, a, 1, name,
					 sizeof(name)),
			 -ENOENT);
	v4_of("198.19.255.254", a);
	assert_true(s5_pool_in_range(pool, AF_INET, a));
	v6_of("fd00:5358::1", a6);
	assert_false(s5_pool_in_range(pool, AF_INET6, a6));
	v4_of("198.18.0.1", mapped + 12);
	assert_true(s5_pool_in_range(pool, AF_INET6, mapped));
	assert_false(s5_pool_in_range(pool, AF_UNIX, a));
}

/* ---- capacity and creation ---- */

static void small_range_caps_the_capacity(void **state)
{
	uint8_t a[4], first[4];
	char name[32];
	int i;

	(void)state;
	make_pool("192.0.2.0", 28, "2001:db8::", 64, 8192, 600);
	assert_int_equal(s5_pool_capacity(pool), 14);
	for (i = 0; i < 14; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		lookup_ok(name, 1, a, NULL);
		if (i == 0)
			memcpy(first, a, 4);
	}
	assert_v4(first, "192.0.2.1");
	assert_v4(a, "192.0.2.14"); /* .15 is the broadcast address */
	assert_int_equal(s5_pool_lookup(pool, "one.more", 1, a, NULL),
			 -ENOSPC);
}

static void small_ipv6_range_caps_the_capacity_too(void **state)
{
	(void)state;
	make_pool("10.0.0.0", 8, "2001:db8::", 125, 8192, 600);
	assert_int_equal(s5_pool_capacity(pool), 6);
}

static void default_capacity_is_kept_for_large_ranges(void **state)
{
	(void)state;
	assert_int_equal(s5_pool_capacity(pool), S5_POOL_DEFAULT_CAPACITY);
}

static void create_refuses_bad_ranges(void **state)
{
	struct s5_cidr v4 = cidr("192.0.2.0", 24), v6 = cidr("2001:db8::", 64);
	struct s5_cidr bad;
	struct s5_pool *p = NULL;

	(void)state;
	assert_int_equal(s5_pool_create(&p, &v6, &v6, 10, 1), -EINVAL);
	assert_int_equal(s5_pool_create(&p, &v4, &v4, 10, 1), -EINVAL);
	assert_int_equal(s5_pool_create(&p, NULL, &v6, 10, 1), -EINVAL);
	assert_int_equal(s5_pool_create(&p, &v4, &v6, 0, 1), -EINVAL);
	bad = cidr("192.0.2.0", 31);
	assert_int_equal(s5_pool_create(&p, &bad, &v6, 10, 1), -EINVAL);
	bad = cidr("0.0.0.0", 0);
	assert_int_equal(s5_pool_create(&p, &bad, &v6, 10, 1), -EINVAL);
	bad = cidr("2001:db8::", 127);
	assert_int_equal(s5_pool_create(&p, &v4, &bad, 10, 1), -EINVAL);
	assert_null(p);
}

static void bad_name_is_einval_and_takes_no_slot(void **state)
{
	uint8_t a[4];

	(void)state;
	make_pool("192.0.2.0", 30, "2001:db8::", 64, 8192, 600);
	assert_int_equal(s5_pool_capacity(pool), 2);
	assert_int_equal(s5_pool_lookup(pool, "bad name", 1, a, NULL),
			 -EINVAL);
	assert_int_equal(s5_pool_lookup(pool, "", 1, a, NULL), -EINVAL);
	lookup_ok("x.example", 1, a, NULL);
	lookup_ok("y.example", 1, a, NULL);
}

/* ---- recycling (small pool: 6 slots, 10 s grace) ---- */

static void fill_small_pool(uint8_t addrs[6][4])
{
	char name[16];
	uint32_t i;

	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "n%u.example", i);
		lookup_ok(name, i, addrs[i], NULL); /* n0 used at 0, n5 at 5 */
	}
}

static void oldest_slot_is_recycled_after_the_grace_period(void **state)
{
	uint8_t addrs[6][4], a[4], b[4];

	(void)state;
	fill_small_pool(addrs);
	lookup_ok("new1.example", 20, a, NULL);
	assert_memory_equal(a, addrs[0], 4);
	assert_reverse(AF_INET, a, "new1.example");
	lookup_ok("new2.example", 20, b, NULL);
	assert_memory_equal(b, addrs[1], 4);
	/* n0 is gone: asking again takes a slot of its own. */
	lookup_ok("n0.example", 20, a, NULL);
	assert_memory_equal(a, addrs[2], 4);
}

static void recently_used_slot_stays_when_others_are_recycled(void **state)
{
	uint8_t addrs[6][4], a[4];

	(void)state;
	fill_small_pool(addrs);
	lookup_ok("n0.example", 19, a, NULL); /* n0 is young again */
	lookup_ok("new1.example", 20, a, NULL);
	assert_memory_equal(a, addrs[1], 4);
	lookup_ok("n0.example", 20, a, NULL);
	assert_memory_equal(a, addrs[0], 4);
	assert_reverse(AF_INET, addrs[0], "n0.example");
}

static void reverse_lookup_counts_as_a_use(void **state)
{
	uint8_t addrs[6][4], a[4];
	char name[S5_NAME_MAX + 1];

	(void)state;
	fill_small_pool(addrs);
	assert_int_equal(s5_pool_reverse(pool, AF_INET, addrs[0], 15, name,
					 sizeof(name)),
			 10);
	lookup_ok("new1.example", 20, a, NULL);
	assert_memory_equal(a, addrs[1], 4);
}

static void full_pool_within_grace_is_enospc(void **state)
{
	uint8_t addrs[6][4], a[4];
	char name[16];
	int i, j;

	(void)state;
	fill_small_pool(addrs);
	/* n0 was used at 0: at 9 nothing has had its 10 s. */
	assert_int_equal(s5_pool_lookup(pool, "late.example", 9, a, NULL),
			 -ENOSPC);
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		assert_reverse(AF_INET, addrs[i], name);
		for (j = 0; j < i; j++)
			assert_memory_not_equal(addrs[i], addrs[j], 4);
	}
	/* At 10, n0's last use is exactly the grace period old. */
	lookup_ok("late.example", 10, a, NULL);
	assert_memory_equal(a, addrs[0], 4);
}

static void zero_grace_recycles_at_once(void **state)
{
	uint8_t a[4], b[4], c[4];

	(void)state;
	make_pool("192.0.2.0", 30, "2001:db8::", 64, 8192, 0);
	lookup_ok("a.example", 5, a, NULL);
	lookup_ok("b.example", 6, b, NULL);
	lookup_ok("c.example", 6, c, NULL);
	assert_memory_equal(a, c, 4);
	assert_reverse(AF_INET, b, "b.example");
}

/* ---- direct set ---- */

static void direct_set_remembers_addresses_per_family(void **state)
{
	uint8_t a[4], b[4], a6[16] = { 0 }, mapped[16] = { [10] = 0xff,
							   [11] = 0xff };

	(void)state;
	v4_of("203.0.113.7", a);
	v4_of("203.0.113.8", b);
	assert_false(s5_pool_direct_has(pool, AF_INET, a));
	s5_pool_direct_add(pool, AF_INET, a);
	assert_true(s5_pool_direct_has(pool, AF_INET, a));
	assert_false(s5_pool_direct_has(pool, AF_INET, b));
	memcpy(mapped + 12, a, 4);
	assert_true(s5_pool_direct_has(pool, AF_INET6, mapped));
	memcpy(a6, a, 4); /* same leading bytes, other family */
	assert_false(s5_pool_direct_has(pool, AF_INET6, a6));
	v6_of("2001:db8::7", a6);
	s5_pool_direct_add(pool, AF_INET6, a6);
	assert_true(s5_pool_direct_has(pool, AF_INET6, a6));
	s5_pool_direct_add(pool, AF_UNIX, a);
	assert_false(s5_pool_direct_has(pool, AF_UNIX, a));
}

static void direct_entry(uint32_t i, uint8_t a[4])
{
	a[0] = 10;
	a[1] = (uint8_t)(i >> 16);
	a[2] = (uint8_t)(i >> 8);
	a[3] = (uint8_t)i;
}

static void direct_set_drops_the_oldest_when_full(void **state)
{
	uint8_t a[4];
	uint32_t i;

	(void)state;
	for (i = 0; i <= S5_POOL_DIRECT_MAX; i++) {
		direct_entry(i, a);
		s5_pool_direct_add(pool, AF_INET, a);
	}
	direct_entry(0, a);
	assert_false(s5_pool_direct_has(pool, AF_INET, a));
	direct_entry(1, a);
	assert_true(s5_pool_direct_has(pool, AF_INET, a));
	direct_entry(S5_POOL_DIRECT_MAX, a);
	assert_true(s5_pool_direct_has(pool, AF_INET, a));
}

static void direct_set_adding_twice_uses_one_entry(void **state)
{
	uint8_t a[4];
	uint32_t i;

	(void)state;
	direct_entry(0, a);
	s5_pool_direct_add(pool, AF_INET, a);
	s5_pool_direct_add(pool, AF_INET, a);
	for (i = 1; i < S5_POOL_DIRECT_MAX; i++) {
		direct_entry(i, a);
		s5_pool_direct_add(pool, AF_INET, a);
	}
	direct_entry(0, a);
	assert_true(s5_pool_direct_has(pool, AF_INET, a));
}

/* ---- name normalisation ---- */

static void label_of(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

static void names_are_folded_and_lose_one_trailing_dot(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "example.com", "example.com" },
		{ "Example.COM.", "example.com" },
		{ "a", "a" },
		{ "A.", "a" },
		{ "localhost", "localhost" },
		{ "_sip._tcp.example.org", "_sip._tcp.example.org" },
		{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
		{ "1.2.3.4", "1.2.3.4" },
		{ "-odd-.example", "-odd-.example" },
		{ "ZZ-9_z.Y", "zz-9_z.y" },
	};
	char out[S5_NAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = s5_name_normalize(good[i].in, out);

		if (rc != (int)strlen(good[i].out) ||
		    strcmp(out, good[i].out) != 0)
			fail_msg("'%s' gave %d '%s'", good[i].in, rc, out);
	}
}

static void names_that_cannot_be_dns_names_are_einval(void **state)
{
	static const char *const bad[] = {
		"", ".", "..", "a..b", ".a", "a..", "a...", "..a",
		"a b", " a", "a ", "a\tb", "a\nb", "a/b", "a:80", "a%2e",
		"a*b", "a@b", "[::1]", "caf\xc3\xa9.example", "a\x7f",
		"a,b", "a\\b",
	};
	char out[S5_NAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = s5_name_normalize(bad[i], out);

		if (rc != -EINVAL)
			fail_msg("'%s' gave %d", bad[i], rc);
	}
}

static void labels_hold_at_most_63_bytes(void **state)
{
	char in[80], out[S5_NAME_MAX + 1];

	(void)state;
	label_of(in, 'a', 63);
	assert_int_equal(s5_name_normalize(in, out), 63);
	strcat(in, ".");
	assert_int_equal(s5_name_normalize(in, out), 63);
	label_of(in, 'a', 64);
	assert_int_equal(s5_name_normalize(in, out), -EINVAL);
	memcpy(in, "x.", 2); /* "x." then 62 bytes: fine */
	assert_int_equal(s5_name_normalize(in, out), 64);
}

/* n bytes of "aaa...a.aaa..." with a dot every 50 bytes. */
static void long_name(char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = i % 50 == 49 ? '.' : 'a';
	buf[n] = '\0';
}

static void names_hold_at_most_253_bytes(void **state)
{
	char in[400], out[S5_NAME_MAX + 1];

	(void)state;
	long_name(in, 253);
	assert_int_equal(s5_name_normalize(in, out), 253);
	assert_int_equal(strlen(out), 253);
	strcat(in, ".");
	assert_int_equal(s5_name_normalize(in, out), 253);
	long_name(in, 254);
	assert_int_equal(s5_name_normalize(in, out), -EINVAL);
	long_name(in, 255);
	in[254] = '.';
	assert_int_equal(s5_name_normalize(in, out), -EINVAL);
	long_name(in, 399);
	assert_int_equal(s5_name_normalize(in, out), -EINVAL);
}

/* ---- threads and processes ---- */

#define N_THREADS 8
#define N_LOOKUPS 1000
#define N_NAMES 300

struct worker {
	int id;
	int errors;
	uint8_t v4[N_NAMES][4];
	uint8_t v6[N_NAMES][16];
	bool seen[N_NAMES];
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint8_t a[4], a6[16];
	char name[32];
	int k, n;

	for (k = 0; k < N_LOOKUPS; k++) {
		n = (w->id * 37 + k * 13) % N_NAMES;
		snprintf(name, sizeof(name), "%s%d.example",
			 k % 2 ? "HOST" : "host", n);
		if (s5_pool_lookup(pool, name, (uint32_t)k, a, a6)) {
			w->errors++;
			continue;
		}
		if (w->seen[n] && (memcmp(w->v4[n], a, 4) != 0 ||
				   memcmp(w->v6[n], a6, 16) != 0))
			w->errors++;
		memcpy(w->v4[n], a, 4);
		memcpy(w->v6[n], a6, 16);
		w->seen[n] = true;
	}
	return NULL;
}

/* Every thread that saw a name saw the same addresses, and each address
 * leads back to that name. */
static void check_workers(struct worker *w)
{
	char want[32];
	int t, n, first;

	for (n = 0; n < N_NAMES; n++) {
		first = -1;
		for (t = 0; t < N_THREADS; t++) {
			if (!w[t].seen[n])
				continue;
			if (first < 0) {
				first = t;
				continue;
			}
			assert_memory_equal(w[t].v4[n], w[first].v4[n], 4);
			assert_memory_equal(w[t].v6[n], w[first].v6[n], 16);
		}
		if (first < 0)
			continue;
		snprintf(want, sizeof(want), "host%d.example", n);
		assert_reverse(AF_INET, w[first].v4[n], want);
		assert_reverse(AF_INET6, w[first].v6[n], want);
	}
}

static void threads_agree_on_every_name(void **state)
{
	static struct worker w[N_THREADS];
	pthread_t th[N_THREADS];
	int t;

	(void)state;
	memset(w, 0, sizeof(w));
	for (t = 0; t < N_THREADS; t++) {
		w[t].id = t;
		assert_int_equal(pthread_create(&th[t], NULL, worker_run,
						&w[t]),
				 0);
	}
	for (t = 0; t < N_THREADS; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	for (t = 0; t < N_THREADS; t++)
		assert_int_equal(w[t].errors, 0);
	check_workers(w);
}

/* In the child: no cmocka (it would longjmp into the parent's copy of the
 * test runner); the exit status says which check failed. */
static int child_run(const uint8_t parent_addr[4], int out_fd)
{
	uint8_t a[4];

	if (s5_pool_lookup(pool, "parent.example", 2, a, NULL))
		return 2;
	if (memcmp(a, parent_addr, 4) != 0)
		return 3;
	if (s5_pool_lookup(pool, "child.example", 2, a, NULL))
		return 4;
	if (write(out_fd, a, 4) != 4)
		return 5;
	return 0;
}

static void forked_child_shares_the_pool(void **state)
{
	uint8_t parent_addr[4], child_addr[4], a[4];
	int fds[2], status;
	pid_t pid;

	(void)state;
	lookup_ok("parent.example", 1, parent_addr, NULL);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(child_run(parent_addr, fds[1]));
	}
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(read(fds[0], child_addr, 4), 4);
	close(fds[0]);
	assert_memory_not_equal(child_addr, parent_addr, 4);
	assert_reverse(AF_INET, child_addr, "child.example");
	lookup_ok("child.example", 3, a, NULL);
	assert_memory_equal(a, child_addr, 4);
}

/* The child takes the lock, leaves the index in pieces (a loop, an
 * emptied bucket, a torn slot) as a death mid-update might, and exits
 * without unlocking. */
static int child_dies_holding_the_lock(uint32_t torn)
{
	struct s5p_slot *slots = s5p_slots(pool);

	if (s5p_lock(pool))
		return 2;
	memset(s5p_buckets(pool), 0, pool->n_buckets * sizeof(uint32_t));
	slots[0].next = 1;
	slots[torn].len = 200; /* no NUL at name[200]: not a whole name */
	memset(slots[torn].name, 'x', sizeof(slots[torn].name));
	return 0;
}

static void holder_that_died_leaves_a_usable_pool(void **state)
{
	uint8_t a[4], b[4], c[4], d[4];
	char name[S5_NAME_MAX + 1];
	int status;
	pid_t pid;

	(void)state;
	lookup_ok("first.example", 1, a, NULL);
	lookup_ok("second.example", 1, b, NULL);
	lookup_ok("torn.example", 1, c, NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_dies_holding_the_lock(2));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	lookup_ok("first.example", 2, d, NULL);
	assert_memory_equal(d, a, 4);
	lookup_ok("second.example", 2, d, NULL);
	assert_memory_equal(d, b, 4);
	assert_int_equal(s5_pool_reverse(pool, AF_INET, c, 2, name,
					 sizeof(name)),
			 -ENOENT);
	lookup_ok("new.example", 2, d, NULL);
	assert_memory_not_equal(d, a, 4);
	assert_memory_not_equal(d, b, 4);
	assert_reverse(AF_INET, d, "new.example");
}

/* A pool in a memfd, mapped a second time through its descriptor as the
 * preload of another program would: both mappings see the same names and
 * the same direct set. */
static void shared_pool_is_seen_through_its_descriptor(void **state)
{
	struct s5_cidr a = cidr("198.18.0.0", 15), b = cidr("fd53:5357::", 64);
	struct s5_pool *mine = NULL, *theirs = NULL;
	uint8_t v4[4], v6[16], w4[4], w6[16];
	uint8_t ten[4] = { 10, 1, 2, 3 };
	char name[S5_NAME_MAX + 1];
	int fd = -1;

	(void)state;
	assert_int_equal(s5_pool_create_shared(&mine, &fd, &a, &b, 128, 60), 0);
	assert_true(fd >= 0);
	assert_int_equal(s5_pool_attach(&theirs, fd, &a, &b, NULL), 0);
	assert_ptr_not_equal(mine, theirs);
	assert_int_equal(s5_pool_lookup(theirs, "www.test", 1, v4, v6), 0);
	assert_int_equal(s5_pool_reverse(mine, AF_INET, v4, 2, name,
					 sizeof(name)),
			 8);
	assert_string_equal(name, "www.test");
	assert_int_equal(s5_pool_lookup(mine, "www.test", 3, w4, w6), 0);
	assert_memory_equal(v4, w4, 4);
	assert_memory_equal(v6, w6, 16);
	s5_pool_direct_add(mine, AF_INET, ten);
	assert_true(s5_pool_direct_has(theirs, AF_INET, ten));
	s5_pool_destroy(theirs);
	s5_pool_destroy(mine);
	close(fd);
}

static void attach_refuses_what_is_not_such_a_pool(void **state)
{
	struct s5_cidr a = cidr("198.18.0.0", 15), b = cidr("fd53:5357::", 64);
	struct s5_cidr other = cidr("100.64.0.0", 10);
	struct s5_pool *mine = NULL, *p = NULL;
	char path[] = "/tmp/s5poolXXXXXX";
	int fd = -1, tmp;

	(void)state;
	uint8_t id[S5_POOL_ID_LEN], zero[S5_POOL_ID_LEN] = { 0 };
	struct s5_pool *again = NULL;

	assert_int_equal(s5_pool_create_shared(&mine, &fd, &a, &b, 128, 60), 0);
	/* Its id: random, so not zero; asked for, it must match. */
	s5_pool_id(mine, id);
	assert_memory_not_equal(id, zero, sizeof(id));
	assert_int_equal(s5_pool_attach(&again, fd, &a, &b, id), 0);
	s5_pool_destroy(again);
	id[5] ^= 1;
	assert_int_equal(s5_pool_attach(&p, fd, &a, &b, id), -EINVAL);
	/* Other ranges: another configuration's pool. */
	assert_int_equal(s5_pool_attach(&p, fd, &other, &b, NULL), -EINVAL);
	s5_pool_destroy(mine);
	/* Cut short, or a file of the same size that holds something else. */
	assert_int_equal(ftruncate(fd, 4096), 0);
	assert_int_equal(s5_pool_attach(&p, fd, &a, &b, NULL), -EINVAL);
	tmp = mkstemp(path);
	assert_true(tmp >= 0);
	unlink(path);
	assert_int_equal(ftruncate(tmp, 1 << 20), 0);
	assert_int_equal(s5_pool_attach(&p, tmp, &a, &b, NULL), -EINVAL);
	/* Not a descriptor (any more). */
	close(tmp);
	assert_int_equal(s5_pool_attach(&p, tmp, &a, &b, NULL), -EINVAL);
	assert_int_equal(s5_pool_attach(&p, -1, &a, &b, NULL), -EINVAL);
	assert_null(p);
	close(fd);
}

/* Two tables: two ids. And the memfd is its user's alone. */
static void shared_pools_have_their_own_ids(void **state)
{
	struct s5_cidr a = cidr("198.18.0.0", 15), b = cidr("fd53:5357::", 64);
	struct s5_pool *one = NULL, *two = NULL;
	uint8_t id1[S5_POOL_ID_LEN], id2[S5_POOL_ID_LEN];
	struct stat st;
	int fd1 = -1, fd2 = -1;

	(void)state;
	assert_int_equal(s5_pool_create_shared(&one, &fd1, &a, &b, 16, 60), 0);
	assert_int_equal(s5_pool_create_shared(&two, &fd2, &a, &b, 16, 60), 0);
	s5_pool_id(one, id1);
	s5_pool_id(two, id2);
	assert_memory_not_equal(id1, id2, sizeof(id1));
	assert_int_equal(fstat(fd1, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(fcntl(fd1, F_GETFD) & FD_CLOEXEC);
	s5_pool_destroy(one);
	s5_pool_destroy(two);
	close(fd1);
	close(fd2);
}

/* A table written without mapping it (the launcher's) is a whole pool to
 * the first process that maps it, of the id it reported. */
static void table_file_is_a_pool_of_its_id(void **state)
{
	struct s5_cidr a = cidr("198.18.0.0", 15), b = cidr("fd53:5357::", 64);
	uint8_t id[S5_POOL_ID_LEN], got[S5_POOL_ID_LEN], v4[4], w4[4];
	struct s5_pool *p = NULL, *q = NULL;
	char name[S5_NAME_MAX + 1];
	struct stat st;
	int fd = -1;

	(void)state;
	assert_int_equal(s5_pool_create_file(&fd, id, &a, &b, 64, 60), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(s5_pool_attach(&p, fd, &a, &b, id), 0);
	s5_pool_id(p, got);
	assert_memory_equal(got, id, sizeof(id));
	assert_int_equal(s5_pool_capacity(p), 64);
	assert_int_equal(s5_pool_attach(&q, fd, &a, &b, id), 0);
	assert_int_equal(s5_pool_lookup(p, "file.example", 1, v4, NULL), 0);
	assert_int_equal(s5_pool_reverse(q, AF_INET, v4, 1, name,
					 sizeof(name)),
			 12);
	assert_string_equal(name, "file.example");
	assert_int_equal(s5_pool_lookup(q, "file.example", 2, w4, NULL), 0);
	assert_memory_equal(v4, w4, 4);
	s5_pool_destroy(p);
	s5_pool_destroy(q);
	close(fd);
}

/* A holder that is alive keeps the lock: a waiter gives up after a few
 * seconds rather than take it (a stopped process is no dead one), and
 * takes it over, repairing, once the holder is gone. */
static void live_holder_is_waited_for_then_dead_one_taken_over(void **state)
{
	uint8_t a[4], d[4];
	int status, sync[2];
	char byte;
	pid_t pid;

	(void)state;
	lookup_ok("kept.example", 1, a, NULL);
	assert_int_equal(pipe(sync), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (s5p_lock(pool))
			_exit(2);
		(void)!write(sync[1], "x", 1);
		for (;;)
			pause();
	}
	assert_int_equal(read(sync[0], &byte, 1), 1);
	assert_int_equal(s5_pool_lookup(pool, "other.example", 2, d, NULL),
			 -ETIMEDOUT);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	lookup_ok("kept.example", 3, d, NULL);
	assert_memory_equal(d, a, 4);
	close(sync[0]);
	close(sync[1]);
}

/* A holder from another PID namespace (its ID means nothing here) is
 * never taken over, even when no process here has its ID. */
static void foreign_holder_is_never_taken_over(void **state)
{
	uint8_t d[4];

	(void)state;
	/* LOCK_FOREIGN (bit 30) with an ID beyond any pid_max. */
	atomic_store(&pool->lock, 0x40000000u | 0x3ffffffeu);
	assert_int_equal(s5_pool_lookup(pool, "x.example", 1, d, NULL),
			 -ETIMEDOUT);
	atomic_store(&pool->lock, 0);
	lookup_ok("x.example", 1, d, NULL);
}

static void table_ref_parses_one_form_only(void **state)
{
	struct s5_table_ref r;
	char out[S5_TABLE_REF_MAX];
	static const char *bad[] = {
		"",
		"0123456789abcdef0123456789abcde:1:100", /* 31 digits */
		"0123456789abcdef0123456789abcdefa:1:100",
		"0123456789ABCDEF0123456789abcdef:1:100", /* upper case */
		"0123456789abcdef0123456789abcdef:0:100", /* no PID 0 */
		"0123456789abcdef0123456789abcdef:01:100",
		"0123456789abcdef0123456789abcdef:+1:100",
		"0123456789abcdef0123456789abcdef:-1:100",
		"0123456789abcdef0123456789abcdef:4194305:100",
		"0123456789abcdef0123456789abcdef:1:1048577",
		"0123456789abcdef0123456789abcdef:1:00",
		"0123456789abcdef0123456789abcdef:1:",
		"0123456789abcdef0123456789abcdef:1",
		"0123456789abcdef0123456789abcdef:1:100 ",
		"0123456789abcdef0123456789abcdef:1:100:",
		"0123456789abcdef0123456789abcdef:99999999999999999999:1",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(s5_table_ref_parse(bad[i], &r), -EINVAL);
	assert_int_equal(s5_table_ref_parse(NULL, &r), -EINVAL);
	assert_int_equal(s5_table_ref_parse(
				 "00ff0123456789abcdef0123456789ab:4194304:0",
				 &r),
			 0);
	assert_int_equal(r.id[0], 0);
	assert_int_equal(r.id[1], 0xff);
	assert_int_equal(r.id[15], 0xab);
	assert_int_equal(r.pid, 4194304);
	assert_int_equal(r.fd, 0);
	r.fd = 1048576;
	s5_table_ref_format(&r, out);
	assert_string_equal(out,
			    "00ff0123456789abcdef0123456789ab:4194304:1048576");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define S(f) cmocka_unit_test_setup_teardown(f, setup_small, teardown)
		T(same_name_gets_the_same_address),
		T(first_name_gets_the_second_address_of_each_range),
		T(either_family_may_be_left_out),
		T(case_and_trailing_dot_do_not_change_the_address),
		T(different_names_get_different_addresses),
		T(reverse_gives_the_name_back_in_both_families),
		T(reverse_refuses_a_buffer_too_small),
		T(unknown_address_in_range_is_enoent),
		T(address_outside_the_range_is_not_in_range),
		T(small_range_caps_the_capacity),
		T(small_ipv6_range_caps_the_capacity_too),
		T(default_capacity_is_kept_for_large_ranges),
		T(create_refuses_bad_ranges),
		T(bad_name_is_einval_and_takes_no_slot),
		S(oldest_slot_is_recycled_after_the_grace_period),
		S(recently_used_slot_stays_when_others_are_recycled),
		S(reverse_lookup_counts_as_a_use),
		S(full_pool_within_grace_is_enospc),
		T(zero_grace_recycles_at_once),
		T(direct_set_remembers_addresses_per_family),
		T(direct_set_drops_the_oldest_when_full),
		T(direct_set_adding_twice_uses_one_entry),
		cmocka_unit_test(shared_pool_is_seen_through_its_descriptor),
		cmocka_unit_test(attach_refuses_what_is_not_such_a_pool),
		cmocka_unit_test(names_are_folded_and_lose_one_trailing_dot),
		cmocka_unit_test(names_that_cannot_be_dns_names_are_einval),
		cmocka_unit_test(labels_hold_at_most_63_bytes),
		cmocka_unit_test(names_hold_at_most_253_bytes),
		T(threads_agree_on_every_name),
		T(forked_child_shares_the_pool),
		T(holder_that_died_leaves_a_usable_pool),
		T(live_holder_is_waited_for_then_dead_one_taken_over),
		T(foreign_holder_is_never_taken_over),
		cmocka_unit_test(shared_pools_have_their_own_ids),
		cmocka_unit_test(table_file_is_a_pool_of_its_id),
		cmocka_unit_test(table_ref_parses_one_form_only),
#undef T
#undef S
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
