#!/bin/sh
# make demo: run socks5wrap -v with curl inside a three-namespace network
# (client / proxy with danted / HTTP target) and show what each side saw.
# Needs root, iproute2, dante-server, curl and python3. Bounded: the demo
# is stopped after 90 seconds, and its namespaces go away on any exit.
set -u

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (it creates network namespaces); try: sudo make demo" >&2
	exit 1
fi
for tool in ip danted curl timeout /usr/bin/python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "demo: $tool not found (packages: iproute2 dante-server curl coreutils python3)" >&2
		exit 1
	fi
done

# demo.py names its namespaces after our pid and removes them itself;
# this trap catches the case where it was killed before it could.
tag=$$
cleanup() {
	for role in c p t; do
		if ip netns list | grep -q "^s5w-$tag-$role\\b"; then
			ip netns del "s5w-$tag-$role"
		fi
	done
}
child=
stop_child() {
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	exit 130
}
trap cleanup EXIT
trap stop_child INT TERM HUP

# In the background, so that a signal reaches the trap at once; timeout(1)
# forwards SIGTERM, which demo.py turns into an orderly teardown.
timeout -k 5 90 /usr/bin/python3 tests/integration/demo.py "$tag" &
child=$!
wait "$child"
status=$?
child=
exit "$status"
