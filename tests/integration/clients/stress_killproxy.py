"""A SOCKS5 server for the stress tests that dies (SIGKILL, like a crash)
at a chosen point, or answers slowly. It never connects anywhere: after a
successful CONNECT it echoes what arrives itself.

    python3 stress_killproxy.py --host ADDR --port N --mode MODE
                                [--delay MS] [--lifetime SECONDS]

Prints "ready" once listening.

Modes
  die-accept     accept a connection and die without reading anything
                 (the kernel answers the client's greeting with RST)
  die-greeting   read the greeting, then die (the client sees EOF)
  die-request    answer the greeting, read the CONNECT request, then die
  die-stream     complete the CONNECT, echo the first chunk, die when the
                 second chunk arrives (unread data: RST)
  slow-echo      wait --delay ms before each answer of the handshake,
                 then echo until the client closes (many connections)
"""

import argparse
import os
import signal
import socket
import sys
import threading
import time

SUCCESS_V4 = b"\x05\x00\x00\x01" + bytes([198, 51, 100, 9]) + b"\x1f\x90"
MODES = ("die-accept", "die-greeting", "die-request", "die-stream",
         "slow-echo")


class Hangup(Exception):
    pass


def die():
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(5)           # not reached


def recv_exact(conn, n):
    buf = b""
    for _ in range(n + 1):
        if len(buf) >= n:
            break
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise Hangup()
        buf += chunk
    return buf


def read_request(conn):
    head = recv_exact(conn, 4)
    atyp = head[3]
    if atyp == 1:
        return head + recv_exact(conn, 6)
    if atyp == 4:
        return head + recv_exact(conn, 18)
    n = recv_exact(conn, 1)
    return head + n + recv_exact(conn, n[0] + 2)


def play(conn, mode, delay):
    conn.settimeout(20)
    if mode == "die-accept":
        die()
    head = recv_exact(conn, 2)
    recv_exact(conn, head[1])
    if mode == "die-greeting":
        die()
    time.sleep(delay)
    conn.sendall(b"\x05\x00")
    read_request(conn)
    if mode == "die-request":
        die()
    time.sleep(delay)
    conn.sendall(SUCCESS_V4)
    chunks = 0
    for _ in range(100000):
        data = conn.recv(65536)
        if not data:
            return
        chunks += 1
        if mode == "die-stream" and chunks == 2:
            die()
        conn.sendall(data)


def handle(conn, mode, delay):
    with conn:
        try:
            play(conn, mode, delay)
        except (Hangup, OSError):
            pass


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", required=True, choices=MODES)
    ap.add_argument("--delay", type=float, default=0, help="milliseconds")
    ap.add_argument("--lifetime", type=float, default=60)
    opts = ap.parse_args(argv)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((opts.host, opts.port))
    srv.listen(128)
    print("ready", flush=True)
    deadline = time.monotonic() + opts.lifetime
    for _ in range(100000):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        srv.settimeout(left)
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            break
        threading.Thread(target=handle, daemon=True,
                         args=(conn, opts.mode, opts.delay / 1000.0)).start()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
