/* The host names of an /etc/hosts text (hosts(5)), as the resolver hooks
 * need them: only "is this name listed?", so the addresses are not kept.
 *
 * Each line is "ADDRESS NAME [ALIAS...]"; fields are separated by blanks
 * (spaces, tabs, and the '\r' of a file written on Windows), and '#'
 * starts a comment wherever it appears, even inside a field, as glibc's
 * reader takes it. Names are normalised like every other name the
 * library handles (s5_name_normalize); a field that is no valid name is
 * skipped, the rest of its line still counts. The address field is not
 * checked: a line with a bad address names hosts all the same, which only
 * sends them to libc, never to the proxy.
 *
 * No I/O and no locking here: reading the file, noticing that it changed
 * and guarding the list are the caller's business.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "s5_dns.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Appends one field (n bytes) if it is a valid name. */
static void add_name(struct s5_hosts *h, const char *field, size_t n)
{
	char text[S5_NAME_MAX + 2], norm[S5_NAME_MAX + 1];
	int len;

	/* s5_name_normalize takes at most 253 bytes and a final dot: a
	 * longer field is no name, and need not be copied. */
	if (n >= sizeof(text))
		return;
	memcpy(text, field, n);
	text[n] = '\0';
	len = s5_name_normalize(text, norm);
	if (len <= 0)
		return;
	memcpy(h->names + h->len, norm, (size_t)len + 1);
	h->len += (size_t)len + 1;
}

/* One line, n bytes without its newline. */
static void parse_line(struct s5_hosts *h, const char *s, size_t n)
{
	bool past_address = false;
	size_t i = 0, start;

	for (;;) {
		while (i < n && blank(s[i]))
			i++;
		if (i == n || s[i] == '#')
			return;
		start = i;
		while (i < n && !blank(s[i]) && s[i] != '#')
			i++;
		if (past_address)
			add_name(h, s + start, i - start);
		past_address = true;
	}
}

int s5_hosts_parse(const char *text, size_t len, struct s5_hosts *out)
{
	const char *nul = memchr(text, '\0', len), *nl;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (nul)
		len = (size_t)(nul - text);
	/* A name and its NUL never take more room than the field it came
	 * from and the blank in front of it, so the text's length is enough
	 * for the whole list. */
	out->names = malloc(len + 1);
	if (!out->names)
		return -ENOMEM;
	while (len > 0) {
		nl = memchr(text, '\n', len);
		n = nl ? (size_t)(nl - text) : len;
		parse_line(out, text, n);
		if (!nl)
			break;
		text += n + 1;
		len -= n + 1;
	}
	return 0;
}

bool s5_hosts_has(const struct s5_hosts *h, const char *name)
{
	size_t want = strlen(name), off = 0, n;

	while (h->names && off < h->len) {
		n = strlen(h->names + off);
		if (n == want && memcmp(h->names + off, name, n) == 0)
			return true;
		off += n + 1;
	}
	return false;
}

void s5_hosts_free(struct s5_hosts *h)
{
	free(h->names);
	memset(h, 0, sizeof(*h));
}
