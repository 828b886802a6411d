#!/bin/sh
# Runs the ThreadSanitizer stress program (tests/tsan/stress.c) in a new
# network namespace with only loopback: its own SOCKS5 server threads
# listen there, and nothing it sends can reach anything else.
#
#   BUILD=build-tsan sh tests/tsan/run.sh
#   S5_STRESS_SECONDS (default 20) bounds the run; a hung run is killed
#   after S5_STRESS_TIMEOUT (default 120) seconds.
#
# The library reads its configuration from the environment in its
# constructor, before main(): it is all set here, before the exec.
set -u
BUILD=${BUILD:-build-tsan}
if [ -z "${S5_TSAN_INNER:-}" ]; then
	S5_TSAN_INNER=1 exec unshare --net -- sh "$0" "$@"
fi
ip link set lo up || exit 1

# Nothing from the caller's environment may change what the library does.
unset SOCKS5_USER SOCKS5_PASSWORD SOCKS5WRAP_LOG_FILE SOCKS5WRAP_FAKE_NET \
	SOCKS5WRAP_FAKE_NET6 SOCKS5WRAP_PIPELINE SOCKS5WRAP_LIBRARY LD_PRELOAD
export SOCKS5_PROXY=127.0.0.1:1080
# Loopback stays direct: the in-process server's own relay sockets answer
# to 127.0.0.1. Everything the workers reach (192.0.2.0/24, fake
# addresses) goes through the proxy.
export SOCKS5WRAP_NO_PROXY=127.0.0.0/8,::1
export SOCKS5WRAP_DNS=remote SOCKS5WRAP_UDP=proxy SOCKS5WRAP_TIMEOUT=10
export SOCKS5WRAP_LOG=error
# The first report ends the program with a status of its own (86 and 87
# are ASan's and UBSan's, tests/integration/sanitizers.py).
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:exitcode=88}

start=$(date +%s)
timeout -k 5 "${S5_STRESS_TIMEOUT:-120}" "$BUILD/tsan/stress" \
	"${S5_STRESS_SECONDS:-20}"
rc=$?
echo "tsan stress: exit $rc after $(( $(date +%s) - start )) s"
case $rc in
0) ;;
88) echo "FAIL ThreadSanitizer reported a race (above)" ;;
124|137) echo "FAIL the stress program hung and was killed" ;;
*) echo "FAIL the stress program's checks failed (above)" ;;
esac
exit $rc
