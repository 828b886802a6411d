"""A small probe for the process-tree tests (test_table.py): one JSON line.

    tree_probe.py resolve NAME           {"addr": ...} (IPv4, getaddrinfo)
    tree_probe.py fetch ADDR [PORT]      {"result": "ok", "page": ...} or
                                         {"result": "EHOSTUNREACH", ...}
    tree_probe.py table                  {"env": SOCKS5WRAP_TABLE or null,
                                          "fd": the number it names,
                                          "ino": that descriptor's inode}
    tree_probe.py open-table PATH        {"rw": errno name or "ok",
                                          "ro": errno name or "ok"}
    tree_probe.py hold NAME SECONDS      resolves, prints its table, sleeps
"""

import errno
import json
import os
import socket
import sys
import time


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def resolve(name):
    return socket.getaddrinfo(name, 80, socket.AF_INET,
                              socket.SOCK_STREAM)[0][4][0]


def fetch(addr, port=80):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect((addr, port))
        s.sendall(b"GET /tree HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return {"result": "ok", "page": data.decode(errors="replace")}
    except OSError as e:
        return {"result": errno.errorcode.get(e.errno, str(e.errno)),
                "error": str(e)}
    finally:
        s.close()


def table():
    v = os.environ.get("SOCKS5WRAP_TABLE")
    res = {"env": v, "fd": None, "ino": None}
    if v:
        fd = int(v.rsplit(":", 1)[1])
        res["fd"] = fd
        try:
            res["ino"] = os.fstat(fd).st_ino
        except OSError as e:
            res["ino"] = errno.errorcode.get(e.errno)
    return res


def try_open(path, flags):
    try:
        os.close(os.open(path, flags))
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def main():
    cmd = sys.argv[1]
    if cmd == "resolve":
        out({"addr": resolve(sys.argv[2])})
    elif cmd == "fetch":
        out(fetch(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 80))
    elif cmd == "table":
        out(table())
    elif cmd == "open-table":
        out({"rw": try_open(sys.argv[2], os.O_RDWR),
             "ro": try_open(sys.argv[2], os.O_RDONLY)})
    elif cmd == "hold":
        addr = resolve(sys.argv[2])
        out(dict(table(), addr=addr, pid=os.getpid()))
        time.sleep(float(sys.argv[3]))
    else:
        sys.exit("unknown command %r" % cmd)


if __name__ == "__main__":
    main()
