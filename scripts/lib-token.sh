#!/bin/sh
# What the dynamic loader puts in place of $LIB (ld.so(8), "Dynamic string
# tokens") for programs built by CC, natively and with -m32, written as
# make assignments for the Makefile to include:
#
#   LIB_TOKEN := lib/x86_64-linux-gnu
#   LIB_TOKEN32 := lib32
#   LIB_TOKEN32_WHY :=
#   LIB_TOKEN_ASKED := 1 gcc
#
# Each loader has its own (Debian: lib/x86_64-linux-gnu and lib32; Fedora:
# lib64 and lib), so it is asked, not assumed: a small program is built
# and run with LD_LIBRARY_PATH=/s5w-lib-token/$LIB and prints its library
# search path as the loader expanded it (dlinfo(3), RTLD_DI_SERINFO).
# LIB_TOKEN32 stays empty, and LIB_TOKEN32_WHY says why, when no 32-bit
# program can be built here, when one is built but this kernel cannot run
# it (no IA32 emulation: nothing 32-bit could be used or tested then), or
# when both loaders expand $LIB the same way (one LD_PRELOAD entry could
# not then tell them apart).
#
# Usage: sh scripts/lib-token.sh WORKDIR M32 CC [FLAGS...]
#   M32: 0 to leave the 32-bit build out, anything else to try it.
set -u
work=$1 m32=$2
shift 2
mkdir -p "$work" || exit 1

cat >"$work/probe.c" <<'PROBE'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	static const char mark[] = "/s5w-lib-token/";
	void *self = dlopen(NULL, RTLD_NOW);
	Dl_serinfo size, *info;
	unsigned int i;
	int rc = 1;

	if (!self || dlinfo(self, RTLD_DI_SERINFOSIZE, &size) != 0)
		return 1;
	info = malloc(size.dls_size);
	if (!info)
		return 1;
	memcpy(info, &size, sizeof(size));
	if (dlinfo(self, RTLD_DI_SERINFO, info) == 0)
		for (i = 0; i < info->dls_cnt && rc; i++) {
			const char *p = info->dls_serpath[i].dls_name;

			if (strncmp(p, mark, sizeof(mark) - 1) == 0) {
				puts(p + sizeof(mark) - 1);
				rc = 0;
			}
		}
	free(info);
	return rc;
}
PROBE

# token NAME FLAGS...: the expansion for programs built with FLAGS, or
# nothing (the build's or the run's messages are in WORKDIR/NAME.log, and
# WORKDIR/NAME exists only when the build succeeded).
token() {
	name=$1
	shift
	rm -f "$work/$name"
	"$@" -o "$work/$name" "$work/probe.c" -ldl >"$work/$name.log" 2>&1 &&
		env -u LD_PRELOAD LD_LIBRARY_PATH='/s5w-lib-token/$LIB' \
			"$work/$name" 2>>"$work/$name.log"
}

# kernel_refused NAME: whether the kernel would not execute the program
# that was built. execve(2) then fails with ENOEXEC, and env's execvp(3)
# hands the file to /bin/sh, which reports a syntax error on the ELF
# bytes; an env that does not fall back reports the error itself.
kernel_refused() {
	[ -f "$work/$1" ] &&
		grep -qE 'Exec format error|Syntax error|syntax error|cannot execute binary file' \
			"$work/$1.log"
}

native=$(token probe "$@")
why=
t32=
if [ -z "$native" ]; then
	why="the dynamic loader does not expand \$LIB (see $work/probe.log)"
elif [ "$m32" = 0 ]; then
	why="M32=0"
else
	t32=$(token probe32 "$@" -m32)
	if [ -z "$t32" ] && kernel_refused probe32; then
		why="this kernel cannot run 32-bit x86 programs (no IA32 emulation; $1 -m32 builds them, see $work/probe32.log)"
	elif [ -z "$t32" ]; then
		why="$1 -m32 cannot build or run a program (gcc-multilib; see $work/probe32.log)"
	elif [ "$t32" = "$native" ]; then
		why="both dynamic loaders expand \$LIB to $t32"
		t32=
	fi
fi
echo "LIB_TOKEN := $native"
echo "LIB_TOKEN32 := $t32"
echo "LIB_TOKEN32_WHY := $why"
echo "LIB_TOKEN_ASKED := $m32 $*"
