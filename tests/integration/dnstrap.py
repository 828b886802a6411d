"""The client's own DNS server, a trap, and a small HTTP server that names
its peer; both run in the proxy namespace (see dnsenv.py).

    python3 dnstrap.py --dns ADDR --log FILE --http ADDR:PORT
                       --http-log FILE [--lifetime SECONDS]

DNS on ADDR port 53, UDP and TCP: every query is appended to the log as a
JSON line {"proto", "src", "name", "type"} BEFORE it is answered, so a
client that got an answer is already in the log. Names under corp.test
get A 192.0.2.1 (other types: no data); every other name NXDOMAIN.

HTTP/1.0 on ADDR:PORT: any GET answers "peer ADDR PORT" and appends
"ADDR PORT" to the HTTP log.
"""

import argparse
import json
import socket
import struct
import sys
import threading
import time

CORP_SUFFIX = "corp.test"
CORP_ADDR = "192.0.2.1"
QTYPES = {1: "A", 28: "AAAA", 5: "CNAME", 12: "PTR", 15: "MX", 16: "TXT",
          33: "SRV", 65: "HTTPS", 255: "ANY"}


class Log:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1)

    def write(self, line):
        with self.lock:
            self.f.write(line + "\n")
            self.f.flush()


def parse_question(msg):
    """(id, flags, name, qtype, end of question) or None."""
    if len(msg) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    if qd < 1:
        return None
    off, labels = 12, []
    for _ in range(128):
        if off >= len(msg):
            return None
        n = msg[off]
        off += 1
        if n == 0:
            break
        if n & 0xC0 or off + n > len(msg):
            return None
        labels.append(msg[off:off + n].decode("latin-1"))
        off += n
    else:
        return None
    if off + 4 > len(msg):
        return None
    qtype, _qclass = struct.unpack("!HH", msg[off:off + 4])
    return qid, flags, ".".join(labels), qtype, off + 4


def answer(msg, parsed):
    qid, flags, name, qtype, qend = parsed
    lname = name.lower().rstrip(".")
    corp = lname == CORP_SUFFIX or lname.endswith("." + CORP_SUFFIX)
    rcode = 0 if corp else 3
    an = b""
    if corp and qtype == 1:
        # name: pointer to the question at offset 12
        an = struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + \
            socket.inet_aton(CORP_ADDR)
    rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    head = struct.pack("!HHHHHH", qid, rflags, 1, 1 if an else 0, 0, 0)
    return head + msg[12:qend] + an


def handle(msg, proto, src, log):
    parsed = parse_question(msg)
    if parsed is None:
        log.write(json.dumps({"proto": proto, "src": src[0], "name": None,
                              "type": None, "bytes": msg.hex()[:200]}))
        return None
    log.write(json.dumps({"proto": proto, "src": src[0], "name": parsed[2],
                          "type": QTYPES.get(parsed[3], parsed[3])}))
    return answer(msg, parsed)


def udp_loop(addr, log):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))

    def loop():
        while True:
            msg, src = s.recvfrom(65535)
            reply = handle(msg, "udp", src, log)
            if reply:
                s.sendto(reply, src)
    return loop


def recv_exact(conn, n):
    data = b""
    for _ in range(1000):
        if len(data) >= n:
            break
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def tcp_dns_conn(conn, src, log):
    with conn:
        conn.settimeout(10)
        for _ in range(100):
            try:
                head = recv_exact(conn, 2)
                if len(head) < 2:
                    return
                msg = recv_exact(conn, struct.unpack("!H", head)[0])
            except OSError:
                return
            reply = handle(msg, "tcp", src, log)
            if not reply:
                return
            conn.sendall(struct.pack("!H", len(reply)) + reply)


def http_conn(conn, peer, log):
    with conn:
        conn.settimeout(10)
        req = b""
        for _ in range(256):
            if b"\r\n\r\n" in req or b"\n\n" in req or len(req) > 65536:
                break
            chunk = conn.recv(4096)
            if not chunk:
                break
            req += chunk
        if not req:                     # a readiness probe
            return
        log.write("%s %d" % (peer[0], peer[1]))
        body = ("corp app\npeer %s %d\n" % (peer[0], peer[1])).encode()
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: " + str(len(body)).encode() +
                     b"\r\nConnection: close\r\n\r\n" + body)


def tcp_loop(addr, port, handler, log):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)

    def loop():
        while True:
            conn, peer = s.accept()
            threading.Thread(target=handler, args=(conn, peer, log),
                             daemon=True).start()
    return loop


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--dns", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--http-log", required=True)
    ap.add_argument("--lifetime", type=float, default=600)
    opts = ap.parse_args(argv)
    dns_log, http_log = Log(opts.log), Log(opts.http_log)
    http_addr, http_port = opts.http.rsplit(":", 1)
    loops = [udp_loop(opts.dns, dns_log),
             tcp_loop(opts.dns, 53, tcp_dns_conn, dns_log),
             tcp_loop(http_addr, int(http_port), http_conn, http_log)]
    for loop in loops:
        threading.Thread(target=loop, daemon=True).start()
    print("ready", flush=True)
    time.sleep(opts.lifetime)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
