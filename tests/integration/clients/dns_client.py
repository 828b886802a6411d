"""Name-resolution client for the DNS tests; prints one JSON object.

    dns_client.py resolve NAME [--family 0|4|6] [--canon]
        getaddrinfo(NAME, 80, family, SOCK_STREAM): {"addrs", "canon"}
        or {"error": "EAI_..."}. NAME is passed as bytes, so Python's
        IDNA codec never sees it.
    dns_client.py names NAME
        gethostbyname, gethostbyname_ex, and for the first IPv4 and IPv6
        address getaddrinfo gives: getnameinfo(NI_NAMEREQD) and
        gethostbyaddr on it.
    dns_client.py fork-echo NAME OTHER PORT TEXT
        The parent resolves NAME and forks; the child connects to that
        address by number, echoes TEXT, then resolves OTHER and writes
        its address to a pipe; the parent waits for the child, then
        connects to OTHER's address (learnt only by the child) by number
        and echoes TEXT too.
    dns_client.py fetch URL
        urllib.request.urlopen(URL): {"status", "body"} or {"error"}.
    dns_client.py reverse ADDR
        getnameinfo((ADDR, 80)) with and without NI_NAMEREQD, and
        gethostbyaddr(ADDR): each a result or {"error"}.
"""

import argparse
import errno
import json
import os
import socket
import sys
import urllib.request

EAI = {getattr(socket, n): n for n in dir(socket) if n.startswith("EAI_")}
FAMILIES = {"0": socket.AF_UNSPEC, "4": socket.AF_INET, "6": socket.AF_INET6}


def gai_error(e):
    return EAI.get(e.errno, str(e.errno))


def os_error(e):
    return errno.errorcode.get(e.errno, str(e))


def resolve(opts):
    flags = socket.AI_CANONNAME if opts.canon else 0
    try:
        res = socket.getaddrinfo(opts.name.encode("latin-1"), 80,
                                 FAMILIES[opts.family], socket.SOCK_STREAM,
                                 0, flags)
    except socket.gaierror as e:
        return {"error": gai_error(e)}
    return {"addrs": [r[4][0] for r in res],
            "families": [r[0].name for r in res],
            "canon": res[0][3] if res else None}


def first(name, fam):
    try:
        res = socket.getaddrinfo(name, 80, fam, socket.SOCK_STREAM)
    except socket.gaierror as e:
        return None, gai_error(e)
    return res[0][4][0], None


def names(opts):
    out = {}
    try:
        out["gethostbyname"] = socket.gethostbyname(opts.name)
    except OSError as e:
        out["gethostbyname"] = {"error": str(e)}
    try:
        out["gethostbyname_ex"] = list(socket.gethostbyname_ex(opts.name))
    except OSError as e:
        out["gethostbyname_ex"] = {"error": str(e)}
    for key, fam in (("v4", socket.AF_INET), ("v6", socket.AF_INET6)):
        addr, err = first(opts.name, fam)
        entry = {"addr": addr, "error": err}
        if addr:
            sa = (addr, 80) if fam == socket.AF_INET else (addr, 80, 0, 0)
            try:
                entry["getnameinfo"] = list(socket.getnameinfo(
                    sa, socket.NI_NAMEREQD | socket.NI_NUMERICSERV))
            except socket.gaierror as e:
                entry["getnameinfo"] = {"error": gai_error(e)}
            try:
                h = socket.gethostbyaddr(addr)
                entry["gethostbyaddr"] = [h[0], h[1], h[2]]
            except OSError as e:
                entry["gethostbyaddr"] = {"error": str(e)}
        out[key] = entry
    return out


def echo(addr, port, text):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(15)
    try:
        s.connect((addr, port))
        s.sendall(text.encode())
        data = b""
        for _ in range(1000):
            if len(data) >= len(text):
                break
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode("latin-1")
    except OSError as e:
        return "error " + os_error(e)
    finally:
        s.close()


def fork_echo(opts):
    addr, err = first(opts.name, socket.AF_INET)
    if err:
        return {"error": err}
    rfd, wfd = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        rc = 1
        try:
            got = echo(addr, opts.port, opts.text)
            other, oerr = first(opts.other, socket.AF_INET)
            os.write(wfd, json.dumps({"received": got, "other": other,
                                      "other_error": oerr}).encode())
            rc = 0 if got == opts.text else 2
        finally:
            os._exit(rc)
    os.close(wfd)
    data = b""
    for _ in range(1000):
        chunk = os.read(rfd, 4096)
        if not chunk:
            break
        data += chunk
    _, status = os.waitpid(pid, 0)
    child = json.loads(data.decode()) if data else {}
    out = {"addr": addr, "child_status": os.waitstatus_to_exitcode(status),
           "child": child}
    if child.get("other"):
        out["parent_other"] = echo(child["other"], opts.port, opts.text)
    return out


def fetch(opts):
    try:
        with urllib.request.urlopen(opts.url, timeout=15) as r:
            return {"status": r.status, "body": r.read().decode("latin-1")}
    except OSError as e:
        return {"error": str(e)}


def reverse(opts):
    fam = socket.AF_INET6 if ":" in opts.addr else socket.AF_INET
    sa = (opts.addr, 80) if fam == socket.AF_INET else (opts.addr, 80, 0, 0)
    out = {}
    for key, flags in (("nameinfo", socket.NI_NUMERICSERV),
                       ("nameinfo_reqd",
                        socket.NI_NAMEREQD | socket.NI_NUMERICSERV)):
        try:
            out[key] = list(socket.getnameinfo(sa, flags))
        except socket.gaierror as e:
            out[key] = {"error": gai_error(e)}
    try:
        out["gethostbyaddr"] = socket.gethostbyaddr(opts.addr)[0]
    except socket.herror as e:
        out["gethostbyaddr"] = {"error": e.args[0]}
    return out


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("resolve")
    p.add_argument("name")
    p.add_argument("--family", choices=sorted(FAMILIES), default="0")
    p.add_argument("--canon", action="store_true")
    p = sub.add_parser("names")
    p.add_argument("name")
    p = sub.add_parser("fork-echo")
    p.add_argument("name")
    p.add_argument("other")
    p.add_argument("port", type=int)
    p.add_argument("text")
    p = sub.add_parser("fetch")
    p.add_argument("url")
    p = sub.add_parser("reverse")
    p.add_argument("addr")
    opts = ap.parse_args()
    fn = {"resolve": resolve, "names": names, "fork-echo": fork_echo,
          "fetch": fetch, "reverse": reverse}[opts.cmd]
    print(json.dumps(fn(opts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
