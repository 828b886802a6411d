#!/usr/bin/python3
"""A SOCKS5 server for the snippet programs: no authentication, CONNECT to
anything succeeds, then it echoes; UDP ASSOCIATE gets a relay that sends
every datagram back as it came, header and all (so the reply's source is
the destination the program asked for). It never connects or sends
anywhere else, so the snippets prove the library talked to the proxy.
Exits after --lifetime seconds."""
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


def udp_relay(conn):
    """Echo relay for one association; ends when the control connection
    closes (RFC 1928 section 7)."""
    relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    relay.bind(("127.0.0.1", 0))
    port = relay.getsockname()[1]
    conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01" +
                 port.to_bytes(2, "big"))
    relay.settimeout(0.2)
    conn.setblocking(False)
    try:
        while True:
            try:
                if conn.recv(1) == b"":
                    return
            except BlockingIOError:
                pass
            try:
                data, src = relay.recvfrom(65535)
            except socket.timeout:
                continue
            relay.sendto(data, src)
    finally:
        relay.close()


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
        if cmd == 3:
            udp_relay(conn)
            return
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
