/* libFuzzer target for the launcher's command line (s5l_parse_opts).
 *
 * Input: the words after "socks5wrap", separated by NUL bytes (at most
 * MAX_WORDS of them), each copied into an allocation of its own size so
 * that ASan sees a read past any word's end. Beyond "no crash":
 *  - the result is -1 (go on), 0 (after --help or --version, with text on
 *    stdout) or 125 (with a "socks5wrap: " message on stderr only);
 *  - on -1, exactly one of --check and PROGRAM; PROGRAM is a tail of argv;
 *    every value points into the word it came from and passed the check
 *    the parser makes for it; stdout is empty;
 *  - stderr holds nothing but the warning about a password in the URL
 *    unless the result is 125;
 *  - argv is left as it was: '+' in the option string means getopt never
 *    permutes it, and PROGRAM's own options depend on that.
 *
 * The parser prints with stdio. glibc's stdout and stderr are ordinary
 * variables that may be assigned (the glibc manual, "Standard Streams"),
 * so for each call they point at memory streams. libFuzzer kept its own
 * copy of stderr from start-up, and the sanitizers write to descriptor 2,
 * so their reports are not lost.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s5_config.h"
#include "../../src/launcher/launcher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_WORDS 32

struct text {
	FILE *f;
	char *buf;
	size_t len;
};

static void text_open(struct text *t)
{
	t->buf = NULL;
	t->len = 0;
	t->f = open_memstream(&t->buf, &t->len);
	if (!t->f)
		abort();
}

static void text_close(struct text *t)
{
	if (fclose(t->f) != 0)
		abort();
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Nothing, or the warning about a password in the URL, which comes as
 * soon as -p is read, so also before --help or --version. */
static bool warnings_only(const struct text *t)
{
	return t->len == 0 || starts(t->buf, "socks5wrap: warning: ");
}

/* v is NULL, or a tail of one of the words (after "--opt=" or "-pVALUE",
 * or the whole next word). */
static bool in_argv(const char *v, char *const *argv, int argc)
{
	int i;

	if (!v)
		return true;
	for (i = 1; i < argc; i++)
		if (v >= argv[i] && v <= argv[i] + strlen(argv[i]))
			return true;
	return false;
}

/* A list of URLs, commas between them; blanks around entries and empty
 * entries are ignored, and one entry at least is there. */
static bool proxy_ok(const char *v)
{
	struct s5_url u;
	char err[S5_ERR_MAX], one[1024];
	unsigned n = 0;
	int rc = 0;

	for (;;) {
		const char *e = strchr(v, ',');
		size_t len;

		while (*v == ' ' || *v == '\t')
			v++;
		if (!e)
			e = v + strlen(v);
		len = e > v ? (size_t)(e - v) : 0;
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len >= sizeof(one))
			return false;
		if (len > 0) {
			memcpy(one, v, len);
			one[len] = '\0';
			rc |= s5_url_parse(one, &u, err, sizeof(err));
			explicit_bzero(&u, sizeof(u));
			n++;
		}
		if (!*e)
			break;
		v = e + 1;
	}
	return rc == 0 && n > 0 && n <= S5_PROXY_MAX;
}

static bool no_proxy_ok(const char *v)
{
	struct s5_exclude ex;
	char err[S5_ERR_MAX];
	int rc = s5_exclude_parse(v, &ex, err, sizeof(err));

	if (rc == 0)
		s5_exclude_free(&ex);
	return rc == 0;
}

static bool either(const char *v, const char *a, const char *b)
{
	return !v || strcmp(v, a) == 0 || strcmp(v, b) == 0;
}

static void check_values(const struct s5l_opts *o, char *const *argv,
			 int argc)
{
	/* After two -p, proxy is the joined copy, not a word of argv. */
	const char *vals[] = { o->proxy_joined ? NULL : o->proxy,
			       o->user, o->no_proxy, o->timeout,
			       o->log_file, o->dns,  o->udp };
	size_t i, n;
	int ms;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		if (!in_argv(vals[i], argv, argc))
			__builtin_trap();
	if (o->proxy && !proxy_ok(o->proxy))
		__builtin_trap();
	n = o->user ? strlen(o->user) : 1;
	if (n == 0 || n > S5_CRED_MAX)
		__builtin_trap();
	if (o->no_proxy && !no_proxy_ok(o->no_proxy))
		__builtin_trap();
	if (o->timeout && s5_parse_timeout(o->timeout, &ms) != 0)
		__builtin_trap();
	if (o->log_file && !*o->log_file)
		__builtin_trap();
	if (!either(o->dns, "remote", "local") ||
	    !either(o->udp, "proxy", "block") ||
	    (o->pipeline && strcmp(o->pipeline, "1") != 0) ||
	    (o->chain && strcmp(o->chain, "1") != 0 &&
	     strcmp(o->chain, "0") != 0))
		__builtin_trap();
	if (o->log_level && strcmp(o->log_level, "info") != 0 &&
	    strcmp(o->log_level, "debug") != 0 &&
	    strcmp(o->log_level, "none") != 0)
		__builtin_trap();
}

/* What a call that lets the launcher go on must leave. */
static void check_go_on(const struct s5l_opts *o, char **argv, int argc,
			const struct text *out, const struct text *err)
{
	if (o->check == (o->prog_argv != NULL))
		__builtin_trap();
	if (o->prog_argv && (o->prog_argv <= argv ||
			     o->prog_argv >= argv + argc))
		__builtin_trap();
	if (out->len != 0 || !warnings_only(err))
		__builtin_trap();
	check_values(o, argv, argc);
}

static void check_outcome(int rc, const struct s5l_opts *o, char **argv,
			  int argc, const struct text *out,
			  const struct text *err)
{
	switch (rc) {
	case -1:
		check_go_on(o, argv, argc, out, err);
		break;
	case 0:
		if (!warnings_only(err) || out->len == 0 ||
		    !(starts(out->buf, "Usage: socks5wrap ") ||
		      starts(out->buf, "socks5wrap ")))
			__builtin_trap();
		break;
	case S5L_EXIT_OWN:
		if (out->len != 0 || !starts(err->buf, "socks5wrap: ") ||
		    err->buf[err->len - 1] != '\n')
			__builtin_trap();
		break;
	default:
		__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_WORDS + 2], *saved[MAX_WORDS + 2];
	const uint8_t *p = data, *end = data + size, *nul;
	FILE *real_out = stdout, *real_err = stderr;
	struct text out, err;
	struct s5l_opts o;
	int argc = 1, i, rc;
	size_t n;

	argv[0] = strdup("socks5wrap");
	if (!argv[0])
		abort();
	while (p < end && argc <= MAX_WORDS) {
		nul = memchr(p, '\0', (size_t)(end - p));
		n = nul ? (size_t)(nul - p) : (size_t)(end - p);
		argv[argc] = malloc(n + 1);
		if (!argv[argc])
			abort();
		memcpy(argv[argc], p, n);
		argv[argc][n] = '\0';
		argc++;
		p += n + 1;
	}
	argv[argc] = NULL;
	memcpy(saved, argv, sizeof(argv[0]) * (size_t)(argc + 1));

	text_open(&out);
	text_open(&err);
	stdout = out.f;
	stderr = err.f;
	/* main() parses once per process; here each input starts getopt
	 * afresh (optind 0 makes glibc forget a half-read "-abc" word). */
	optind = 0;
	rc = s5l_parse_opts(argc, argv, &o);
	stdout = real_out;
	stderr = real_err;
	text_close(&out);
	text_close(&err);

	if (memcmp(saved, argv, sizeof(argv[0]) * (size_t)(argc + 1)) != 0)
		__builtin_trap();
	check_outcome(rc, &o, argv, argc, &out, &err);
	free(o.proxy_joined);

	free(out.buf);
	free(err.buf);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
