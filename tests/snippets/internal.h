/* Finding the library's own log descriptor from the outside: the one open
 * descriptor whose /proc/self/fd link is the log file. */
#ifndef S5_SNIPPET_INTERNAL_H
#define S5_SNIPPET_INTERNAL_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <stdlib.h>

static inline int log_fd(void)
{
	const char *want = getenv("SOCKS5WRAP_LOG_FILE");
	char path[300], target[PATH_MAX];
	struct dirent *d;
	DIR *dir;
	int found = -1;
	ssize_t n;

	if (want == NULL || (dir = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, want) == 0 && atoi(d->d_name) != dirfd(dir))
			found = atoi(d->d_name);
	}
	closedir(dir);
	return found;
}

/* Bytes in the log file so far. */
static inline long log_size(void)
{
	FILE *f = fopen(getenv("SOCKS5WRAP_LOG_FILE"), "r");
	long n;

	if (f == NULL)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return n;
}

#endif
