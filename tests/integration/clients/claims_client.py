"""Clients for test_claims.py; each prints one JSON object and exits 0
when it got that far (a crash or a hang is the test's finding).

    claims_client.py options HOST PORT BIND_ADDR BIND_PORT [--nonblocking]
        A TCP socket with SO_KEEPALIVE, TCP_NODELAY, SO_RCVBUF, IP_TOS
        (IPV6_TCLASS on IPv6) and SO_REUSEADDR set, bound to BIND_ADDR and
        BIND_PORT, connected to HOST:PORT (the TCP echo);
        each option, the file flags and getsockname before and after the
        connect, getpeername, one echoed line.
    claims_client.py names COUNT
        getaddrinfo(AF_INET) of www.test, then of COUNT - 1 more names and
        one beyond: where the first failure came and which it was; then
        www.test again and an HTTP GET to its fake address.
    claims_client.py fake
        getaddrinfo of www.test for AF_INET, AF_INET6 and AF_UNSPEC, the
        fake addresses' names by getnameinfo, an HTTP GET to each.
    claims_client.py misconfig HOST PORT [--loopback]
        Two TCP connects and one UDP sendto to HOST:PORT; their errors.
        With --loopback, first a connection to a listener of its own on
        127.0.0.1 and one line received on it.
    claims_client.py proxyname HOST PORT SEQUENTIAL THREADS
        SEQUENTIAL connects one after another, then THREADS threads that
        connect at the same moment; each echoes one line.
"""

import errno
import fcntl
import json
import os
import select
import socket
import sys
import threading
import time

IO_TIMEOUT = 10.0


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(
        e, OSError) and e.errno else repr(e)


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def echo_line(sock, text):
    sock.sendall(text.encode() + b"\n")
    data = b""
    deadline = time.monotonic() + IO_TIMEOUT
    while b"\n" not in data and time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").rstrip("\n")


def http_get(addr, port, family):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(IO_TIMEOUT)
        try:
            s.connect((addr, port))
        except OSError as e:
            return {"error": errname(e)}
        s.sendall(b"GET /claims HTTP/1.0\r\nHost: www.test\r\n\r\n")
        data = b""
        for _ in range(1000):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return {"body": data.decode(errors="replace").split("\r\n\r\n",
                                                            1)[-1]}


# ---- options ---------------------------------------------------------------

def read_options(s, v6):
    out = {
        "keepalive": s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        "nodelay": s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
        "rcvbuf": s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
        "reuseaddr": s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR),
        "flags": fcntl.fcntl(s.fileno(), fcntl.F_GETFL),
        "fd_flags": fcntl.fcntl(s.fileno(), fcntl.F_GETFD),
    }
    if v6:
        out["tclass"] = s.getsockopt(socket.IPPROTO_IPV6,
                                     socket.IPV6_TCLASS)
    else:
        out["tos"] = s.getsockopt(socket.IPPROTO_IP, socket.IP_TOS)
    out["sockname"] = list(s.getsockname()[:2])
    return out


def cmd_options(args):
    host, port, bind_addr, bind_port = args[0], int(args[1]), args[2], int(
        args[3])
    nonblocking = "--nonblocking" in args[4:]
    v6 = family_of(host) == socket.AF_INET6
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, 0x28)
    else:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x28)
    # O_ASYNC is a file flag nobody else sets: it must come back as is.
    flags = fcntl.fcntl(s.fileno(), fcntl.F_GETFL)
    flags |= os.O_ASYNC | (os.O_NONBLOCK if nonblocking else 0)
    fcntl.fcntl(s.fileno(), fcntl.F_SETFL, flags)
    s.bind((bind_addr, bind_port))
    out = {"bound_port": bind_port}
    out["before"] = read_options(s, v6)
    t0 = time.monotonic()
    rc = s.connect_ex((host, port))
    out["connect_call"] = errno.errorcode.get(rc, "ok")
    if nonblocking and rc == errno.EINPROGRESS:
        # The handshake runs on while the program waits, as a direct
        # connect would: writable once done, SO_ERROR says how it went.
        select.select([], [s], [], IO_TIMEOUT)
        rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    out["connect"] = errno.errorcode.get(rc, "ok")
    out["elapsed"] = round(time.monotonic() - t0, 3)
    out["after"] = read_options(s, v6)
    if rc == 0:
        out["peer"] = list(s.getpeername()[:2])
        if nonblocking:
            fcntl.fcntl(s.fileno(), fcntl.F_SETFL,
                        flags & ~os.O_NONBLOCK)
        s.settimeout(IO_TIMEOUT)
        out["echo"] = echo_line(s, "options kept")
    s.close()
    print(json.dumps(out))


# ---- names -----------------------------------------------------------------

def resolve4(name, port=80):
    try:
        res = socket.getaddrinfo(name, port, socket.AF_INET,
                                 socket.SOCK_STREAM)
        return res[0][4][0], None
    except socket.gaierror as e:
        codes = {socket.EAI_AGAIN: "EAI_AGAIN",
                 socket.EAI_NONAME: "EAI_NONAME",
                 socket.EAI_FAIL: "EAI_FAIL"}
        return None, codes.get(e.errno, str(e.errno))


def cmd_names(args):
    count = int(args[0])
    names = ["www.test"] + ["n%d.claims.test" % i for i in range(1, count + 1)]
    addrs, failure = [], None
    t0 = time.monotonic()
    for i, name in enumerate(names):
        addr, err = resolve4(name)
        if err is not None:
            failure = {"index": i, "name": name, "error": err}
            break
        addrs.append(addr)
    out = {"resolved": len(addrs), "failure": failure,
           "first": addrs[:3], "last": addrs[-1:],
           "distinct": len(set(addrs)),
           "elapsed": round(time.monotonic() - t0, 3)}
    # Every slot is taken and young: a name still held resolves, a new
    # one fails again.
    out["again_www"], err = resolve4("www.test")
    out["again_www_error"] = err
    out["again_new"] = resolve4("one-more.claims.test")[1]
    if out["again_www"]:
        out["http"] = http_get(out["again_www"], 80, socket.AF_INET)
    print(json.dumps(out))


# ---- fake ------------------------------------------------------------------

def cmd_fake(args):
    out = {}
    for label, fam in (("inet", socket.AF_INET), ("inet6", socket.AF_INET6),
                       ("unspec", socket.AF_UNSPEC)):
        try:
            res = socket.getaddrinfo("www.test", 80, fam, socket.SOCK_STREAM)
        except socket.gaierror as e:
            out[label] = {"error": e.errno}
            continue
        out[label] = {"addrs": [r[4][0] for r in res]}
    for label in ("inet", "inet6"):
        entry = out[label]
        if "addrs" not in entry:
            continue
        addr = entry["addrs"][0]
        fam = family_of(addr)
        sa = (addr, 80) if fam == socket.AF_INET else (addr, 80, 0, 0)
        try:
            entry["name"] = socket.getnameinfo(sa, socket.NI_NAMEREQD)[0]
        except socket.gaierror as e:
            entry["name"] = "error %s" % e.errno
        entry["http"] = http_get(addr, 80, fam)
    print(json.dumps(out))


# ---- misconfig -------------------------------------------------------------

def loopback_round_trip():
    """A listener on 127.0.0.1, a connect to it, one line back: "ok" or
    the error's name."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(IO_TIMEOUT)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
            c.settimeout(IO_TIMEOUT)
            try:
                c.connect(srv.getsockname())
                conn, _ = srv.accept()
                with conn:
                    conn.sendall(b"loopback\n")
                got = c.recv(100)
            except OSError as e:
                return errname(e)
    return "ok" if got == b"loopback\n" else "got %r" % got


def cmd_misconfig(args):
    host, port = args[0], int(args[1])
    fam = family_of(host)
    out = {"tcp": []}
    if "--loopback" in args[2:]:
        out["loopback"] = loopback_round_trip()
    for _ in range(2):
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(IO_TIMEOUT)
            try:
                s.connect((host, port))
                out["tcp"].append("ok")
            except OSError as e:
                out["tcp"].append(errname(e))
    with socket.socket(fam, socket.SOCK_DGRAM) as u:
        try:
            u.sendto(b"misconfigured", (host, port))
            out["udp"] = "ok"
        except OSError as e:
            out["udp"] = errname(e)
    print(json.dumps(out))


# ---- proxyname -------------------------------------------------------------

def one_echo(host, port, tag):
    with socket.socket(family_of(host), socket.SOCK_STREAM) as s:
        s.settimeout(IO_TIMEOUT)
        try:
            s.connect((host, port))
            got = echo_line(s, tag)
            return None if got == tag else "%s: echo %r" % (tag, got)
        except OSError as e:
            return "%s: %s" % (tag, errname(e))


def cmd_proxyname(args):
    host, port, seq, nthreads = args[0], int(args[1]), int(args[2]), int(
        args[3])
    failures = []
    for i in range(seq):
        f = one_echo(host, port, "seq %d" % i)
        if f:
            failures.append(f)
    barrier = threading.Barrier(nthreads, timeout=IO_TIMEOUT)
    lock = threading.Lock()

    def worker(i):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        f = one_echo(host, port, "thread %d" % i)
        if f:
            with lock:
                failures.append(f)
    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(IO_TIMEOUT * 3)
    print(json.dumps({"attempts": seq + nthreads, "failures": failures,
                      "stuck": sum(t.is_alive() for t in threads)}))


COMMANDS = {"options": cmd_options, "names": cmd_names, "fake": cmd_fake,
            "misconfig": cmd_misconfig, "proxyname": cmd_proxyname}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    COMMANDS[sys.argv[1]](sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
