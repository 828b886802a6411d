/* Command line of the launcher: getopt_long, early checks of each value
 * (so the message names the option rather than the variable), and the
 * export of the values as the environment the library reads.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s5_config.h"
#include "launcher.h"

enum {
	OPT_CHECK = 256,
	OPT_VERSION,
	OPT_LOG_FILE,
	OPT_DNS,
	OPT_UDP,
	OPT_BIND,
	OPT_PIPELINE,
	OPT_OPTIMISTIC,
	OPT_SUPERVISE,
	OPT_NO_SUPERVISE,
	OPT_CHAIN,
	OPT_NO_CHAIN,
};

/* '+' stops at the first non-option: options after PROGRAM are its own.
 * The leading ':' makes getopt report a missing value apart from an
 * unknown option, and opterr = 0 lets us word both messages. */
static const char short_opts[] = "+:p:u:n:t:vqh";

static const struct option long_opts[] = {
	{ "proxy", required_argument, NULL, 'p' },
	{ "user", required_argument, NULL, 'u' },
	{ "no-proxy", required_argument, NULL, 'n' },
	{ "timeout", required_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "dns", required_argument, NULL, OPT_DNS },
	{ "udp", required_argument, NULL, OPT_UDP },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "pipeline", no_argument, NULL, OPT_PIPELINE },
	{ "optimistic", no_argument, NULL, OPT_OPTIMISTIC },
	{ "supervise", no_argument, NULL, OPT_SUPERVISE },
	{ "no-supervise", no_argument, NULL, OPT_NO_SUPERVISE },
	{ "chain", no_argument, NULL, OPT_CHAIN },
	{ "no-chain", no_argument, NULL, OPT_NO_CHAIN },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
	"Usage: socks5wrap [OPTION]... [--] PROGRAM [ARG]...\n"
	"       socks5wrap [OPTION]... --check\n";

static const char help_text[] =
	"\nRun PROGRAM with its TCP connections, UDP datagrams and host name\n"
	"lookups sent through a SOCKS5 proxy.\n"
	"\n"
	"  -p, --proxy=URL         the proxy: host[:port], [v6addr][:port] or\n"
	"                          socks5://[user@]host[:port]; repeat it or\n"
	"                          give a comma-separated list for several\n"
	"                          (at most 8, in this order): each new\n"
	"                          connection takes the first that answers\n"
	"                          (SOCKS5_PROXY)\n"
	"      --chain             go through every proxy of the list in\n"
	"                          turn, the last one reaching the target;\n"
	"                          UDP is refused (SOCKS5WRAP_CHAIN=1)\n"
	"      --no-chain          failover, the default (SOCKS5WRAP_CHAIN=0)\n"
	"  -u, --user=USER         user name for the proxy (SOCKS5_USER)\n"
	"  -n, --no-proxy=LIST     addresses, networks and names to reach\n"
	"                          directly, comma-separated\n"
	"                          (SOCKS5WRAP_NO_PROXY)\n"
	"  -t, --timeout=SECONDS   proxy handshake timeout (SOCKS5WRAP_TIMEOUT)\n"
	"      --dns=remote|local  resolve names at the proxy (the default) or\n"
	"                          here (SOCKS5WRAP_DNS)\n"
	"      --udp=proxy|block   UDP through the proxy's relay (the default)\n"
	"                          or refused (SOCKS5WRAP_UDP)\n"
	"      --bind=auto|off|all when listen() asks the proxy to listen\n"
	"                          for a peer instead (SOCKS5 BIND, active\n"
	"                          FTP): auto (the default) for ephemeral\n"
	"                          ports next to a proxied connection, off\n"
	"                          never, all for every TCP listener\n"
	"                          (SOCKS5WRAP_BIND)\n"
	"      --pipeline          send greeting, authentication and request\n"
	"                          in one write: one round trip less; not every\n"
	"                          proxy accepts it (SOCKS5WRAP_PIPELINE=1)\n"
	"      --optimistic        connect() returns once the request left;\n"
	"                          the program's first data follows at once\n"
	"                          and a refusal shows on the first read or\n"
	"                          write; implies --pipeline\n"
	"                          (SOCKS5WRAP_OPTIMISTIC=1)\n"
	"      --supervise         also catch system calls made without libc\n"
	"                          (a seccomp supervisor): always; the default\n"
	"                          does so for static and Go programs only\n"
	"                          (SOCKS5WRAP_SUPERVISE=on)\n"
	"      --no-supervise      never: static and Go programs then bypass\n"
	"                          the proxy (SOCKS5WRAP_SUPERVISE=off)\n"
	"  -v, --verbose           log what the library does; twice: debug\n"
	"  -q, --quiet             the library logs nothing, not even errors\n"
	"      --log-file=FILE     library log lines go to FILE, not stderr\n"
	"                          (SOCKS5WRAP_LOG_FILE)\n"
	"      --check             connect to each proxy, authenticate, report;\n"
	"                          for a chain, also the whole chain\n"
	"  -h, --help              show this help and exit\n"
	"      --version           show the version and exit\n"
	"\n"
	"An option overrides the environment variable named after it.\n"
	"Pass a password in the SOCKS5_PASSWORD environment variable, not on\n"
	"the command line: other users can read command lines with ps(1).\n"
	"\n"
	"Exit status: PROGRAM's own, or 125 when socks5wrap itself fails,\n"
	"126 when PROGRAM cannot be executed, 127 when it is not found.\n"
	"--check exits 0 when a proxy of a failover list accepted us (the\n"
	"whole chain with --chain), 1 when not.\n";

static void print_usage_hint(void)
{
	fputs(usage_text, stderr);
	fputs("Try 'socks5wrap --help' for more information.\n", stderr);
}

/* The name the user wrote, for messages: "--proxy" or "-p". */
static const char *opt_name(int c, int longindex)
{
	static char buf[32];

	if (longindex >= 0)
		snprintf(buf, sizeof(buf), "--%s", long_opts[longindex].name);
	else
		snprintf(buf, sizeof(buf), "-%c", c);
	return buf;
}

/* The parsers' messages start with the variable they read ("SOCKS5_PROXY:
 * ..."); after the option's name that would say the same thing twice. */
static const char *without_var(const char *err, const char *var)
{
	size_t n = strlen(var);

	if (strncmp(err, var, n) == 0 && strncmp(err + n, ": ", 2) == 0)
		return err + n + 2;
	return err;
}

static int check_one_proxy(const char *name, const char *v, bool *warned)
{
	struct s5_url url;
	char err[S5_ERR_MAX];
	bool has_pass;

	if (s5_url_parse(v, &url, err, sizeof(err)) < 0) {
		explicit_bzero(&url, sizeof(url));
		fprintf(stderr, "socks5wrap: %s: %s\n", name,
			without_var(err, "SOCKS5_PROXY"));
		return S5L_EXIT_OWN;
	}
	has_pass = url.has_pass;
	explicit_bzero(&url, sizeof(url));
	if (has_pass && !*warned) {
		*warned = true;
		fprintf(stderr,
			"socks5wrap: warning: the %s URL holds a password, which "
			"other users can see in the process list; pass it in "
			"SOCKS5_PASSWORD instead\n", name);
	}
	return 0;
}

/* Proxies given so far, over every -p. */
static unsigned n_proxies;

/* One -p value: a URL or a comma-separated list of them (blanks around
 * entries and empty entries ignored, as SOCKS5_PROXY reads it). Each
 * entry is checked here so that the message names the option. */
static int check_proxy(const char *name, const char *v, bool *warned)
{
	const char *e;
	unsigned here = 0;
	int rc;

	for (;;) {
		size_t n;

		while (*v == ' ' || *v == '\t')
			v++;
		e = strchr(v, ',');
		if (!e)
			e = v + strlen(v);
		n = (size_t)(e - v);
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n > 0) {
			char *one = strndup(v, n);

			if (!one) {
				fprintf(stderr, "socks5wrap: out of memory\n");
				return S5L_EXIT_OWN;
			}
			rc = check_one_proxy(name, one, warned);
			explicit_bzero(one, n);
			free(one);
			if (rc)
				return rc;
			here++;
			if (++n_proxies > S5_PROXY_MAX) {
				fprintf(stderr,
					"socks5wrap: %s: more than %d proxies "
					"in all\n", name, S5_PROXY_MAX);
				return S5L_EXIT_OWN;
			}
		}
		if (!*e)
			break;
		v = e + 1;
	}
	if (here == 0) {
		fprintf(stderr, "socks5wrap: %s: no proxy, only commas and "
			"blanks\n", name);
		return S5L_EXIT_OWN;
	}
	return 0;
}

/* Appends v to the list of -p values: "a" then "a,b". */
static int add_proxy(struct s5l_opts *o, const char *v)
{
	size_t old = o->proxy ? strlen(o->proxy) : 0;
	char *n;

	if (!o->proxy) {
		o->proxy = v;
		return 0;
	}
	n = malloc(old + 1 + strlen(v) + 1);
	if (!n) {
		fprintf(stderr, "socks5wrap: out of memory\n");
		return S5L_EXIT_OWN;
	}
	memcpy(n, o->proxy, old);
	n[old] = ',';
	strcpy(n + old + 1, v);
	if (o->proxy_joined) {
		explicit_bzero(o->proxy_joined, old);
		free(o->proxy_joined);
	}
	o->proxy_joined = n;
	o->proxy = n;
	return 0;
}

static int check_user(const char *name, const char *v)
{
	size_t len = strlen(v);

	/* RFC 1929: ULEN is one octet and must not be 0. */
	if (len == 0 || len > S5_CRED_MAX) {
		fprintf(stderr,
			"socks5wrap: %s: a user name must be 1 to %d bytes\n",
			name, S5_CRED_MAX);
		return S5L_EXIT_OWN;
	}
	return 0;
}

static int check_no_proxy(const char *name, const char *v)
{
	struct s5_exclude ex;
	char err[S5_ERR_MAX];
	int rc = s5_exclude_parse(v, &ex, err, sizeof(err));

	if (rc == -ENOMEM) {
		fprintf(stderr, "socks5wrap: out of memory\n");
		return S5L_EXIT_OWN;
	}
	if (rc < 0) {
		fprintf(stderr, "socks5wrap: %s: %s\n", name,
			without_var(err, "SOCKS5WRAP_NO_PROXY"));
		return S5L_EXIT_OWN;
	}
	s5_exclude_free(&ex);
	return 0;
}

static int check_timeout(const char *name, const char *v)
{
	int ms;

	if (s5_parse_timeout(v, &ms) < 0) {
		fprintf(stderr,
			"socks5wrap: %s: '%s' is not a number of seconds "
			"(more than 0, at most 86400, like 10 or 2.5)\n",
			name, v);
		return S5L_EXIT_OWN;
	}
	return 0;
}

/* A value that must be one of two words. */
/* v must be one of a, b and (unless NULL) c. */
static int check_choice(const char *name, const char *v, const char *a,
			const char *b, const char *c)
{
	if (strcmp(v, a) == 0 || strcmp(v, b) == 0 ||
	    (c != NULL && strcmp(v, c) == 0))
		return 0;
	if (c != NULL)
		fprintf(stderr,
			"socks5wrap: %s: must be '%s', '%s' or '%s', not "
			"'%s'\n",
			name, a, b, c, v);
	else
		fprintf(stderr,
			"socks5wrap: %s: must be '%s' or '%s', not '%s'\n",
			name, a, b, v);
	return S5L_EXIT_OWN;
}

static int check_log_file(const char *name, const char *v)
{
	if (*v == '\0') {
		fprintf(stderr, "socks5wrap: %s: empty file name\n", name);
		return S5L_EXIT_OWN;
	}
	return 0;
}

/* Stores the value of one option that takes one, after checking it. */
static int take_value(struct s5l_opts *o, int c, const char *name,
		      const char *v, bool *pass_warned)
{
	switch (c) {
	case 'p': {
		int rc = check_proxy(name, v, pass_warned);

		return rc ? rc : add_proxy(o, v);
	}
	case 'u':
		o->user = v;
		return check_user(name, v);
	case 'n':
		o->no_proxy = v;
		return check_no_proxy(name, v);
	case 't':
		o->timeout = v;
		return check_timeout(name, v);
	case OPT_DNS:
		o->dns = v;
		return check_choice(name, v, "remote", "local", NULL);
	case OPT_UDP:
		o->udp = v;
		return check_choice(name, v, "proxy", "block", NULL);
	case OPT_BIND:
		o->bind = v;
		return check_choice(name, v, "auto", "off", "all");
	default: /* OPT_LOG_FILE */
		o->log_file = v;
		return check_log_file(name, v);
	}
}

/* True when v is what one of our options returns. */
static bool known_value(int v)
{
	const struct option *o;

	for (o = long_opts; o->name; o++)
		if (o->val == v)
			return true;
	return false;
}

/* Message for what getopt refused. glibc and musl leave longindex unset
 * here and put the option's letter in optopt even for a long option, so:
 * - a missing value: the word is argv[optind - 1], as getopt has stepped
 *   past it (a short option lacking its value ended argv; musl then
 *   steps one further, past the end of argv);
 * - '?' with an unknown letter: a short option, maybe inside a word
 *   ("-vZq", where optind has not moved yet), so name only the letter;
 * - '?' with a known value: a long option given a value it does not take;
 * - '?' with optopt 0: an unknown or ambiguous long option. */
static int bad_option(int c, int argc, char **argv)
{
	const char *word = argv[(optind > argc ? argc : optind) - 1];
	bool is_long = strncmp(word, "--", 2) == 0;

	if (c == ':' && is_long)
		fprintf(stderr, "socks5wrap: option needs a value: %s\n", word);
	else if (c == ':')
		fprintf(stderr, "socks5wrap: option needs a value: -%c\n",
			optopt);
	else if (optopt != 0 && !known_value(optopt))
		fprintf(stderr, "socks5wrap: unknown option: -%c\n", optopt);
	else if (optopt != 0) /* "--help=x": a known option, given a value */
		fprintf(stderr, "socks5wrap: option takes no value: %s\n",
			word);
	else
		fprintf(stderr, "socks5wrap: unknown or ambiguous option: %s\n",
			word);
	print_usage_hint();
	return S5L_EXIT_OWN;
}

/* Log level from -v / -q, then PROGRAM or --check, exactly one of them. */
static int finish(struct s5l_opts *o, int argc, char **argv, int verbose,
		  bool quiet)
{
	if (verbose > 0 && quiet) {
		fprintf(stderr, "socks5wrap: -v and -q cannot be combined\n");
		return S5L_EXIT_OWN;
	}
	if (quiet)
		o->log_level = "none";
	else if (verbose == 1)
		o->log_level = "info";
	else if (verbose > 1)
		o->log_level = "debug";

	if (optind < argc)
		o->prog_argv = argv + optind;
	if (o->check && o->prog_argv) {
		fprintf(stderr, "socks5wrap: --check runs no PROGRAM\n");
		print_usage_hint();
		return S5L_EXIT_OWN;
	}
	if (!o->check && !o->prog_argv) {
		fprintf(stderr, "socks5wrap: no PROGRAM given\n");
		print_usage_hint();
		return S5L_EXIT_OWN;
	}
	return -1;
}

int s5l_parse_opts(int argc, char **argv, struct s5l_opts *o)
{
	bool pass_warned = false, quiet = false;
	int verbose = 0;

	memset(o, 0, sizeof(*o));
	n_proxies = 0;
	opterr = 0;
	for (;;) {
		int longindex = -1, rc;
		int c = getopt_long(argc, argv, short_opts, long_opts,
				    &longindex);

		if (c == -1)
			break;
		switch (c) {
		case 'v':
			verbose++;
			break;
		case 'q':
			quiet = true;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		case OPT_PIPELINE:
			o->pipeline = "1";
			break;
		case OPT_OPTIMISTIC:
			o->optimistic = "1";
			break;
		case OPT_SUPERVISE:
			o->supervise = "on";
			break;
		case OPT_NO_SUPERVISE:
			o->supervise = "off";
			break;
		case OPT_CHAIN:
			o->chain = "1";
			break;
		case OPT_NO_CHAIN:
			o->chain = "0";
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			return 0;
		case OPT_VERSION:
			printf("socks5wrap %s\n", S5_VERSION_STR);
			return 0;
		case '?':
		case ':':
			return bad_option(c, argc, argv);
		default:
			rc = take_value(o, c, opt_name(c, longindex), optarg,
					&pass_warned);
			if (rc)
				return rc;
		}
	}
	return finish(o, argc, argv, verbose, quiet);
}

static int export_one(const char *var, const char *value)
{
	if (!value)
		return 0;
	if (setenv(var, value, 1) < 0) {
		fprintf(stderr, "socks5wrap: cannot set %s: %s\n", var,
			s5l_strerror(errno));
		return S5L_EXIT_OWN;
	}
	return 0;
}

int s5l_export_opts(const struct s5l_opts *o)
{
	const struct {
		const char *var, *value;
	} map[] = {
		{ "SOCKS5_PROXY", o->proxy },
		{ "SOCKS5_USER", o->user },
		{ "SOCKS5WRAP_NO_PROXY", o->no_proxy },
		{ "SOCKS5WRAP_TIMEOUT", o->timeout },
		{ "SOCKS5WRAP_LOG", o->log_level },
		{ "SOCKS5WRAP_LOG_FILE", o->log_file },
		{ "SOCKS5WRAP_DNS", o->dns },
		{ "SOCKS5WRAP_UDP", o->udp },
		{ "SOCKS5WRAP_BIND", o->bind },
		{ "SOCKS5WRAP_PIPELINE", o->pipeline },
		{ "SOCKS5WRAP_OPTIMISTIC", o->optimistic },
		{ "SOCKS5WRAP_SUPERVISE", o->supervise },
		{ "SOCKS5WRAP_CHAIN", o->chain },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		int rc = export_one(map[i].var, map[i].value);

		if (rc)
			return rc;
	}
	return 0;
}
