"""UDP client for the proxy-killed test, stepped by files in DIR.

    stress_udp.py HOST PORT DIR

1. sendto + recvfrom (the socket associates); creates DIR/associated and
   waits (at most 15 s) for DIR/killed, written once the test killed the
   proxy.
2. After 150 ms (the library checks its control connection at most every
   100 ms): sendto, and recvfrom when that worked; then one more sendto.
   Creates DIR/failed and waits for DIR/restarted.
3. After 150 ms: sendto + recvfrom again (a new association).

Each step records "ok" or an errno name (or "timeout" / "nofile") and
its time. Prints one JSON object; exit status 0 whenever it got there.
"""

import errno
import json
import os
import socket
import sys
import time

WAIT = 15.0


def ename(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    return errno.errorcode.get(e.errno, str(e))


def wait_for(path):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.01)
    return False


def touch(path):
    with open(path, "w"):
        pass


def step(sock, dst, text, receive=True):
    out = {}
    t0 = time.monotonic()
    try:
        sock.sendto(text.encode(), dst)
        out["send"] = "ok"
    except (OSError, socket.timeout) as e:
        out["send"] = ename(e)
    out["send_elapsed"] = round(time.monotonic() - t0, 3)
    if receive and out["send"] == "ok":
        try:
            data, src = sock.recvfrom(4096)
            out["recv"] = "ok" if data.endswith(text.encode()) else (
                "got %r" % data)
        except (OSError, socket.timeout) as e:
            out["recv"] = ename(e)
    out["elapsed"] = round(time.monotonic() - t0, 3)
    return out


def main():
    host, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    dst = (host, port)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    out = {"first": step(s, dst, "before the kill\n")}
    touch(os.path.join(d, "associated"))
    if not wait_for(os.path.join(d, "killed")):
        out["error"] = "no killed file"
    else:
        time.sleep(0.15)
        out["after_kill"] = step(s, dst, "proxy is gone\n")
        out["again"] = step(s, dst, "still gone\n")
        touch(os.path.join(d, "failed"))
        if not wait_for(os.path.join(d, "restarted")):
            out["error"] = "no restarted file"
        else:
            time.sleep(0.15)
            out["after_restart"] = step(s, dst, "proxy is back\n")
    s.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
