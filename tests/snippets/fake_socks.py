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
prove the library talked to the proxy. Exits after --lifetime seconds.

A CONNECT to 192.0.2.1 on a port from 7000 to 7999 follows a script
instead, for the asynchronous connect snippets (async.h). Times count
from the moment the request has been read; "reply" is the full success
reply (VER 5, REP 0, IPv4 0.0.0.0:0, 10 bytes):

  7000-7099  wait (port - 7000) * 10 ms, reply, then echo (7030: 300 ms)
  7101-7108  wait 100 ms, answer REP (port - 7100), hang up
  7200       never reply; hold the connection until the client drops it
  7300       hang up at once, without a reply
  7301       the first 4 bytes of the reply, then hang up
  7302       a malformed reply (VER 4), then hang up
  7303       wait 100 ms, hang up without a reply
  7400       the reply in two pieces: 3 bytes, 150 ms pause, 7 bytes;
             then echo
  7401       wait 200 ms, then the reply and "banner-7401\n" in one
             segment; then echo
  7402       wait 100 ms, reply; 300 ms later "late-7402\n"; then echo
  7403       5 bytes of the reply, 150 ms pause, the other 5 bytes and
             "split-7403\n" in one segment; then echo
  7500-7599  as 7000-7099, for optimistic data: program data may come
             before the reply (it is echoed after it)
  7601-7608  as 7101-7108, for optimistic data

Any other port in that range is reported as unexpected. A scripted
connection that sends anything after its request and before the whole
reply was sent is reported too (but on 7500-7608): program data must
wait for the handshake."""
import argparse
import ipaddress
import select
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

# The scripted destinations (docstring): a script is a list of steps,
# ("sleep", seconds), ("send", bytes) or ("stall",); "echo" at the end
# means the connection then echoes like an ordinary one.
SCRIPT_ADDR = "192.0.2.1"
REPLY_OK = b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"
BANNERS = {7401: b"banner-7401\n", 7402: b"late-7402\n",
           7403: b"split-7403\n"}

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


def rep_reply(rep):
    return b"\x05" + bytes([rep]) + REPLY_OK[2:]


def script_for(dst):
    """(steps, echo afterwards) for a scripted destination, or None."""
    atyp, addr, port = dst
    if atyp != 1 or addr != SCRIPT_ADDR:
        return None
    if 7000 <= port <= 7099:
        return [("sleep", (port - 7000) / 100), ("send", REPLY_OK)], True
    if 7101 <= port <= 7108:
        return [("sleep", 0.1), ("send", rep_reply(port - 7100))], False
    if 7500 <= port <= 7599:
        return [("sleep", (port - 7500) / 100), ("send", REPLY_OK)], True
    if 7601 <= port <= 7608:
        return [("sleep", 0.1), ("send", rep_reply(port - 7600))], False
    scripts = {
        7200: ([("stall",)], False),
        7300: ([], False),
        7301: ([("send", REPLY_OK[:4])], False),
        7302: ([("send", b"\x04" + REPLY_OK[1:])], False),
        7303: ([("sleep", 0.1)], False),
        7400: ([("send", REPLY_OK[:3]), ("sleep", 0.15),
                ("send", REPLY_OK[3:])], True),
        7401: ([("sleep", 0.2), ("send", REPLY_OK + BANNERS[7401])], True),
        7402: ([("sleep", 0.1), ("send", REPLY_OK), ("sleep", 0.3),
                ("send", BANNERS[7402])], True),
        7403: ([("send", REPLY_OK[:5]), ("sleep", 0.15),
                ("send", REPLY_OK[5:] + BANNERS[7403])], True),
    }
    return scripts.get(port)


def early_data(conn):
    """True when the client sent something the script has not read: data
    before the handshake ended. A hang-up (EOF) is not data. (select
    first: a socket with a timeout waits in recv even with MSG_DONTWAIT.)"""
    if not select.select([conn], [], [], 0)[0]:
        return False
    return len(conn.recv(1, socket.MSG_PEEK)) > 0


def run_script(conn, dst, steps):
    """Plays steps on conn; False when the connection ended early."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    early_ok = 7500 <= dst[2] <= 7608
    for step in steps:
        if step[0] == "sleep":
            time.sleep(step[1])
        elif step[0] == "send":
            if not early_ok and early_data(conn):
                report("connect %d %s %d: data before the reply" % dst)
                return False
            conn.sendall(step[1])
        else:
            # Stalled: anything but the client's hang-up is data sent
            # while the handshake had not ended.
            while True:
                data = conn.recv(4096)
                if not data:
                    return False
                report("connect %d %s %d: data during a stalled "
                       "handshake" % dst)
    return True


def echo(conn):
    while True:
        data = conn.recv(4096)
        if not data:
            return
        conn.sendall(data)


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
        script = script_for(dst)
        if script is not None:
            steps, then_echo = script
            if run_script(conn, dst, steps) and then_echo:
                echo(conn)
            return
        if dst not in CONNECT_OK:
            report("connect: unexpected destination %d %s %d" % dst)
            conn.sendall(b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        conn.sendall(REPLY_OK)
        if dst[2] == DNS_PORT:
            serve_dns_tcp(conn)
            return
        echo(conn)
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
