"""A scripted SOCKS5 server that misbehaves on purpose, for fault tests.

    python3 socks_script.py --host ADDR --port N --mode MODE
                            [--lifetime SECONDS] [--record FILE]
                            [--delay-ms MS]

Except in mode relay it never connects anywhere: it only plays its part of
the handshake and then does what MODE says. Prints "ready" once listening.
Each request it sees is appended to --record as "greeting HEX" / "auth HEX"
/ "request HEX" lines, so a test can check what the client sent. Every
connection has a thread of its own, so many handshakes run at once.

--delay-ms holds the answer to the request (CONNECT) back that long, as a
distant proxy or Tor does; the greeting is answered at once.

Modes
  repN            answer CONNECT with REP=N (1..8), then close
  garbage         answer CONNECT with bytes that are not a SOCKS5 reply
  garbage-method  answer the greeting with bytes that are not SOCKS5
  truncated       send the first 5 bytes of a success reply, then close
  close-greeting  read the greeting, close without answering
  stall           read the greeting, never answer (until the lifetime ends)
  method-ff       answer the greeting with "no acceptable methods"
  auth-reject     choose username/password, then reject the credentials
  auth-ok         choose username/password, accept, answer success + hello
  hello           answer success and "hello" in the same write, then close
  echo            answer success, then echo whatever arrives
  relay           connect to the requested destination (a name is resolved
                  here, on the proxy host), answer success with the bound
                  address (or the REP its failure maps to) and relay both
                  ways until both sides closed: a real, if slow, proxy
  bind[:K=V,...]  SOCKS5 BIND (CMD 2), scripted by the parameters below.
                  A CONNECT (CMD 1) in this mode is answered with success
                  and echoed, so that one server serves a program's
                  proxied "control" connection and then its BIND; the
                  n-th CONNECT (from 0) gets BND 198.51.100.(10+n):5000,
                  so that each control connection shows its own address.

BIND parameters (mode "bind:first=3", "bind:wait=1500,second=garbage", ...)
  bnd=ADDR:PORT   BND of the first reply (default 198.51.100.9:8080);
                  [V6ADDR]:PORT for an IPv6 one, 0.0.0.0:PORT for "the
                  proxy's own address"
  peer=ADDR:PORT  address of the second reply (default 203.0.113.7:20);
                  a name (NAME:PORT) goes as ATYP 3, in bnd= too
  split=MS        send each successful reply as its first 4 bytes, then
                  the rest MS later (default 0: in one piece)
  firstwait=MS    delay before the first reply to BIND (--delay-ms holds
                  every request, CONNECT too)
  wait=MS         delay between the first and the second reply (default 0:
                  the first reply, a successful second one and the peer's
                  data go in one write)
  first=WHAT      the first reply: 0 (default, success) or a fault
  second=WHAT     the second reply: 0 (default, success) or a fault
                  Faults: N (1..255: that REP with address 0.0.0.0:0, then
                  close), garbage (not a SOCKS5 reply, then close), badatyp
                  (VER 5, REP 0, ATYP 7, then close), truncated (the first
                  5 bytes of a success reply, then close), close (close at
                  once), stall (say nothing until the client closes or the
                  lifetime ends)
After a successful second reply the server sends PEER_DATA in the same
write, as the peer's first bytes, then echoes whatever the client writes
(each piece recorded as "from-client HEX") until the client closes (then
"eof HEX": the CLOCK_MONOTONIC seconds when the end came, as text), then
closes. Notes go to --record as "note HEX" (text), e.g. "second-sent".
"""

import argparse
import errno
import select
import socket
import sys
import threading
import time

HELLO = b"hello"
GARBAGE = b"\x04\x5a\x00\x00garbage!"
PEER_DATA = b"data from peer"
CMD_CONNECT, CMD_BIND = 1, 2
BIND_DEFAULTS = {"bnd": "198.51.100.9:8080", "peer": "203.0.113.7:20",
                 "wait": "0", "split": "0", "first": "0", "second": "0",
                 "firstwait": "0"}
BIND_FAULTS = ("garbage", "badatyp", "truncated", "close", "stall")
SUCCESS_V4 = b"\x05\x00\x00\x01" + bytes([198, 51, 100, 9]) + b"\x1f\x90"
RELAY_CONNECT_TIMEOUT = 5.0
# How relay answers a destination it cannot reach (RFC 1928 section 6).
CONNECT_FAILURE_REP = {errno.ECONNREFUSED: 5, errno.ENETUNREACH: 3,
                       errno.EHOSTUNREACH: 4, errno.ETIMEDOUT: 4}


class Hangup(Exception):
    pass


def recv_exact(conn, n):
    buf = b""
    for _ in range(n + 1):
        if len(buf) >= n:
            break
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise Hangup("peer closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_greeting(conn):
    head = recv_exact(conn, 2)
    return head + recv_exact(conn, head[1])


def read_auth(conn):
    ver_ulen = recv_exact(conn, 2)
    user = recv_exact(conn, ver_ulen[1])
    plen = recv_exact(conn, 1)
    return ver_ulen + user + plen + recv_exact(conn, plen[0])


def read_request(conn):
    head = recv_exact(conn, 4)
    atyp = head[3]
    if atyp == 1:
        rest = recv_exact(conn, 4 + 2)
    elif atyp == 4:
        rest = recv_exact(conn, 16 + 2)
    elif atyp == 3:
        n = recv_exact(conn, 1)
        rest = n + recv_exact(conn, n[0] + 2)
    else:
        raise Hangup("bad ATYP %d" % atyp)
    return head + rest


def request_destination(request):
    """(host, port) named in a CONNECT request read by read_request()."""
    atyp = request[3]
    if atyp == 1:
        host = socket.inet_ntop(socket.AF_INET, request[4:8])
    elif atyp == 4:
        host = socket.inet_ntop(socket.AF_INET6, request[4:20])
    else:
        host = request[5:5 + request[4]].decode("idna")
    return host, int.from_bytes(request[-2:], "big")


def success_reply(sock):
    """A success reply that names sock's local address as BND."""
    addr = sock.getsockname()
    if sock.family == socket.AF_INET6:
        bnd = b"\x04" + socket.inet_pton(socket.AF_INET6, addr[0])
    else:
        bnd = b"\x01" + socket.inet_aton(addr[0])
    return b"\x05\x00\x00" + bnd + addr[1].to_bytes(2, "big")


def is_name(host):
    return ":" not in host and any(c.isalpha() for c in host)


def parse_hostport(text):
    """("198.51.100.9", 8080) from "198.51.100.9:8080", "[2001:db8::9]:80"
    or "peer.example:20" (a name)."""
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if is_name(host):
        if not 0 < len(host) < 256:
            raise ValueError("bad name %r" % host)
    else:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET,
                         host)
    return host, int(port)


def reply_bytes(rep, host, port):
    """A SOCKS5 reply with REP rep naming host:port (ATYP 1, 4, or 3 for a
    name)."""
    if is_name(host):
        bnd = b"\x03" + bytes([len(host)]) + host.encode()
    elif ":" in host:
        bnd = b"\x04" + socket.inet_pton(socket.AF_INET6, host)
    else:
        bnd = b"\x01" + socket.inet_aton(host)
    return bytes([5, rep, 0]) + bnd + port.to_bytes(2, "big")


def parse_mode(text):
    """(name, params) for a --mode value; ValueError when it is none."""
    name, _, rest = text.partition(":")
    if name != "bind":
        if rest or name not in MODES:
            raise ValueError("unknown mode %r" % text)
        return name, {}
    params = dict(BIND_DEFAULTS)
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or key not in BIND_DEFAULTS:
            raise ValueError("bad bind parameter %r" % item)
        params[key] = value
    parse_hostport(params["bnd"])
    parse_hostport(params["peer"])
    if min(int(params[k]) for k in ("wait", "split", "firstwait")) < 0:
        raise ValueError("wait, split and firstwait must be >= 0")
    for key in ("first", "second"):
        what = params[key]
        if what not in BIND_FAULTS and not (what.isdigit() and
                                            0 <= int(what) <= 255):
            raise ValueError("bad %s=%r" % (key, what))
    return name, params


def mode_arg(text):
    try:
        parse_mode(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    return text


def relay(a, b, deadline):
    """Copy bytes both ways between sockets a and b; pass a half-close on;
    return when both directions ended or at the deadline."""
    peer = {a: b, b: a}
    open_ = [a, b]
    for _ in range(10000000):
        left = deadline - time.monotonic()
        if not open_ or left <= 0:
            return
        ready, _, _ = select.select(open_, [], [], left)
        for s in ready:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                peer[s].sendall(data)
                continue
            open_.remove(s)
            try:
                peer[s].shutdown(socket.SHUT_WR)
            except OSError:
                pass


class Script:
    def __init__(self, mode, record, lifetime, delay=0.0):
        self.mode, self.params = parse_mode(mode)
        self.connects = 0
        self.delay = delay
        self.record_path = record
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + lifetime

    def record(self, what, data):
        if not self.record_path:
            return
        with self.lock, open(self.record_path, "a") as f:
            f.write("%s %s\n" % (what, data.hex()))

    def handle(self, conn):
        with conn:
            conn.settimeout(max(1.0, self.deadline - time.monotonic()))
            try:
                self.play(conn)
            except (Hangup, OSError) as e:
                self.record("note", str(e).encode())

    def stall(self, conn):
        """Hold the connection open without a word until the client closes
        it, bounded by the lifetime."""
        for _ in range(100000):
            if time.monotonic() >= self.deadline:
                return
            try:
                if not conn.recv(4096):
                    return
            except socket.timeout:
                return

    def play(self, conn):
        mode = self.mode
        greeting = read_greeting(conn)
        self.record("greeting", greeting)
        if mode == "close-greeting":
            return
        if mode == "stall":
            self.stall(conn)
            return
        if mode == "garbage-method":
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            return
        if mode == "method-ff":
            conn.sendall(b"\x05\xff")
            return
        if mode in ("auth-reject", "auth-ok"):
            conn.sendall(b"\x05\x02")
            self.record("auth", read_auth(conn))
            if mode == "auth-reject":
                conn.sendall(b"\x01\x01")
                return
            conn.sendall(b"\x01\x00")
        else:
            conn.sendall(b"\x05\x00")
        request = read_request(conn)
        self.record("request", request)
        self.hold(conn)
        if mode == "bind":
            self.bind_mode(conn, request)
        elif mode == "relay":
            self.relay(conn, request)
        elif mode.startswith("rep"):
            code = int(mode[3:])
            conn.sendall(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
        elif mode == "garbage":
            conn.sendall(b"\x04\x5a\x00\x00garbage!")
        elif mode == "truncated":
            conn.sendall(SUCCESS_V4[:5])
        elif mode in ("hello", "auth-ok"):
            conn.sendall(SUCCESS_V4 + HELLO)
            try:
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            # Wait for the client to close, so our FIN follows the data.
            conn.settimeout(5)
            try:
                conn.recv(1)
            except OSError:
                pass
        elif mode == "echo":
            conn.sendall(SUCCESS_V4)
            self.echo(conn)
        else:
            raise Hangup("unknown mode %s" % mode)

    def echo(self, conn, record=False):
        for _ in range(100000):
            data = conn.recv(65536)
            if not data:
                if record:
                    self.record("eof", b"%.3f" % time.monotonic())
                return
            if record:
                self.record("from-client", data)
            conn.sendall(data)

    def bind_mode(self, conn, request):
        p = self.params
        if request[1] == CMD_CONNECT:
            with self.lock:
                n = self.connects
                self.connects += 1
            conn.sendall(reply_bytes(0, "198.51.100.%d" % (10 + n), 5000))
            self.echo(conn)
            return
        if request[1] != CMD_BIND:
            conn.sendall(reply_bytes(7, "0.0.0.0", 0))
            return
        if not self.quiet(conn, int(p["firstwait"]) / 1000.0):
            raise Hangup("client closed before the first reply")
        if self.fault(conn, p["first"], p["bnd"]):
            return
        first = reply_bytes(0, *parse_hostport(p["bnd"]))
        second = reply_bytes(0, *parse_hostport(p["peer"])) + PEER_DATA
        wait = int(p["wait"]) / 1000.0
        split = int(p["split"]) / 1000.0
        if wait == 0 and split == 0 and p["second"] == "0":
            # One write: a client must take the first reply and leave the
            # rest where it belongs.
            conn.sendall(first + second)
            self.record("note", b"first-sent")
        else:
            self.send_split(conn, first, split)
            self.record("note", b"first-sent")
            if not self.quiet(conn, wait):
                raise Hangup("client closed before the second reply")
            if self.fault(conn, p["second"], p["peer"]):
                return
            self.send_split(conn, second, split)
        self.record("note", b"second-sent")
        self.echo(conn, record=True)

    def send_split(self, conn, data, pause):
        """data in one write, or with pause > 0 its first 4 bytes, then the
        rest pause seconds later."""
        if pause <= 0:
            conn.sendall(data)
            return
        conn.sendall(data[:4])
        if not self.quiet(conn, pause):
            raise Hangup("client closed inside a reply")
        conn.sendall(data[4:])

    def fault(self, conn, what, addr):
        """Play fault WHAT instead of a reply naming addr; False for 0
        (no fault: the caller sends the success reply)."""
        if what == "0":
            return False
        if what.isdigit():
            conn.sendall(reply_bytes(int(what), "0.0.0.0", 0))
        elif what == "garbage":
            conn.sendall(GARBAGE)
        elif what == "badatyp":
            conn.sendall(b"\x05\x00\x00\x07" + bytes(6))
        elif what == "truncated":
            conn.sendall(reply_bytes(0, *parse_hostport(addr))[:5])
        elif what == "stall":
            self.stall(conn)
        self.record("note", ("fault-" + what).encode())
        return True

    def quiet(self, conn, seconds):
        """Wait seconds; False when the client closed meanwhile (bytes it
        sends stay queued)."""
        end = time.monotonic() + seconds
        for _ in range(1000):
            left = end - time.monotonic()
            if left <= 0:
                return True
            if not select.select([conn], [], [], left)[0]:
                continue
            try:
                early = conn.recv(1, socket.MSG_PEEK)
            except OSError:
                early = b""
            if not early:
                return False
            time.sleep(max(0.0, end - time.monotonic()))
            return True
        return True

    def hold(self, conn):
        """Wait --delay-ms before answering the request; a client that
        closes meanwhile ends the connection (Hangup), so that relay never
        reaches the target for a client that gave up."""
        # Data before the answer (a pipelining client) stays queued for
        # the relay; only the delay remains.
        if not self.quiet(conn, self.delay):
            raise Hangup("client closed during the delay")

    def relay(self, conn, request):
        try:
            out = socket.create_connection(request_destination(request),
                                           timeout=RELAY_CONNECT_TIMEOUT)
        except OSError as e:
            rep = CONNECT_FAILURE_REP.get(e.errno, 1)
            conn.sendall(bytes([5, rep, 0, 1, 0, 0, 0, 0, 0, 0]))
            raise
        with out:
            conn.sendall(success_reply(out))
            relay(conn, out, self.deadline)


MODES = (["rep%d" % i for i in range(0, 10)] +
         ["garbage", "garbage-method", "truncated", "close-greeting", "stall",
          "method-ff", "auth-reject", "auth-ok", "hello", "echo", "relay",
          "bind"])


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="192.0.2.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", required=True, type=mode_arg,
                    help="one of %s; bind takes parameters" % ", ".join(
                        MODES))
    ap.add_argument("--lifetime", type=float, default=60)
    ap.add_argument("--record")
    ap.add_argument("--delay-ms", type=int, default=0)
    opts = ap.parse_args(argv)
    script = Script(opts.mode, opts.record, opts.lifetime,
                    opts.delay_ms / 1000.0)
    fam = socket.AF_INET6 if ":" in opts.host else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((opts.host, opts.port))
    srv.listen(128)
    print("ready", flush=True)
    for _ in range(10000):
        remaining = script.deadline - time.monotonic()
        if remaining <= 0:
            break
        srv.settimeout(remaining)
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            break
        threading.Thread(target=script.handle, args=(conn,),
                         daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
