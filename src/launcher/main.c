/* socks5wrap [options] PROGRAM [ARGS]: options -> environment, check the
 * result the way the library will read it, put the library in front of
 * LD_PRELOAD, exec PROGRAM.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s5_config.h"
#include "s5_dns.h"
#include "launcher.h"
#include "../supervise/supervise.h"

const char *s5l_getenv(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

/* A launcher linked with musl looks names up in /etc/hosts and through
 * the name servers of resolv.conf only: musl has no name service switch,
 * so a name that only nsswitch.conf's other sources know (mdns, a
 * directory service, systemd-resolved's own) resolves in the library,
 * which uses the program's glibc, and not here. */
#ifdef __GLIBC__
#define NAME_SERVICE_HINT ""
#else
#define NAME_SERVICE_HINT \
	"socks5wrap: (the launcher looks names up in /etc/hosts and DNS " \
	"only; give the proxy's address if its name comes from another " \
	"source of nsswitch.conf)\n"
#endif

static bool set(const char *var)
{
	const char *v = getenv(var);

	return v && *v;
}

int s5l_load_config(struct s5_config *c)
{
	bool not_found = false;

	/* ALL_PROXY and all_proxy stand in for an unset SOCKS5_PROXY; the
	 * configuration says whether what they hold is usable. */
	if (!set("SOCKS5_PROXY") && !set("ALL_PROXY") && !set("all_proxy")) {
		fprintf(stderr, "socks5wrap: no proxy configured (set "
				"SOCKS5_PROXY or use -p)\n");
		return S5L_EXIT_OWN;
	}
	if (s5_config_load(c, s5l_getenv, NULL) < 0) {
		fprintf(stderr, "socks5wrap: out of memory\n");
		s5_config_free(c);
		return S5L_EXIT_OWN;
	}
	/* The library resolves a proxy name the same way, once: if the name
	 * does not resolve here, it will not there either (see
	 * NAME_SERVICE_HINT for where that may not hold). */
	if (c->usable)
		not_found = s5_config_resolve_proxy(c, getaddrinfo,
						    freeaddrinfo) ==
			    -EHOSTUNREACH;
	if (!c->usable) {
		fprintf(stderr, "socks5wrap: %s\n", c->error);
		if (not_found && NAME_SERVICE_HINT[0])
			fputs(NAME_SERVICE_HINT, stderr);
		s5_config_free(c);
		return S5L_EXIT_OWN;
	}
	return 0;
}

/* Output to a full disk or a closed pipe must not pass for success. */
static int flush_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("socks5wrap: standard output");
		return status ? status : S5L_EXIT_OWN;
	}
	return status;
}

enum supervise { SUP_AUTO, SUP_ON, SUP_OFF };

/* SOCKS5WRAP_SUPERVISE (the options set it too). Returns 0 or 125 after
 * a message. */
static int supervise_mode(enum supervise *m)
{
	const char *v = getenv("SOCKS5WRAP_SUPERVISE");

	*m = SUP_AUTO;
	if (!v || !*v || strcasecmp(v, "auto") == 0)
		return 0;
	if (strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0) {
		*m = SUP_ON;
		return 0;
	}
	if (strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0) {
		*m = SUP_OFF;
		return 0;
	}
	fprintf(stderr, "socks5wrap: SOCKS5WRAP_SUPERVISE: expected auto, on "
			"or off\n");
	return S5L_EXIT_OWN;
}

/* Whether PROGRAM runs under the supervisor: always with on, never with
 * off, and by default when the preload alone cannot reach it. */
static bool supervised(enum supervise m, const char *path,
		       const struct s5_config *c)
{
	const char *why;

	if (m != SUP_AUTO)
		return m == SUP_ON;
	if (access(path, X_OK) != 0)
		return false; /* the exec will say why */
	why = s5l_bypasses_libc(path);
	if (why && c->log_level >= S5LOG_INFO)
		fprintf(stderr, "socks5wrap: %s %s: its system calls are "
				"supervised (seccomp) so that its connections "
				"go through the proxy\n", path, why);
	return why != NULL;
}

/* The tree's name table, made here so that the program starts with it
 * held (src/preload/tree.c), and named in SOCKS5WRAP_TABLE; a table that
 * an outer run named is not this run's. Not for a setuid or setgid
 * program, which ignores the variable. When no table can be made, the
 * program's preload makes one. */
static void share_table(const struct s5_config *c, const char *path)
{
	uint8_t id[S5_POOL_ID_LEN];
	struct stat st;
	int fd;

	unsetenv(S5_TABLE_ENV);
	if (stat(path, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)))
		return;
	if (s5_pool_create_file(&fd, id, &c->fake4, &c->fake6,
				S5_POOL_DEFAULT_CAPACITY,
				S5_POOL_DEFAULT_GRACE_S) < 0)
		return;
	fd = s5_table_hold(fd, s5_high_fd_base());
	if (fd >= 0)
		s5_table_env_set(id, fd);
}

/* Checks the configuration, sets LD_PRELOAD, and execs PROGRAM, or runs
 * it under the supervisor: never returns 0 of its own. */
static int run(char **prog_argv)
{
	struct s5_config c;
	enum supervise mode;
	char *lib, *path;
	int rc = supervise_mode(&mode);

	if (rc == 0)
		rc = s5l_load_config(&c);
	if (rc)
		return rc;
	/* Each process's library says it too, but only once the program
	 * runs; with -v the user sees it before anything else. */
	if (c.notice[0] && c.log_level >= S5LOG_INFO)
		fprintf(stderr, "socks5wrap: %s\n", c.notice);
	lib = s5l_find_library();
	rc = lib ? s5l_set_preload(lib) : S5L_EXIT_OWN;
	free(lib);
	if (rc) {
		s5_config_free(&c);
		return rc;
	}
	path = s5l_locate(prog_argv[0]);
	if (supervised(mode, path, &c)) {
		rc = s5s_run(path, prog_argv, &c);
		s5_config_free(&c);
		free(path);
		return rc;
	}
	share_table(&c, path);
	/* Only the check was needed here; the credentials go with it. */
	s5_config_free(&c);
	s5l_exec(path, prog_argv);
}

int main(int argc, char **argv)
{
	struct s5l_opts o;
	int rc = s5l_parse_opts(argc, argv, &o);

	if (rc >= 0) {
		free(o.proxy_joined);
		return flush_stdout(rc);
	}
	rc = s5l_export_opts(&o);
	/* setenv made its own copy of the proxy list. */
	free(o.proxy_joined);
	o.proxy_joined = NULL;
	if (rc)
		return rc;
	if (o.check)
		return flush_stdout(s5l_check());
	return run(o.prog_argv);
}
