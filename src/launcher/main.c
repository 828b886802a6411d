/* socks5wrap [options] PROGRAM [ARGS]: options -> environment, check the
 * result the way the library will read it, put the library in front of
 * LD_PRELOAD, exec PROGRAM.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>

#include "s5_config.h"
#include "launcher.h"

const char *s5l_getenv(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

int s5l_load_config(struct s5_config *c)
{
	const char *proxy = getenv("SOCKS5_PROXY");

	if (!proxy || *proxy == '\0') {
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
	 * does not resolve here, it will not there either. */
	if (c->usable)
		s5_config_resolve_proxy(c, getaddrinfo, freeaddrinfo);
	if (!c->usable) {
		fprintf(stderr, "socks5wrap: %s\n", c->error);
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

/* Checks the configuration, sets LD_PRELOAD and execs: never returns 0. */
static int run(char **prog_argv)
{
	struct s5_config c;
	char *lib;
	int rc = s5l_load_config(&c);

	if (rc)
		return rc;
	/* Only the check was needed here; the credentials go with it. */
	s5_config_free(&c);
	lib = s5l_find_library();
	if (!lib)
		return S5L_EXIT_OWN;
	rc = s5l_set_preload(lib);
	free(lib);
	if (rc)
		return rc;
	s5l_exec(prog_argv);
}

int main(int argc, char **argv)
{
	struct s5l_opts o;
	int rc = s5l_parse_opts(argc, argv, &o);

	if (rc >= 0)
		return flush_stdout(rc);
	rc = s5l_export_opts(&o);
	if (rc)
		return rc;
	if (o.check)
		return flush_stdout(s5l_check());
	return run(o.prog_argv);
}
