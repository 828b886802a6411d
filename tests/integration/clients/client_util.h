/* Small helpers shared by the C test clients (each is still built alone
 * from its one .c file: everything here is static). */
#ifndef S5_CLIENT_UTIL_H
#define S5_CLIENT_UTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* An errno's name ("ECONNREFUSED"), "ok" for 0, "E<n>" for one glibc
 * has no name for (in a buffer of the calling thread's). */
static inline const char *ename(int e)
{
	static _Thread_local char buf[24];
	const char *n;

	if (e == 0)
		return "ok";
	n = strerrorname_np(e);
	if (n != NULL)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* s[0..n) as a JSON string, with the few escapes test payloads need. */
static inline void json_str(const char *s, size_t n)
{
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Whether fd is the library's hold on the process tree's name table
 * (a memfd, src/preload/tree.c), which every preloaded process has. */
static inline bool is_name_table(int fd)
{
	static const char memfd[] = "/memfd:socks5wrap-names";
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return strncmp(link, memfd, sizeof(memfd) - 1) == 0;
}

/* The open descriptors, without the one opendir uses and the name
 * table's: up to max of them into out, and their number (at most max);
 * with out NULL, just how many there are. -1 when /proc/self/fd cannot
 * be read. */
static inline int list_fds(int *out, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0, self;

	if (d == NULL)
		return -1;
	self = dirfd(d);
	while ((de = readdir(d)) != NULL && (out == NULL || n < max)) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == self || is_name_table(fd))
			continue;
		if (out != NULL)
			out[n] = fd;
		n++;
	}
	closedir(d);
	return n;
}

/* True when fd becomes readable within ms milliseconds. */
static inline bool readable_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* ["ADDR", PORT] for an AF_INET or AF_INET6 address, ["?", 0] else. */
static inline void put_addr_json(const struct sockaddr_storage *ss)
{
	char text[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, text, sizeof(text));
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof(text));
		port = ntohs(s6->sin6_port);
	}
	printf("[\"%s\", %u]", text, port);
}

/* Reads what fd answers (up to 4 KiB, waiting at most ms for each
 * piece) and prints it as `, "answer": "..."`. */
static inline void put_reply_json(int fd, int ms)
{
	char body[4096];
	size_t got = 0;
	int i;

	for (i = 0; i < 100 && got < sizeof(body); i++) {
		ssize_t n;

		if (!readable_within(fd, ms))
			break;
		n = read(fd, body + got, sizeof(body) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	fputs(", \"answer\": ", stdout);
	json_str(body, got);
}

#endif
