/* Unit tests for the launcher's pure helpers: LD_PRELOAD strings, PATH
 * search, ELF inspection.
 *
 * The Makefile links unit tests with the core objects only, not with
 * src/launcher, so the helper files are included here as source. They
 * have no main() and need nothing from the rest of the launcher.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/launcher/library.c"
#include "../../src/launcher/exec.c"
#include "../../src/launcher/elf.c"
#include "../../src/launcher/strerror.c"

/* ---- LD_PRELOAD ---- */

static void assert_pattern(const char *native, const char *other,
			   const char *want)
{
	char *s = s5l_lib_pattern(native, "lib/x86_64-linux-gnu", other,
				  "lib32");

	if (want == NULL) {
		assert_null(s);
		return;
	}
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void lib_pattern_replaces_both_tokens_with_one_lib(void **state)
{
	(void)state;
	assert_pattern("/usr/local/lib/x86_64-linux-gnu/socks5wrap/l.so",
		       "/usr/local/lib32/socks5wrap/l.so",
		       "/usr/local/$LIB/socks5wrap/l.so");
	assert_pattern("/b/lib/x86_64-linux-gnu/l.so", "/b/lib32/l.so",
		       "/b/$LIB/l.so");
}

static void lib_pattern_needs_the_same_rest_and_whole_components(void **state)
{
	(void)state;
	/* Another directory before or after the token. */
	assert_pattern("/a/lib/x86_64-linux-gnu/l.so", "/b/lib32/l.so", NULL);
	assert_pattern("/a/lib/x86_64-linux-gnu/l.so", "/a/lib32/m.so", NULL);
	/* The token inside a longer component. */
	assert_pattern("/a/xlib/x86_64-linux-gnu/l.so", "/a/xlib32/l.so",
		       NULL);
	assert_pattern("/a/lib/x86_64-linux-gnux/l.so", "/a/lib32x/l.so",
		       NULL);
	/* No token at all, or not at the place the other path has its. */
	assert_pattern("/a/lib/l.so", "/a/lib32/l.so", NULL);
	/* The second of two places is the one that matches. */
	assert_pattern("/lib/x86_64-linux-gnu/lib/x86_64-linux-gnu/l.so",
		       "/lib/x86_64-linux-gnu/lib32/l.so",
		       "/lib/x86_64-linux-gnu/$LIB/l.so");
	/* An empty token (no 32-bit build) never matches. */
	assert_null(s5l_lib_pattern("/a/l.so", "", "/a/l.so", ""));
}


static void preload_of_unset_variable_is_the_library_alone(void **state)
{
	char *s = s5l_preload_join("/lib/x.so", NULL);

	(void)state;
	assert_string_equal(s, "/lib/x.so");
	free(s);
}

static void preload_of_empty_variable_is_the_library_alone(void **state)
{
	char *s = s5l_preload_join("/lib/x.so", "");

	(void)state;
	assert_string_equal(s, "/lib/x.so");
	free(s);
}

static void preload_keeps_the_old_entries_after_the_library(void **state)
{
	char *s = s5l_preload_join("/lib/x.so", "/a.so:/b.so other.so");

	(void)state;
	assert_string_equal(s, "/lib/x.so:/a.so:/b.so other.so");
	free(s);
}

static void preload_entry_refuses_colon_and_white_space(void **state)
{
	(void)state;
	assert_true(s5l_preload_entry_ok("/usr/lib/socks5wrap/x.so"));
	assert_false(s5l_preload_entry_ok(""));
	assert_false(s5l_preload_entry_ok("/a:b/x.so"));
	assert_false(s5l_preload_entry_ok("/a b/x.so"));
	assert_false(s5l_preload_entry_ok("/a\tb/x.so"));
	assert_false(s5l_preload_entry_ok("/a\nb/x.so"));
}

/* ---- PATH search ---- */

struct tree {
	char dir[64];
	char *a, *b; /* two PATH directories */
};

static char *join2(const char *x, const char *y)
{
	char *s = malloc(strlen(x) + 1 + strlen(y) + 1);

	assert_non_null(s);
	sprintf(s, "%s/%s", x, y);
	return s;
}

static void make_file(const char *dir, const char *name, mode_t mode)
{
	char *p = join2(dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	free(p);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/s5l-test-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	t->a = join2(t->dir, "a");
	t->b = join2(t->dir, "b");
	assert_int_equal(mkdir(t->a, 0755), 0);
	assert_int_equal(mkdir(t->b, 0755), 0);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char *cmd = malloc(strlen(t->dir) + 16);

	sprintf(cmd, "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(t->a);
	free(t->b);
	free(t);
	return 0;
}

/* "A:B" for the two directories of the tree. */
static char *path_ab(const struct tree *t)
{
	char *s = malloc(strlen(t->a) + 1 + strlen(t->b) + 1);

	assert_non_null(s);
	sprintf(s, "%s:%s", t->a, t->b);
	return s;
}

static void search_takes_the_first_executable_file(void **state)
{
	struct tree *t = *state;
	char *path = path_ab(t), *want = join2(t->b, "prog");
	char *got;

	make_file(t->a, "prog", 0644); /* not executable: skipped */
	make_file(t->b, "prog", 0755);
	got = s5l_find_program("prog", path);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	free(want);
	free(path);
}

static void search_returns_a_non_executable_file_when_alone(void **state)
{
	struct tree *t = *state;
	char *path = path_ab(t), *want = join2(t->a, "prog");
	char *got;

	make_file(t->a, "prog", 0644);
	got = s5l_find_program("prog", path);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	free(want);
	free(path);
}

static void search_skips_directories_of_the_same_name(void **state)
{
	struct tree *t = *state;
	char *path = path_ab(t), *d = join2(t->a, "prog");
	char *want = join2(t->b, "prog"), *got;

	assert_int_equal(mkdir(d, 0755), 0);
	make_file(t->b, "prog", 0755);
	got = s5l_find_program("prog", path);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	free(want);
	free(d);
	free(path);
}

static void search_of_a_missing_name_fails_with_enoent(void **state)
{
	struct tree *t = *state;
	char *path = path_ab(t);

	errno = 0;
	assert_null(s5l_find_program("prog", path));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(s5l_find_program("", path));
	assert_int_equal(errno, ENOENT);
	free(path);
}

static void name_with_slash_is_used_as_it_is(void **state)
{
	char *got = s5l_find_program("./no/such/prog", "/bin");

	(void)state;
	assert_string_equal(got, "./no/such/prog");
	free(got);
}

static void empty_path_entry_is_the_current_directory(void **state)
{
	struct tree *t = *state;
	char *path = malloc(strlen(t->b) + 2), *old = getcwd(NULL, 0);
	char *got;

	sprintf(path, "%s:", t->b);
	make_file(t->a, "prog", 0755);
	assert_int_equal(chdir(t->a), 0);
	got = s5l_find_program("prog", path);
	assert_int_equal(chdir(old), 0);
	assert_string_equal(got, "./prog");
	free(got);
	free(old);
	free(path);
}

/* ---- ELF inspection ---- */

/* An anonymous file holding len bytes of buf. */
static int mem_file(const void *buf, size_t len)
{
	int fd = memfd_create("elf", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	return fd;
}

static void fill_ident(unsigned char *ident, uint8_t cls, uint8_t data)
{
	memcpy(ident, ELFMAG, SELFMAG);
	ident[EI_CLASS] = cls;
	ident[EI_DATA] = data;
	ident[EI_VERSION] = EV_CURRENT;
}

/* A 64-bit executable with two program headers of the given types. */
static int elf64_file(uint32_t t1, uint32_t t2, uint16_t phentsize)
{
	struct {
		Elf64_Ehdr e;
		Elf64_Phdr ph[2];
	} f;

	memset(&f, 0, sizeof(f));
	fill_ident(f.e.e_ident, ELFCLASS64, HOST_ELFDATA);
	f.e.e_type = ET_EXEC;
	f.e.e_machine = EM_X86_64;
	f.e.e_phoff = sizeof(f.e);
	f.e.e_phentsize = phentsize;
	f.e.e_phnum = 2;
	f.ph[0].p_type = t1;
	f.ph[1].p_type = t2;
	return mem_file(&f, sizeof(f));
}

static int elf32_file(uint32_t t1, uint32_t t2)
{
	struct {
		Elf32_Ehdr e;
		Elf32_Phdr ph[2];
	} f;

	memset(&f, 0, sizeof(f));
	fill_ident(f.e.e_ident, ELFCLASS32, HOST_ELFDATA);
	f.e.e_type = ET_DYN;
	f.e.e_machine = EM_386;
	f.e.e_phoff = sizeof(f.e);
	f.e.e_phentsize = sizeof(Elf32_Phdr);
	f.e.e_phnum = 2;
	f.ph[0].p_type = t1;
	f.ph[1].p_type = t2;
	return mem_file(&f, sizeof(f));
}

static void elf64_with_interp_is_dynamic(void **state)
{
	int fd = elf64_file(PT_LOAD, PT_INTERP, sizeof(Elf64_Phdr));
	struct s5l_elf e;

	(void)state;
	assert_int_equal(s5l_elf_inspect(fd, &e), 0);
	assert_true(e.native);
	assert_int_equal(e.cls, ELFCLASS64);
	assert_int_equal(e.machine, EM_X86_64);
	assert_true(e.has_interp);
	close(fd);
}

static void elf64_without_interp_is_static(void **state)
{
	int fd = elf64_file(PT_LOAD, PT_NOTE, sizeof(Elf64_Phdr));
	struct s5l_elf e;

	(void)state;
	assert_int_equal(s5l_elf_inspect(fd, &e), 0);
	assert_false(e.has_interp);
	close(fd);
}

static void elf32_is_read_with_its_own_layout(void **state)
{
	struct s5l_elf e;
	int fd = elf32_file(PT_INTERP, PT_LOAD);

	(void)state;
	assert_int_equal(s5l_elf_inspect(fd, &e), 0);
	assert_int_equal(e.cls, ELFCLASS32);
	assert_int_equal(e.machine, EM_386);
	assert_true(e.has_interp);
	close(fd);
	fd = elf32_file(PT_LOAD, PT_DYNAMIC);
	assert_int_equal(s5l_elf_inspect(fd, &e), 0);
	assert_false(e.has_interp);
	close(fd);
}

static void elf_with_odd_phentsize_is_refused(void **state)
{
	int fd = elf64_file(PT_LOAD, PT_INTERP, sizeof(Elf64_Phdr) - 8);
	struct s5l_elf e;

	(void)state;
	assert_int_equal(s5l_elf_inspect(fd, &e), -ENOEXEC);
	close(fd);
}

static void truncated_elf_is_refused(void **state)
{
	Elf64_Ehdr h;
	struct s5l_elf e;
	int fd;

	(void)state;
	memset(&h, 0, sizeof(h));
	fill_ident(h.e_ident, ELFCLASS64, HOST_ELFDATA);
	h.e_type = ET_EXEC;
	h.e_phoff = sizeof(h);
	h.e_phentsize = sizeof(Elf64_Phdr);
	h.e_phnum = 3; /* the headers are not there */
	fd = mem_file(&h, sizeof(h));
	assert_int_equal(s5l_elf_inspect(fd, &e), -ENOEXEC);
	close(fd);
	fd = mem_file(&h, 20); /* cut inside the ELF header */
	assert_int_equal(s5l_elf_inspect(fd, &e), -ENOEXEC);
	close(fd);
}

static void other_byte_order_is_foreign(void **state)
{
	unsigned char ident[EI_NIDENT + 64] = { 0 };
	struct s5l_elf e;
	int fd;

	(void)state;
	fill_ident(ident, ELFCLASS64,
		   HOST_ELFDATA == ELFDATA2LSB ? ELFDATA2MSB : ELFDATA2LSB);
	fd = mem_file(ident, sizeof(ident));
	assert_int_equal(s5l_elf_inspect(fd, &e), 0);
	assert_false(e.native);
	close(fd);
}

static void script_and_object_file_are_not_executables(void **state)
{
	static const char script[] = "#!/bin/sh\necho hi\n";
	Elf64_Ehdr h;
	struct s5l_elf e;
	int fd;

	(void)state;
	fd = mem_file(script, sizeof(script) - 1);
	assert_int_equal(s5l_elf_inspect(fd, &e), -ENOEXEC);
	close(fd);
	memset(&h, 0, sizeof(h));
	fill_ident(h.e_ident, ELFCLASS64, HOST_ELFDATA);
	h.e_type = ET_REL;
	h.e_phentsize = sizeof(Elf64_Phdr);
	fd = mem_file(&h, sizeof(h));
	assert_int_equal(s5l_elf_inspect(fd, &e), -ENOEXEC);
	close(fd);
}

static void this_test_program_is_dynamic_and_native(void **state)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	struct s5l_elf e;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(s5l_elf_inspect(fd, &e), 0);
	assert_true(e.native);
	assert_true(e.has_interp);
	assert_int_equal(e.cls, sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32);
	close(fd);
}

#define TREE(f) cmocka_unit_test_setup_teardown(f, tree_setup, tree_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lib_pattern_replaces_both_tokens_with_one_lib),
		cmocka_unit_test(
			lib_pattern_needs_the_same_rest_and_whole_components),
		cmocka_unit_test(preload_of_unset_variable_is_the_library_alone),
		cmocka_unit_test(preload_of_empty_variable_is_the_library_alone),
		cmocka_unit_test(preload_keeps_the_old_entries_after_the_library),
		cmocka_unit_test(preload_entry_refuses_colon_and_white_space),
		TREE(search_takes_the_first_executable_file),
		TREE(search_returns_a_non_executable_file_when_alone),
		TREE(search_skips_directories_of_the_same_name),
		TREE(search_of_a_missing_name_fails_with_enoent),
		TREE(empty_path_entry_is_the_current_directory),
		cmocka_unit_test(name_with_slash_is_used_as_it_is),
		cmocka_unit_test(elf64_with_interp_is_dynamic),
		cmocka_unit_test(elf64_without_interp_is_static),
		cmocka_unit_test(elf32_is_read_with_its_own_layout),
		cmocka_unit_test(elf_with_odd_phentsize_is_refused),
		cmocka_unit_test(truncated_elf_is_refused),
		cmocka_unit_test(other_byte_order_is_foreign),
		cmocka_unit_test(script_and_object_file_are_not_executables),
		cmocka_unit_test(this_test_program_is_dynamic_and_native),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
