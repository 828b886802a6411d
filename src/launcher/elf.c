/* Telling, before the exec, whether the preload can reach PROGRAM.
 *
 * LD_PRELOAD is honoured by the dynamic loader only. A program without a
 * PT_INTERP program header is started by the kernel directly, so nothing
 * loads the library; a program for another ELF class or machine gets the
 * loader's "wrong ELF class" and runs without it; a setuid or setgid
 * program runs in secure-execution mode, where ld.so(8) ignores preload
 * paths. Each case would send the program's traffic around the proxy, so
 * we warn (we do not refuse: the user may know, and want it anyway).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

/* The kernel's load_elf_phdrs() refuses program header tables larger than
 * this, so no executable it runs has a bigger one. This also keeps us away
 * from PN_XNUM (65535 headers would not fit). */
#define PHDR_TABLE_MAX 65536

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_ELFDATA ELFDATA2LSB
#else
#define HOST_ELFDATA ELFDATA2MSB
#endif

/* Where the bytes come from: an open file, read with pread, or the whole
 * file already in memory (s5l_elf_inspect_mem, for the fuzz target). Both
 * go through read_exact, so every check below is the same for either. */
struct elf_src {
	bool in_mem;
	int fd;
	const uint8_t *mem;
	size_t len;
};

/* Exactly len bytes at off; a short file is -ENOEXEC. */
static int read_exact(const struct elf_src *src, void *buf, size_t len,
		      off_t off)
{
	size_t got = 0;

	if (src->in_mem) {
		if ((uint64_t)off > src->len || len > src->len - (size_t)off)
			return -ENOEXEC;
		memcpy(buf, src->mem + off, len);
		return 0;
	}
	while (got < len) {
		ssize_t n = pread(src->fd, (char *)buf + got, len - got,
				  off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOEXEC;
		got += (size_t)n;
	}
	return 0;
}

/* The fields we need, whatever the class. */
struct ehdr_fields {
	uint16_t type, machine, phentsize, phnum;
	uint64_t phoff;
};

static int read_ehdr64(const struct elf_src *src, struct ehdr_fields *f)
{
	Elf64_Ehdr e;
	int rc = read_exact(src, &e, sizeof(e), 0);

	if (rc)
		return rc;
	*f = (struct ehdr_fields){ e.e_type, e.e_machine, e.e_phentsize,
				   e.e_phnum, e.e_phoff };
	return e.e_phentsize == sizeof(Elf64_Phdr) ? 0 : -ENOEXEC;
}

static int read_ehdr32(const struct elf_src *src, struct ehdr_fields *f)
{
	Elf32_Ehdr e;
	int rc = read_exact(src, &e, sizeof(e), 0);

	if (rc)
		return rc;
	*f = (struct ehdr_fields){ e.e_type, e.e_machine, e.e_phentsize,
				   e.e_phnum, e.e_phoff };
	return e.e_phentsize == sizeof(Elf32_Phdr) ? 0 : -ENOEXEC;
}

/* Go's linker puts its build ID in a note named "Go" of this type
 * (".note.go.buildid"), in every ELF executable it writes. */
#define GO_NOTE_TYPE 4
#define NOTE_SEGMENT_MAX 65536

/* True when the notes of one PT_NOTE segment (len bytes) hold Go's. */
static bool has_go_note(const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (len - off >= 12) {
		uint32_t namesz, descsz, type;
		size_t name_pad, desc_pad;

		memcpy(&namesz, p + off, 4);
		memcpy(&descsz, p + off + 4, 4);
		memcpy(&type, p + off + 8, 4);
		off += 12;
		name_pad = ((size_t)namesz + 3) & ~(size_t)3;
		desc_pad = ((size_t)descsz + 3) & ~(size_t)3;
		if (name_pad > len - off)
			return false;
		/* Go writes the name padded: namesz 4, "Go\0\0". */
		if ((namesz == 3 || namesz == 4) && type == GO_NOTE_TYPE &&
		    memcmp(p + off, "Go", 3) == 0)
			return true;
		off += name_pad;
		if (desc_pad > len - off)
			return false;
		off += desc_pad;
	}
	return false;
}

/* The offset and size of a program header's segment in the file. */
static void seg_of(const uint8_t *ph, uint8_t cls, uint64_t *off,
		   uint64_t *size)
{
	if (cls == ELFCLASS64) {
		Elf64_Phdr h;

		memcpy(&h, ph, sizeof(h));
		*off = h.p_offset;
		*size = h.p_filesz;
	} else {
		Elf32_Phdr h;

		memcpy(&h, ph, sizeof(h));
		*off = h.p_offset;
		*size = h.p_filesz;
	}
}

/* Tables and notes up to this size are read onto the stack: musl's
 * malloc maps a fresh page for a block of a size it has not seen yet, and
 * unmaps it on free, a cost the launcher paid before every program. */
#define SMALL_READ 2048

static int scan_note(const struct elf_src *src, const uint8_t *ph, uint8_t cls,
		     bool *go)
{
	uint8_t small[SMALL_READ];
	uint64_t off, size;
	uint8_t *buf = small;
	int rc;

	seg_of(ph, cls, &off, &size);
	if (size == 0 || size > NOTE_SEGMENT_MAX ||
	    off > (uint64_t)INT64_MAX - size)
		return 0; /* not the note we look for */
	if (size > sizeof(small))
		buf = malloc((size_t)size);
	if (!buf)
		return -ENOMEM;
	rc = read_exact(src, buf, (size_t)size, (off_t)off);
	if (rc == 0 && has_go_note(buf, (size_t)size))
		*go = true;
	if (buf != small)
		free(buf);
	/* A note that cannot be read (past the end of the file, or where
	 * pread refuses the offset) is no Go note; the file is judged by
	 * its headers, as before notes were read. */
	return rc == -ENOMEM ? rc : 0;
}

/* Scans the program header table for PT_INTERP and Go's note. p_type is
 * the first 32-bit field of both Elf32_Phdr and Elf64_Phdr, so one loop
 * serves both classes. */
static int scan_phdrs(const struct elf_src *src, const struct ehdr_fields *f,
		      uint8_t cls, struct s5l_elf *out)
{
	size_t size = (size_t)f->phnum * f->phentsize, i;
	uint8_t small[SMALL_READ];
	uint8_t *tab = small;
	int rc;

	out->has_interp = false;
	out->go = false;
	if (size == 0)
		return 0;
	if (size > PHDR_TABLE_MAX || f->phoff > (uint64_t)INT64_MAX - size)
		return -ENOEXEC;
	if (size > sizeof(small))
		tab = malloc(size);
	if (!tab)
		return -ENOMEM;
	rc = read_exact(src, tab, size, (off_t)f->phoff);
	for (i = 0; rc == 0 && i < f->phnum; i++) {
		uint32_t type;

		memcpy(&type, tab + i * f->phentsize, sizeof(type));
		if (type == PT_INTERP)
			out->has_interp = true;
		else if (type == PT_NOTE && !out->go)
			rc = scan_note(src, tab + i * f->phentsize, cls,
				       &out->go);
	}
	if (tab != small)
		free(tab);
	return rc;
}

static int inspect(const struct elf_src *src, struct s5l_elf *out)
{
	unsigned char ident[EI_NIDENT];
	struct ehdr_fields f;
	int rc = read_exact(src, ident, sizeof(ident), 0);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	if (memcmp(ident, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	if (ident[EI_CLASS] != ELFCLASS32 && ident[EI_CLASS] != ELFCLASS64)
		return -ENOEXEC;
	if (ident[EI_DATA] != ELFDATA2LSB && ident[EI_DATA] != ELFDATA2MSB)
		return -ENOEXEC;
	out->cls = ident[EI_CLASS];
	out->data = ident[EI_DATA];
	/* A file in the other byte order cannot run here natively; its
	 * fields would need swapping, and the answer is "foreign" anyway. */
	if (out->data != HOST_ELFDATA)
		return 0;
	if (out->cls == ELFCLASS64)
		rc = read_ehdr64(src, &f);
	else
		rc = read_ehdr32(src, &f);
	if (rc)
		return rc;
	if (f.type != ET_EXEC && f.type != ET_DYN)
		return -ENOEXEC;
	out->native = true;
	out->machine = f.machine;
	return scan_phdrs(src, &f, out->cls, out);
}

int s5l_elf_inspect(int fd, struct s5l_elf *out)
{
	const struct elf_src src = { .fd = fd };

	return inspect(&src, out);
}

int s5l_elf_inspect_mem(const void *buf, size_t len, struct s5l_elf *out)
{
	const struct elf_src src = { .in_mem = true, .mem = buf, .len = len };

	return inspect(&src, out);
}

static bool starts_with_shebang(int fd)
{
	const struct elf_src src = { .fd = fd };
	char magic[2];

	return read_exact(&src, magic, sizeof(magic), 0) == 0 &&
	       magic[0] == '#' && magic[1] == '!';
}

/* The launcher's own ELF header, where the linker (GNU ld, lld) mapped
 * it; NULL when it did not define the symbol. */
extern const unsigned char __ehdr_start[]
	__attribute__((weak, visibility("hidden")));

/* The launcher's own class and machine, from its header in memory (no
 * file to open: /proc costs a start-up a lookup of its own), else from
 * /proc/self/exe. Returns 0 or -errno. */
static int own_arch(struct s5l_elf *self)
{
	int fd, rc;

	if (__ehdr_start) {
		uint16_t machine;

		/* e_machine is at offset 18 in both classes. */
		memcpy(&machine, __ehdr_start + 18, sizeof(machine));
		self->cls = __ehdr_start[EI_CLASS];
		self->machine = machine;
		return 0;
	}
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = s5l_elf_inspect(fd, self);
	close(fd);
	return rc;
}

/* The launcher's own class and machine: the library is built with it. */
static bool same_arch_as_launcher(const struct s5l_elf *e)
{
	struct s5l_elf self;

	if (own_arch(&self) != 0)
		return true; /* cannot tell: say nothing */
	return e->native && e->cls == self.cls && e->machine == self.machine;
}

static void warn(const char *path, const char *what, const char *why)
{
	fprintf(stderr,
		"socks5wrap: warning: %s %s: %s; its connections will not go "
		"through the proxy\n", path, what, why);
}

static void warn_elf(const char *path, int fd)
{
	struct s5l_elf e;
	bool own;

	if (s5l_elf_inspect(fd, &e) != 0)
		return; /* not ELF, or unreadable: the exec will tell */
	own = same_arch_as_launcher(&e);
	/* A 32-bit program gets the 32-bit build when LD_PRELOAD names both;
	 * the supervisor takes programs of its own architecture only. */
	if (!own && !s5l_preload_serves(&e))
		warn(path, "is built for another architecture",
		     "the dynamic loader will skip the preload library");
	else if (!e.has_interp)
		warn(path, "is statically linked", own ?
		     "the preload cannot apply (the supervisor is off)" :
		     "the preload cannot apply, nor can the supervisor (it "
		     "takes programs of its own architecture only)");
	else if (e.go)
		warn(path, "is a Go program", own ?
		     "it makes its own system calls (the supervisor is off)" :
		     "it makes its own system calls, and the supervisor takes "
		     "programs of its own architecture only");
}

const char *s5l_bypasses_libc(const char *path)
{
	const char *why = NULL;
	struct s5l_elf e;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (s5l_elf_inspect(fd, &e) == 0 && same_arch_as_launcher(&e)) {
		if (!e.has_interp)
			why = "is statically linked";
		else if (e.go)
			why = "is a Go program, which makes its own system "
			      "calls";
	}
	close(fd);
	return why;
}

static void warn_setid(const char *path, const struct stat *st)
{
	/* Setgid without group execute is the old mandatory-locking mark,
	 * which exec ignores. */
	if (st->st_mode & S_ISUID)
		warn(path, "is setuid",
		     "the dynamic loader ignores LD_PRELOAD for setuid programs");
	else if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP))
		warn(path, "is setgid",
		     "the dynamic loader ignores LD_PRELOAD for setgid programs");
}

void s5l_warn_unreachable(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	/* An execute-only file cannot be read: nothing to say then. */
	if (fd < 0)
		return;
	/* The kernel ignores setuid bits on scripts, and their interpreter
	 * is a program of its own: no warning for them. */
	if (fstat(fd, &st) == 0 && !starts_with_shebang(fd)) {
		warn_setid(path, &st);
		warn_elf(path, fd);
	}
	close(fd);
}
