#!/bin/sh
# The library must export exactly the libc functions listed in its version
# script: anything else could interpose on the host program by accident.
set -eu
lib=$1
map=$2
# Names marked time32 belong to libraries built for a 32-bit time_t
# (ELFCLASS32 here: byte 4 of the ELF header is 1).
names=$(sed -n '/global:/,/local:/p' "$map")
if [ "$(od -An -j4 -N1 -tu1 "$lib" | tr -d ' ')" != 1 ]; then
	names=$(echo "$names" | grep -v 'time32')
fi
want=$(echo "$names" | sed 's@/\*.*\*/@@' | tr -d ' \t;' |
	grep -Ev '^(global:|local:|)$' | sort)
have=$(nm -D --defined-only "$lib" | awk '{print $3}' |
	grep -Ev '^(_init|_fini)$' | sed 's/@.*//' | sort -u)
if [ "$want" != "$have" ]; then
	echo "exported symbols differ from $map:"
	echo "$want" >/tmp/s5-exports-want.$$
	echo "$have" | diff /tmp/s5-exports-want.$$ - || true
	rm -f /tmp/s5-exports-want.$$
	exit 1
fi
echo "exports ok: $(echo "$have" | tr '\n' ' ')"
