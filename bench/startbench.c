/* startbench: how long programs take to start and exit.
 *
 *   startbench COUNT MAX_SECONDS -- [NAME=VALUE...] PROGRAM [ARG...]
 *                                [-- [NAME=VALUE...] PROGRAM [ARG...]]...
 *
 * Each group after "--" is one variant: a program with its arguments, and
 * before it, as for env(1), variables to set in its environment (on top of
 * ours). The variants are started in turn, one at a time, COUNT rounds or
 * until MAX_SECONDS have passed (at least one round), so drift in the
 * machine's load falls on all of them alike. Each start is posix_spawn()
 * to waitpid(), and must exit 0. Prints one line per variant, in order:
 *   "variant I runs N median_us M mean_us A"
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define PROG "startbench"
#define MAX_VARIANTS 8
#define MAX_COUNT 10000

extern char **environ;

struct variant {
	char **argv;
	char **envp;
	double us[MAX_COUNT];
};

static struct variant v[MAX_VARIANTS];

static bool is_assignment(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq != NULL && eq != s;
}

/* environ, less the names assigned in a[0..n), plus those assignments. */
static char **make_env(char **a, int n)
{
	size_t count = 0, i, k = 0, len;
	char **e;
	int j;
	bool replaced;

	while (environ[count] != NULL)
		count++;
	e = calloc(count + (size_t)n + 1, sizeof(*e));
	if (e == NULL)
		bench_die(PROG, "calloc", errno);
	for (i = 0; i < count; i++) {
		replaced = false;
		for (j = 0; j < n && !replaced; j++) {
			len = (size_t)(strchr(a[j], '=') - a[j]) + 1;
			replaced = strncmp(environ[i], a[j], len) == 0;
		}
		if (!replaced)
			e[k++] = environ[i];
	}
	for (j = 0; j < n; j++)
		e[k++] = a[j];
	return e;
}

/* Splits argv at "--" into variants; returns how many. */
static int parse_variants(int argc, char **argv)
{
	int i = 0, n = 0, start, nassign;

	while (i < argc) {
		if (strcmp(argv[i], "--") != 0 || n == MAX_VARIANTS)
			bench_die(PROG, "want: -- [NAME=VALUE...] PROGRAM "
					"(at most 8 variants)", 0);
		argv[i++] = NULL; /* ends the previous variant's arguments */
		start = i;
		while (i < argc && is_assignment(argv[i]))
			i++;
		nassign = i - start;
		if (i == argc || strcmp(argv[i], "--") == 0)
			bench_die(PROG, "a variant without a program", 0);
		v[n].envp = make_env(argv + start, nassign);
		v[n].argv = argv + i;
		while (i < argc && strcmp(argv[i], "--") != 0)
			i++;
		n++;
	}
	return n;
}

static double run_once(const struct variant *x)
{
	int64_t t0 = bench_now_ns();
	pid_t pid;
	int status, r;

	r = posix_spawn(&pid, x->argv[0], NULL, NULL, x->argv, x->envp);
	if (r != 0)
		bench_die(PROG, x->argv[0], r);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			bench_die(PROG, "waitpid", errno);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, PROG ": %s: exit status %#x\n", x->argv[0],
			status);
		exit(1);
	}
	return (double)(bench_now_ns() - t0) / 1000.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long count, secs, rounds, i;
	int64_t deadline;
	double sum;
	int n, k;

	if (argc < 5) {
		fprintf(stderr, "usage: " PROG " COUNT MAX_SECONDS -- "
				"[NAME=VALUE...] PROGRAM [ARG...] [-- ...]\n");
		return 2;
	}
	count = bench_num(PROG, "count", argv[1], 1, MAX_COUNT);
	secs = bench_num(PROG, "seconds", argv[2], 1, 600);
	n = parse_variants(argc - 3, argv + 3);
	deadline = bench_now_ns() + (int64_t)secs * 1000000000;
	for (k = 0; k < n; k++) /* warm-up: page cache, ld.so cache */
		run_once(&v[k]);
	for (rounds = 0; rounds < count; rounds++) {
		for (k = 0; k < n; k++)
			v[k].us[rounds] = run_once(&v[k]);
		if (bench_now_ns() >= deadline) {
			rounds++;
			break;
		}
	}
	for (k = 0; k < n; k++) {
		for (sum = 0, i = 0; i < rounds; i++)
			sum += v[k].us[i];
		qsort(v[k].us, (size_t)rounds, sizeof(double), cmp_double);
		printf("variant %d runs %ld median_us %.1f mean_us %.1f\n", k,
		       rounds, rounds % 2 ? v[k].us[rounds / 2] :
			       (v[k].us[rounds / 2 - 1] + v[k].us[rounds / 2]) / 2,
		       sum / (double)rounds);
	}
	return 0;
}
