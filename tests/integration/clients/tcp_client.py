"""TCP client for the integration tests; prints one JSON object.

    tcp_client.py HOST PORT [--send TEXT] [--read-all] [--nonblocking]
                            [--timeout SECONDS]

Connects with a plain connect() (blocking, or non-blocking with
--nonblocking: then a 0 return, EINPROGRESS + poll, are all accepted),
then optionally sends TEXT and reads until as many bytes came back (no
half-close: microsocks ends both directions on the first EOF), or reads
until EOF (--read-all). The JSON has: result ("ok" or an errno name), errno,
elapsed (seconds spent in connect), peer (getpeername), received.
Exit status 0 whenever it got that far, so a test can tell a clean
connect failure from a crash (sanitizer report, signal).
"""

import argparse
import errno
import json
import select
import socket
import sys
import time


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def connect(sock, addr, nonblocking, timeout):
    """Return 0 or an errno number."""
    if not nonblocking:
        try:
            sock.connect(addr)
            return 0
        except OSError as e:
            return e.errno or errno.EIO
    sock.setblocking(False)
    rc = sock.connect_ex(addr)
    if rc == errno.EINPROGRESS:
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        if not poller.poll(int(timeout * 1000)):
            return errno.ETIMEDOUT
        rc = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    sock.setblocking(True)
    return rc


def read_all(sock, limit=1 << 20):
    data = b""
    for _ in range(100000):
        chunk = sock.recv(65536)
        if not chunk or len(data) > limit:
            break
        data += chunk
    return data


def read_n(sock, n):
    data = b""
    for _ in range(100000):
        if len(data) >= n:
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--send")
    ap.add_argument("--read-all", action="store_true")
    ap.add_argument("--nonblocking", action="store_true")
    ap.add_argument("--timeout", type=float, default=20.0)
    opts = ap.parse_args()
    out = {"result": None, "errno": 0, "elapsed": None, "peer": None,
           "received": None}
    sock = socket.socket(family_of(opts.host), socket.SOCK_STREAM)
    t0 = time.monotonic()
    rc = connect(sock, (opts.host, opts.port), opts.nonblocking, opts.timeout)
    out["elapsed"] = round(time.monotonic() - t0, 3)
    out["errno"] = rc
    out["result"] = "ok" if rc == 0 else errno.errorcode.get(rc, str(rc))
    if rc == 0:
        peer = sock.getpeername()
        out["peer"] = [peer[0], peer[1]]
        sock.settimeout(opts.timeout)
        try:
            if opts.send is not None:
                sock.sendall(opts.send.encode())
                out["received"] = read_n(sock, len(opts.send)).decode(
                    "latin-1")
            if opts.read_all:
                out["received"] = (out["received"] or "") + read_all(
                    sock).decode("latin-1")
        except OSError as e:
            out["result"] = "io:" + errno.errorcode.get(e.errno, str(e))
    sock.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
