"""TCP client for the proxy-killed tests; prints one JSON object.

    stress_stream.py HOST PORT [--timeout SECONDS]

connect(); echo b"one\\n" (expects it back); send b"two\\n" and read: the
proxy dies then, so the read gives EOF or an error; then one more send.
JSON: connect (ok or errno name), connect_elapsed, first ("ok"/...),
second_send, second_read ("eof", an errno name, or "data:..."),
third_send, elapsed (whole run). Exit status 0 whenever it got that far.
"""

import argparse
import errno
import json
import socket
import sys
import time


def ename(e):
    return errno.errorcode.get(e.errno, str(e)) if isinstance(
        e, OSError) and e.errno else type(e).__name__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--timeout", type=float, default=10.0)
    opts = ap.parse_args()
    out = {"connect": None, "connect_elapsed": None, "first": None,
           "second_send": None, "second_read": None, "third_send": None}
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.connect((opts.host, opts.port))
        out["connect"] = "ok"
    except OSError as e:
        out["connect"] = ename(e)
    out["connect_elapsed"] = round(time.monotonic() - t0, 3)
    if out["connect"] == "ok":
        s.settimeout(opts.timeout)
        try:
            s.sendall(b"one\n")
            data = b""
            for _ in range(100):
                if len(data) >= 4:
                    break
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
            out["first"] = "ok" if data == b"one\n" else "got %r" % data
        except (OSError, socket.timeout) as e:
            out["first"] = ename(e)
        try:
            s.sendall(b"two\n")
            out["second_send"] = "ok"
        except (OSError, socket.timeout) as e:
            out["second_send"] = ename(e)
        try:
            data = s.recv(64)
            out["second_read"] = "eof" if not data else "data:%r" % data
        except socket.timeout:
            out["second_read"] = "timeout"
        except OSError as e:
            out["second_read"] = ename(e)
        time.sleep(0.05)
        try:
            s.sendall(b"three\n")
            out["third_send"] = "ok"
        except (OSError, socket.timeout) as e:
            out["third_send"] = ename(e)
    s.close()
    out["elapsed"] = round(time.monotonic() - t0, 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
