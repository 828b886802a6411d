/* Where libsocks5wrap.so is, and how it gets into LD_PRELOAD.
 *
 * No fixed-size buffers: every path here comes from the user or the file
 * system and may be long.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>

#include "launcher.h"

bool s5l_preload_entry_ok(const char *path)
{
	const unsigned char *p;

	if (*path == '\0')
		return false;
	for (p = (const unsigned char *)path; *p; p++) {
		/* ld.so(8): entries are separated by spaces or colons; it
		 * also stops at tabs and newlines. */
		if (*p == ':' || isspace(*p))
			return false;
	}
	return true;
}

char *s5l_preload_join(const char *lib, const char *old)
{
	size_t ll = strlen(lib), ol;
	char *s;

	if (!old || *old == '\0')
		return strdup(lib);
	ol = strlen(old);
	s = malloc(ll + 1 + ol + 1);
	if (!s)
		return NULL;
	memcpy(s, lib, ll);
	s[ll] = ':';
	memcpy(s + ll + 1, old, ol + 1);
	return s;
}

static bool lib_is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir + "/" + name, malloc'd. */
static char *path_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *s = malloc(dl + 1 + nl + 1);

	if (!s)
		return NULL;
	memcpy(s, dir, dl);
	s[dl] = '/';
	memcpy(s + dl + 1, name, nl + 1);
	return s;
}

/* The launcher's own path, absolute and free of symbolic links: the name
 * the kernel was asked to run (AT_EXECFN; relative to the directory we
 * started in, which is still ours), else /proc/self/exe. The first is
 * cheaper: resolving anything under /proc/self makes the kernel build the
 * directory of a new process, a good part of the launcher's own start. */
static char *own_path(void)
{
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	char *exe = execfn ? realpath(execfn, NULL) : NULL;

	return exe ? exe : realpath("/proc/self/exe", NULL);
}

/* The library in the launcher's own directory: in a build tree both are
 * made side by side. */
static char *beside_launcher(void)
{
	char *exe = own_path();
	char *slash, *lib;

	if (!exe)
		return NULL;
	slash = strrchr(exe, '/');
	if (!slash) {
		free(exe);
		return NULL;
	}
	*slash = '\0';
	/* A launcher at "/socks5wrap" leaves "" here, and "/" + name is
	 * still the right path. */
	lib = path_join(exe, S5L_LIB_NAME);
	free(exe);
	return lib;
}

/* $SOCKS5WRAP_LIBRARY made absolute, so that a child that changes its
 * directory before an exec of its own still finds the library. */
static char *from_env(const char *v)
{
	char *abs = realpath(v, NULL);

	if (!abs || !lib_is_file(abs)) {
		fprintf(stderr,
			"socks5wrap: library not found: %s (from "
			"SOCKS5WRAP_LIBRARY)\n", v);
		free(abs);
		return NULL;
	}
	return abs;
}

char *s5l_find_library(void)
{
	const char *env = getenv("SOCKS5WRAP_LIBRARY");
	const char *installed = S5_PKGLIBDIR "/" S5L_LIB_NAME;
	char *lib;

	if (env && *env)
		return from_env(env);
	lib = beside_launcher();
	if (lib && lib_is_file(lib))
		return lib;
	if (lib_is_file(installed)) {
		free(lib);
		return strdup(installed);
	}
	fprintf(stderr,
		"socks5wrap: cannot find %s; tried %s and %s (set "
		"SOCKS5WRAP_LIBRARY to its path)\n",
		S5L_LIB_NAME, lib ? lib : "the launcher's directory",
		installed);
	free(lib);
	return NULL;
}

int s5l_set_preload(const char *lib)
{
	char *value;

	if (!s5l_preload_entry_ok(lib)) {
		fprintf(stderr,
			"socks5wrap: the library path '%s' holds ':' or white "
			"space, which LD_PRELOAD cannot carry\n", lib);
		return S5L_EXIT_OWN;
	}
	value = s5l_preload_join(lib, getenv("LD_PRELOAD"));
	if (!value || setenv("LD_PRELOAD", value, 1) < 0) {
		fprintf(stderr, "socks5wrap: cannot set LD_PRELOAD: %s\n",
			s5l_strerror(value ? errno : ENOMEM));
		free(value);
		return S5L_EXIT_OWN;
	}
	free(value);
	return 0;
}
