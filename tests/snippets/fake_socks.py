#!/usr/bin/python3
"""A SOCKS5 server for the snippet programs: no authentication; a CONNECT
to one of the destinations the snippets use (snippet.h, names.h) succeeds
and then echoes, any other destination is refused (REP 2) and written to
the --errors file, which run.sh requires to stay empty. UDP ASSOCIATE gets
a relay that parses each datagram's header, drops (and reports) one for
any other destination, and answers with a header it builds itself from
the parsed destination, as a real relay does: a name is answered from the
address it stands for. So an encoding bug is not hidden by a decoder that
mirrors it. It never connects or sends anywhere else, so the snippets
prove the library talked to the proxy. Exits after --lifetime seconds."""
import argparse
import ipaddress
import socket
import struct
import threading
import time

# (address type, address, port) the snippets may ask for; a name maps to
# the address its replies come from.
CONNECT_OK = {(1, "192.0.2.1", 80), (3, "www.example.test", 80),
              (1, "192.0.2.1", 53)}
UDP_OK = {(1, "192.0.2.1", 7), (1, "192.0.2.1", 53)}
NAMES = {"www.example.test": "192.0.2.1"}
# 192.0.2.1 port 53 is a name server (res_query snippet): A records for
# these names; over UDP the tc. one answers truncated, so only TCP
# (CONNECT to port 53) gets its answer.
DNS_A = {"www.example.test": "192.0.2.1", "tc.example.test": "192.0.2.7"}
DNS_PORT = 53

errors_lock = threading.Lock()
errors_path = None


def report(what):
    with errors_lock:
        with open(errors_path, "a") as f:
            f.write(what + "\n")


def parse_addr(buf, off):
    """(atyp, address text, port, next offset) from a SOCKS5 address at
    buf[off:]; ValueError when it is malformed or truncated."""
    atyp = buf[off]
    off += 1
    if atyp == 1:
        addr = str(ipaddress.IPv4Address(buf[off:off + 4]))
        off += 4
    elif atyp == 4:
        addr = str(ipaddress.IPv6Address(buf[off:off + 16]))
        off += 16
    elif atyp == 3:
        n = buf[off]
        raw = buf[off + 1:off + 1 + n]
        if n == 0 or len(raw) != n:
            raise ValueError("bad name length")
        addr = raw.decode("ascii")
        off += 1 + n
    else:
        raise ValueError("address type %d" % atyp)
    if len(buf) < off + 2:
        raise ValueError("truncated port")
    return atyp, addr, struct.unpack("!H", buf[off:off + 2])[0], off + 2


def encode_addr(addr, port):
    ip = ipaddress.ip_address(addr)
    return (bytes([1 if ip.version == 4 else 4]) + ip.packed +
            struct.pack("!H", port))


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def dns_answer(query, tcp):
    """A name server's reply to query (bytes), or None for garbage."""
    if len(query) < 12:
        return None
    off, labels = 12, []
    while off < len(query) and query[off] != 0:
        n = query[off]
        labels.append(query[off + 1:off + 1 + n].decode("ascii").lower())
        off += 1 + n
    off += 1
    if off + 4 > len(query):
        return None
    qtype = struct.unpack("!H", query[off:off + 2])[0]
    question = query[12:off + 4]
    name = ".".join(labels)
    flags = 0x8180  # QR, RD, RA
    answers = b""
    count = 0
    if name not in DNS_A:
        flags |= 3  # NXDOMAIN
    elif name.startswith("tc.") and not tcp:
        flags |= 0x0200  # TC: ask again over TCP
    elif qtype == 1:
        answers = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) +
                   socket.inet_aton(DNS_A[name]))
        count = 1
    return (query[:2] + struct.pack("!HHHHH", flags, 1, count, 0, 0) +
            question + answers)


def serve_dns_tcp(conn):
    """DNS over TCP (RFC 1035 section 4.2.2) for a CONNECT to port 53."""
    while True:
        n = struct.unpack("!H", read_exact(conn, 2))[0]
        reply = dns_answer(read_exact(conn, n), True)
        if reply is None:
            report("tcp dns: malformed query")
            return
        conn.sendall(struct.pack("!H", len(reply)) + reply)


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
            answer = relay_answer(data)
            if answer is not None:
                relay.sendto(answer, src)
    finally:
        relay.close()


def relay_answer(data):
    """The datagram a real relay would send back for an echoing peer, or
    None (reported) for one no real relay would pass on."""
    try:
        if len(data) < 4 or data[:3] != b"\0\0\0":
            raise ValueError("RSV/FRAG not zero: %r" % data[:3])
        atyp, addr, port, off = parse_addr(data, 3)
    except (ValueError, IndexError, UnicodeDecodeError) as e:
        report("udp: malformed header (%s): %r" % (e, data[:32]))
        return None
    if (atyp, addr, port) not in UDP_OK:
        report("udp: unexpected destination %d %s %d" % (atyp, addr, port))
        return None
    payload = data[off:]
    if port == DNS_PORT:
        payload = dns_answer(payload, False)
        if payload is None:
            report("udp dns: malformed query")
            return None
    return b"\0\0\0" + encode_addr(NAMES.get(addr, addr), port) + payload


def serve(conn):
    conn.settimeout(10)
    try:
        ver, nmethods = read_exact(conn, 2)
        methods = read_exact(conn, nmethods)
        if ver != 5 or 0 not in methods:
            conn.sendall(b"\x05\xff")
            return
        conn.sendall(b"\x05\x00")
        ver, cmd, rsv, atyp = read_exact(conn, 4)
        if atyp == 1:
            rest = read_exact(conn, 6)
        elif atyp == 4:
            rest = read_exact(conn, 18)
        else:
            n = read_exact(conn, 1)
            rest = n + read_exact(conn, n[0] + 2)
        if ver != 5 or rsv != 0:
            report("request: version %d, reserved byte %d" % (ver, rsv))
            return
        try:
            dst = parse_addr(bytes([atyp]) + rest, 0)[:3]
        except (ValueError, UnicodeDecodeError) as e:
            report("request: malformed address (%s)" % e)
            return
        if cmd == 3:
            udp_relay(conn)
            return
        if cmd != 1:
            conn.sendall(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        if dst not in CONNECT_OK:
            report("connect: unexpected destination %d %s %d" % dst)
            conn.sendall(b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        conn.sendall(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        if dst[2] == DNS_PORT:
            serve_dns_tcp(conn)
            return
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
    ap.add_argument("--errors", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()
    global errors_path
    errors_path = args.errors
    open(errors_path, "w").close()
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
