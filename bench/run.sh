#!/bin/sh
# make bench: builds the benchmark programs into $BUILD/bench (cc -O2),
# runs them, and prints one markdown table of medians and ratios against
# a baseline measured in the same run; the table also goes to
# $BUILD/bench/results.md. Progress goes to stderr.
#
#   1. getaddrinfo + freeaddrinfo, ns per call: libc answering a name from
#      /etc/hosts (the baseline) vs the preload answering a proxied name
#      with a fake address, and the preload passing the /etc/hosts name on
#      to libc. /etc/hosts is never edited: as root the whole run happens
#      in a private mount namespace where a hosts file of ours is
#      bind-mounted over it.
#   2. UDP round trips of 64-byte datagrams through s5echo (a SOCKS5 relay
#      that echoes), ping-pong and 32 outstanding: a client that speaks
#      SOCKS5 itself (the baseline) vs plain sendto/recvfrom under the
#      preload. Every run gets a fresh relay, whose datagram count must
#      equal the client's: otherwise the datagrams did not go through it.
#   3. Memory (VmRSS) and descriptors per UDP association, vs plain sockets.
#
# Traffic stays on loopback; as root also in a private network namespace
# with only lo. Every program is bounded in count and time, and run under
# timeout(1). Each measurement runs RUNS (5) times, baseline and variant
# interleaved, and the median is reported.
set -u
export LC_ALL=C # decimal points for awk and sort -g

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.." || exit 1
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
case $RUNS in '' | *[!0-9]* | 0) echo "bench: RUNS must be >= 1" >&2; exit 1 ;; esac
OUT=$BUILD/bench
LIB=$(cd "$BUILD" 2>/dev/null && pwd)/libsocks5wrap.so

say() { echo "bench: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# ---- build, once, outside the namespaces ----------------------------------

if [ -z "${S5_BENCH_INNER:-}" ]; then
	[ -f "$LIB" ] || fail "$BUILD/libsocks5wrap.so missing: run make first"
	mkdir -p "$OUT" || fail "cannot create $OUT"
	for p in gai s5echo udpbench udpmem; do
		${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -Wshadow \
			-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
			-Wvla -Wundef -Wwrite-strings \
			-o "$OUT/$p" "bench/$p.c" ||
			fail "cannot compile bench/$p.c"
	done
	if [ "$(id -u)" -ne 0 ]; then
		say "not root: no mount namespace, so the getaddrinfo baseline" \
			"(libc and an /etc/hosts name) and the preload's" \
			"/etc/hosts case are SKIPPED; UDP runs on the host's loopback"
	elif ! unshare -m -n true 2>/dev/null; then
		say "unshare -m -n failed: getaddrinfo baseline SKIPPED;" \
			"UDP runs on the host's loopback"
	elif ! command -v ip >/dev/null 2>&1; then
		say "no ip(8) to bring up lo in a network namespace:" \
			"UDP runs on the host's loopback"
		S5_BENCH_INNER=1 exec unshare -m -- sh "$here/run.sh"
	else
		S5_BENCH_INNER=1 S5_BENCH_NETNS=1 exec unshare -m -n -- \
			sh "$here/run.sh"
	fi
fi

# ---- set-up and clean-up --------------------------------------------------

tmp=$(mktemp -d) || fail "mktemp"
RELAY=
cleanup() {
	if [ -n "$RELAY" ]; then
		kill "$RELAY" 2>/dev/null
		wait "$RELAY" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HOSTS_OK=
if [ -n "${S5_BENCH_INNER:-}" ]; then
	if [ -n "${S5_BENCH_NETNS:-}" ]; then
		ip link set lo up || fail "ip link set lo up in the network namespace"
	fi
	printf '198.51.100.10 bench-host.test\n' >"$tmp/hosts"
	mount --bind "$tmp/hosts" /etc/hosts ||
		fail "bind-mounting a private /etc/hosts"
	HOSTS_OK=1
fi

# Client and relay on different cores when possible; also both on one core,
# where a round trip costs CPU time rather than cross-core wake-ups.
PLACES=none
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	PLACES="split same"
fi
relay_pin() { [ "$PLACES" = none ] || echo "taskset -c 0"; }
client_pin() {
	case $1 in
	split) echo "taskset -c 1" ;;
	same) echo "taskset -c 0" ;;
	esac
}

# The value of field $1 in the line $2 ("name value name value ...").
field() {
	echo "$2" | awk -v k="$1" '{ for (i = 1; i < NF; i++)
		if ($i == k) { print $(i + 1); exit } }'
}

is_number() {
	case $1 in
	'' | *[!0-9.]*) return 1 ;;
	esac
}

# ---- the relay ------------------------------------------------------------

relay_start() {
	: >"$tmp/relay.out"
	$(relay_pin) "$OUT/s5echo" 60 >"$tmp/relay.out" 2>"$tmp/relay.err" &
	RELAY=$!
	i=0
	while ! grep -q '^port ' "$tmp/relay.out" && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	PORT=$(sed -n 's/^port //p' "$tmp/relay.out")
	is_number "$PORT" || fail "s5echo did not start: $(cat "$tmp/relay.err")"
}

# Stops the relay; RELAY_DGRAMS, RELAY_BAD and RELAY_ASSOC from its report.
# (sh has only global variables: the names here are used nowhere else.)
relay_stop() {
	kill "$RELAY" 2>/dev/null
	wait "$RELAY"
	rrc=$?
	RELAY=
	rline=$(grep "^datagrams " "$tmp/relay.out")
	[ $rrc -eq 0 ] && [ -n "$rline" ] ||
		fail "s5echo exit $rrc: $(cat "$tmp/relay.err")"
	RELAY_DGRAMS=$(field datagrams "$rline")
	RELAY_BAD=$(field bad "$rline")
	RELAY_ASSOC=$(field associations "$rline")
}

# ---- one run of each kind: result in RESULT (and RESULT2) ----------------

# gai NAME EXPECT preload|libc
run_gai() {
	if [ "$3" = preload ]; then
		# Port 9 is only configuration: resolving never contacts it.
		line=$(timeout 60 env LD_PRELOAD="$LIB" SOCKS5_PROXY=127.0.0.1:9 \
			"$OUT/gai" "$1" "$2" 200000 3 2>"$tmp/err")
	else
		line=$(timeout 60 "$OUT/gai" "$1" "$2" 200000 3 2>"$tmp/err")
	fi || fail "gai $1 ($3): $(cat "$tmp/err")"
	RESULT=$(field ns_per_call "$line")
	is_number "$RESULT" || fail "gai $1 ($3): bad output: $line"
}

# udp native|plain WINDOW PLACE
run_udp() {
	if [ "$2" = 1 ]; then count=200000; else count=1000000; fi
	pin=$(client_pin "$3") # empty or "taskset -c N": split on purpose
	relay_start
	# shellcheck disable=SC2086
	if [ "$1" = native ]; then
		line=$(timeout 60 $pin "$OUT/udpbench" native "$PORT" $count \
			"$2" 1 2>"$tmp/err")
	else
		line=$(timeout 60 $pin env LD_PRELOAD="$LIB" \
			SOCKS5_PROXY="127.0.0.1:$PORT" SOCKS5WRAP_NO_PROXY= \
			"$OUT/udpbench" plain $count "$2" 1 2>"$tmp/err")
	fi
	rc=$?
	relay_stop
	[ $rc -eq 0 ] || fail "udpbench $1 window $2: exit $rc: $(cat "$tmp/err")"
	n=$(field datagrams "$line")
	RESULT=$(field rate "$line")
	is_number "$RESULT" && is_number "$n" ||
		fail "udpbench $1: bad output: $line"
	# The proof that the datagrams went through the relay.
	[ "$RELAY_DGRAMS" = "$n" ] && [ "$RELAY_BAD" = 0 ] &&
		[ "$RELAY_ASSOC" = 1 ] ||
		fail "udpbench $1 window $2: client counted $n round trips," \
			"relay echoed $RELAY_DGRAMS ($RELAY_BAD without a" \
			"SOCKS5 header, $RELAY_ASSOC associations)"
}

# mem preload|plain: RESULT KiB per socket, RESULT2 descriptors per socket
run_mem() {
	if [ "$1" = preload ]; then
		relay_start
		line=$(timeout 60 env LD_PRELOAD="$LIB" \
			SOCKS5_PROXY="127.0.0.1:$PORT" SOCKS5WRAP_NO_PROXY= \
			"$OUT/udpmem" 100 wait 2>"$tmp/err")
		rc=$?
		relay_stop
		[ $rc -eq 0 ] && [ "$RELAY_ASSOC" = 101 ] &&
			[ "$RELAY_DGRAMS" = 101 ] ||
			fail "udpmem (preload): exit $rc, $RELAY_ASSOC" \
				"associations, $RELAY_DGRAMS datagrams" \
				"(want 101): $(cat "$tmp/err")"
	else
		line=$(timeout 60 "$OUT/udpmem" 100 nowait 2>"$tmp/err") ||
			fail "udpmem (plain): $(cat "$tmp/err")"
	fi
	RESULT=$(field rss_kib_per "$line")
	RESULT2=$(field fds_per "$line")
	is_number "$RESULT" && is_number "$RESULT2" ||
		fail "udpmem $1: bad output: $line"
}

# ---- measuring ------------------------------------------------------------

# record KEY VALUE: one run's value, kept in $tmp/KEY.
record() { echo "$2" >>"$tmp/$1"; }

median() {
	sort -g "$tmp/$1" | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

runs() { tr '\n' ' ' <"$tmp/$1" | sed 's/ $//'; }

# Other work on the machine skews everything: the load is in the results.
load_start=$(cut -d' ' -f1 /proc/loadavg)
round=1
while [ $round -le "$RUNS" ]; do
	say "round $round of $RUNS: getaddrinfo"
	if [ -n "$HOSTS_OK" ]; then
		run_gai bench-host.test 198.51.100.10 libc
		record gai_libc "$RESULT"
		run_gai bench-host.test 198.51.100.10 preload
		record gai_hosts "$RESULT"
	fi
	run_gai bench-proxied.test 198.18. preload
	record gai_fake "$RESULT"
	for place in $PLACES; do
		for w in 1 32; do
			say "round $round of $RUNS: UDP window $w ($place)"
			run_udp native $w "$place"
			record "udp_native_${w}_$place" "$RESULT"
			run_udp plain $w "$place"
			record "udp_wrap_${w}_$place" "$RESULT"
		done
	done
	say "round $round of $RUNS: memory"
	run_mem plain
	record mem_plain "$RESULT"
	record fds_plain "$RESULT2"
	run_mem preload
	record mem_wrap "$RESULT"
	record fds_wrap "$RESULT2"
	round=$((round + 1))
done

# ---- the table ------------------------------------------------------------

table="$tmp/table.md"
raw="$tmp/raw.md"
: >"$raw"

# row WHAT UNIT BASE_LABEL BASE_KEY WRAP_LABEL WRAP_KEY ratio|diff DECIMALS
row() {
	b=
	w=
	[ -s "$tmp/$4" ] && b=$(median "$4")
	[ -s "$tmp/$6" ] && w=$(median "$6")
	awk -v what="$1" -v unit="$2" -v bl="$3" -v wl="$5" -v kind="$7" \
		-v d="$8" -v b="$b" -v w="$w" 'BEGIN {
		fmt = "%." d "f";
		bs = (b == "") ? "skipped" : sprintf(fmt, b);
		ws = (w == "") ? "skipped" : sprintf(fmt, w);
		if (b == "" || w == "") r = "n/a";
		else if (kind == "diff") r = sprintf("+" fmt " per association", w - b);
		else if (b + 0 == 0) r = "n/a";
		else r = sprintf("%.2f", w / b);
		printf "| %s | %s | %s | %s | %s | %s | %s |\n",
			what, unit, bl, bs, wl, ws, r }' >>"$table"
	# A baseline shared by two rows is listed once.
	if [ -s "$tmp/$4" ] && ! grep -qxF "$4" "$tmp/listed" 2>/dev/null; then
		echo "$4" >>"$tmp/listed"
		echo "- $1, $3: $(runs "$4")" >>"$raw"
	fi
	if [ -s "$tmp/$6" ]; then
		echo "- $1, $5: $(runs "$6")" >>"$raw"
	fi
}

place_text() {
	case $1 in
	split) echo "client core 1, relay core 0" ;;
	same) echo "client and relay both on core 0" ;;
	none) echo "unpinned" ;;
	esac
}

{
	echo "| benchmark | unit | baseline | median | socks5wrap | median | ratio |"
	echo "|---|---|---|---|---|---|---|"
} >"$table"
row "getaddrinfo+freeaddrinfo" "ns/call, lower is better" \
	"libc, /etc/hosts name" gai_libc \
	"preload, proxied name (fake address)" gai_fake ratio 0
row "getaddrinfo+freeaddrinfo" "ns/call, lower is better" \
	"libc, /etc/hosts name" gai_libc \
	"preload, /etc/hosts name (libc answers)" gai_hosts ratio 0
for place in $PLACES; do
	for w in 1 32; do
		if [ $w = 1 ]; then what="UDP 64 B ping-pong"; else
			what="UDP 64 B pipelined, window 32"; fi
		row "$what ($(place_text "$place"))" "datagrams/s, higher is better" \
			"native SOCKS5 client" "udp_native_${w}_$place" \
			"plain sendto/recvfrom + preload" "udp_wrap_${w}_$place" \
			ratio 0
	done
done
row "memory per UDP socket, 100 sockets" "KiB VmRSS" \
	"plain sockets, no preload" mem_plain \
	"associated sockets, preload" mem_wrap diff 2
row "descriptors per UDP socket" "fds" "plain sockets, no preload" \
	fds_plain "associated sockets, preload" fds_wrap diff 2

{
	echo "# socks5wrap benchmarks"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
		"$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)," \
		"kernel $(uname -r), commit" \
		"$(git describe --always --dirty 2>/dev/null || echo unknown)." \
		"Medians of $RUNS runs; ratio = socks5wrap / baseline." \
		"1-minute load average $load_start at the start," \
		"$(cut -d' ' -f1 /proc/loadavg) at the end."
	echo
	cat "$table"
	echo
	echo "Runs, in order:"
	echo
	cat "$raw"
} >"$tmp/results.md"
cp "$tmp/results.md" "$OUT/results.md" || fail "cannot write $OUT/results.md"
cat "$tmp/results.md"
