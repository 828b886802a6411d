/* Finding PROGRAM and replacing the launcher with it.
 *
 * We search PATH ourselves rather than call execvp(3) because the file has
 * to be known before the exec: it is inspected for the cases where the
 * preload cannot work (elf.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

/* What execvp(3) uses when PATH is unset (the confstr _CS_PATH value plus
 * /usr/local/bin, as glibc and musl do). */
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* dir (len bytes, not NUL-terminated) + "/" + name, malloc'd. An empty
 * dir means the current directory, as in execvp(3). */
static char *candidate(const char *dir, size_t len, const char *name)
{
	size_t nl = strlen(name);
	char *s;

	if (len == 0) {
		dir = ".";
		len = 1;
	}
	s = malloc(len + 1 + nl + 1);
	if (!s)
		return NULL;
	memcpy(s, dir, len);
	s[len] = '/';
	memcpy(s + len + 1, name, nl + 1);
	return s;
}

static bool prog_is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Walks path for name. Returns 0 with *out set to the first executable
 * regular file, or else to the first regular file that is not executable
 * (so the exec can report EACCES rather than "not found"); -ENOENT when
 * neither exists; -ENOMEM. */
static int search(const char *name, const char *path, char **out)
{
	const char *p = path;

	*out = NULL;
	for (;;) {
		const char *end = strchrnul(p, ':');
		char *c = candidate(p, (size_t)(end - p), name);

		if (!c) {
			free(*out);
			*out = NULL;
			return -ENOMEM;
		}
		if (prog_is_file(c)) {
			if (access(c, X_OK) == 0) {
				free(*out);
				*out = c;
				return 0;
			}
			if (!*out) {
				*out = c;
				c = NULL;
			}
		}
		free(c);
		if (*end == '\0')
			break;
		p = end + 1;
	}
	return *out ? 0 : -ENOENT;
}

char *s5l_find_program(const char *name, const char *path)
{
	char *found;
	int rc;

	if (*name == '\0') {
		errno = ENOENT;
		return NULL;
	}
	if (strchr(name, '/')) {
		found = strdup(name);
		if (!found)
			errno = ENOMEM;
		return found;
	}
	rc = search(name, path ? path : DEFAULT_PATH, &found);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	return found;
}

char *s5l_locate(const char *name)
{
	char *path = s5l_find_program(name, getenv("PATH"));

	if (path)
		return path;
	if (errno == ENOMEM) {
		fprintf(stderr, "socks5wrap: out of memory\n");
		exit(S5L_EXIT_OWN);
	}
	fprintf(stderr, "socks5wrap: %s: command not found\n", name);
	exit(S5L_EXIT_NOTFOUND);
}

void s5l_exec(char *path, char **prog_argv)
{
	int err;

	if (access(path, X_OK) == 0)
		s5l_warn_unreachable(path);
	/* argv[0] stays what the user typed, as execvp(3) leaves it. */
	execv(path, prog_argv);
	err = errno;
	fprintf(stderr, "socks5wrap: %s: %s\n", path, s5l_strerror(err));
	free(path);
	/* ENOENT after the file was found: a missing interpreter, or the
	 * file went away; env(1) also calls both "not found". */
	exit(err == ENOENT ? S5L_EXIT_NOTFOUND : S5L_EXIT_CANNOT);
}
