#!/bin/sh
# Runs every snippet program under the preload twice: the hook called from
# main(), and from a library constructor that runs before the preload's own.
# Everything runs in a new network namespace with only loopback, next to a
# fake SOCKS5 server: a connection that went around the proxy could not
# reach anything, so a passing snippet really went through the proxy.
set -u
BUILD=${BUILD:-build}
if [ -z "${S5_SNIPPETS_INNER:-}" ]; then
	S5_SNIPPETS_INNER=1 exec unshare --net -- sh "$0" "$@"
fi
ip link set lo up || exit 1
build=$(cd "$BUILD" && pwd)
tmp=$(mktemp -d)
/usr/bin/python3 tests/snippets/fake_socks.py --port-file "$tmp/port" \
	--errors "$tmp/proxy-errors" --lifetime 300 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -s "$tmp/port" ] || { echo "fake SOCKS5 server did not start"; exit 1; }
port=$(cat "$tmp/port")

preload="$build/libsocks5wrap.so"
preload32="$build/\$LIB/libsocks5wrap.so"
# Sanitizer reports end a snippet with exit statuses of their own (the
# values of tests/integration/sanitizers.py), and any report text in its
# output or log fails it, whatever the exit status.
san_marks='(ERROR|SUMMARY): (Address|Leak|UndefinedBehavior)Sanitizer'
san_marks="$san_marks|runtime error:"
if [ "${SANITIZE:-}" = 1 ]; then
	preload="$(gcc -print-file-name=libasan.so) $preload"
	export ASAN_OPTIONS=detect_leaks=0:exitcode=86
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87
fi

# run_one BIN PRELOAD KIND MODES: BIN under PRELOAD, from main() and from
# a library constructor (MODES: "main ctor", or one of them); a PASS or
# FAIL line each, with KIND in it.
run_one() {
	name=$(basename "$1")
	for mode in $4; do
		log="$tmp/$name-$mode$3.log"
		: >"$log"
		if [ $mode = ctor ]; then ctor=1; else ctor=; fi
		out=$(env LD_PRELOAD="$2" SOCKS5_PROXY="127.0.0.1:$port" \
			SOCKS5WRAP_NO_PROXY= SOCKS5WRAP_LOG=info \
			SOCKS5WRAP_LOG_FILE="$log" ${ctor:+S5_SNIPPET_CTOR=1} \
			timeout 30 "$1" 2>&1)
		rc=$?
		san=$(printf '%s\n' "$out" | cat - "$log" | grep -E "$san_marks")
		if [ -n "$san" ]; then
			echo "FAIL $name ($mode$3): sanitizer report (exit $rc)"
			echo "$out" | sed 's/^/    /'
			sed 's/^/    log: /' "$log"
		elif [ $rc -eq 0 ] && grep -q "via 127.0.0.1:$port: ok" "$log"; then
			echo "PASS $name ($mode$3)"
		else
			echo "FAIL $name ($mode$3): exit $rc"
			echo "$out" | sed 's/^/    /'
			sed 's/^/    log: /' "$log"
		fi
	done
}

# run_all DIR PRELOAD KIND MODES: every program in DIR.
run_all() {
	for bin in "$1"/*; do
		[ -x "$bin" ] && [ "${bin%.so}" = "$bin" ] || continue
		run_one "$bin" "$2" "$3" "$4"
	done
}

run_all "$build/snippets" "$preload" "" "main ctor" | tee "$tmp/out"
# The same programs built with -m32, when make built the 32-bit library,
# under it (named through $LIB, as the launcher does), from main() only:
# what differs there is the ABI, not the order of start-up. About 17 s
# (one pass takes as long as the fake proxy's delays; the snippets cannot
# share it with another pass at the same time).
# Under SANITIZE=1 they and the 32-bit library have UBSan only (see the
# Makefile); timeout(1), a 64-bit program, meets the 64-bit library first,
# which brings ASan along without a preload.
(
	if [ "${SANITIZE:-}" = 1 ]; then
		export ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
	fi
	run_all "$build/snippets32" "$preload32" ", 32-bit" main
) | tee -a "$tmp/out"
passed=$(grep -c '^PASS' "$tmp/out")
failed=$(grep -c '^FAIL' "$tmp/out")
# Destinations and headers the fake proxy did not expect: a snippet that
# asked for the wrong address (or encoded it wrongly) fails the run even
# if its own check was fooled.
if [ -s "$tmp/proxy-errors" ]; then
	failed=$((failed + 1))
	echo "FAIL the fake proxy was sent what no snippet asks for:"
	sed 's/^/    /' "$tmp/proxy-errors"
fi
echo "snippets: $passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
