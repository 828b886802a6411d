/* libFuzzer target for s5_hosts_parse and s5_hosts_has.
 *
 * Input: one byte that picks a line to split the text at, then an
 * /etc/hosts text. Beyond "no crash":
 *  - the list fits in the text's length, and is a run of NUL-terminated
 *    names that s5_name_normalize leaves as they are;
 *  - every listed name is found, and a name with one more byte is not
 *    found unless it is listed too;
 *  - the text is not modified;
 *  - a final newline changes nothing, and parsing the text in two pieces
 *    cut at a line break lists the same names as parsing it whole.
 * A broken property traps, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s5_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(const char *text, size_t len, struct s5_hosts *h)
{
	if (s5_hosts_parse(text, len, h) != 0)
		abort(); /* out of memory: not a finding */
}

static bool same(const struct s5_hosts *a, const struct s5_hosts *b)
{
	return a->len == b->len &&
	       (a->len == 0 || memcmp(a->names, b->names, a->len) == 0);
}

/* s5_hosts_has written the plain way, to compare with. */
static bool listed(const struct s5_hosts *h, const char *name)
{
	size_t off = 0;

	while (off < h->len) {
		if (strcmp(h->names + off, name) == 0)
			return true;
		off += strlen(h->names + off) + 1;
	}
	return false;
}

static void check_list(const struct s5_hosts *h, size_t text_len)
{
	char norm[S5_NAME_MAX + 1], longer[S5_NAME_MAX + 2];
	size_t off = 0, n;

	if (h->len > text_len || (h->len && h->names[h->len - 1] != '\0'))
		__builtin_trap();
	while (off < h->len) {
		n = strlen(h->names + off);
		if (n == 0 || s5_name_normalize(h->names + off, norm) != (int)n ||
		    memcmp(norm, h->names + off, n + 1) != 0)
			__builtin_trap();
		if (!s5_hosts_has(h, h->names + off))
			__builtin_trap();
		memcpy(longer, h->names + off, n);
		memcpy(longer + n, "z", 2);
		if (s5_hosts_has(h, longer) != listed(h, longer))
			__builtin_trap();
		off += n + 1;
	}
}

/* The whole list of a + b equals a's list followed by b's. */
static void check_split(const char *text, size_t len,
			const struct s5_hosts *whole, unsigned pick)
{
	struct s5_hosts a, b;
	const char *nl = NULL, *p = text;
	size_t cut;
	unsigned i;

	for (i = 0; i <= pick; i++) {
		p = memchr(p, '\n', len - (size_t)(p - text));
		if (!p)
			break;
		nl = p++;
	}
	if (!nl)
		return;
	cut = (size_t)(nl - text);
	parse(text, cut, &a);
	parse(nl + 1, len - cut - 1, &b);
	if (a.len + b.len != whole->len ||
	    (a.len && memcmp(a.names, whole->names, a.len) != 0) ||
	    (b.len && memcmp(b.names, whole->names + a.len, b.len) != 0))
		__builtin_trap();
	s5_hosts_free(&a);
	s5_hosts_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s5_hosts h, h2;
	char *text, *copy;
	size_t len;

	if (size < 1)
		return 0;
	len = size - 1;
	/* Exactly len bytes, plus room for a newline: ASan sees any read
	 * past the text. */
	text = malloc(len + 1);
	copy = malloc(len + 1);
	if (!text || !copy)
		abort();
	memcpy(text, data + 1, len);
	memcpy(copy, text, len);

	parse(text, len, &h);
	if (memcmp(text, copy, len) != 0)
		__builtin_trap();
	check_list(&h, len);

	/* NUL bytes end the text: the properties below hold for the part
	 * before the first one. */
	if (!memchr(text, '\0', len)) {
		text[len] = '\n';
		parse(text, len + 1, &h2);
		if (!same(&h, &h2))
			__builtin_trap();
		s5_hosts_free(&h2);
		check_split(text, len, &h, data[0]);
	}
	s5_hosts_free(&h);
	s5_hosts_free(&h);
	free(text);
	free(copy);
	return 0;
}
