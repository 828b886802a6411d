#!/bin/sh
# make bench: builds the benchmark programs into $BUILD/bench (cc -O2),
# runs them, and prints one markdown table of medians and ratios against
# a baseline measured in the same run; the table also goes to
# $BUILD/bench/results.md, and a chart of the start-up and per-call
# figures to $BUILD/bench/chart.png (when matplotlib is there). Progress
# goes to stderr. bench/README.md says what each row measures.
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
#   3. Memory (VmRSS) and descriptors per UDP association, vs plain sockets;
#      VmRSS and RssAnon of a process that does nothing, with and without
#      the preload.
#   4. Hooks on descriptors that are not sockets: write() of 1 byte to
#      /dev/null and 1-byte write()+read() pairs over a pipe, ns per call,
#      with and without the preload; and the same in instructions per call
#      under callgrind, once (the counts do not vary), when valgrind is
#      installed.
#   5. Start-up: /bin/true alone, under LD_PRELOAD, and under the launcher.
#   6. TCP connections per second through s5fwd (a SOCKS5 CONNECT server
#      with an echo server): connect, 1 byte there and back, close; a
#      client speaking SOCKS5 itself (the baseline) vs plain connect()
#      under the preload, default and pipelined. s5fwd's counts of CONNECTs
#      and echo connections must match the client's.
#   7. Time to the first echoed byte over a link with a 20 ms one-way delay
#      (linkdelay: two network namespaces joined by TUN devices; needs
#      root), in ms and in round trips: a direct connection (the baseline)
#      vs the preload, default, pipelined and SOCKS5WRAP_OPTIMISTIC=1; once
#      with a blocking connect(), once with a non-blocking connect() and
#      poll() (tcpbench poll).
#   8. Event-loop stall while one non-blocking connection is made through
#      s5fwd -d 300 (a CONNECT reply 300 ms late): the longest time one
#      call of an epoll loop with a 1 ms ticker takes beyond the wait it
#      asked for (stallbench); the loop speaking SOCKS5 itself (the
#      baseline) vs plain connect() under the preload.
#   9. 20 and 200 concurrent asyncio connections, 1 byte echoed, through
#      the same slow server: asyncio speaking SOCKS5 itself (the baseline)
#      vs plain open_connection() under the preload (asyncbench.py; needs
#      python3). s5fwd's counts must match the client's.
#  10. poll() and epoll_wait() with timeout 0 on four descriptors the
#      library never had a part in, ns per call with and without the
#      preload, and in instructions per call under callgrind.
#  11. supervise: the launcher's seccomp supervisor (src/supervise), on
#      programs built here with cc -static. TCP connections through s5fwd
#      (as in 6, 1500 at most per run), in µs per connection: a client
#      speaking SOCKS5 itself (the baseline), the dynamic tcpbench under
#      the preload, the static tcpbench under socks5wrap (supervised
#      because it is static), the dynamic one under socks5wrap --supervise
#      (preload and supervisor); and the supervisor's µs added to the
#      preload's, per connection and in the median time from socket() to
#      the echo; s5fwd's counts must match. Calls the filter lets through
#      (write() to /dev/null, getpid through syscall(), sendto() naming no
#      address on a UDP socket connected to a sink of callbench's own),
#      and one it catches and the supervisor lets continue (sendmsg()
#      naming no address, the same socket), ns per call of the static
#      callbench: run directly (the baseline), under socks5wrap
#      --supervise, and under allowall (a filter that allows every call:
#      what seccomp itself costs). Start-up of the static nop (main
#      returns 0): directly (the baseline), under socks5wrap (supervised)
#      and socks5wrap --no-supervise.
#  12. chain: a chain of two SOCKS5 servers (two s5fwd on loopback, the
#      second one's echo server the target): TCP connections per second
#      (connect, 1 byte there and back, close; 5000 at most per run) and
#      the median time from socket() to the echoed byte, for a direct
#      connection to the echo server (the baseline), the preload with
#      SOCKS5WRAP_CHAIN=1, and proxychains4 with the same chain
#      (strict_chain); and socks5wrap set against proxychains4 directly.
#      The first server's CONNECTs, the second's CONNECTs and its echoes
#      must each equal the client's connections. Without proxychains4 the
#      comparison is skipped and the run says why.
# proxychains4, when installed, is a further column wherever it applies
# (2, 3 and 11 do not: it has no UDP, no per-socket state, and no way into
# a static program).
#
# Variables: RUNS (5); ONLY, a list of the groups to run (gai udp mem
# calls startup tcp ttfb stall asyncio poll supervise chain; default all),
# e.g.
# ONLY="stall asyncio poll ttfb"; BASELINE_LIB, another libsocks5wrap.so
# (say one built before a change) that rows 8 and 9 also measure and set
# against this build's; BASELINE_REV, a git revision of this repository
# to build that library from (into $BUILD/bench/baseline); PYTHON, the
# python3 for row 9 (/usr/bin/python3, else python3 from PATH).
#
# Traffic stays on loopback, or on the TUN link between namespaces of our
# own; as root also in a private network namespace with only lo. Every
# program is bounded in count and time, and run under timeout(1). Each
# measurement runs RUNS (5) times, baseline and variants interleaved, and
# the median is reported.
set -u
export LC_ALL=C # decimal points for awk and sort -g

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.." || exit 1
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
case $RUNS in '' | *[!0-9]* | 0) echo "bench: RUNS must be >= 1" >&2; exit 1 ;; esac
OUT=$BUILD/bench
LIB=$(cd "$BUILD" 2>/dev/null && pwd)/libsocks5wrap.so
LAUNCHER=$(cd "$BUILD" 2>/dev/null && pwd)/socks5wrap
PROGRAMS="gai s5echo udpbench udpmem callbench idlemem startbench s5fwd
	tcpbench linkdelay stallbench allowall"
STATIC_PROGRAMS="tcpbench callbench nop"

say() { echo "bench: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

BENCH_GROUPS="gai udp mem calls startup tcp ttfb stall asyncio poll"
BENCH_GROUPS="$BENCH_GROUPS supervise chain"
ONLY=${ONLY:-}
for g in $ONLY; do
	case " $BENCH_GROUPS " in
	*" $g "*) ;;
	*) fail "ONLY: no group $g (there are: $BENCH_GROUPS)" ;;
	esac
done
# want GROUP: whether the group's rows are measured in this run.
want() {
	[ -z "$ONLY" ] && return 0
	case " $ONLY " in *" $1 "*) return 0 ;; esac
	return 1
}

# ---- build, once, outside the namespaces ----------------------------------

if [ -z "${S5_BENCH_INNER:-}" ]; then
	[ -f "$LIB" ] && [ -x "$LAUNCHER" ] ||
		fail "$BUILD/libsocks5wrap.so or $BUILD/socks5wrap missing:" \
			"run make first"
	mkdir -p "$OUT" || fail "cannot create $OUT"
	# bench_cc NAME OUTPUT [FLAG...]: bench/NAME.c into $OUT/OUTPUT.
	bench_cc() {
		src=bench/$1.c
		dst=$OUT/$2
		shift 2
		${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -Wshadow \
			-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
			-Wvla -Wundef -Wwrite-strings "$@" -o "$dst" "$src" ||
			fail "cannot compile $src $*"
	}
	for p in $PROGRAMS; do
		bench_cc "$p" "$p"
	done
	# The supervisor's programs: statically linked, as a program the
	# launcher supervises on its own.
	if want supervise; then
		for p in $STATIC_PROGRAMS; do
			bench_cc "$p" "$p-static" -static
		done
	fi
	# A library of another revision, for rows 8 and 9 (before vs after).
	if [ -n "${BASELINE_LIB:-}" ] && [ -z "${BASELINE_REV:-}" ]; then
		[ -f "$BASELINE_LIB" ] || fail "BASELINE_LIB: no $BASELINE_LIB"
		BASELINE_LIB=$(cd "$(dirname "$BASELINE_LIB")" &&
			pwd)/$(basename "$BASELINE_LIB")
		export BASELINE_LIB
	elif [ -n "${BASELINE_REV:-}" ]; then
		say "building the baseline library of $BASELINE_REV"
		rm -rf "$OUT/baseline" && mkdir -p "$OUT/baseline" &&
			git archive "$BASELINE_REV" | tar -x -C "$OUT/baseline" ||
			fail "cannot extract revision $BASELINE_REV"
		make -s -C "$OUT/baseline" BUILD=build build/libsocks5wrap.so \
			>"$OUT/baseline.log" 2>&1 ||
			fail "cannot build $BASELINE_REV (see $OUT/baseline.log)"
		BASELINE_LIB=$(cd "$OUT/baseline/build" && pwd)/libsocks5wrap.so
		export BASELINE_LIB
	fi
	if [ "$(id -u)" -ne 0 ]; then
		say "not root: no mount namespace, so the getaddrinfo baseline" \
			"(libc and an /etc/hosts name) and the preload's" \
			"/etc/hosts case are SKIPPED; no network namespaces, so" \
			"time to first byte is SKIPPED; the rest runs on the" \
			"host's loopback"
	elif ! unshare -m -n true 2>/dev/null; then
		say "unshare -m -n failed: getaddrinfo baseline and time to" \
			"first byte SKIPPED; the rest runs on the host's loopback"
	elif ! command -v ip >/dev/null 2>&1; then
		say "no ip(8) to bring up lo in a network namespace:" \
			"time to first byte SKIPPED; the rest runs on the" \
			"host's loopback"
		S5_BENCH_INNER=1 exec unshare -m -- sh "$here/run.sh"
	else
		S5_BENCH_INNER=1 S5_BENCH_NETNS=1 exec unshare -m -n -- \
			sh "$here/run.sh"
	fi
fi

# ---- set-up and clean-up --------------------------------------------------

tmp=$(mktemp -d) || fail "mktemp"
RELAY= # s5echo
FWD=   # s5fwd
LINK=  # linkdelay
stop_pid() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	stop_pid "$RELAY"
	stop_pid "$FWD"
	stop_pid "$LINK"
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

# proxychains4 is a column where it applies, when it is installed.
PC=$(command -v proxychains4 2>/dev/null)
if [ -n "$PC" ]; then
	PC_VERSION=$(dpkg-query -W -f '${Version}' proxychains4 2>/dev/null)
	say "proxychains4 ${PC_VERSION:-(version unknown)} found: a column" \
		"where it applies"
else
	say "proxychains4 is not installed (apt-get install -y proxychains4):" \
		"its column is left out"
fi

# pc_conf FILE ADDR PORT: a proxychains4 configuration for one SOCKS5
# server: strict chain, no messages, names resolved locally.
pc_conf() {
	printf 'strict_chain\nquiet_mode\n[ProxyList]\nsocks5 %s %s\n' \
		"$2" "$3" >"$1"
}
pc_conf "$tmp/pc-null.conf" 127.0.0.1 1 # nothing is ever sent to it

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

# wait_for FILE WORD: waits (5 s at most) until FILE has a line "WORD N"
# and prints N.
wait_for() {
	i=0
	while ! grep -q "^$2 " "$1" && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	sed -n "s/^$2 //p" "$1"
}

# ---- the UDP relay --------------------------------------------------------

relay_start() {
	: >"$tmp/relay.out"
	$(relay_pin) "$OUT/s5echo" 60 >"$tmp/relay.out" 2>"$tmp/relay.err" &
	RELAY=$!
	PORT=$(wait_for "$tmp/relay.out" port)
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

# ---- the TCP proxy and echo server ----------------------------------------

# fwd_start SOCKS_ADDR ECHO_ADDR [COMMAND PREFIX...]: FWD_PORT, ECHO_PORT.
# With FWD_DELAY set, every CONNECT reply comes FWD_DELAY ms late.
FWD_DELAY=
fwd_start() {
	fa=$1
	fe=$2
	shift 2
	: >"$tmp/fwd.out"
	# shellcheck disable=SC2046
	"$@" "$OUT/s5fwd" $([ -n "$FWD_DELAY" ] && echo "-d $FWD_DELAY") \
		"$fa" "$fe" 120 >"$tmp/fwd.out" 2>"$tmp/fwd.err" &
	FWD=$!
	ECHO_PORT=$(wait_for "$tmp/fwd.out" echo)
	FWD_PORT=$(sed -n 's/^port //p' "$tmp/fwd.out")
	is_number "$FWD_PORT" && is_number "$ECHO_PORT" ||
		fail "s5fwd did not start: $(cat "$tmp/fwd.err")"
}

# Stops s5fwd; FWD_CONNECTS and FWD_ECHOES from its report.
fwd_stop() {
	kill "$FWD" 2>/dev/null
	wait "$FWD"
	frc=$?
	FWD=
	fline=$(grep "^connects " "$tmp/fwd.out")
	[ $frc -eq 0 ] && [ -n "$fline" ] ||
		fail "s5fwd exit $frc: $(cat "$tmp/fwd.err")"
	FWD_CONNECTS=$(field connects "$fline")
	FWD_ECHOES=$(field echoes "$fline")
}

# ---- the delayed link (root, network namespaces, TUN) ---------------------

DELAY_MS=20
LINK_OK=
NS_C=
NS_S=
link_start() {
	[ -n "${S5_BENCH_NETNS:-}" ] || return 0
	if [ ! -c /dev/net/tun ] || ! command -v nsenter >/dev/null 2>&1; then
		say "no /dev/net/tun or nsenter: time to first byte SKIPPED"
		return 0
	fi
	"$OUT/linkdelay" $DELAY_MS 900 >"$tmp/link.out" 2>"$tmp/link.err" &
	LINK=$!
	NS_C=$(wait_for "$tmp/link.out" client)
	NS_S=$(wait_for "$tmp/link.out" server)
	if [ -z "$NS_C" ] || [ -z "$NS_S" ]; then
		say "linkdelay did not start ($(cat "$tmp/link.err")):" \
			"time to first byte SKIPPED"
		stop_pid "$LINK"
		LINK=
		return 0
	fi
	# Documentation addresses (RFC 5737), inside namespaces of our own:
	# the client 192.0.2.1; the proxy 192.0.2.2 and the echo server
	# 192.0.2.3, an address of its own because the proxy's address is
	# never proxied.
	nsenter --net="$NS_C" sh -c 'ip link set lo up &&
		ip addr add 192.0.2.1/24 dev s5d0 && ip link set s5d0 up' &&
		nsenter --net="$NS_S" sh -c 'ip link set lo up &&
		ip addr add 192.0.2.2/24 dev s5d0 &&
		ip addr add 192.0.2.3/24 dev s5d0 && ip link set s5d0 up' ||
		fail "configuring the delayed link"
	LINK_OK=1
}

link_stop() {
	[ -n "$LINK" ] || return 0
	kill "$LINK" 2>/dev/null
	wait "$LINK"
	LINK=
	lline=$(grep "^packets " "$tmp/link.out")
	say "delayed link: $lline"
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

# with plain|preload|pc|allowall|supervise: the words to put before a
# command to run it bare, under the preload (configured with a proxy that
# is never contacted), under proxychains4, under a seccomp filter that
# allows everything, or under the launcher's supervisor (socks5wrap
# --supervise, the same proxy).
with() {
	case $1 in
	plain) echo "env SOCKS5_PROXY=127.0.0.1:1" ;;
	preload) echo "env LD_PRELOAD=$LIB SOCKS5_PROXY=127.0.0.1:1" ;;
	pc) echo "$PC -q -f $tmp/pc-null.conf" ;;
	allowall) echo "env SOCKS5_PROXY=127.0.0.1:1 $OUT/allowall" ;;
	supervise) echo "env SOCKS5_PROXY=127.0.0.1:1 $LAUNCHER --supervise" ;;
	esac
}

# idle plain|preload|pc: RESULT VmRSS KiB, RESULT2 RssAnon KiB
run_idle() {
	# shellcheck disable=SC2046
	line=$(timeout 10 $(with "$1") "$OUT/idlemem" 2>"$tmp/err") ||
		fail "idlemem ($1): $(cat "$tmp/err")"
	RESULT=$(field rss_kib "$line")
	RESULT2=$(field anon_kib "$line")
	is_number "$RESULT" && is_number "$RESULT2" ||
		fail "idlemem $1: bad output: $line"
}

# calls MODE plain|preload|pc|allowall|supervise [PROGRAM]: RESULT ns per
# call of callbench MODE (PROGRAM: another build of it, the static one).
run_calls() {
	case $1 in
	devnull) n=2000000 ;;
	pipe) n=600000 ;;
	udpsend) n=100000 ;;
	udpmsg) n=40000 ;;
	*) n=1000000 ;;
	esac
	pin=$(client_pin split)
	# shellcheck disable=SC2046,SC2086
	line=$(timeout 30 $pin $(with "$2") "${3:-$OUT/callbench}" "$1" $n 21 2 \
		2>"$tmp/err") || fail "callbench $1 ($2): $(cat "$tmp/err")"
	RESULT=$(field ns_per_call "$line")
	is_number "$RESULT" || fail "callbench $1 ($2): bad output: $line"
}

# callgrind devnull|pipe|poll|epoll plain|preload|pc: RESULT instructions
# per call in user space, bench_loop() (bench_poll_loop(),
# bench_epoll_loop()) and everything it calls; 10000 calls plus the
# program's own 1001 warm-up calls.
run_callgrind() {
	rm -f "$tmp"/cg.*
	case $1 in
	poll) fn=bench_poll_loop ;;
	epoll) fn=bench_epoll_loop ;;
	*) fn=bench_loop ;;
	esac
	# shellcheck disable=SC2046
	timeout 120 $(with "$2") valgrind --tool=callgrind --trace-children=yes \
		--callgrind-out-file="$tmp/cg.%p" --collect-atstart=no \
		--toggle-collect=$fn "$OUT/callbench" "$1" 10000 1 60 \
		>/dev/null 2>"$tmp/err" ||
		fail "callgrind callbench $1 ($2): $(tail -n 5 "$tmp/err")"
	# Under proxychains4 the launcher's file may be there too, with 0.
	RESULT=$(cat "$tmp"/cg.* | awk '/^totals:/ { if ($2 > m) m = $2 }
		END { if (m > 0) printf "%.1f", m / 11001 }')
	is_number "$RESULT" || fail "callgrind callbench $1 ($2): no totals"
}

# run_starts COUNT "KEY..." -- VARIANT [-- VARIANT]...: one round of
# startbench, COUNT starts of each variant in turn (startbench's
# arguments); records each variant's median under its KEY, in order.
run_starts() {
	pin=$(client_pin split)
	count=$1
	keys=$2
	shift 2
	# shellcheck disable=SC2086
	timeout 60 $pin "$OUT/startbench" "$count" 10 "$@" >"$tmp/start.out" \
		2>"$tmp/err" || fail "startbench: $(cat "$tmp/err")"
	k=0
	for key in $keys; do
		line=$(grep "^variant $k " "$tmp/start.out")
		k=$((k + 1))
		[ -n "$line" ] || continue
		v=$(field median_us "$line")
		is_number "$v" || fail "startbench: bad output: $line"
		record "$key" "$v"
	done
}

# startup: one round of start-ups of /bin/true, all variants in turn.
run_startup() {
	set -- -- /bin/true \
		-- LD_PRELOAD="$LIB" SOCKS5_PROXY=127.0.0.1:1 /bin/true \
		-- SOCKS5_PROXY=127.0.0.1:1 "$LAUNCHER" /bin/true
	[ -n "$PC" ] && set -- "$@" -- "$PC" -q -f "$tmp/pc-null.conf" /bin/true
	run_starts 200 "start_plain start_preload start_launcher start_pc" "$@"
}

# tcp native|preload|pipeline|static|supervise|pc [COUNT]: connections
# per second through a fresh s5fwd on loopback, COUNT (30000) at most, 1 s
# at most; RESULT conn/s, RESULT2 µs per connection (1 s / RESULT), RESULT3
# the median µs from socket() to the echoed byte. static: the static
# tcpbench under the launcher (supervised because it is static);
# supervise: the dynamic one under socks5wrap --supervise (the preload
# and the supervisor).
run_tcp() {
	pin=$(client_pin split)
	# shellcheck disable=SC2046
	fwd_start 127.0.0.1 127.0.0.2 $(relay_pin)
	args="plain 127.0.0.2 $ECHO_PORT ${2:-30000} 1"
	cmd="$OUT/tcpbench $args"
	proxied="SOCKS5_PROXY=127.0.0.1:$FWD_PORT SOCKS5WRAP_NO_PROXY="
	# shellcheck disable=SC2086
	case $1 in
	native)
		line=$(timeout 60 $pin "$OUT/tcpbench" native 127.0.0.1 \
			"$FWD_PORT" 127.0.0.2 "$ECHO_PORT" ${2:-30000} 1 \
			2>"$tmp/err") ;;
	preload | pipeline)
		[ "$1" = pipeline ] && pipe=1 || pipe=0
		line=$(timeout 60 $pin env LD_PRELOAD="$LIB" $proxied \
			SOCKS5WRAP_PIPELINE=$pipe $cmd 2>"$tmp/err") ;;
	static)
		line=$(timeout 60 $pin env $proxied "$LAUNCHER" \
			"$OUT/tcpbench-static" $args 2>"$tmp/err") ;;
	supervise)
		line=$(timeout 60 $pin env $proxied "$LAUNCHER" --supervise \
			$cmd 2>"$tmp/err") ;;
	pc)
		pc_conf "$tmp/pc.conf" 127.0.0.1 "$FWD_PORT"
		line=$(timeout 60 $pin "$PC" -q -f "$tmp/pc.conf" $cmd \
			2>"$tmp/err") ;;
	esac
	rc=$?
	fwd_stop
	[ $rc -eq 0 ] || fail "tcpbench $1: exit $rc: $(cat "$tmp/err")"
	n=$(field connections "$line")
	RESULT=$(field rate "$line")
	is_number "$RESULT" && is_number "$n" && [ "$RESULT" != 0 ] ||
		fail "tcpbench $1: bad output: $line"
	RESULT2=$(awk -v r="$RESULT" 'BEGIN { printf "%.1f", 1e6 / r }')
	RESULT3=$(field median_us "$line")
	# The proof that every connection went through the proxy (one more:
	# the client's warm-up).
	[ "$FWD_CONNECTS" = $((n + 1)) ] && [ "$FWD_ECHOES" = $((n + 1)) ] ||
		fail "tcpbench $1: client made $n connections (+1 warm-up);" \
			"s5fwd answered $FWD_CONNECTS CONNECTs and echoed on" \
			"$FWD_ECHOES"
}

# chain_fwd_start: two s5fwd on loopback, the first on 127.0.0.5, the
# second on 127.0.0.6 with its echo server on 127.0.0.7: CH1_PORT,
# CH2_PORT, CH_ECHO. chain_fwd_stop: their counts, CH1_CONNECTS,
# CH2_CONNECTS, CH2_ECHOES.
chain_fwd_start() {
	: >"$tmp/ch1.out"
	: >"$tmp/ch2.out"
	"$OUT/s5fwd" 127.0.0.5 127.0.0.8 120 >"$tmp/ch1.out" \
		2>"$tmp/ch1.err" &
	CH1=$!
	"$OUT/s5fwd" 127.0.0.6 127.0.0.7 120 >"$tmp/ch2.out" \
		2>"$tmp/ch2.err" &
	CH2=$!
	wait_for "$tmp/ch1.out" echo >/dev/null
	CH_ECHO=$(wait_for "$tmp/ch2.out" echo)
	CH1_PORT=$(sed -n 's/^port //p' "$tmp/ch1.out")
	CH2_PORT=$(sed -n 's/^port //p' "$tmp/ch2.out")
	is_number "$CH1_PORT" && is_number "$CH2_PORT" && is_number "$CH_ECHO" ||
		fail "s5fwd (chain) did not start: $(cat "$tmp/ch1.err" \
			"$tmp/ch2.err")"
}

chain_fwd_stop() {
	kill "$CH1" "$CH2" 2>/dev/null
	wait "$CH1"
	r1=$?
	wait "$CH2"
	r2=$?
	l1=$(grep "^connects " "$tmp/ch1.out")
	l2=$(grep "^connects " "$tmp/ch2.out")
	[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ -n "$l1" ] && [ -n "$l2" ] ||
		fail "s5fwd (chain) exit $r1/$r2: $(cat "$tmp/ch1.err" \
			"$tmp/ch2.err")"
	CH1_CONNECTS=$(field connects "$l1")
	CH2_CONNECTS=$(field connects "$l2")
	CH2_ECHOES=$(field echoes "$l2")
}

# run_chain direct|preload|pc: connections per second through the chain
# of two s5fwd (RESULT), and the median µs from socket() to the echoed
# byte (RESULT2). direct: to the echo server, around both servers.
run_chain() {
	pin=$(client_pin split)
	chain_fwd_start
	cmd="$OUT/tcpbench plain 127.0.0.7 $CH_ECHO 5000 1"
	# shellcheck disable=SC2086
	case $1 in
	direct)
		line=$(timeout 60 $pin $cmd 2>"$tmp/err") ;;
	preload)
		line=$(timeout 60 $pin env LD_PRELOAD="$LIB" \
			SOCKS5_PROXY="127.0.0.5:$CH1_PORT,127.0.0.6:$CH2_PORT" \
			SOCKS5WRAP_CHAIN=1 SOCKS5WRAP_NO_PROXY= $cmd \
			2>"$tmp/err") ;;
	pc)
		printf 'strict_chain\nquiet_mode\n[ProxyList]\n%s\n%s\n' \
			"socks5 127.0.0.5 $CH1_PORT" \
			"socks5 127.0.0.6 $CH2_PORT" >"$tmp/pc-chain.conf"
		line=$(timeout 60 $pin "$PC" -q -f "$tmp/pc-chain.conf" $cmd \
			2>"$tmp/err") ;;
	esac
	rc=$?
	chain_fwd_stop
	[ $rc -eq 0 ] || fail "tcpbench chain $1: exit $rc: $(cat "$tmp/err")"
	n=$(field connections "$line")
	RESULT=$(field rate "$line")
	RESULT2=$(field median_us "$line")
	is_number "$RESULT" && is_number "$n" && [ "$RESULT" != 0 ] &&
		is_number "$RESULT2" || fail "tcpbench chain $1: bad output: $line"
	# The proof of the path: through both servers, or (direct) neither;
	# one more than counted for the client's warm-up.
	want_n=$((n + 1))
	[ "$1" = direct ] && want_n=0
	[ "$CH1_CONNECTS" = "$want_n" ] && [ "$CH2_CONNECTS" = "$want_n" ] ||
		fail "tcpbench chain $1: client made $n connections (+1" \
			"warm-up); the servers answered $CH1_CONNECTS and" \
			"$CH2_CONNECTS CONNECTs"
	[ "$CH2_ECHOES" = $((n + 1)) ] ||
		fail "tcpbench chain $1: client made $n connections (+1" \
			"warm-up); the echo server saw $CH2_ECHOES"
}

# ttfb direct|preload|pipeline|optimistic|pc plain|poll: ms from socket() to
# the echoed byte over the delayed link (median of 5 connections), with a
# blocking connect() (plain) or a non-blocking one and poll(); RESULT ms.
# Optimistic is SOCKS5WRAP_OPTIMISTIC=1 alone: the library decides what it
# sends with it (a library without it runs the default handshake).
run_ttfb() {
	fwd_start 192.0.2.2 192.0.2.3 nsenter --net="$NS_S"
	cmd="$OUT/tcpbench $2 192.0.2.3 $ECHO_PORT 5 10"
	proxy="192.0.2.2:$FWD_PORT"
	# shellcheck disable=SC2086
	case $1 in
	direct)
		line=$(timeout 60 nsenter --net="$NS_C" $cmd 2>"$tmp/err") ;;
	preload | pipeline)
		[ "$1" = pipeline ] && pipe=1 || pipe=0
		line=$(timeout 60 nsenter --net="$NS_C" env LD_PRELOAD="$LIB" \
			SOCKS5_PROXY="$proxy" SOCKS5WRAP_PIPELINE=$pipe $cmd \
			2>"$tmp/err") ;;
	optimistic)
		line=$(timeout 60 nsenter --net="$NS_C" env LD_PRELOAD="$LIB" \
			SOCKS5_PROXY="$proxy" SOCKS5WRAP_OPTIMISTIC=1 $cmd \
			2>"$tmp/err") ;;
	pc)
		pc_conf "$tmp/pc.conf" 192.0.2.2 "$FWD_PORT"
		line=$(timeout 60 nsenter --net="$NS_C" "$PC" -q \
			-f "$tmp/pc.conf" $cmd 2>"$tmp/err") ;;
	esac
	rc=$?
	fwd_stop
	[ $rc -eq 0 ] || fail "tcpbench $2 $1 (delayed link): exit $rc:" \
		"$(cat "$tmp/err")"
	n=$(field connections "$line")
	RESULT=$(field median_us "$line" | awk '{ printf "%.1f", $1 / 1000 }')
	is_number "$RESULT" && is_number "$n" ||
		fail "tcpbench $2 $1 (delayed link): bad output: $line"
	if [ "$1" = direct ]; then nc=0; else nc=$((n + 1)); fi
	[ "$FWD_CONNECTS" = $nc ] && [ "$FWD_ECHOES" = $((n + 1)) ] ||
		fail "tcpbench $2 $1 (delayed link): client made $n" \
			"connections (+1 warm-up); s5fwd answered" \
			"$FWD_CONNECTS CONNECTs (want $nc) and echoed on" \
			"$FWD_ECHOES"
}

# The slow proxy of rows 8 and 9: CONNECT answered SLOW_MS late.
SLOW_MS=300
STALL_COUNT=3 # connections per stallbench run
ASYNC_CAP=2   # seconds after which asyncbench starts no more connections

# lib_of preload|base: the library that variant preloads.
lib_of() {
	if [ "$1" = base ]; then echo "$BASELINE_LIB"; else echo "$LIB"; fi
}

# stall native|preload|base|pc: the median over STALL_COUNT connections of
# the longest time one call of stallbench's loop took beyond the wait it
# asked for, through s5fwd -d SLOW_MS on loopback; RESULT ms.
run_stall() {
	pin=$(client_pin split)
	FWD_DELAY=$SLOW_MS
	# shellcheck disable=SC2046
	fwd_start 127.0.0.1 127.0.0.2 $(relay_pin)
	FWD_DELAY=
	cmd="$OUT/stallbench plain 127.0.0.2 $ECHO_PORT $STALL_COUNT"
	# shellcheck disable=SC2086
	case $1 in
	native)
		line=$(timeout 60 $pin "$OUT/stallbench" native 127.0.0.1 \
			"$FWD_PORT" 127.0.0.2 "$ECHO_PORT" $STALL_COUNT \
			2>"$tmp/err") ;;
	preload | base)
		line=$(timeout 60 $pin env LD_PRELOAD="$(lib_of "$1")" \
			SOCKS5_PROXY="127.0.0.1:$FWD_PORT" SOCKS5WRAP_NO_PROXY= \
			$cmd 2>"$tmp/err") ;;
	pc)
		pc_conf "$tmp/pc.conf" 127.0.0.1 "$FWD_PORT"
		line=$(timeout 60 $pin "$PC" -q -f "$tmp/pc.conf" $cmd \
			2>"$tmp/err") ;;
	esac
	rc=$?
	fwd_stop
	[ $rc -eq 0 ] || fail "stallbench $1: exit $rc: $(cat "$tmp/err")"
	n=$(field connections "$line")
	RESULT=$(field stall_us_median "$line" |
		awk '{ printf "%.3f", $1 / 1000 }')
	is_number "$RESULT" && is_number "$n" ||
		fail "stallbench $1: bad output: $line"
	[ "$FWD_CONNECTS" = "$n" ] && [ "$FWD_ECHOES" = "$n" ] ||
		fail "stallbench $1: client made $n connections; s5fwd" \
			"answered $FWD_CONNECTS CONNECTs and echoed on" \
			"$FWD_ECHOES"
}

# async native|preload|base|pc N: ms for N concurrent asyncio connections
# through s5fwd -d SLOW_MS on loopback; RESULT ms, RESULT2 1 when it is an
# estimate (asyncbench stopped starting connections after ASYNC_CAP s).
run_async() {
	pin=$(client_pin split)
	FWD_DELAY=$SLOW_MS
	# shellcheck disable=SC2046
	fwd_start 127.0.0.1 127.0.0.2 $(relay_pin)
	FWD_DELAY=
	cmd="$PYTHON $here/asyncbench.py plain 127.0.0.2 $ECHO_PORT $2 $ASYNC_CAP"
	# shellcheck disable=SC2086
	case $1 in
	native)
		line=$(timeout 60 $pin "$PYTHON" "$here/asyncbench.py" native \
			127.0.0.1 "$FWD_PORT" 127.0.0.2 "$ECHO_PORT" "$2" \
			$ASYNC_CAP 2>"$tmp/err") ;;
	preload | base)
		line=$(timeout 60 $pin env LD_PRELOAD="$(lib_of "$1")" \
			SOCKS5_PROXY="127.0.0.1:$FWD_PORT" SOCKS5WRAP_NO_PROXY= \
			$cmd 2>"$tmp/err") ;;
	pc)
		pc_conf "$tmp/pc.conf" 127.0.0.1 "$FWD_PORT"
		line=$(timeout 60 $pin "$PC" -q -f "$tmp/pc.conf" $cmd \
			2>"$tmp/err") ;;
	esac
	rc=$?
	fwd_stop
	[ $rc -eq 0 ] || fail "asyncbench $1 $2: exit $rc: $(cat "$tmp/err")"
	started=$(field started "$line")
	made=$(field connected "$line")
	echoed=$(field echoed "$line")
	RESULT=$(field estimate_ms "$line")
	is_number "$RESULT" && is_number "$echoed" ||
		fail "asyncbench $1 $2: bad output: $line"
	[ "$started" = "$made" ] && [ "$made" = "$echoed" ] &&
		[ "$FWD_CONNECTS" = "$made" ] && [ "$FWD_ECHOES" = "$made" ] ||
		fail "asyncbench $1 $2: client started $started, made $made" \
			"and finished $echoed connections; s5fwd answered" \
			"$FWD_CONNECTS CONNECTs and echoed on $FWD_ECHOES"
	if [ "$echoed" = "$2" ]; then RESULT2=0; else RESULT2=1; fi
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

WRAPS="plain preload"
[ -n "$PC" ] && WRAPS="$WRAPS pc"
TCP_KINDS="native preload pipeline"
[ -n "$PC" ] && TCP_KINDS="$TCP_KINDS pc"
# Rows 8 and 9: the loop or asyncio speaking SOCKS5 itself, this build's
# preload, the BASELINE_LIB preload, proxychains4.
SLOW_KINDS="native preload"
[ -n "${BASELINE_LIB:-}" ] && SLOW_KINDS="$SLOW_KINDS base"
[ -n "$PC" ] && SLOW_KINDS="$SLOW_KINDS pc"

# Group 12: the chain, direct and through socks5wrap, and proxychains4.
CHAIN_KINDS="direct preload"
CHAIN_NOTE=
if [ -n "$PC" ]; then
	CHAIN_KINDS="$CHAIN_KINDS pc"
elif want chain; then
	CHAIN_NOTE="proxychains4 is not installed: the chain rows have no
proxychains4 column, and socks5wrap vs proxychains4 is skipped."
	say "$CHAIN_NOTE"
fi

# Connections per run in the supervisor's group (1 s at most).
SUP_TCP_COUNT=1500

# The python3 of row 9.
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=$(command -v python3 2>/dev/null)
ASYNC_NOTE=
if want asyncio && [ -z "$PYTHON" ]; then
	ASYNC_NOTE="There is no python3: the asyncio rows are skipped."
	say "no python3: asyncio rows SKIPPED"
fi

# Other work on the machine skews everything: the load is in the results.
load_start=$(cut -d' ' -f1 /proc/loadavg)
t_start=$(date +%s)
want ttfb && link_start
round=1
while [ $round -le "$RUNS" ]; do
	if want gai; then
		say "round $round of $RUNS: getaddrinfo"
		if [ -n "$HOSTS_OK" ]; then
			run_gai bench-host.test 198.51.100.10 libc
			record gai_libc "$RESULT"
			run_gai bench-host.test 198.51.100.10 preload
			record gai_hosts "$RESULT"
		fi
		run_gai bench-proxied.test 198.18. preload
		record gai_fake "$RESULT"
	fi
	for place in $PLACES; do
		want udp || break
		for w in 1 32; do
			say "round $round of $RUNS: UDP window $w ($place)"
			run_udp native $w "$place"
			record "udp_native_${w}_$place" "$RESULT"
			run_udp plain $w "$place"
			record "udp_wrap_${w}_$place" "$RESULT"
		done
	done
	if want mem; then
		say "round $round of $RUNS: memory"
		run_mem plain
		record mem_plain "$RESULT"
		record fds_plain "$RESULT2"
		run_mem preload
		record mem_wrap "$RESULT"
		record fds_wrap "$RESULT2"
		for wr in $WRAPS; do
			run_idle "$wr"
			record "idle_rss_$wr" "$RESULT"
			record "idle_anon_$wr" "$RESULT2"
		done
	fi
	if want calls; then
		say "round $round of $RUNS: calls on /dev/null and a pipe"
		for m in devnull pipe; do
			for wr in $WRAPS; do
				run_calls $m "$wr"
				record "calls_${m}_$wr" "$RESULT"
			done
		done
	fi
	if want poll; then
		say "round $round of $RUNS: poll() and epoll_wait()"
		for m in poll epoll; do
			for wr in $WRAPS; do
				run_calls $m "$wr"
				record "calls_${m}_$wr" "$RESULT"
			done
		done
	fi
	if want startup; then
		say "round $round of $RUNS: start-up"
		run_startup
	fi
	if want tcp; then
		say "round $round of $RUNS: TCP connections per second"
		for k in $TCP_KINDS; do
			run_tcp "$k"
			record "tcp_$k" "$RESULT"
		done
	fi
	if want ttfb && [ -n "$LINK_OK" ]; then
		say "round $round of $RUNS: time to first byte, delayed link"
		for k in direct preload pipeline optimistic pc; do
			[ $k = pc ] && [ -z "$PC" ] && continue
			run_ttfb "$k" plain
			record "ttfb_$k" "$RESULT"
		done
		for k in direct preload pipeline optimistic; do
			run_ttfb "$k" poll
			record "ttfb_poll_$k" "$RESULT"
		done
	fi
	if want stall; then
		say "round $round of $RUNS: event-loop stall, slow proxy"
		for k in $SLOW_KINDS; do
			run_stall "$k"
			record "stall_$k" "$RESULT"
		done
	fi
	if want asyncio && [ -n "$PYTHON" ]; then
		for n in 20 200; do
			say "round $round of $RUNS: $n asyncio connections," \
				"slow proxy"
			for k in $SLOW_KINDS; do
				run_async "$k" $n
				record "async_${n}_$k" "$RESULT"
				[ "$RESULT2" = 1 ] && : >"$tmp/async_${n}_$k.est"
			done
		done
	fi
	if want supervise; then
		say "round $round of $RUNS: supervisor: TCP connections"
		for k in native preload static supervise; do
			run_tcp "$k" $SUP_TCP_COUNT
			record "sup_tcp_$k" "$RESULT2"
			record "sup_tcplat_$k" "$RESULT3"
		done
		say "round $round of $RUNS: supervisor: calls it lets through"
		for m in devnull getpid udpsend udpmsg; do
			for wr in plain allowall supervise; do
				run_calls $m "$wr" "$OUT/callbench-static"
				record "sup_calls_${m}_$wr" "$RESULT"
			done
		done
		say "round $round of $RUNS: supervisor: start-up"
		nop=$OUT/nop-static
		run_starts 100 "sup_start_plain sup_start_auto sup_start_off" \
			-- "$nop" \
			-- SOCKS5_PROXY=127.0.0.1:1 "$LAUNCHER" "$nop" \
			-- SOCKS5_PROXY=127.0.0.1:1 "$LAUNCHER" --no-supervise \
			"$nop"
	fi
	if want chain; then
		say "round $round of $RUNS: a chain of two SOCKS5 servers"
		for k in $CHAIN_KINDS; do
			run_chain "$k"
			record "chain_tcp_$k" "$RESULT"
			record "chain_ttfb_$k" "$RESULT2"
		done
	fi
	round=$((round + 1))
done
link_stop
CG_NOTE=
CG_MODES=
want calls && CG_MODES="devnull pipe"
want poll && CG_MODES="$CG_MODES poll epoll"
if [ -z "$CG_MODES" ]; then
	:
elif command -v valgrind >/dev/null 2>&1; then
	say "instructions per call (callgrind, once)"
	for m in $CG_MODES; do
		for wr in $WRAPS; do
			run_callgrind "$m" "$wr"
			record "cg_${m}_$wr" "$RESULT"
		done
	done
else
	CG_NOTE="valgrind is not installed: the instruction counts are skipped."
fi

# ---- the table ------------------------------------------------------------

table="$tmp/table.md"
raw="$tmp/raw.md"
: >"$raw"

# row WHAT UNIT BASE_LABEL BASE_KEY WRAP_LABEL WRAP_KEY KIND DECIMALS [PC_KEY]
# KIND: ratio (wrap / base), diff ("+N per association"), added ("+N"),
# rtt (values also as multiples of the delayed link's round trip). PC_KEY:
# the proxychains4 run to set against the same baseline, or none. A value
# with a file KEY.est is an estimate (asyncbench) and says so. With ONLY,
# a row none of whose groups ran is left out.
row() {
	b=
	w=
	p=
	[ -s "$tmp/$4" ] && b=$(median "$4")
	[ -s "$tmp/$6" ] && w=$(median "$6")
	[ -n "${9:-}" ] && [ -s "$tmp/$9" ] && p=$(median "$9")
	[ -n "$ONLY" ] && [ -z "$b$w" ] && return 0
	est=
	for k in "$4" "$6" "${9:-}"; do
		[ -n "$k" ] && [ -e "$tmp/$k.est" ] && est="$est $k "
	done
	awk -v what="$1" -v unit="$2" -v bl="$3" -v wl="$5" -v kind="$7" \
		-v d="$8" -v b="$b" -v w="$w" -v p="$p" -v pccol="$PC" \
		-v rtt=$((2 * DELAY_MS)) -v bk=" $4 " -v wk=" $6 " \
		-v pk=" ${9:-} " -v est="$est" '
	function cell(v, key) {
		if (v == "") return "skipped";
		if (kind == "rtt")
			return sprintf("%." d "f (%.2f RTT)", v, v / rtt);
		return sprintf("%." d "f%s", v,
			index(est, key) ? " (estimate)" : "");
	}
	function cmp(x) {
		if (b == "" || x == "") return "n/a";
		if (kind == "diff" || kind == "added")
			return sprintf("%s%." d "f%s", x >= b ? "+" : "", x - b,
				kind == "diff" ? " per association" : "");
		if (b + 0 == 0) return "n/a";
		return sprintf("%.2f", x / b);
	}
	BEGIN {
		printf "| %s | %s | %s | %s | %s | %s | %s |", what, unit, bl,
			cell(b, bk), wl, cell(w, wk), cmp(w);
		if (pccol != "")
			printf " %s | %s |", p == "" ? "—" : cell(p, pk),
				p == "" ? "—" : cmp(p);
		printf "\n";
	}' >>"$table"
	# A baseline shared by two rows is listed once.
	if [ -s "$tmp/$4" ] && ! grep -qxF "$4" "$tmp/listed" 2>/dev/null; then
		echo "$4" >>"$tmp/listed"
		echo "- $1, $3: $(runs "$4")" >>"$raw"
	fi
	if [ -s "$tmp/$6" ]; then
		echo "- $1, $5: $(runs "$6")" >>"$raw"
	fi
	if [ -n "$p" ]; then
		echo "- $1, proxychains4: $(runs "$9")" >>"$raw"
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
	if [ -n "$PC" ]; then
		echo "| benchmark | unit | baseline | median | socks5wrap |" \
			"median | ratio | proxychains4 median | ratio |"
		echo "|---|---|---|---|---|---|---|---|---|"
	else
		echo "| benchmark | unit | baseline | median | socks5wrap |" \
			"median | ratio |"
		echo "|---|---|---|---|---|---|---|"
	fi
} >"$table"
row "write() of 1 byte to /dev/null" "ns/call, lower is better" \
	"no preload" calls_devnull_plain \
	"preload" calls_devnull_preload ratio 1 calls_devnull_pc
row "1-byte write()+read() over a pipe" "ns/pair, lower is better" \
	"no preload" calls_pipe_plain \
	"preload" calls_pipe_preload ratio 1 calls_pipe_pc
row "write() of 1 byte to /dev/null, callgrind" \
	"instructions/call in user space" \
	"no preload" cg_devnull_plain \
	"preload" cg_devnull_preload added 1 cg_devnull_pc
row "1-byte write()+read() over a pipe, callgrind" \
	"instructions/pair in user space" \
	"no preload" cg_pipe_plain \
	"preload" cg_pipe_preload added 1 cg_pipe_pc
row "poll() of 4 descriptors, none ready, timeout 0" \
	"ns/call, lower is better" "no preload" calls_poll_plain \
	"preload" calls_poll_preload ratio 1 calls_poll_pc
row "epoll_wait() on 4 descriptors, none ready, timeout 0" \
	"ns/call, lower is better" "no preload" calls_epoll_plain \
	"preload" calls_epoll_preload ratio 1 calls_epoll_pc
row "poll() of 4 descriptors, timeout 0, callgrind" \
	"instructions/call in user space" \
	"no preload" cg_poll_plain \
	"preload" cg_poll_preload added 1 cg_poll_pc
row "epoll_wait() on 4 descriptors, timeout 0, callgrind" \
	"instructions/call in user space" \
	"no preload" cg_epoll_plain \
	"preload" cg_epoll_preload added 1 cg_epoll_pc
row "start-up of /bin/true" "µs, lower is better" \
	"/bin/true" start_plain \
	"socks5wrap /bin/true (launcher)" start_launcher ratio 0 start_pc
row "start-up of /bin/true" "µs, lower is better" \
	"/bin/true" start_plain \
	"LD_PRELOAD=libsocks5wrap.so /bin/true" start_preload ratio 0
row "TCP connect + 1 byte echoed + close, through a local SOCKS5 server" \
	"connections/s, higher is better" \
	"native SOCKS5 client" tcp_native \
	"plain connect() + preload" tcp_preload ratio 0 tcp_pc
row "TCP connect + 1 byte echoed + close, through a local SOCKS5 server" \
	"connections/s, higher is better" \
	"native SOCKS5 client" tcp_native \
	"plain connect() + preload, SOCKS5WRAP_PIPELINE=1" tcp_pipeline ratio 0
row "time to first byte, link with ${DELAY_MS} ms each way" \
	"ms (round trips of $((2 * DELAY_MS)) ms), lower is better" \
	"direct connection" ttfb_direct \
	"plain connect() + preload" ttfb_preload rtt 1 ttfb_pc
row "time to first byte, link with ${DELAY_MS} ms each way" \
	"ms (round trips of $((2 * DELAY_MS)) ms), lower is better" \
	"direct connection" ttfb_direct \
	"plain connect() + preload, SOCKS5WRAP_PIPELINE=1" ttfb_pipeline rtt 1
row "time to first byte, link with ${DELAY_MS} ms each way" \
	"ms (round trips of $((2 * DELAY_MS)) ms), lower is better" \
	"direct connection" ttfb_direct \
	"plain connect() + preload, SOCKS5WRAP_OPTIMISTIC=1" ttfb_optimistic \
	rtt 1
for k in preload pipeline optimistic; do
	case $k in
	preload) l= ;;
	pipeline) l=", SOCKS5WRAP_PIPELINE=1" ;;
	optimistic) l=", SOCKS5WRAP_OPTIMISTIC=1" ;;
	esac
	row "time to first byte, non-blocking connect() + poll(), link with ${DELAY_MS} ms each way" \
		"ms (round trips of $((2 * DELAY_MS)) ms), lower is better" \
		"direct connection" ttfb_poll_direct \
		"non-blocking connect() + preload$l" "ttfb_poll_$k" rtt 1
done
what="event-loop stall: the longest time one call takes beyond the wait"
what="$what asked for (epoll loop, 1 ms ticker), one non-blocking"
what="$what connection through a SOCKS5 server that answers CONNECT after"
what="$what $SLOW_MS ms"
row "$what" "ms, lower is better" \
	"loop speaking SOCKS5 itself" stall_native \
	"plain non-blocking connect() + preload" stall_preload added 2 stall_pc
[ -n "${BASELINE_LIB:-}" ] &&
	row "event-loop stall (as above), before vs after" \
		"ms, lower is better" "preload of BASELINE_LIB" stall_base \
		"plain non-blocking connect() + preload" stall_preload added 2
for n in 20 200; do
	what="$n concurrent asyncio connections (connect, 1 byte echoed,"
	what="$what close) through a SOCKS5 server that answers CONNECT"
	what="$what after $SLOW_MS ms"
	row "$what" "ms for all $n, lower is better" \
		"asyncio speaking SOCKS5 itself" "async_${n}_native" \
		"plain open_connection() + preload" "async_${n}_preload" \
		ratio 0 "async_${n}_pc"
	[ -n "${BASELINE_LIB:-}" ] &&
		row "$n concurrent asyncio connections (as above), before vs after" \
			"ms for all $n, lower is better" \
			"preload of BASELINE_LIB" "async_${n}_base" \
			"plain open_connection() + preload" \
			"async_${n}_preload" ratio 0
done
row "TCP connect + 1 byte echoed + close, through a chain of two local SOCKS5 servers" \
	"connections/s, higher is better" \
	"direct connect() to the echo server" chain_tcp_direct \
	"plain connect() + preload, SOCKS5WRAP_CHAIN=1" chain_tcp_preload \
	ratio 0 chain_tcp_pc
row "time to first byte (socket() to the echoed byte), chain of two local SOCKS5 servers" \
	"µs, lower is better" \
	"direct connect() to the echo server" chain_ttfb_direct \
	"plain connect() + preload, SOCKS5WRAP_CHAIN=1" chain_ttfb_preload \
	ratio 1 chain_ttfb_pc
if [ -n "$PC" ]; then
	row "chain of two local SOCKS5 servers, connections per second" \
		"connections/s, higher is better" \
		"proxychains4, strict_chain" chain_tcp_pc \
		"plain connect() + preload, SOCKS5WRAP_CHAIN=1" \
		chain_tcp_preload ratio 0
	row "chain of two local SOCKS5 servers, time to first byte" \
		"µs, lower is better" \
		"proxychains4, strict_chain" chain_ttfb_pc \
		"plain connect() + preload, SOCKS5WRAP_CHAIN=1" \
		chain_ttfb_preload ratio 1
fi
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
row "memory of a process that does nothing, VmRSS" "KiB" \
	"no preload" idle_rss_plain "preload" idle_rss_preload added 0 \
	idle_rss_pc
row "memory of a process that does nothing, RssAnon (private)" "KiB" \
	"no preload" idle_anon_plain "preload" idle_anon_preload added 0 \
	idle_anon_pc
row "memory per UDP socket, 100 sockets" "KiB VmRSS" \
	"plain sockets, no preload" mem_plain \
	"associated sockets, preload" mem_wrap diff 2
row "descriptors per UDP socket" "fds" "plain sockets, no preload" \
	fds_plain "associated sockets, preload" fds_wrap diff 2

# The supervisor's group.
# (row() takes k, b, w, p and est for its own: other names here.)
what="TCP connect + 1 byte echoed + close, through a local SOCKS5 server"
pl="plain connect() + preload"
for sv in preload static supervise; do
	case $sv in
	preload) l=$pl ;;
	static) l="static program, plain connect(), socks5wrap (supervisor)" ;;
	supervise)
		l="plain connect(), socks5wrap --supervise"
		l="$l (preload + supervisor)" ;;
	esac
	row "$what" "µs/connection (1 s / connections per s)" \
		"native SOCKS5 client" sup_tcp_native "$l" "sup_tcp_$sv" ratio 1
	[ "$sv" = preload ] && continue
	row "$what: supervisor vs preload" \
		"µs/connection added (goal: +100 at most)" \
		"$pl" sup_tcp_preload "$l" "sup_tcp_$sv" added 1
	row "$what: supervisor vs preload" \
		"median µs from socket() to the echo, added" \
		"$pl" sup_tcplat_preload "$l" "sup_tcplat_$sv" added 1
done
for m in devnull getpid udpsend udpmsg; do
	case $m in
	devnull) what="write() of 1 byte to /dev/null" ;;
	getpid) what="getpid through syscall()" ;;
	udpsend) what="sendto() of 1 byte naming no address, UDP socket" ;;
	udpmsg) what="sendmsg() of 1 byte naming no address, UDP socket" ;;
	esac
	case $m in
	udp*) what="$what connected to a sink on 127.0.0.1" ;;
	esac
	unit="ns/call, lower is better"
	if [ "$m" = udpmsg ]; then
		what="$what: the filter catches it, the supervisor sends it"
	else
		what="$what: the filter lets it through"
		unit="$unit (goal: ratio 1.1 at most)"
	fi
	row "static program, $what" "$unit" \
		"run directly" "sup_calls_${m}_plain" \
		"socks5wrap --supervise" "sup_calls_${m}_supervise" ratio 1
	row "static program, $what" "ns/call, lower is better" \
		"run directly" "sup_calls_${m}_plain" \
		"a filter that allows every call (bench/allowall)" \
		"sup_calls_${m}_allowall" ratio 1
done
what="start-up of a static program that does nothing (main returns 0)"
row "$what" "µs, lower is better" "run directly" sup_start_plain \
	"socks5wrap (supervised: it is static)" sup_start_auto ratio 0
row "$what" "µs, lower is better" "run directly" sup_start_plain \
	"socks5wrap --no-supervise" sup_start_off ratio 0

# The chart's numbers: panel, bar, value.
{
	for k in plain preload launcher pc; do
		[ -s "$tmp/start_$k" ] || continue
		case $k in
		plain) l="/bin/true" ;;
		preload) l="LD_PRELOAD only" ;;
		launcher) l="socks5wrap launcher" ;;
		pc) l="proxychains4" ;;
		esac
		printf 'start-up of /bin/true (µs)\t%s\t%s\n' "$l" \
			"$(median "start_$k")"
	done
	for m in devnull pipe poll epoll; do
		for k in $WRAPS; do
			[ -s "$tmp/calls_${m}_$k" ] || continue
			case $k in
			plain) l="no preload" ;;
			preload) l="socks5wrap" ;;
			pc) l="proxychains4" ;;
			esac
			case $m in
			devnull) t="write() to /dev/null (ns/call)" ;;
			pipe) t="write()+read() on a pipe (ns/pair)" ;;
			poll) t="poll(), timeout 0 (ns/call)" ;;
			epoll) t="epoll_wait(), timeout 0 (ns/call)" ;;
			esac
			printf '%s\t%s\t%s\n' "$t" "$l" \
				"$(median "calls_${m}_$k")"
		done
	done
} >"$OUT/chart.tsv"

{
	echo "# socks5wrap benchmarks"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
		"$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)," \
		"kernel $(uname -r), commit" \
		"$(git describe --always --dirty 2>/dev/null || echo unknown)." \
		"Medians of $RUNS runs; ratio = variant / baseline." \
		"1-minute load average $load_start at the start," \
		"$(cut -d' ' -f1 /proc/loadavg) at the end;" \
		"$(($(date +%s) - t_start)) s of measuring."
	if [ -n "$PC" ]; then
		echo "proxychains4 ${PC_VERSION:-} (Debian), configured with" \
			"strict_chain, quiet_mode, no proxy_dns, and the same" \
			"SOCKS5 server; — where it does not apply."
	else
		echo "proxychains4 is not installed: its column is left out."
	fi
	[ -n "$ONLY" ] && echo "Only these groups were run: $ONLY."
	[ -n "$CG_NOTE" ] && echo "$CG_NOTE"
	[ -z "$LINK_OK" ] && want ttfb && echo "Time to first byte was" \
		"skipped: it needs root (network namespaces) and /dev/net/tun."
	want stall || want asyncio && echo "The slow SOCKS5 server is s5fwd" \
		"-d $SLOW_MS on loopback. An asyncio value marked (estimate)" \
		"comes from a run that started no more connections after" \
		"$ASYNC_CAP s (the library held the event loop inside" \
		"connect()): its time times N over the connections it made."
	[ -n "$ASYNC_NOTE" ] && echo "$ASYNC_NOTE"
	[ -n "$CHAIN_NOTE" ] && echo "$CHAIN_NOTE"
	want supervise && echo "Supervisor rows: the programs marked" \
		"static are built with cc -static; bench/allowall runs one" \
		"under a seccomp filter of one instruction that allows every" \
		"call, what any filter costs a call."
	if [ -n "${BASELINE_LIB:-}" ] && { want stall || want asyncio; }; then
		from=
		[ -n "${BASELINE_REV:-}" ] && from=" (built from $BASELINE_REV)"
		echo "BASELINE_LIB: $BASELINE_LIB$from."
	fi
	echo
	cat "$table"
	echo
	echo "Runs, in order:"
	echo
	cat "$raw"
} >"$tmp/results.md"
cp "$tmp/results.md" "$OUT/results.md" || fail "cannot write $OUT/results.md"
cat "$tmp/results.md"

# The chart, when matplotlib is there.
rm -f "$OUT/chart.png" # never one from an earlier run
if [ ! -s "$OUT/chart.tsv" ]; then
	: # nothing of the start-up or per-call groups ran
elif /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
	MPLCONFIGDIR="$tmp/mpl" /usr/bin/python3 bench/chart.py "$OUT/chart.tsv" \
		"$OUT/chart.png" ||
		fail "bench/chart.py"
	say "chart: $OUT/chart.png"
else
	say "no matplotlib for /usr/bin/python3 (apt-get install -y" \
		"python3-matplotlib): chart SKIPPED"
fi
