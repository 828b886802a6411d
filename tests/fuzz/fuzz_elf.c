/* libFuzzer target for the launcher's ELF reader (s5l_elf_inspect_mem and
 * s5l_elf_inspect): the input is a whole program file.
 *
 * Beyond "no crash":
 *  - the result is what a second, deliberately plain reading of the same
 *    bytes says (below, from byte offsets in the ELF specification rather
 *    than from <elf.h>'s structs): refused or not, class, byte order,
 *    machine, native, PT_INTERP;
 *  - the file read with pread (a memfd holding the same bytes) gives the
 *    same result as the bytes in memory, Go's build-ID note included
 *    (a note segment at an offset pread refuses must not fail the file);
 *  - a foreign byte order says nothing about machine or PT_INTERP.
 */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/launcher/launcher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The kernel's limit on the program header table, as elf.c applies it. */
#define TABLE_MAX 65536

/* Host-order fields at byte offsets: only native files get this far. */
static uint64_t field(const uint8_t *p, size_t off, size_t width)
{
	uint64_t v = 0;
	uint32_t v32;
	uint16_t v16;

	if (width == 2) {
		memcpy(&v16, p + off, 2);
		v = v16;
	} else if (width == 4) {
		memcpy(&v32, p + off, 4);
		v = v32;
	} else {
		memcpy(&v, p + off, 8);
	}
	return v;
}

/* The reference: 0 or -ENOEXEC, and *want on 0. Offsets are those of the
 * ELF header in the System V ABI, for each class. */
static int reference(const uint8_t *p, size_t n, struct s5l_elf *want)
{
	const bool host_lsb = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
	size_t ehsize, phoff_off, phoff_w, phent_off, entsize;
	uint64_t phoff, table, type, i;
	uint16_t phnum;

	memset(want, 0, sizeof(*want));
	if (n < 16 || p[0] != 0x7f || p[1] != 'E' || p[2] != 'L' ||
	    p[3] != 'F' || (p[4] != 1 && p[4] != 2) || (p[5] != 1 && p[5] != 2))
		return -ENOEXEC;
	want->cls = p[4];
	want->data = p[5];
	if ((p[5] == 1) != host_lsb)
		return 0;
	if (p[4] == 2) {
		ehsize = 64, phoff_off = 32, phoff_w = 8, phent_off = 54;
		entsize = 56;
	} else {
		ehsize = 52, phoff_off = 28, phoff_w = 4, phent_off = 42;
		entsize = 32;
	}
	if (n < ehsize || field(p, phent_off, 2) != entsize)
		return -ENOEXEC;
	type = field(p, 16, 2);
	if (type != 2 && type != 3) /* ET_EXEC, ET_DYN */
		return -ENOEXEC;
	want->native = true;
	want->machine = (uint16_t)field(p, 18, 2);
	phoff = field(p, phoff_off, phoff_w);
	phnum = (uint16_t)field(p, phent_off + 2, 2);
	table = (uint64_t)phnum * entsize;
	if (table == 0)
		return 0;
	if (table > TABLE_MAX || phoff > n || table > n - phoff)
		return -ENOEXEC;
	for (i = 0; i < phnum; i++)
		if (field(p, phoff + i * entsize, 4) == 3) /* PT_INTERP */
			want->has_interp = true;
	return 0;
}

static bool same(const struct s5l_elf *a, const struct s5l_elf *b)
{
	return a->cls == b->cls && a->data == b->data &&
	       a->machine == b->machine && a->native == b->native &&
	       a->has_interp == b->has_interp;
}

/* One memfd for the whole run, rewritten for each input. */
static int file_of(const uint8_t *data, size_t size)
{
	static int fd = -1;
	size_t done = 0;
	ssize_t w;

	if (fd < 0)
		fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) != 0)
		abort();
	while (done < size) {
		w = pwrite(fd, data + done, size - done, (off_t)done);
		if (w <= 0)
			abort();
		done += (size_t)w;
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s5l_elf got, want, from_file;
	uint8_t *copy;
	int rc, rc_want, rc_file;

	/* An allocation of exactly size bytes: ASan sees any read past the
	 * file's end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	rc = s5l_elf_inspect_mem(copy, size, &got);
	rc_want = reference(copy, size, &want);
	if (rc != rc_want)
		__builtin_trap();
	if (rc == 0 && !same(&got, &want))
		__builtin_trap();
	if (rc == 0 && !got.native && (got.machine || got.has_interp))
		__builtin_trap();

	rc_file = s5l_elf_inspect(file_of(data, size), &from_file);
	if (rc_file != rc || (rc == 0 && !same(&from_file, &got)) ||
	    (rc == 0 && from_file.go != got.go))
		__builtin_trap();
	/* Go's note is only looked for in native files. */
	if (rc == 0 && !got.native && got.go)
		__builtin_trap();
	free(copy);
	return 0;
}
