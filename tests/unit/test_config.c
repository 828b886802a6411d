/* Unit tests for src/config/config.c: the environment into struct
 * s5_config, the proxy lookup, and the proxy address check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "config/cfg.h"
#include "s5_config.h"

/* ---- a fake environment -------------------------------------------- */

#define ENV_MAX 16

struct fake_env {
	const char *name[ENV_MAX];
	const char *value[ENV_MAX];
	size_t n;
	unsigned lookups;
};

static struct fake_env fenv;
static struct s5_config cfg;

static const char *fake_getenv(const char *name, void *ctx)
{
	struct fake_env *e = ctx;
	size_t i;

	e->lookups++;
	for (i = 0; i < e->n; i++) {
		if (strcmp(e->name[i], name) == 0)
			return e->value[i];
	}
	return NULL;
}

static void set(const char *name, const char *value)
{
	assert_true(fenv.n < ENV_MAX);
	fenv.name[fenv.n] = name;
	fenv.value[fenv.n] = value;
	fenv.n++;
}

static int setup(void **state)
{
	(void)state;
	memset(&fenv, 0, sizeof(fenv));
	memset(&cfg, 0, sizeof(cfg));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	s5_config_free(&cfg);
	return 0;
}

static void load(void)
{
	s5_config_free(&cfg);
	assert_int_equal(s5_config_load_from(&cfg, fake_getenv, &fenv, false),
			 0);
	assert_non_null(memchr(cfg.error, '\0', sizeof(cfg.error)));
}

static void load_ok(void)
{
	load();
	if (!cfg.usable)
		fail_msg("unusable: %s", cfg.error);
	assert_string_equal(cfg.error, "");
}

static void load_bad(const char *error_start)
{
	load();
	assert_false(cfg.usable);
	if (strncmp(cfg.error, error_start, strlen(error_start)) != 0)
		fail_msg("error '%s' does not start with '%s'", cfg.error,
			 error_start);
}

static bool excluded4(const char *ip, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	sin.sin_port = htons(port);
	return s5_exclude_match_addr(&cfg.exclude, (struct sockaddr *)&sin,
				     sizeof(sin));
}

/* ---- loading ---------------------------------------------------------- */

static void proxy_alone_gives_every_default(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "192.0.2.1");
	load_ok();
	assert_string_equal(cfg.proxy[0].url.host, "192.0.2.1");
	assert_int_equal(cfg.proxy[0].url.port, S5_DEFAULT_PORT);
	assert_true(cfg.proxy[0].has4);
	assert_false(cfg.proxy[0].has6);
	assert_false(cfg.proxy[0].is_name);
	assert_int_equal(cfg.proxy[0].addr4.sin_family, AF_INET);
	assert_int_equal(cfg.proxy[0].addr4.sin_port, htons(1080));
	assert_int_equal(cfg.proxy[0].addr4.sin_addr.s_addr, inet_addr("192.0.2.1"));
	assert_false(cfg.hop[0].auth);
	assert_int_equal(cfg.hop[0].user_len, 0);
	assert_int_equal(cfg.timeout_ms, S5_DEFAULT_TIMEOUT_MS);
	assert_int_equal(cfg.log_level, S5LOG_ERROR);
	assert_null(cfg.log_file);
	assert_int_equal(cfg.dns, S5_DNS_REMOTE);
	assert_true(excluded4("127.0.0.1", 80));
	assert_false(excluded4("192.0.2.1", 80));
}

static void every_variable_is_read(void **state)
{
	static const char *const vars[] = {
		"SOCKS5_PROXY",	       "SOCKS5_USER",	     "SOCKS5_PASSWORD",
		"SOCKS5WRAP_NO_PROXY", "SOCKS5WRAP_TIMEOUT", "SOCKS5WRAP_LOG",
		"SOCKS5WRAP_LOG_FILE", "SOCKS5WRAP_DNS",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		set(vars[i], NULL);
	load();
	assert_true(fenv.lookups >= sizeof(vars) / sizeof(vars[0]));
}

static void unset_or_empty_proxy_is_unusable(void **state)
{
	(void)state;
	load_bad("SOCKS5_PROXY is not set");
	assert_string_equal(cfg.error, "SOCKS5_PROXY is not set");
	set("SOCKS5_PROXY", "");
	load_bad("SOCKS5_PROXY is not set");
	/* The rest still holds defaults. */
	assert_int_equal(cfg.timeout_ms, S5_DEFAULT_TIMEOUT_MS);
	assert_true(excluded4("127.0.0.1", 1));
}

static void ipv6_proxy_fills_the_ipv6_address(void **state)
{
	struct in6_addr want;

	(void)state;
	set("SOCKS5_PROXY", "socks5://[2001:db8::7]:9050/");
	load_ok();
	assert_false(cfg.proxy[0].has4);
	assert_true(cfg.proxy[0].has6);
	assert_int_equal(cfg.proxy[0].addr6.sin6_family, AF_INET6);
	assert_int_equal(cfg.proxy[0].addr6.sin6_port, htons(9050));
	inet_pton(AF_INET6, "2001:db8::7", &want);
	assert_memory_equal(&cfg.proxy[0].addr6.sin6_addr, &want, 16);
}

static void proxy_name_waits_for_a_lookup(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "socks5h://proxy.example:1081");
	load_ok();
	assert_true(cfg.proxy[0].is_name);
	assert_false(cfg.proxy[0].has4);
	assert_false(cfg.proxy[0].has6);
	assert_string_equal(cfg.proxy[0].url.host, "proxy.example");
	assert_int_equal(cfg.proxy[0].url.port, 1081);
}

static void bad_proxy_url_error_names_the_variable(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "http://proxy.example");
	load_bad("SOCKS5_PROXY: unsupported scheme 'http'");
	assert_false(cfg.proxy[0].has4 || cfg.proxy[0].has6 || cfg.proxy[0].is_name);
}

static void url_credentials_move_out_of_the_url(void **state)
{
	static const char zero[S5_CRED_MAX + 1];

	(void)state;
	set("SOCKS5_PROXY", "socks5://al%69ce:s%3Acret@10.0.0.1:1");
	load_ok();
	assert_true(cfg.hop[0].auth);
	assert_int_equal(cfg.hop[0].user_len, 5);
	assert_string_equal(cfg.hop[0].user, "alice");
	assert_int_equal(cfg.hop[0].pass_len, 6);
	assert_string_equal(cfg.hop[0].pass, "s:cret");
	assert_memory_equal(cfg.proxy[0].url.user, zero, sizeof(zero));
	assert_memory_equal(cfg.proxy[0].url.pass, zero, sizeof(zero));
}

static void environment_credentials_override_the_url(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "socks5://alice:one@10.0.0.1");
	set("SOCKS5_USER", "bob");
	load_ok();
	assert_string_equal(cfg.hop[0].user, "bob");
	assert_string_equal(cfg.hop[0].pass, "one");

	set("SOCKS5_PASSWORD", "two");
	load_ok();
	assert_string_equal(cfg.hop[0].user, "bob");
	assert_int_equal(cfg.hop[0].pass_len, 3);
	assert_string_equal(cfg.hop[0].pass, "two");
}

static void empty_password_is_allowed(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "socks5://alice:one@10.0.0.1");
	set("SOCKS5_PASSWORD", "");
	load_ok();
	assert_true(cfg.hop[0].auth);
	assert_int_equal(cfg.hop[0].pass_len, 0);
	assert_string_equal(cfg.hop[0].pass, "");
}

static void user_from_environment_alone_turns_auth_on(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5_USER", "carol");
	set("SOCKS5_PASSWORD", "pw");
	load_ok();
	assert_true(cfg.hop[0].auth);
	assert_int_equal(cfg.hop[0].user_len, 5);
	assert_int_equal(cfg.hop[0].pass_len, 2);
}

static void empty_user_is_an_error(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5_USER", "");
	load_bad("SOCKS5_USER is set but empty");
}

static void credentials_of_256_bytes_are_errors(void **state)
{
	char long_cred[257];

	(void)state;
	memset(long_cred, 'S', 256);
	long_cred[256] = '\0';
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5_USER", long_cred);
	load_bad("SOCKS5_USER: longer than 255 bytes");
	assert_null(strstr(cfg.error, "SSSS"));

	fenv.value[1] = "u";
	set("SOCKS5_PASSWORD", long_cred);
	load_bad("SOCKS5_PASSWORD: longer than 255 bytes");
	assert_null(strstr(cfg.error, "SSSS"));

	long_cred[255] = '\0';
	load_ok();
	assert_int_equal(cfg.hop[0].pass_len, 255);
}

static void password_without_a_user_is_an_error(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5_PASSWORD", "secret");
	load_bad("SOCKS5_PASSWORD is set but there is no user name");
	assert_null(strstr(cfg.error, "secret"));
}

static void empty_password_without_a_user_is_harmless(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5_PASSWORD", "");
	load_ok();
	assert_false(cfg.hop[0].auth);
}

static void no_proxy_replaces_the_default_even_when_empty(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5WRAP_NO_PROXY", "");
	load_ok();
	assert_int_equal(cfg.exclude.n_cidrs + cfg.exclude.n_hosts, 0);
	assert_false(excluded4("127.0.0.1", 1));

	fenv.value[1] = "192.0.2.0/24, .corp";
	load_ok();
	assert_true(excluded4("192.0.2.9", 1));
	assert_false(excluded4("127.0.0.1", 1));
	assert_true(s5_exclude_match_name(&cfg.exclude, "x.corp", 0));
}

static void bad_no_proxy_falls_back_to_the_default(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5WRAP_NO_PROXY", "10.0.0.0/40");
	load_bad("SOCKS5WRAP_NO_PROXY: bad entry '10.0.0.0/40'");
	assert_true(excluded4("127.0.0.1", 1));
	assert_false(excluded4("10.0.0.1", 1));
}

static void timeout_is_read_in_seconds(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5WRAP_TIMEOUT", "2.5");
	load_ok();
	assert_int_equal(cfg.timeout_ms, 2500);
	fenv.value[1] = "";
	load_ok();
	assert_int_equal(cfg.timeout_ms, S5_DEFAULT_TIMEOUT_MS);
	fenv.value[1] = "soon";
	load_bad("SOCKS5WRAP_TIMEOUT: 'soon' is not a number of seconds");
	assert_int_equal(cfg.timeout_ms, S5_DEFAULT_TIMEOUT_MS);
}

static void log_level_and_file_are_read(void **state)
{
	static const char path[] = "/tmp/s5.log";

	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5WRAP_LOG", "DEBUG");
	set("SOCKS5WRAP_LOG_FILE", path);
	load_ok();
	assert_int_equal(cfg.log_level, S5LOG_DEBUG);
	assert_ptr_equal(cfg.log_file, path);
	fenv.value[1] = "none";
	fenv.value[2] = "";
	load_ok();
	assert_int_equal(cfg.log_level, S5LOG_NONE);
	assert_null(cfg.log_file);
	fenv.value[1] = "verbose";
	load_bad("SOCKS5WRAP_LOG: 'verbose' is not none, error, warn, info or "
		 "debug");
	assert_int_equal(cfg.log_level, S5LOG_ERROR);
}

static void dns_mode_is_remote_or_local(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5WRAP_DNS", "Local");
	load_ok();
	assert_int_equal(cfg.dns, S5_DNS_LOCAL);
	fenv.value[1] = "remote";
	load_ok();
	assert_int_equal(cfg.dns, S5_DNS_REMOTE);
	fenv.value[1] = "both";
	load_bad("SOCKS5WRAP_DNS: 'both' is not remote or local");
	assert_int_equal(cfg.dns, S5_DNS_REMOTE);
}

static void pipelining_is_off_unless_set_to_1(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	load_ok();
	assert_false(cfg.pipeline);
	set("SOCKS5WRAP_PIPELINE", "1");
	load_ok();
	assert_true(cfg.pipeline);
	fenv.value[1] = "0";
	load_ok();
	assert_false(cfg.pipeline);
	fenv.value[1] = "yes";
	load_bad("SOCKS5WRAP_PIPELINE: 'yes' is not 0 or 1");
}

static void optimistic_data_is_off_unless_set_and_implies_pipelining(
	void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	load_ok();
	assert_false(cfg.optimistic);
	set("SOCKS5WRAP_OPTIMISTIC", "1");
	load_ok();
	assert_true(cfg.optimistic);
	assert_true(cfg.pipeline);
	fenv.value[1] = "0";
	load_ok();
	assert_false(cfg.optimistic);
	assert_false(cfg.pipeline);
	fenv.value[1] = "on";
	load_bad("SOCKS5WRAP_OPTIMISTIC: 'on' is not 0 or 1");
}

static void udp_mode_is_proxy_or_block(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	load_ok();
	assert_int_equal(cfg.udp, S5_UDP_PROXY);
	set("SOCKS5WRAP_UDP", "BLOCK");
	load_ok();
	assert_int_equal(cfg.udp, S5_UDP_BLOCK);
	fenv.value[1] = "proxy";
	load_ok();
	assert_int_equal(cfg.udp, S5_UDP_PROXY);
	fenv.value[1] = "drop";
	load_bad("SOCKS5WRAP_UDP: 'drop' is not proxy or block");
}

static void bind_mode_is_auto_off_or_all(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	load_ok();
	assert_int_equal(cfg.bind, S5_BIND_AUTO);
	set("SOCKS5WRAP_BIND", "off");
	load_ok();
	assert_int_equal(cfg.bind, S5_BIND_OFF);
	fenv.value[1] = "ALL";
	load_ok();
	assert_int_equal(cfg.bind, S5_BIND_ALL);
	fenv.value[1] = "auto";
	load_ok();
	assert_int_equal(cfg.bind, S5_BIND_AUTO);
	fenv.value[1] = "al";
	load_bad("SOCKS5WRAP_BIND: 'al' is not auto, off or all");
	fenv.value[1] = ""; /* empty: unset, as for every variable */
	load_ok();
	assert_int_equal(cfg.bind, S5_BIND_AUTO);
}

static void fake_ranges_default_to_198_18_and_a_unique_local_64(void **state)
{
	static const uint8_t want6[16] = { 0xfd, 0x53, 0x53, 0x57 };

	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	load_ok();
	assert_int_equal(cfg.fake4.family, AF_INET);
	assert_int_equal(cfg.fake4.prefix, 15);
	assert_memory_equal(cfg.fake4.addr, "\xc6\x12\x00\x00", 4);
	assert_int_equal(cfg.fake6.family, AF_INET6);
	assert_int_equal(cfg.fake6.prefix, 64);
	assert_memory_equal(cfg.fake6.addr, want6, 16);
}

static void fake_ranges_can_be_chosen(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5WRAP_FAKE_NET", "100.64.0.0/10");
	set("SOCKS5WRAP_FAKE_NET6", "fd12:3456:789a::/48");
	load_ok();
	assert_int_equal(cfg.fake4.prefix, 10);
	assert_memory_equal(cfg.fake4.addr, "\x64\x40\x00\x00", 4);
	assert_int_equal(cfg.fake6.prefix, 48);
	assert_int_equal(cfg.fake6.addr[5], 0x9a);
}

static void bad_fake_ranges_name_their_variable_and_keep_the_default(
	void **state)
{
	static const char *bad4[] = { "fd00::/64", "10.0.0.0/31", "10.0.0.0/0",
				      "10.0.0.300/8", "ten" };
	static const char *bad6[] = { "10.0.0.0/8", "fd00::/127", "::/0",
				      "fd00::/x" };
	size_t i;

	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5WRAP_FAKE_NET", "");
	for (i = 0; i < sizeof(bad4) / sizeof(bad4[0]); i++) {
		fenv.value[1] = bad4[i];
		load_bad("SOCKS5WRAP_FAKE_NET: '");
		assert_int_equal(cfg.fake4.prefix, 15);
	}
	fenv.name[1] = "SOCKS5WRAP_FAKE_NET6";
	for (i = 0; i < sizeof(bad6) / sizeof(bad6[0]); i++) {
		fenv.value[1] = bad6[i];
		load_bad("SOCKS5WRAP_FAKE_NET6: '");
		assert_int_equal(cfg.fake6.prefix, 64);
	}
}

/* A fake range that covers addresses with a meaning of their own would
 * take their connections for fake ones: refused, with the default kept. */
static void fake_ranges_over_special_addresses_are_refused(void **state)
{
	static const struct {
		const char *var, *value, *error;
	} bad[] = {
		{ "SOCKS5WRAP_FAKE_NET", "127.0.0.0/8",
		  "SOCKS5WRAP_FAKE_NET: 127.0.0.0/8 overlaps loopback "
		  "(127.0.0.0/8)" },
		{ "SOCKS5WRAP_FAKE_NET", "127.9.9.9/16",
		  "SOCKS5WRAP_FAKE_NET: 127.9.0.0/16 overlaps loopback "
		  "(127.0.0.0/8)" },
		{ "SOCKS5WRAP_FAKE_NET", "64.0.0.0/2",
		  "SOCKS5WRAP_FAKE_NET: 64.0.0.0/2 overlaps loopback "
		  "(127.0.0.0/8)" },
		{ "SOCKS5WRAP_FAKE_NET", "0.0.0.0/9",
		  "SOCKS5WRAP_FAKE_NET: 0.0.0.0/9 overlaps the unspecified "
		  "range (0.0.0.0/8)" },
		{ "SOCKS5WRAP_FAKE_NET", "169.254.1.0/24",
		  "SOCKS5WRAP_FAKE_NET: 169.254.1.0/24 overlaps link-local "
		  "(169.254.0.0/16)" },
		{ "SOCKS5WRAP_FAKE_NET", "239.0.0.0/8",
		  "SOCKS5WRAP_FAKE_NET: 239.0.0.0/8 overlaps multicast "
		  "(224.0.0.0/4)" },
		{ "SOCKS5WRAP_FAKE_NET", "255.255.255.0/24",
		  "SOCKS5WRAP_FAKE_NET: 255.255.255.0/24 overlaps broadcast "
		  "(255.255.255.255)" },
		{ "SOCKS5WRAP_FAKE_NET6", "::/64",
		  "SOCKS5WRAP_FAKE_NET6: ::/64 overlaps loopback (::1)" },
		{ "SOCKS5WRAP_FAKE_NET6", "::/126",
		  "SOCKS5WRAP_FAKE_NET6: ::/126 overlaps loopback (::1)" },
		{ "SOCKS5WRAP_FAKE_NET6", "::fffe:0:0/95",
		  "SOCKS5WRAP_FAKE_NET6: ::fffe:0:0/95 overlaps IPv4-mapped "
		  "(::ffff:0:0/96)" },
		{ "SOCKS5WRAP_FAKE_NET6", "fe80::/64",
		  "SOCKS5WRAP_FAKE_NET6: fe80::/64 overlaps link-local "
		  "(fe80::/10)" },
		{ "SOCKS5WRAP_FAKE_NET6", "ff02::/16",
		  "SOCKS5WRAP_FAKE_NET6: ff02::/16 overlaps multicast "
		  "(ff00::/8)" },
		{ "SOCKS5WRAP_FAKE_NET6", "c000::/2",
		  "SOCKS5WRAP_FAKE_NET6: c000::/2 overlaps link-local "
		  "(fe80::/10)" },
	};
	size_t i;

	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("", "");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fenv.name[1] = bad[i].var;
		fenv.value[1] = bad[i].value;
		load_bad(bad[i].error);
		assert_string_equal(cfg.error, bad[i].error);
		/* The default range again: loopback is no fake address. */
		assert_int_equal(cfg.fake4.prefix, 15);
		assert_int_equal(cfg.fake4.addr[0], 198);
		assert_int_equal(cfg.fake6.prefix, 64);
		assert_int_equal(cfg.fake6.addr[0], 0xfd);
	}
}

static void fake_ranges_next_to_special_addresses_are_fine(void **state)
{
	static const char *const good4[] = { "126.0.0.0/8", "128.0.0.0/8",
					     "1.0.0.0/8", "169.253.0.0/16",
					     "208.0.0.0/4", "240.0.0.0/8",
					     "255.255.255.248/30" };
	static const char *const good6[] = { "::2:0/112", "fe00::/9",
					     "fec0::/10", "::fffe:0:0/96",
					     "fd00::/8" };
	size_t i;

	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5WRAP_FAKE_NET", "");
	for (i = 0; i < sizeof(good4) / sizeof(good4[0]); i++) {
		fenv.value[1] = good4[i];
		load_ok();
	}
	fenv.name[1] = "SOCKS5WRAP_FAKE_NET6";
	for (i = 0; i < sizeof(good6) / sizeof(good6[0]); i++) {
		fenv.value[1] = good6[i];
		load_ok();
	}
}

static void fake_range_over_the_proxy_address_is_refused(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.1.2.3:1080");
	set("SOCKS5WRAP_FAKE_NET", "10.0.0.0/8");
	load_bad("SOCKS5WRAP_FAKE_NET: 10.0.0.0/8 overlaps the proxy's "
		 "address (10.1.2.3)");
	assert_int_equal(cfg.fake4.addr[0], 198);

	/* An IPv4-mapped proxy address is the IPv4 one. */
	fenv.value[0] = "[::ffff:10.1.2.3]:1080";
	load_bad("SOCKS5WRAP_FAKE_NET: 10.0.0.0/8 overlaps the proxy's "
		 "address (10.1.2.3)");

	fenv.value[0] = "[fd12::5]";
	fenv.name[1] = "SOCKS5WRAP_FAKE_NET6";
	fenv.value[1] = "fd12::/64";
	load_bad("SOCKS5WRAP_FAKE_NET6: fd12::/64 overlaps the proxy's "
		 "address (fd12::5)");
	assert_int_equal(cfg.fake6.addr[0], 0xfd);
	assert_int_equal(cfg.fake6.addr[1], 0x53);

	/* The default range counts as well. */
	fenv.value[0] = "198.19.0.1";
	fenv.value[1] = "";
	load_bad("SOCKS5WRAP_FAKE_NET: 198.18.0.0/15 overlaps the proxy's "
		 "address (198.19.0.1)");

	fenv.value[0] = "10.1.2.3";
	fenv.name[1] = "SOCKS5WRAP_FAKE_NET";
	fenv.value[1] = "10.2.0.0/16";
	load_ok();
}

static void fake_range_over_an_exclusion_is_refused(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5WRAP_NO_PROXY", "intranet.corp, 100.64.0.0/10");
	set("SOCKS5WRAP_FAKE_NET", "100.100.0.0/16");
	load_bad("SOCKS5WRAP_FAKE_NET: 100.100.0.0/16 overlaps an entry of "
		 "SOCKS5WRAP_NO_PROXY (100.64.0.0/10)");

	/* An entry inside the range, with a port, is no different. */
	fenv.value[1] = "192.0.2.7:25";
	fenv.value[2] = "192.0.2.0/24";
	load_bad("SOCKS5WRAP_FAKE_NET: 192.0.2.0/24 overlaps an entry of "
		 "SOCKS5WRAP_NO_PROXY (192.0.2.7)");

	fenv.value[1] = "[fd12::/48]:443";
	fenv.name[2] = "SOCKS5WRAP_FAKE_NET6";
	fenv.value[2] = "fd12:0:0:1::/64";
	load_bad("SOCKS5WRAP_FAKE_NET6: fd12:0:0:1::/64 overlaps an entry "
		 "of SOCKS5WRAP_NO_PROXY (fd12::/48)");

	/* Neighbours do not overlap; names never do. */
	fenv.value[1] = "100.64.0.0/11, 198.17.255.255, fd12:0:0:2::/64, "
			"198-18-0-1.test";
	load_ok();
	fenv.name[2] = "SOCKS5WRAP_FAKE_NET";
	fenv.value[2] = "100.96.0.0/11";
	load_ok();
}

static void every_overlap_counts_as_one_more_error(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5WRAP_FAKE_NET", "127.0.0.0/8");
	set("SOCKS5WRAP_FAKE_NET6", "fe80::/64");
	load_bad("SOCKS5WRAP_FAKE_NET: 127.0.0.0/8 overlaps loopback "
		 "(127.0.0.0/8), and 1 more");
}

static void first_error_is_kept_and_the_rest_counted(void **state)
{
	(void)state;
	set("SOCKS5WRAP_TIMEOUT", "x");
	set("SOCKS5WRAP_DNS", "x");
	load_bad("SOCKS5_PROXY is not set, and 2 more");
	assert_string_equal(cfg.error, "SOCKS5_PROXY is not set, and 2 more");
}

static void long_first_error_still_shows_the_count(void **state)
{
	char value[300];
	size_t n;

	(void)state;
	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	value[0] = '!';
	set("SOCKS5_PROXY", "10.0.0.1");
	set("SOCKS5WRAP_NO_PROXY", "a.b,a.b,a.b,a.b,a.b,a.b,a.b,a.b,a.b,!");
	set("SOCKS5WRAP_TIMEOUT", value);
	set("SOCKS5WRAP_LOG", value);
	set("SOCKS5WRAP_DNS", value);
	load_bad("SOCKS5WRAP_NO_PROXY: bad entry '!'");
	n = strlen(cfg.error);
	assert_true(n < S5_ERR_MAX);
	assert_string_equal(cfg.error + n - strlen(", and 3 more"),
			    ", and 3 more");
}

static void secure_mode_ignores_the_environment(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "socks5://u:p@10.0.0.1");
	set("SOCKS5WRAP_NO_PROXY", "");
	set("SOCKS5WRAP_TIMEOUT", "1");
	set("SOCKS5WRAP_LOG", "debug");
	set("SOCKS5WRAP_LOG_FILE", "/tmp/x");
	set("SOCKS5WRAP_DNS", "local");
	assert_int_equal(s5_config_load_from(&cfg, fake_getenv, &fenv, true),
			 0);
	assert_int_equal(fenv.lookups, 0);
	assert_false(cfg.usable);
	assert_string_equal(cfg.error,
			    "environment ignored in a setuid/setgid program");
	assert_false(cfg.hop[0].auth);
	assert_false(cfg.proxy[0].has4 || cfg.proxy[0].has6 || cfg.proxy[0].is_name);
	assert_int_equal(cfg.timeout_ms, S5_DEFAULT_TIMEOUT_MS);
	assert_int_equal(cfg.log_level, S5LOG_ERROR);
	assert_null(cfg.log_file);
	assert_int_equal(cfg.dns, S5_DNS_REMOTE);
	assert_true(excluded4("127.0.0.1", 1));
}

static void public_load_reads_the_environment_in_a_normal_program(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "10.0.0.1:2");
	assert_int_equal(s5_config_load(&cfg, fake_getenv, &fenv), 0);
	assert_true(cfg.usable);
	assert_int_equal(cfg.proxy[0].addr4.sin_port, htons(2));
}

static void free_wipes_the_credentials(void **state)
{
	static const char zero[S5_CRED_MAX + 1];

	(void)state;
	set("SOCKS5_PROXY", "socks5://alice:secret@10.0.0.1");
	load_ok();
	s5_config_free(&cfg);
	assert_false(cfg.hop[0].auth);
	assert_int_equal(cfg.hop[0].user_len, 0);
	assert_int_equal(cfg.hop[0].pass_len, 0);
	assert_memory_equal(cfg.hop[0].user, zero, sizeof(zero));
	assert_memory_equal(cfg.hop[0].pass, zero, sizeof(zero));
	assert_null(cfg.exclude.cidrs);
	s5_config_free(&cfg); /* twice is harmless */
}

/* ---- s5_parse_timeout ------------------------------------------------- */

static void timeouts_in_range_parse_to_milliseconds(void **state)
{
	static const struct {
		const char *s;
		int ms;
	} good[] = {
		{ "10", 10000 },  { "2.5", 2500 },	   { "0.25", 250 },
		{ "0.001", 1 },	  { "1.000", 1000 },	   { "007", 7000 },
		{ "86400", 86400000 }, { "86400.000", 86400000 },
		{ "86399.999", 86399999 },
	};
	size_t i;
	int ms;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = -1;
		assert_int_equal(s5_parse_timeout(good[i].s, &ms), 0);
		assert_int_equal(ms, good[i].ms);
	}
}

static void timeouts_out_of_range_or_malformed_are_invalid(void **state)
{
	static const char *const bad[] = {
		"",	   "0",	      "0.0",	 "0.0004", "-1",  "+1",
		"1.",	   ".5",      "1.2345",	 "86400.001", "86401",
		"1e3",	   " 1",      "1 ",	 "1s",	   "1,5", "0x10",
		"99999999999999999999999",	 "1..2",
	};
	size_t i;
	int ms = 42;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (s5_parse_timeout(bad[i], &ms) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	}
	assert_int_equal(s5_parse_timeout(NULL, &ms), -EINVAL);
	assert_int_equal(ms, 42);
}

/* ---- s5_config_resolve_proxy with a fake resolver ---------------------- */

static struct {
	int rc;
	struct addrinfo *res;
	unsigned calls, frees;
	char node[300];
	bool service_null;
	struct addrinfo hints;
} fake;

static struct sockaddr_in fake4[2];
static struct sockaddr_in6 fake6;
static struct sockaddr fake_unix = { .sa_family = AF_UNIX };
static struct addrinfo ai[4];

static int fake_gai(const char *node, const char *service,
		    const struct addrinfo *hints, struct addrinfo **res)
{
	fake.calls++;
	strcpy(fake.node, node);
	fake.service_null = service == NULL;
	fake.hints = *hints;
	if (fake.rc)
		return fake.rc;
	*res = fake.res;
	return 0;
}

static void fake_fai(struct addrinfo *res)
{
	assert_ptr_equal(res, fake.res);
	fake.frees++;
}

/* Answer list: IPv6, IPv4, a second IPv4, then an AF_UNIX oddity. */
static void fake_answers(void)
{
	memset(&fake, 0, sizeof(fake));
	memset(ai, 0, sizeof(ai));
	fake6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::53", &fake6.sin6_addr);
	fake4[0].sin_family = fake4[1].sin_family = AF_INET;
	inet_pton(AF_INET, "198.51.100.1", &fake4[0].sin_addr);
	inet_pton(AF_INET, "198.51.100.2", &fake4[1].sin_addr);
	ai[0] = (struct addrinfo){ .ai_family = AF_INET6,
				   .ai_addr = (struct sockaddr *)&fake6,
				   .ai_addrlen = sizeof(fake6),
				   .ai_next = &ai[1] };
	ai[1] = (struct addrinfo){ .ai_family = AF_INET,
				   .ai_addr = (struct sockaddr *)&fake4[0],
				   .ai_addrlen = sizeof(fake4[0]),
				   .ai_next = &ai[2] };
	ai[2] = (struct addrinfo){ .ai_family = AF_INET,
				   .ai_addr = (struct sockaddr *)&fake4[1],
				   .ai_addrlen = sizeof(fake4[1]),
				   .ai_next = &ai[3] };
	ai[3] = (struct addrinfo){ .ai_family = AF_UNIX,
				   .ai_addr = &fake_unix,
				   .ai_addrlen = sizeof(fake_unix) };
	fake.res = ai;
}

static void proxy_name_lookup_keeps_first_address_of_each_family(void **state)
{
	(void)state;
	fake_answers();
	set("SOCKS5_PROXY", "proxy.example:1081");
	load_ok();
	assert_int_equal(s5_config_resolve_proxy(&cfg, fake_gai, fake_fai), 0);
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.frees, 1);
	assert_string_equal(fake.node, "proxy.example");
	assert_true(fake.service_null);
	assert_int_equal(fake.hints.ai_family, AF_UNSPEC);
	assert_int_equal(fake.hints.ai_socktype, SOCK_STREAM);
	assert_int_equal(fake.hints.ai_flags, 0);
	assert_true(cfg.usable);
	assert_true(cfg.proxy[0].has4);
	assert_true(cfg.proxy[0].has6);
	assert_int_equal(cfg.proxy[0].addr4.sin_addr.s_addr,
			 fake4[0].sin_addr.s_addr);
	assert_int_equal(cfg.proxy[0].addr4.sin_port, htons(1081));
	assert_memory_equal(&cfg.proxy[0].addr6.sin6_addr, &fake6.sin6_addr, 16);
	assert_int_equal(cfg.proxy[0].addr6.sin6_port, htons(1081));

	/* Looked up once: a second call does nothing. */
	assert_int_equal(s5_config_resolve_proxy(&cfg, fake_gai, fake_fai), 0);
	assert_int_equal(fake.calls, 1);
}

static void failed_lookup_makes_config_unusable(void **state)
{
	char want[S5_ERR_MAX];

	(void)state;
	fake_answers();
	fake.rc = EAI_NONAME;
	set("SOCKS5_PROXY", "socks5://u:secret@proxy.example");
	load_ok();
	assert_int_equal(s5_config_resolve_proxy(&cfg, fake_gai, fake_fai),
			 -EHOSTUNREACH);
	assert_int_equal(fake.frees, 0);
	assert_false(cfg.usable);
	strcpy(want, "SOCKS5_PROXY: cannot resolve 'proxy.example': ");
	strcat(want, gai_strerror(EAI_NONAME));
	assert_string_equal(cfg.error, want);
	assert_null(strstr(cfg.error, "secret"));
}

static void lookup_without_inet_addresses_is_a_failure(void **state)
{
	(void)state;
	fake_answers();
	fake.res = &ai[3];
	set("SOCKS5_PROXY", "proxy.example");
	load_ok();
	assert_int_equal(s5_config_resolve_proxy(&cfg, fake_gai, fake_fai),
			 -EHOSTUNREACH);
	assert_int_equal(fake.frees, 1);
	assert_false(cfg.usable);
	assert_string_equal(cfg.error, "SOCKS5_PROXY: cannot resolve "
				       "'proxy.example': no IPv4 or IPv6 "
				       "address");
}

static void numeric_or_unusable_proxy_needs_no_lookup(void **state)
{
	(void)state;
	fake_answers();
	set("SOCKS5_PROXY", "10.0.0.1");
	load_ok();
	assert_int_equal(s5_config_resolve_proxy(&cfg, fake_gai, fake_fai), 0);
	fenv.value[0] = "proxy.example";
	set("SOCKS5WRAP_DNS", "bad");
	load_bad("SOCKS5WRAP_DNS");
	assert_int_equal(s5_config_resolve_proxy(&cfg, fake_gai, fake_fai), 0);
	assert_int_equal(fake.calls, 0);
}

/* The same check as for a numeric proxy, made once its name is looked
 * up: the fake range must not take the proxy's own address. */
static void looked_up_proxy_inside_a_fake_range_is_refused(void **state)
{
	(void)state;
	fake_answers();
	set("SOCKS5_PROXY", "socks5://u:secret@proxy.example");
	set("SOCKS5WRAP_FAKE_NET", "198.51.100.0/24");
	load_ok();
	assert_int_equal(s5_config_resolve_proxy(&cfg, fake_gai, fake_fai),
			 -EINVAL);
	assert_int_equal(fake.frees, 1);
	assert_false(cfg.usable);
	assert_string_equal(cfg.error, "SOCKS5WRAP_FAKE_NET: 198.51.100.0/24 "
				       "overlaps the proxy's address "
				       "(198.51.100.1)");

	fake_answers();
	fenv.name[1] = "SOCKS5WRAP_FAKE_NET6";
	fenv.value[1] = "2001:db8::/64";
	load_ok();
	assert_int_equal(s5_config_resolve_proxy(&cfg, fake_gai, fake_fai),
			 -EINVAL);
	assert_false(cfg.usable);
	assert_string_equal(cfg.error, "SOCKS5WRAP_FAKE_NET6: 2001:db8::/64 "
				       "overlaps the proxy's address "
				       "(2001:db8::53)");

	/* A range next to the proxy's address is fine. */
	fake_answers();
	fenv.name[1] = "SOCKS5WRAP_FAKE_NET";
	fenv.value[1] = "198.51.100.4/30";
	load_ok();
	assert_int_equal(s5_config_resolve_proxy(&cfg, fake_gai, fake_fai), 0);
	assert_true(cfg.usable);
}

static void lookup_needs_a_resolver(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "proxy.example");
	load_ok();
	assert_int_equal(s5_config_resolve_proxy(&cfg, NULL, NULL), -EINVAL);
}

/* ---- s5_config_is_proxy ----------------------------------------------- */

static bool is_proxy(const char *ip, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, ip, &sin.sin_addr) == 1) {
		sin.sin_port = htons(port);
		return s5_config_is_proxy(&cfg, (struct sockaddr *)&sin,
					  sizeof(sin));
	}
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	sin6.sin6_port = htons(port);
	return s5_config_is_proxy(&cfg, (struct sockaddr *)&sin6,
				  sizeof(sin6));
}

static void proxy_is_recognised_by_address_and_port(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(1080) };

	(void)state;
	set("SOCKS5_PROXY", "192.0.2.1");
	load_ok();
	assert_true(is_proxy("192.0.2.1", 1080));
	assert_false(is_proxy("192.0.2.1", 1081));
	assert_false(is_proxy("192.0.2.2", 1080));
	assert_true(is_proxy("::ffff:192.0.2.1", 1080));
	assert_false(is_proxy("::192.0.2.1", 1080));
	sin.sin_addr.s_addr = inet_addr("192.0.2.1");
	assert_false(s5_config_is_proxy(&cfg, (struct sockaddr *)&sin,
					sizeof(sin) - 1));
	assert_false(s5_config_is_proxy(&cfg, NULL, 0));
}

static void ipv6_proxy_is_recognised(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "[2001:db8::1]:9");
	load_ok();
	assert_true(is_proxy("2001:db8::1", 9));
	assert_false(is_proxy("2001:db8::1", 1080));
	assert_false(is_proxy("2001:db8::2", 9));
}

static void looked_up_proxy_is_recognised_in_both_families(void **state)
{
	(void)state;
	fake_answers();
	set("SOCKS5_PROXY", "proxy.example");
	load_ok();
	assert_false(is_proxy("198.51.100.1", 1080));
	assert_int_equal(s5_config_resolve_proxy(&cfg, fake_gai, fake_fai), 0);
	assert_true(is_proxy("198.51.100.1", 1080));
	assert_true(is_proxy("::ffff:198.51.100.1", 1080));
	assert_true(is_proxy("2001:db8::53", 1080));
	assert_false(is_proxy("198.51.100.2", 1080));
}


/* ---- proxy lists -------------------------------------------------------- */

static bool is_excluded6(const char *ip)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = htons(443) };

	assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	return s5_exclude_match_addr(&cfg.exclude, (struct sockaddr *)&sin6,
				     sizeof(sin6));
}

static bool excluded_name(const char *name, uint16_t port)
{
	return s5_exclude_match_name(&cfg.exclude, name, port);
}

static void lists_of_one_to_eight_proxies(void **state)
{
	char list[256] = "", label[32];
	unsigned n, i;
	size_t len;

	(void)state;
	set("SOCKS5_PROXY", list);
	for (n = 1; n <= S5_PROXY_MAX; n++) {
		list[0] = '\0';
		for (i = 0; i < n; i++) {
			len = strlen(list);
			snprintf(list + len, sizeof(list) - len, "%s192.0.2.%u:%u",
				 i ? "," : "", i + 1, 1000 + i);
		}
		load_ok();
		assert_int_equal(cfg.n_proxies, n);
		assert_false(cfg.chain);
		assert_int_equal(cfg.source, S5_SRC_SOCKS5_PROXY);
		assert_string_equal(cfg.source_var, "SOCKS5_PROXY");
		assert_string_equal(cfg.notice, "");
		for (i = 0; i < n; i++) {
			snprintf(label, sizeof(label), "192.0.2.%u:%u", i + 1,
				 1000 + i);
			assert_string_equal(cfg.proxy[i].label, label);
			assert_true(cfg.proxy[i].has4);
			assert_false(cfg.proxy[i].has6);
			assert_false(cfg.proxy[i].is_name);
			assert_int_equal(ntohs(cfg.proxy[i].addr4.sin_port),
					 1000 + i);
			assert_int_equal(cfg.hop[i].addr.atyp, S5_ATYP_IPV4);
			assert_int_equal(cfg.hop[i].addr.u.v4[3], i + 1);
			assert_int_equal(cfg.hop[i].addr.port, 1000 + i);
			assert_false(cfg.hop[i].auth);
			assert_ptr_equal(s5_config_hop(&cfg, &cfg.proxy[i]),
					 &cfg.hop[i]);
		}
	}
}

static void nine_proxies_are_refused(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "192.0.2.1,192.0.2.2,192.0.2.3,192.0.2.4,"
			    "192.0.2.5,192.0.2.6,192.0.2.7,192.0.2.8,"
			    "192.0.2.9");
	load_bad("SOCKS5_PROXY: 9 proxies; at most 8 are taken");
	assert_int_equal(cfg.n_proxies, 0);
	/* Empty entries do not count. */
	fenv.value[0] = "192.0.2.1,,192.0.2.2,192.0.2.3,192.0.2.4, ,"
			"192.0.2.5,192.0.2.6,192.0.2.7,192.0.2.8,";
	load_ok();
	assert_int_equal(cfg.n_proxies, 8);
}

static void blanks_and_empty_entries_are_ignored(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", " ,192.0.2.1 ,, \t,\t[2001:db8::1]:9 , ");
	load_ok();
	assert_int_equal(cfg.n_proxies, 2);
	assert_string_equal(cfg.proxy[0].label, "192.0.2.1:1080");
	assert_string_equal(cfg.proxy[1].label, "[2001:db8::1]:9");
	assert_true(cfg.proxy[1].has6);
	assert_false(cfg.proxy[1].has4);
	assert_int_equal(ntohs(cfg.proxy[1].addr6.sin6_port), 9);
	assert_int_equal(cfg.hop[1].addr.atyp, S5_ATYP_IPV6);
	assert_int_equal(cfg.hop[1].addr.u.v6[0], 0x20);
	assert_int_equal(cfg.hop[1].addr.u.v6[15], 1);

	fenv.value[0] = " , ,\t,";
	load_bad("SOCKS5_PROXY holds no proxy");
	assert_int_equal(cfg.n_proxies, 0);
}

static void list_credentials_per_proxy_and_from_the_environment(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "socks5://alice:pw1@192.0.2.1,socks5://192.0.2.2,"
			    "socks5://bob@192.0.2.3");
	set("SOCKS5_USER", "envuser");
	set("SOCKS5_PASSWORD", "envpass");
	load_ok();
	assert_int_equal(cfg.n_proxies, 3);
	assert_true(cfg.hop[0].auth);
	assert_string_equal(cfg.hop[0].user, "alice");
	assert_string_equal(cfg.hop[0].pass, "pw1");
	/* No user in its URL: the environment fills it in. */
	assert_true(cfg.hop[1].auth);
	assert_string_equal(cfg.hop[1].user, "envuser");
	assert_string_equal(cfg.hop[1].pass, "envpass");
	assert_int_equal(cfg.hop[1].pass_len, 7);
	/* A user of its own: the environment's password is not its. */
	assert_true(cfg.hop[2].auth);
	assert_string_equal(cfg.hop[2].user, "bob");
	assert_int_equal(cfg.hop[2].pass_len, 0);
	/* Only the hops keep credentials. */
	assert_int_equal(cfg.proxy[0].url.user_len, 0);
	assert_string_equal(cfg.proxy[0].url.pass, "");

	/* One proxy: the environment overrides its URL. */
	fenv.value[0] = "socks5://alice:pw1@192.0.2.1";
	load_ok();
	assert_string_equal(cfg.hop[0].user, "envuser");
	assert_string_equal(cfg.hop[0].pass, "envpass");
}

static void list_errors_name_the_entry_and_never_the_password(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "socks5://u:sekrit99@192.0.2.1,"
			    "socks5://u:sekrit99@192.0.2.2:99999,192.0.2.3");
	load_bad("SOCKS5_PROXY: proxy 2 of 3");
	assert_null(strstr(cfg.error, "sekrit99"));
	assert_null(strstr(cfg.notice, "sekrit99"));

	fenv.value[0] = "192.0.2.1, http://u:sekrit99@192.0.2.2";
	load_bad("SOCKS5_PROXY: proxy 2 of 2");
	assert_null(strstr(cfg.error, "sekrit99"));
}

static void proxy_names_are_domain_hops(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "192.0.2.1,Proxy.Example:1081");
	load_ok();
	assert_int_equal(cfg.n_proxies, 2);
	assert_true(cfg.proxy[1].is_name);
	assert_false(cfg.proxy[1].has4 || cfg.proxy[1].has6);
	assert_string_equal(cfg.proxy[1].label, "Proxy.Example:1081");
	assert_int_equal(cfg.hop[1].addr.atyp, S5_ATYP_DOMAIN);
	assert_int_equal(cfg.hop[1].addr.u.dom.name_len, 13);
	assert_string_equal(cfg.hop[1].addr.u.dom.name, "Proxy.Example");
	assert_int_equal(cfg.hop[1].addr.port, 1081);
}

static void chain_is_0_or_1(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "192.0.2.1,192.0.2.2");
	set("SOCKS5WRAP_CHAIN", "1");
	load_ok();
	assert_true(cfg.chain);
	fenv.value[1] = "0";
	load_ok();
	assert_false(cfg.chain);
	fenv.value[1] = "";
	load_ok();
	assert_false(cfg.chain);
	fenv.value[1] = "yes";
	load_bad("SOCKS5WRAP_CHAIN: 'yes' is not 0 or 1");
	assert_false(cfg.chain);
}

static void every_proxy_of_a_list_is_recognised(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "192.0.2.1:1,[2001:db8::2]:2,192.0.2.3:3");
	load_ok();
	assert_true(is_proxy("192.0.2.1", 1));
	assert_true(is_proxy("2001:db8::2", 2));
	assert_true(is_proxy("192.0.2.3", 3));
	assert_true(is_proxy("::ffff:192.0.2.3", 3));
	assert_false(is_proxy("192.0.2.3", 1));
	assert_false(is_proxy("192.0.2.2", 2));
}

/* Names starting with "bad" do not resolve; the others get the fake
 * answers. */
static int list_gai(const char *node, const char *service,
		    const struct addrinfo *hints, struct addrinfo **res)
{
	if (strncmp(node, "bad", 3) == 0) {
		fake.calls++;
		strcpy(fake.node, node);
		return EAI_NONAME;
	}
	return fake_gai(node, service, hints, res);
}

static void failover_list_skips_a_name_that_fails(void **state)
{
	(void)state;
	fake_answers();
	set("SOCKS5_PROXY", "bad.example,good.example:1081,192.0.2.1");
	load_ok();
	assert_int_equal(s5_config_resolve_proxy(&cfg, list_gai, fake_fai), 0);
	assert_int_equal(fake.calls, 2);
	assert_true(cfg.usable);
	assert_string_equal(cfg.error, "");
	assert_true(cfg.proxy[0].unresolved);
	assert_false(cfg.proxy[1].unresolved);
	assert_true(cfg.proxy[1].has4);
	assert_true(cfg.proxy[1].has6);
	assert_true(is_proxy("198.51.100.1", 1081));
	assert_false(cfg.proxy[2].unresolved);
}

static void failover_list_where_every_name_fails(void **state)
{
	(void)state;
	fake_answers();
	set("SOCKS5_PROXY", "bad1.example,bad2.example");
	load_ok();
	assert_true(s5_config_resolve_proxy(&cfg, list_gai, fake_fai) < 0);
	assert_int_equal(fake.calls, 2);
	assert_false(cfg.usable);
	assert_true(cfg.proxy[0].unresolved && cfg.proxy[1].unresolved);
	if (strncmp(cfg.error, "SOCKS5_PROXY: cannot resolve 'bad1.example'",
		    42) != 0)
		fail_msg("error '%s'", cfg.error);
}

static void chain_looks_up_its_first_proxy_only(void **state)
{
	(void)state;
	fake_answers();
	set("SOCKS5_PROXY", "good.example,bad.example,other.example");
	set("SOCKS5WRAP_CHAIN", "1");
	load_ok();
	assert_int_equal(s5_config_resolve_proxy(&cfg, list_gai, fake_fai), 0);
	assert_int_equal(fake.calls, 1);
	assert_string_equal(fake.node, "good.example");
	assert_true(cfg.usable);
	assert_true(cfg.proxy[0].has4);
	assert_false(cfg.proxy[1].has4 || cfg.proxy[1].has6 ||
		     cfg.proxy[1].unresolved);
	assert_int_equal(cfg.hop[1].addr.atyp, S5_ATYP_DOMAIN);

	/* The first of a chain failing leaves nothing to use. */
	fake_answers();
	fenv.value[0] = "bad.example,good.example";
	load_ok();
	assert_true(s5_config_resolve_proxy(&cfg, list_gai, fake_fai) < 0);
	assert_false(cfg.usable);
	assert_non_null(strstr(cfg.error, "'bad.example'"));
}

static void fake_range_over_any_proxy_of_the_list_is_refused(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "192.0.2.1,10.1.2.3:1080");
	set("SOCKS5WRAP_FAKE_NET", "10.0.0.0/8");
	load_bad("SOCKS5WRAP_FAKE_NET: 10.0.0.0/8 overlaps the proxy's "
		 "address (10.1.2.3)");

	/* A looked-up address inside the default range. */
	memset(&fenv, 0, sizeof(fenv));
	fake_answers();
	inet_pton(AF_INET, "198.18.0.9", &fake4[0].sin_addr);
	set("SOCKS5_PROXY", "192.0.2.1,good.example");
	load_ok();
	assert_int_equal(s5_config_resolve_proxy(&cfg, list_gai, fake_fai),
			 -EINVAL);
	assert_false(cfg.usable);
	assert_non_null(strstr(cfg.error, "198.18.0.9"));
}

/* ---- ALL_PROXY and NO_PROXY ------------------------------------------ */

static void all_proxy_is_read_when_socks5_proxy_is_not_set(void **state)
{
	(void)state;
	set("ALL_PROXY", "socks5h://u:pw@192.0.2.7:1081");
	load_ok();
	assert_int_equal(cfg.n_proxies, 1);
	assert_string_equal(cfg.proxy[0].label, "192.0.2.7:1081");
	assert_int_equal(cfg.source, S5_SRC_ALL_PROXY);
	assert_string_equal(cfg.source_var, "ALL_PROXY");
	assert_string_equal(cfg.notice, "using the proxy from ALL_PROXY "
					"(SOCKS5_PROXY is not set)");
	assert_true(cfg.hop[0].auth);
	assert_string_equal(cfg.hop[0].pass, "pw");
	assert_int_equal(cfg.dns, S5_DNS_REMOTE);

	/* socks5:// in any case, a list, and local DNS still possible. */
	fenv.value[0] = "SOCKS5://192.0.2.7, Socks5H://192.0.2.8";
	set("SOCKS5WRAP_DNS", "local");
	set("SOCKS5_PROXY", "");
	load_ok();
	assert_int_equal(cfg.n_proxies, 2);
	assert_int_equal(cfg.dns, S5_DNS_LOCAL);
	assert_int_equal(cfg.source, S5_SRC_ALL_PROXY);
}

static void lower_case_all_proxy_comes_first(void **state)
{
	(void)state;
	set("all_proxy", "socks5://192.0.2.8");
	set("ALL_PROXY", "socks5://192.0.2.9");
	load_ok();
	assert_string_equal(cfg.proxy[0].label, "192.0.2.8:1080");
	assert_string_equal(cfg.source_var, "all_proxy");
	assert_string_equal(cfg.notice, "using the proxy from all_proxy "
					"(SOCKS5_PROXY is not set)");
	fenv.value[0] = "";
	load_ok();
	assert_string_equal(cfg.proxy[0].label, "192.0.2.9:1080");
	assert_string_equal(cfg.source_var, "ALL_PROXY");
	/* An http all_proxy hides ALL_PROXY, as in curl. */
	fenv.value[0] = "http://192.0.2.8:3128";
	load_bad("SOCKS5_PROXY is not set; all_proxy holds");
}

static void all_proxy_errors_name_the_variable_read(void **state)
{
	(void)state;
	set("all_proxy", "socks5://192.0.2.1,socks5://u:sekrit99@[::1");
	load_bad("all_proxy: proxy 2 of 2");
	assert_null(strstr(cfg.error, "sekrit99"));
	assert_int_equal(cfg.source, S5_SRC_ALL_PROXY);
}

static void other_all_proxy_schemes_are_ignored(void **state)
{
	static const char *const values[] = {
		"http://u:sekrit99@192.0.2.1:3128", "socks4://192.0.2.1",
		"HTTPS://sekrit99@proxy.example",
	};
	static const char *const schemes[] = { "http", "socks4", "HTTPS" };
	char want[S5_ERR_MAX];
	size_t i;

	(void)state;
	set("ALL_PROXY", values[0]);
	for (i = 0; i < 3; i++) {
		fenv.value[0] = values[i];
		snprintf(want, sizeof(want),
			 "SOCKS5_PROXY is not set; ALL_PROXY holds a proxy of "
			 "scheme '%s', which socks5wrap cannot use",
			 schemes[i]);
		load_bad(want);
		assert_string_equal(cfg.error, want);
		snprintf(want, sizeof(want),
			 "ALL_PROXY: '%s' is not a socks5:// or socks5h:// "
			 "proxy; ignored", schemes[i]);
		assert_string_equal(cfg.notice, want);
		assert_null(strstr(cfg.notice, "sekrit99"));
		assert_int_equal(cfg.n_proxies, 0);
		assert_int_equal(cfg.source, S5_SRC_NONE);
	}
	/* No scheme at all ("user:pass@host" must not pass as one). */
	fenv.value[0] = "u:sekrit99@192.0.2.1:1080";
	load_bad("SOCKS5_PROXY is not set; ALL_PROXY holds no socks5:// URL");
	assert_string_equal(cfg.notice, "ALL_PROXY: not a socks5:// or "
					"socks5h:// URL; ignored");
	fenv.value[0] = "192.0.2.1:1080";
	load_bad("SOCKS5_PROXY is not set; ALL_PROXY holds no socks5:// URL");
}

static bool all_proxy_read;

static const char *spying_getenv(const char *name, void *ctx)
{
	if (strcmp(name, "ALL_PROXY") == 0 || strcmp(name, "all_proxy") == 0 ||
	    strcmp(name, "NO_PROXY") == 0 || strcmp(name, "no_proxy") == 0)
		all_proxy_read = true;
	return fake_getenv(name, ctx);
}

static void socks5_proxy_wins_and_curl_variables_are_not_read(void **state)
{
	(void)state;
	set("SOCKS5_PROXY", "192.0.2.1");
	set("ALL_PROXY", "socks5://192.0.2.9");
	set("NO_PROXY", "example.com,192.0.2.0/24");
	all_proxy_read = false;
	s5_config_free(&cfg);
	assert_int_equal(s5_config_load_from(&cfg, spying_getenv, &fenv,
					     false), 0);
	assert_true(cfg.usable);
	assert_false(all_proxy_read);
	assert_string_equal(cfg.proxy[0].label, "192.0.2.1:1080");
	assert_int_equal(cfg.source, S5_SRC_SOCKS5_PROXY);
	assert_string_equal(cfg.notice, "");
	assert_false(excluded_name("example.com", 80));
	assert_false(excluded4("192.0.2.5", 80));
	assert_true(excluded4("127.0.0.1", 80));
}

static void no_proxy_adds_to_the_default_exclusions(void **state)
{
	(void)state;
	set("ALL_PROXY", "socks5://192.0.2.9");
	set("NO_PROXY", " example.com, .corp.test *.wild.test\t203.0.113.0/24,"
			"[2001:db8::1] 2001:db8:1::/48,,host.test:8080 "
			"198.51.100.7");
	load_ok();
	assert_true(excluded_name("example.com", 0));
	assert_true(excluded_name("www.example.com", 443));
	assert_true(excluded_name("WWW.Example.COM.", 443));
	assert_false(excluded_name("notexample.com", 443));
	assert_true(excluded_name("corp.test", 0));
	assert_true(excluded_name("a.b.corp.test", 0));
	assert_true(excluded_name("wild.test", 0));
	assert_true(excluded_name("x.wild.test", 0));
	assert_true(excluded_name("host.test", 8080));
	assert_true(excluded_name("sub.host.test", 8080));
	assert_false(excluded_name("host.test", 80));
	assert_true(excluded4("203.0.113.200", 1));
	assert_true(excluded4("198.51.100.7", 1));
	assert_false(excluded4("198.51.100.8", 1));
	assert_false(excluded4("192.0.2.1", 1));
	assert_false(excluded_name("other.test", 0));
	/* The default stays: loopback is never proxied. */
	assert_true(excluded4("127.0.0.1", 1));
	assert_true(is_excluded6("::1"));
	assert_true(is_excluded6("2001:db8::1"));
	assert_true(is_excluded6("2001:db8:1:2::3"));
	assert_false(is_excluded6("2001:db8::2"));
	assert_false(cfg.exclude.all);
	assert_string_equal(cfg.notice, "using the proxy from ALL_PROXY "
					"(SOCKS5_PROXY is not set)");
}

static void lower_case_no_proxy_comes_first(void **state)
{
	(void)state;
	set("ALL_PROXY", "socks5://192.0.2.9");
	set("no_proxy", "lower.test");
	set("NO_PROXY", "upper.test");
	load_ok();
	assert_true(excluded_name("lower.test", 0));
	assert_false(excluded_name("upper.test", 0));
	fenv.value[1] = "";
	load_ok();
	assert_false(excluded_name("lower.test", 0));
	assert_true(excluded_name("upper.test", 0));
}

static void no_proxy_star_sends_everything_direct(void **state)
{
	struct s5_exclude ex = { .all = true };
	struct sockaddr_in sin = { .sin_family = AF_INET };

	(void)state;
	set("ALL_PROXY", "socks5://192.0.2.9");
	set("NO_PROXY", "example.com, *");
	load_ok();
	assert_true(cfg.exclude.all);
	assert_true(excluded4("192.0.2.200", 80));
	assert_true(is_excluded6("2001:db8::99"));
	assert_true(excluded_name("anything.test", 0));
	/* "*" inside a name is no such entry. */
	fenv.value[1] = "*example.com";
	load_ok();
	assert_false(cfg.exclude.all);
	assert_false(excluded_name("anything.test", 0));

	assert_true(s5_exclude_match_name(&ex, "x.test", 80));
	assert_true(s5_exclude_match_addr(&ex, (struct sockaddr *)&sin,
					  sizeof(sin)));
	/* Not a socket address at all: still no. */
	assert_false(s5_exclude_match_addr(&ex, (struct sockaddr *)&sin, 2));
}

static void bad_no_proxy_entries_are_skipped_with_a_notice(void **state)
{
	(void)state;
	set("ALL_PROXY", "socks5://192.0.2.9");
	set("NO_PROXY", "good.test,bad_name!,10.0.0.0/99 host.test:0");
	load_ok();
	assert_true(excluded_name("good.test", 0));
	assert_false(excluded4("10.0.0.1", 1));
	assert_true(excluded4("127.0.0.1", 1));
	if (!strstr(cfg.notice, "skipped"))
		fail_msg("notice '%s'", cfg.notice);
	assert_non_null(strstr(cfg.notice,
			       "NO_PROXY: skipped what does not parse, first "
			       "'bad_name!' (3 entries)"));
}

static void fake_range_over_a_no_proxy_entry_names_that_variable(void **state)
{
	(void)state;
	set("ALL_PROXY", "socks5://192.0.2.9");
	set("no_proxy", "example.com 198.19.0.0/16");
	load_bad("SOCKS5WRAP_FAKE_NET: 198.18.0.0/15 overlaps an entry of "
		 "no_proxy (198.19.0.0/16)");
	assert_string_equal(cfg.exclude_var, "no_proxy");
}

static void socks5wrap_no_proxy_alone_decides(void **state)
{
	(void)state;
	set("ALL_PROXY", "socks5://192.0.2.9");
	set("NO_PROXY", "example.com,*");
	set("SOCKS5WRAP_NO_PROXY", "10.0.0.0/8");
	load_ok();
	assert_false(cfg.exclude.all);
	assert_false(excluded_name("example.com", 0));
	assert_true(excluded4("10.1.1.1", 1));
	assert_false(excluded4("127.0.0.1", 1));
	/* Even empty. */
	fenv.value[2] = "";
	load_ok();
	assert_false(excluded_name("example.com", 0));
	assert_false(cfg.exclude.all);
}

static void conflicting_proxy_variables(void **state)
{
	(void)state;
	/* An empty SOCKS5_PROXY lets ALL_PROXY and NO_PROXY in. */
	set("SOCKS5_PROXY", "");
	set("ALL_PROXY", "socks5://192.0.2.9");
	set("no_proxy", "*");
	set("NO_PROXY", "example.com");
	load_ok();
	assert_int_equal(cfg.source, S5_SRC_ALL_PROXY);
	assert_true(cfg.exclude.all);
	/* A bad SOCKS5_PROXY does not fall back to ALL_PROXY. */
	fenv.value[0] = "http://192.0.2.1";
	load_bad("SOCKS5_PROXY: unsupported scheme 'http'");
	assert_int_equal(cfg.source, S5_SRC_SOCKS5_PROXY);
	assert_false(cfg.exclude.all);
	/* An ignored ALL_PROXY reads no NO_PROXY either. */
	fenv.value[0] = "";
	fenv.value[1] = "http://192.0.2.1";
	load_bad("SOCKS5_PROXY is not set; ALL_PROXY holds");
	assert_false(cfg.exclude.all);
	assert_true(excluded4("127.0.0.1", 1));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(proxy_alone_gives_every_default),
		T(every_variable_is_read),
		T(unset_or_empty_proxy_is_unusable),
		T(ipv6_proxy_fills_the_ipv6_address),
		T(proxy_name_waits_for_a_lookup),
		T(bad_proxy_url_error_names_the_variable),
		T(url_credentials_move_out_of_the_url),
		T(environment_credentials_override_the_url),
		T(empty_password_is_allowed),
		T(user_from_environment_alone_turns_auth_on),
		T(empty_user_is_an_error),
		T(credentials_of_256_bytes_are_errors),
		T(password_without_a_user_is_an_error),
		T(empty_password_without_a_user_is_harmless),
		T(no_proxy_replaces_the_default_even_when_empty),
		T(bad_no_proxy_falls_back_to_the_default),
		T(timeout_is_read_in_seconds),
		T(log_level_and_file_are_read),
		T(dns_mode_is_remote_or_local),
		T(udp_mode_is_proxy_or_block),
		T(bind_mode_is_auto_off_or_all),
		T(pipelining_is_off_unless_set_to_1),
		T(optimistic_data_is_off_unless_set_and_implies_pipelining),
		T(fake_ranges_default_to_198_18_and_a_unique_local_64),
		T(fake_ranges_can_be_chosen),
		T(bad_fake_ranges_name_their_variable_and_keep_the_default),
		T(fake_ranges_over_special_addresses_are_refused),
		T(fake_ranges_next_to_special_addresses_are_fine),
		T(fake_range_over_the_proxy_address_is_refused),
		T(fake_range_over_an_exclusion_is_refused),
		T(every_overlap_counts_as_one_more_error),
		T(first_error_is_kept_and_the_rest_counted),
		T(long_first_error_still_shows_the_count),
		T(secure_mode_ignores_the_environment),
		T(public_load_reads_the_environment_in_a_normal_program),
		T(free_wipes_the_credentials),
		T(timeouts_in_range_parse_to_milliseconds),
		T(timeouts_out_of_range_or_malformed_are_invalid),
		T(proxy_name_lookup_keeps_first_address_of_each_family),
		T(failed_lookup_makes_config_unusable),
		T(lookup_without_inet_addresses_is_a_failure),
		T(numeric_or_unusable_proxy_needs_no_lookup),
		T(looked_up_proxy_inside_a_fake_range_is_refused),
		T(lookup_needs_a_resolver),
		T(proxy_is_recognised_by_address_and_port),
		T(ipv6_proxy_is_recognised),
		T(looked_up_proxy_is_recognised_in_both_families),
		T(lists_of_one_to_eight_proxies),
		T(nine_proxies_are_refused),
		T(blanks_and_empty_entries_are_ignored),
		T(list_credentials_per_proxy_and_from_the_environment),
		T(list_errors_name_the_entry_and_never_the_password),
		T(proxy_names_are_domain_hops),
		T(chain_is_0_or_1),
		T(every_proxy_of_a_list_is_recognised),
		T(failover_list_skips_a_name_that_fails),
		T(failover_list_where_every_name_fails),
		T(chain_looks_up_its_first_proxy_only),
		T(fake_range_over_any_proxy_of_the_list_is_refused),
		T(all_proxy_is_read_when_socks5_proxy_is_not_set),
		T(lower_case_all_proxy_comes_first),
		T(all_proxy_errors_name_the_variable_read),
		T(other_all_proxy_schemes_are_ignored),
		T(socks5_proxy_wins_and_curl_variables_are_not_read),
		T(no_proxy_adds_to_the_default_exclusions),
		T(lower_case_no_proxy_comes_first),
		T(no_proxy_star_sends_everything_direct),
		T(bad_no_proxy_entries_are_skipped_with_a_notice),
		T(fake_range_over_a_no_proxy_entry_names_that_variable),
		T(socks5wrap_no_proxy_alone_decides),
		T(conflicting_proxy_variables),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
