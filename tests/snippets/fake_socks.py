#!/usr/bin/python3
"""A SOCKS5 server for the snippet programs: no authentication, CONNECT to
anything succeeds, then it echoes. It never connects anywhere itself, so the
snippets prove the library talked to the proxy. Exits after --lifetime
seconds or when stdin closes."""
import argparse
import socket
import threading
import time


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def serve(conn):
    conn.settimeout(10)
    try:
        ver, nmethods = read_exact(conn, 2)
        methods = read_exact(conn, nmethods)
        if ver != 5 or 0 not in methods:
            conn.sendall(b"\x05\xff")
            return
        conn.sendall(b"\x05\x00")
        ver, cmd, _, atyp = read_exact(conn, 4)
        if atyp == 1:
            read_exact(conn, 4)
        elif atyp == 4:
            read_exact(conn, 16)
        else:
            read_exact(conn, read_exact(conn, 1)[0])
        read_exact(conn, 2)
        if cmd != 1:
            conn.sendall(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        conn.sendall(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        while True:
            data = conn.recv(4096)
            if not data:
                return
            conn.sendall(data)
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    with open(args.port_file, "w") as f:
        f.write(str(srv.getsockname()[1]))
    srv.settimeout(0.5)
    end = time.monotonic() + args.lifetime
    while time.monotonic() < end:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
