/* The socks5wrap launcher: functions shared between its files.
 *
 * The launcher is an ordinary program (stdio and exit are fine here, unlike
 * in the preloaded library). Messages go to stderr and start "socks5wrap: ".
 */
#ifndef S5_LAUNCHER_H
#define S5_LAUNCHER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit statuses, the same as env(1), nice(1) and the shells use. */
#define S5L_EXIT_OWN 125      /* our own error: options, config, library */
#define S5L_EXIT_CANNOT 126   /* PROGRAM was found but cannot be executed */
#define S5L_EXIT_NOTFOUND 127 /* PROGRAM was not found */

#define S5L_LIB_NAME "libsocks5wrap.so"

/* ---- options.c ------------------------------------------------------- */

struct s5l_opts {
	/* Values given on the command line, NULL when not given. They point
	 * into argv. */
	const char *proxy, *user, *no_proxy, *timeout, *log_file, *dns, *udp,
		*bind;
	const char *pipeline; /* "1" with --pipeline */
	const char *optimistic; /* "1" with --optimistic */
	const char *supervise; /* "on" / "off" with --(no-)supervise */
	const char *chain; /* "1" / "0" with --(no-)chain */
	char *proxy_joined; /* malloc'd "a,b" behind proxy after two -p */
	const char *log_level; /* from -v / -q: "info", "debug", "none" */
	bool check;
	char **prog_argv; /* PROGRAM ARGS..., NULL-terminated; NULL if none */
};

/* Parses the command line. Returns -1 when the launcher should go on, or
 * the status to exit with at once (0 after --help / --version, 125 after
 * a message on stderr). */
int s5l_parse_opts(int argc, char **argv, struct s5l_opts *o);

/* Exports the values given on the command line as the environment
 * variables the library reads. Returns 0, or 125 after a message. */
int s5l_export_opts(const struct s5l_opts *o);

/* ---- library.c ------------------------------------------------------- */

/* True when path can be one entry of LD_PRELOAD: the dynamic loader splits
 * that list at ':' and at white space, and has no way to quote either. */
bool s5l_preload_entry_ok(const char *path);

/* "lib" when old is NULL or empty, else "lib:old". Returns a malloc'd
 * string, or NULL when out of memory. */
char *s5l_preload_join(const char *lib, const char *old);

/* Locates libsocks5wrap.so: $SOCKS5WRAP_LIBRARY, else beside the launcher,
 * else in the installed library directory. Returns a malloc'd absolute
 * path, or NULL after a message naming the paths tried. The path holds
 * the token $LIB, for the dynamic loader to expand, when the 32-bit and
 * the native build are both there, each under its loader's $LIB. */
char *s5l_find_library(void);

/* "PRE/$LIB/SUF" when native is "PRE/tok/SUF" and other "PRE/tok32/SUF"
 * (tok and tok32 whole path components), else NULL (also when out of
 * memory). Malloc'd. */
char *s5l_lib_pattern(const char *native, const char *tok,
		      const char *other, const char *tok32);

struct s5l_elf;

/* True when the entry s5l_find_library chose names the 32-bit build too,
 * and that build is for e's class and machine. */
bool s5l_preload_serves(const struct s5l_elf *e);

/* Puts lib in front of LD_PRELOAD. Returns 0, or 125 after a message. */
int s5l_set_preload(const char *lib);

/* ---- exec.c ---------------------------------------------------------- */

/* Looks a command up the way execvp(3) does: a name with '/' is used as it
 * is; otherwise each directory of path (an empty entry is the current
 * directory) is tried, and the first executable regular file wins. When
 * only non-executable files of that name exist, the first one is returned
 * so that exec reports why. Returns a malloc'd path, or NULL with errno
 * ENOENT (not found) or ENOMEM. */
char *s5l_find_program(const char *name, const char *path);

/* s5l_find_program on PATH, with the messages and exit statuses of a
 * command that is not there: returns the malloc'd path, or exits 127
 * (not found) or 125 (out of memory). */
char *s5l_locate(const char *name);

/* Warns about programs the preload cannot reach, then execs path with
 * prog_argv. Never returns: exits 126 or 127 with a message when the exec
 * fails. */
void s5l_exec(char *path, char **prog_argv) __attribute__((noreturn));

/* ---- elf.c ----------------------------------------------------------- */

struct s5l_elf {
	uint8_t cls;      /* ELFCLASS32 or ELFCLASS64 */
	uint8_t data;     /* ELFDATA2LSB or ELFDATA2MSB */
	uint16_t machine; /* e_machine; 0 when data is not the host order */
	bool native;      /* byte order of this host: the fields below are set */
	bool has_interp;  /* a PT_INTERP program header: dynamically linked */
	bool go;          /* Go's build ID note: makes its own system calls */
};

/* Reads the ELF header and program headers of an open file (with pread,
 * so the offset does not matter). Returns 0, -ENOEXEC when the file is not
 * an ELF executable or is malformed, or another -errno from reading. */
int s5l_elf_inspect(int fd, struct s5l_elf *out);

/* The same for a whole file's bytes in memory: buf holds len of them. */
int s5l_elf_inspect_mem(const void *buf, size_t len, struct s5l_elf *out);

/* Prints the warnings for a program the preload will not reach: statically
 * linked, built for another architecture, setuid or setgid. Scripts and
 * files it cannot read get no warning. */
void s5l_warn_unreachable(const char *path);

/* Why the preload alone cannot carry PROGRAM's connections although it
 * is built for this machine: "is statically linked", "is a Go program...",
 * or NULL (dynamic, a script, another architecture, unreadable). */
const char *s5l_bypasses_libc(const char *path);

/* ---- check.c --------------------------------------------------------- */

/* --check: connects to the proxy and authenticates, reports on stdout (or
 * stderr on failure). Returns the exit status: 0, 1, or 125. */
int s5l_check(void);

/* ---- strerror.c ------------------------------------------------------ */

/* strerror(err), with the same words under glibc and musl for the errno
 * values whose text differs between them. */
const char *s5l_strerror(int err);

/* ---- main.c helpers -------------------------------------------------- */

/* getenv for s5_config_load. */
const char *s5l_getenv(const char *name, void *ctx);

struct s5_config;

/* Loads the configuration from the environment and resolves the proxy
 * name. Returns 0, or 125 after a message (the config is freed then). */
int s5l_load_config(struct s5_config *c);

#endif
