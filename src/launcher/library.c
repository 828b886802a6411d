/* Where libsocks5wrap.so is, and how it gets into LD_PRELOAD.
 *
 * With a 32-bit build beside the native one, each in the directory its
 * dynamic loader puts in place of $LIB (the Makefile asks both loaders),
 * the entry is DIR/$LIB/libsocks5wrap.so, with the token as it is: every
 * program, and every program it runs, loads the build of its own kind,
 * whichever kind its parent was. ld.so(8) expands $LIB in LD_PRELOAD.
 *
 * No fixed-size buffers: every path here comes from the user or the file
 * system and may be long.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

/* The 32-bit build when the chosen entry names it too (malloc'd), else
 * NULL. Its ELF header is read only when a warning needs it: every
 * program the launcher starts pays for what is done here. */
static char *entry_lib32;

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

char *s5l_lib_pattern(const char *native, const char *tok,
		      const char *other, const char *tok32)
{
	size_t tl = strlen(tok), t32l = strlen(tok32), pre, sl;
	const char *at, *suffix;
	char *s;

	if (tl == 0 || t32l == 0)
		return NULL;
	for (at = strstr(native, tok); at; at = strstr(at + 1, tok)) {
		pre = (size_t)(at - native);
		suffix = at + tl;
		/* The token is whole path components: "/TOK/". */
		if (pre == 0 || at[-1] != '/' || *suffix != '/')
			continue;
		sl = strlen(suffix);
		if (strncmp(other, native, pre) != 0 ||
		    strncmp(other + pre, tok32, t32l) != 0 ||
		    strcmp(other + pre + t32l, suffix) != 0)
			continue;
		s = malloc(pre + sizeof("$LIB") - 1 + sl + 1);
		if (!s)
			return NULL;
		memcpy(s, native, pre);
		memcpy(s + pre, "$LIB", sizeof("$LIB") - 1);
		memcpy(s + pre + sizeof("$LIB") - 1, suffix, sl + 1);
		return s;
	}
	return NULL;
}

/* lib: the library found (a file), malloc'd. When native (that library,
 * or a link to it, under the native token) and lib32 (the 32-bit build
 * under its own) are both files where $LIB tells them apart, returns the
 * entry with $LIB and frees lib; otherwise returns lib. */
static char *both_builds(char *lib, const char *native, const char *lib32)
{
	char *entry;

	if (!*S5_LIB_TOKEN32 || !lib_is_file(native) || !lib_is_file(lib32))
		return lib;
	entry = s5l_lib_pattern(native, S5_LIB_TOKEN, lib32, S5_LIB_TOKEN32);
	free(entry_lib32);
	entry_lib32 = entry ? strdup(lib32) : NULL;
	if (!entry_lib32) {
		free(entry);
		return lib;
	}
	free(lib);
	return entry;
}

bool s5l_preload_serves(const struct s5l_elf *e)
{
	struct s5l_elf lib;
	int fd, rc;

	if (!entry_lib32 || !e->native)
		return false;
	fd = open(entry_lib32, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	rc = s5l_elf_inspect(fd, &lib);
	close(fd);
	return rc == 0 && lib.native && e->cls == lib.cls &&
	       e->machine == lib.machine;
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

/* DIR/libsocks5wrap.so (lib, a file in a build tree, malloc'd) or the
 * entry for both builds when they are in DIR/<token>/ too. */
static char *beside_with_token(char *lib)
{
	char *slash = strrchr(lib, '/'), *native, *lib32;
	size_t dl = (size_t)(slash - lib);

	native = malloc(dl + 1 + strlen(S5_LIB_TOKEN) + 1 +
			sizeof(S5L_LIB_NAME));
	lib32 = malloc(dl + 1 + strlen(S5_LIB_TOKEN32) + 1 +
		       sizeof(S5L_LIB_NAME));
	if (native && lib32) {
		sprintf(native, "%.*s/%s/%s", (int)dl, lib, S5_LIB_TOKEN,
			S5L_LIB_NAME);
		sprintf(lib32, "%.*s/%s/%s", (int)dl, lib, S5_LIB_TOKEN32,
			S5L_LIB_NAME);
		lib = both_builds(lib, native, lib32);
	}
	free(native);
	free(lib32);
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
		return beside_with_token(lib);
	if (lib_is_file(installed)) {
		free(lib);
		lib = strdup(installed);
		return lib ? both_builds(lib, installed, S5_PKGLIBDIR32 "/"
					 S5L_LIB_NAME) : NULL;
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
