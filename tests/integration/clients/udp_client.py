"""UDP client for the integration tests; prints one JSON object.

The UDP echo on the target answers b"from ADDR PORT\\n" + payload, ADDR
PORT being the source it saw. Every scenario returns what it received
as text ("reply"), so the test can check who the target saw.

    udp_client.py sendto HOST PORT TEXT [--family 4|6] [--v6only]
        sendto + recvfrom: {"reply", "src"}. An AF_INET6 socket is
        dual-stack unless --v6only.
    udp_client.py connected HOST PORT TEXT
        connect; send/recv; write/read; writev/readv; getpeername;
        connect(AF_UNSPEC); getpeername (errno); sendto again unconnected.
    udp_client.py name NAME PORT TEXT [--family 4|6]
        getaddrinfo(NAME, SOCK_DGRAM) through the library (a fake
        address), sendto that address, recvfrom: {"addr", "reply", "src"}.
    udp_client.py epoll HOST PORT
        non-blocking socket in epoll, 3 datagrams, recv until EAGAIN,
        then one more epoll_wait(300 ms).
    udp_client.py peek-trunc HOST PORT
        recv(MSG_PEEK) then recv; recvmsg(8 bytes, MSG_TRUNC).
    udp_client.py many HOST PORT N
        N sockets, one echo each, then closes them: fd counts.
    udp_client.py fail HOST PORT
        two sendto calls expected to fail: errno and time of each.
    udp_client.py fork HOST PORT
        the parent associates (one echo), the child echoes on the same
        socket, then the parent once more.
    udp_client.py dup2 HOST PORT
        associate, dup2 the socket to 77, close the original, echo on 77.
    udp_client.py refuse HOST
        raw and ICMP datagram sockets sending to HOST: the errno of each.
    udp_client.py tiny HOST PORT
        one-byte datagrams (sendto, sendmsg, send, write) and one-byte
        receives (recvfrom, recvmsg, recv, read) of the echoes.

Errors are reported by errno name; exit status 0 whenever the program
got that far.
"""

import ctypes
import errno
import json
import os
import select
import socket
import struct
import sys
import time

TIMEOUT = 5.0
libc = ctypes.CDLL(None, use_errno=True)


def ename(e):
    return errno.errorcode.get(e, str(e))


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def text(b):
    return b.decode("utf-8", "replace")


def src_of(addr):
    return [addr[0], addr[1]]


def udp_socket(fam):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    return s


def try_call(fn, *args):
    """(result, None) or (None, errno name)."""
    try:
        return fn(*args), None
    except socket.timeout:
        return None, "timeout"
    except OSError as e:
        return None, ename(e.errno)


def sendto(opts):
    fam = {"4": socket.AF_INET, "6": socket.AF_INET6, None: None}[
        opts.get("family")] or family_of(opts["host"])
    s = udp_socket(fam)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                     1 if opts.get("v6only") else 0)
    dst = (opts["host"], opts["port"])
    _, err = try_call(s.sendto, opts["text"].encode(), dst)
    if err:
        return {"error": err, "stage": "sendto"}
    got, err = try_call(s.recvfrom, 65536)
    if err:
        return {"error": err, "stage": "recvfrom"}
    return {"reply": text(got[0]), "src": src_of(got[1])}


def disconnect(fd):
    """connect(fd, {AF_UNSPEC}): through libc, so the library sees it."""
    sa = struct.pack("=H14x", socket.AF_UNSPEC)
    buf = ctypes.create_string_buffer(sa, len(sa))
    rc = libc.connect(fd, buf, len(sa))
    return 0 if rc == 0 else ctypes.get_errno()


def connected(opts):
    out = {}
    s = udp_socket(family_of(opts["host"]))
    dst = (opts["host"], opts["port"])
    _, err = try_call(s.connect, dst)
    if err:
        return {"error": err, "stage": "connect"}
    out["peer"] = src_of(s.getpeername())
    t = opts["text"]
    _, err = try_call(s.send, (t + " send").encode())
    out["recv"] = text(s.recv(65536)) if not err else err
    fd = s.fileno()
    os.write(fd, (t + " write").encode())
    r, _, _ = select.select([fd], [], [], TIMEOUT)
    out["read"] = text(os.read(fd, 65536)) if r else "timeout"
    os.writev(fd, [t.encode(), b" ", b"writev"])
    r, _, _ = select.select([fd], [], [], TIMEOUT)
    if r:
        a, b = bytearray(7), bytearray(200)
        n = os.readv(fd, [a, b])
        out["readv"] = text(bytes(a + b)[:n])
    else:
        out["readv"] = "timeout"
    out["disconnect"] = disconnect(fd)
    try:
        out["peer_after"] = src_of(s.getpeername())
    except OSError as e:
        out["peer_after"] = ename(e.errno)
    _, err = try_call(s.sendto, (t + " again").encode(), dst)
    if err:
        out["again"] = err
    else:
        got, err = try_call(s.recvfrom, 65536)
        out["again"] = err or {"reply": text(got[0]), "src": src_of(got[1])}
    return out


def name(opts):
    fam = socket.AF_INET6 if opts.get("family") == "6" else socket.AF_INET
    res = socket.getaddrinfo(opts["host"], opts["port"], fam,
                             socket.SOCK_DGRAM)
    addr = res[0][4]
    s = udp_socket(fam)
    _, err = try_call(s.sendto, opts["text"].encode(), addr)
    if err:
        return {"error": err, "stage": "sendto", "addr": src_of(addr)}
    got, err = try_call(s.recvfrom, 65536)
    if err:
        return {"error": err, "stage": "recvfrom", "addr": src_of(addr)}
    return {"addr": src_of(addr), "reply": text(got[0]),
            "src": src_of(got[1])}


def epoll(opts):
    s = socket.socket(family_of(opts["host"]), socket.SOCK_DGRAM)
    s.setblocking(False)
    ep = select.epoll()
    ep.register(s.fileno(), select.EPOLLIN)
    dst = (opts["host"], opts["port"])
    for i in range(3):
        s.sendto(b"epoll %d" % i, dst)
    got, wakeups = [], 0
    deadline = time.monotonic() + TIMEOUT
    while len(got) < 3 and time.monotonic() < deadline:
        events = ep.poll(max(deadline - time.monotonic(), 0.01))
        if not events:
            continue
        wakeups += 1
        while True:
            try:
                data, src = s.recvfrom(65536)
            except BlockingIOError:
                break
            got.append([text(data), src_of(src)])
    t0 = time.monotonic()
    idle = ep.poll(0.3)
    idle_elapsed = time.monotonic() - t0
    try:
        s.recv(65536)
        after = "data"
    except BlockingIOError:
        after = "EAGAIN"
    return {"got": got, "wakeups": wakeups, "idle_events": len(idle),
            "idle_elapsed": idle_elapsed, "after": after}


def peek_trunc(opts):
    s = udp_socket(family_of(opts["host"]))
    dst = (opts["host"], opts["port"])
    s.sendto(b"peek me", dst)
    peeked, psrc = s.recvfrom(65536, socket.MSG_PEEK)
    data, src = s.recvfrom(65536)
    s.sendto(b"a rather long datagram for MSG_TRUNC", dst)
    small, anc, flags, tsrc = s.recvmsg(8)
    s.sendto(b"and its length", dst)
    # recv(MSG_TRUNC) returns the full length of the datagram.
    buf = ctypes.create_string_buffer(4)
    select.select([s], [], [], TIMEOUT)
    n = libc.recv(s.fileno(), buf, 4, socket.MSG_TRUNC)
    return {"peeked": text(peeked), "peek_src": src_of(psrc),
            "data": text(data), "src": src_of(src),
            "small": text(small), "flags": flags,
            "msg_trunc": bool(flags & socket.MSG_TRUNC),
            "trunc_src": src_of(tsrc), "recv_trunc_len": n,
            "recv_trunc_data": text(buf.raw)}


def fd_list():
    """Open descriptors, leaving out those the listing itself used."""
    out = []
    for n in os.listdir("/proc/self/fd"):
        try:
            os.fstat(int(n))
        except OSError:
            continue
        out.append(int(n))
    return sorted(out)


def fd_flags(fd):
    try:
        with open("/proc/self/fdinfo/%d" % fd) as f:
            for line in f:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return None


def many(opts):
    n = opts["n"]
    before = fd_list()
    socks = [udp_socket(family_of(opts["host"])) for _ in range(n)]
    dst = (opts["host"], opts["port"])
    for i, s in enumerate(socks):
        s.sendto(b"sock %d" % i, dst)
    ok, local_ports, sources = 0, set(), set()
    for i, s in enumerate(socks):
        got, err = try_call(s.recvfrom, 65536)
        if not err and got[0].endswith(b"sock %d" % i):
            ok += 1
            sources.add(got[0].split(b"\n")[0].decode())
        local_ports.add(s.getsockname()[1])
    during = fd_list()
    own = {s.fileno() for s in socks}
    extra = [fd for fd in during if fd not in before and fd not in own]
    cloexec = [fd for fd in extra
               if (fd_flags(fd) or 0) & os.O_CLOEXEC]
    for s in socks:
        s.close()
    time.sleep(0.1)
    after = fd_list()
    return {"ok": ok, "before": len(before), "during": len(during),
            "after": len(after), "extra": len(extra),
            "extra_cloexec": len(cloexec),
            "extra_min": min(extra) if extra else None,
            "leftover": [fd for fd in after if fd not in before],
            "sources": sorted(sources), "local_ports": len(local_ports)}


def fail(opts):
    s = udp_socket(family_of(opts["host"]))
    dst = (opts["host"], opts["port"])
    out = []
    for i in range(2):
        t0 = time.monotonic()
        _, err = try_call(s.sendto, b"should not go %d" % i, dst)
        out.append({"error": err, "elapsed": time.monotonic() - t0})
    return {"sends": out}


def echo_once(s, dst, payload):
    _, err = try_call(s.sendto, payload, dst)
    if err:
        return err
    got, err = try_call(s.recvfrom, 65536)
    if err:
        return err
    return {"reply": text(got[0]), "src": src_of(got[1])}


def fork(opts):
    s = udp_socket(family_of(opts["host"]))
    dst = (opts["host"], opts["port"])
    out = {"parent1": echo_once(s, dst, b"parent before fork")}
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        res = echo_once(s, dst, b"child")
        os.write(w, json.dumps(res).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    _, status = os.waitpid(pid, 0)
    out["child"] = json.loads(data) if data else None
    out["child_status"] = status
    out["parent2"] = echo_once(s, dst, b"parent after fork")
    return out


def dup2(opts):
    s = udp_socket(family_of(opts["host"]))
    dst = (opts["host"], opts["port"])
    out = {"first": echo_once(s, dst, b"before dup2")}
    os.dup2(s.fileno(), 77)
    s.close()
    c = socket.socket(fileno=77)
    c.settimeout(TIMEOUT)
    out["copy"] = echo_once(c, dst, b"through the copy")
    return out


def refuse(opts):
    host = opts["host"]
    fam = family_of(host)
    out = {}
    kinds = {
        "raw": (socket.SOCK_RAW, socket.IPPROTO_ICMP if fam == socket.AF_INET
                else socket.IPPROTO_ICMPV6),
        "ping": (socket.SOCK_DGRAM, socket.IPPROTO_ICMP
                 if fam == socket.AF_INET else socket.IPPROTO_ICMPV6),
    }
    # An echo request: type 8 (v4) or 128 (v6), code 0, checksum left for
    # the kernel on ping sockets (and irrelevant if it never leaves).
    icmp = bytes([8 if fam == socket.AF_INET else 128, 0, 0, 0, 0, 1, 0, 1])
    for kind, (typ, proto) in kinds.items():
        try:
            s = socket.socket(fam, typ, proto)
        except OSError as e:
            out[kind] = "socket: " + ename(e.errno)
            continue
        _, err = try_call(s.sendto, icmp, (host, 0))
        out[kind] = err or "sent"
        _, err = try_call(s.connect, (host, 0))
        out[kind + "_connect"] = err or "connected"
        s.close()
    return out


def tiny(opts):
    """One-byte payloads and one-byte receive buffers through every call:
    a result of 1 must be taken for what it is."""
    fam = family_of(opts["host"])
    s = udp_socket(fam)
    s.settimeout(2.0)
    dst = (opts["host"], opts["port"])
    out = {}
    out["sendto"], err = try_call(s.sendto, b"a", dst)
    out["sendto"] = err or out["sendto"]
    got, err = try_call(s.recvfrom, 1)
    out["recvfrom"] = err or [text(got[0]), src_of(got[1])]
    out["sendmsg"], err = try_call(s.sendmsg, [b"b"], [], 0, dst)
    out["sendmsg"] = err or out["sendmsg"]
    got, err = try_call(s.recvmsg, 1)
    out["recvmsg"] = err or [text(got[0]), bool(got[2] & socket.MSG_TRUNC),
                             src_of(got[3])]
    _, err = try_call(s.connect, dst)
    out["send"], err = try_call(s.send, b"c")
    out["send"] = err or out["send"]
    got, err = try_call(s.recv, 1)
    out["recv"] = err or text(got)
    fd = s.fileno()                          # non-blocking (settimeout)
    try:
        out["write"] = os.write(fd, b"d")
    except OSError as e:
        out["write"] = ename(e.errno)
    select.select([fd], [], [], TIMEOUT)
    try:
        out["read"] = text(os.read(fd, 1))
    except OSError as e:
        out["read"] = ename(e.errno)
    # Anything left over (a second copy, a header) shows up here.
    s.settimeout(0.5)
    got, err = try_call(s.recv, 65536)
    out["left"] = err or text(got)
    return out


SCENARIOS = {"tiny": tiny, "sendto": sendto, "connected": connected, "name": name,
             "epoll": epoll, "peek-trunc": peek_trunc, "many": many,
             "fail": fail, "fork": fork, "dup2": dup2, "refuse": refuse}


def main(argv):
    what = argv[0]
    opts = {}
    rest = argv[1:]
    if "--family" in rest:
        i = rest.index("--family")
        opts["family"] = rest[i + 1]
        del rest[i:i + 2]
    if "--v6only" in rest:
        rest.remove("--v6only")
        opts["v6only"] = True
    opts["host"] = rest[0]
    if len(rest) > 1:
        opts["port"] = int(rest[1])
    if what == "many":
        opts["n"] = int(rest[2])
    elif len(rest) > 2:
        opts["text"] = rest[2]
    print(json.dumps(SCENARIOS[what](opts)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
