"""Target servers for the integration tests, run in the target namespace.

    python3 targets.py --peers FILE [--lifetime SECONDS]

listens on 0.0.0.0 and :: (IPv6-only sockets, so a peer address is always
shown in its own family; UDP on 203.0.113.7 and fd00:5357:3::7 only) with
  - TCP echo on port 7: echoes until the peer half-closes, then closes;
  - UDP echo on port 7: sends each datagram back, prefixed with the
    source the target saw: b"from ADDR PORT\n" + payload (udp_prefix());
  - HTTP/1.0 on port 80: GET / answers a short text naming the peer as
    the target saw it ("peer ADDR PORT"); GET /bytes/N answers N bytes.
Every accepted connection and every datagram appends "PROTO/PORT ADDR PORT"
to the peers file, so a test can tell who reached the target.

Imported, it offers Target, which starts the program in a namespace and
reads the peers file.
"""

import argparse
import os
import socket
import sys
import threading
import time

ECHO_PORT = 7
HTTP_PORT = 80
MAX_HTTP_BODY = 16 * 1024 * 1024
SELF_ADDRS = ("203.0.113.7", "fd00:5357:3::7", "127.0.0.1", "::1")


# -- the server side -------------------------------------------------------

class PeerLog:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1)

    def add(self, what, addr):
        with self.lock:
            self.f.write("%s %s %d\n" % (what, addr[0], addr[1]))
            self.f.flush()


def serve_echo(conn):
    with conn:
        conn.settimeout(30)
        for _ in range(1 << 20):
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)


def http_answer(path, peer):
    if path.startswith("/bytes/"):
        try:
            n = min(int(path[len("/bytes/"):]), MAX_HTTP_BODY)
        except ValueError:
            return b"400 Bad Request", b"bad size\n"
        pattern = b"0123456789abcdef"
        body = (pattern * (n // len(pattern) + 1))[:n]
        return b"200 OK", body
    body = ("socks5wrap test target\npeer %s %d\npath %s\n"
            % (peer[0], peer[1], path)).encode()
    return b"200 OK", body


def serve_http(conn, peer):
    with conn:
        conn.settimeout(30)
        req = b""
        for _ in range(1024):
            if b"\r\n\r\n" in req or b"\n\n" in req or len(req) > 65536:
                break
            chunk = conn.recv(4096)
            if not chunk:
                break
            req += chunk
        first = req.split(b"\n", 1)[0].decode("latin-1").split()
        path = first[1] if len(first) >= 2 else "/"
        status, body = http_answer(path, peer)
        head = (b"HTTP/1.0 " + status + b"\r\nContent-Type: text/plain\r\n"
                b"Content-Length: " + str(len(body)).encode() +
                b"\r\nConnection: close\r\n\r\n")
        conn.sendall(head + body)
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def tcp_listener(fam, host, port, handler, log):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port))
    s.listen(128)

    def loop():
        while True:
            conn, peer = s.accept()
            log.add("tcp/%d" % port, peer)
            args = (conn, peer) if handler is serve_http else (conn,)
            threading.Thread(target=handler, args=args, daemon=True).start()
    return loop


def udp_prefix(addr, port):
    """What the UDP echo puts before the payload it sends back."""
    return b"from %s %d\n" % (addr.encode(), port)


def udp_echo(fam, host, port, log):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port))

    def loop():
        while True:
            data, peer = s.recvfrom(65536)
            log.add("udp/%d" % port, peer)
            s.sendto(udp_prefix(peer[0], peer[1]) + data, peer)
    return loop


def server_main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", required=True)
    ap.add_argument("--lifetime", type=float, default=600)
    opts = ap.parse_args(argv)
    log = PeerLog(opts.peers)
    loops = []
    for fam, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        loops.append(tcp_listener(fam, host, ECHO_PORT, serve_echo, log))
        loops.append(tcp_listener(fam, host, HTTP_PORT, serve_http, log))
    # UDP on the target's own addresses, not the wildcard: an answer from
    # a wildcard socket leaves from whatever address the kernel picks
    # (another address on the link, such as dnsmasq's fd00:5357:3::53),
    # and a SOCKS relay rightly drops a reply from a host it never sent to.
    for fam, host in ((socket.AF_INET, "203.0.113.7"),
                      (socket.AF_INET6, "fd00:5357:3::7")):
        loops.append(udp_echo(fam, host, ECHO_PORT, log))
    for loop in loops:
        threading.Thread(target=loop, daemon=True).start()
    print("ready", flush=True)
    time.sleep(opts.lifetime)
    return 0


# -- the test side ---------------------------------------------------------

class Target:
    """The target servers running in topo.target."""

    def __init__(self, topo, lifetime=600):
        self.topo = topo
        self.peers_path = os.path.join(topo.workdir, "target-peers.txt")
        open(self.peers_path, "w").close()
        self.proc = topo.spawn(
            "target", topo.target,
            ["/usr/bin/python3", os.path.abspath(__file__),
             "--peers", self.peers_path, "--lifetime", str(lifetime)],
            lifetime=lifetime + 5)
        topo.wait_tcp(topo.target, [("203.0.113.7", ECHO_PORT),
                                    ("203.0.113.7", HTTP_PORT),
                                    ("fd00:5357:3::7", ECHO_PORT),
                                    ("fd00:5357:3::7", HTTP_PORT)],
                      proc=self.proc)
        # The readiness probes came from the target itself: forget them.
        self.mark()

    def peers(self):
        """All (what, addr, port) entries since the last mark()."""
        with open(self.peers_path) as f:
            lines = f.read().splitlines()
        out = []
        for line in lines[self._mark:]:
            parts = line.split()
            # Readiness probes come from the target host itself.
            if len(parts) == 3 and parts[1] not in SELF_ADDRS:
                out.append((parts[0], parts[1], int(parts[2])))
        return out

    def mark(self):
        """Start a new window for peers()."""
        with open(self.peers_path) as f:
            self._mark = len(f.read().splitlines())


if __name__ == "__main__":
    sys.exit(server_main(sys.argv[1:]))
