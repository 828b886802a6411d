"""Programs of one process tree that resolve in one process and connect in
another (test_tree.py); each prints or writes one JSON object.

    tree_client.py fork NAME PORT [--parent-first NAME2]
        a forked child resolves NAME (getaddrinfo, AF_INET) and sends the
        address back over a pipe; the parent (after resolving NAME2 itself
        first, if given) connects to it and fetches "GET /".
    tree_client.py fetch ADDR PORT [--out FILE]
        connects to ADDR and fetches "GET /"; JSON to FILE or stdout.
    tree_client.py exec NAME ARG...
        resolves NAME (AF_INET), puts the address where an ARG holds
        "{addr}" and execs ARG... in the same process.
    tree_client.py spawn NAME ARG...
        the same, but ARG... runs as a child, waited for; its exit status
        is this program's.
    tree_client.py daemon NAME PORT OUT [--close loop|range]
                          [--exec ARG...]
        resolves NAME, then becomes a daemon: fork, setsid, fork again,
        closes every descriptor (a loop up to the descriptor limit, or
        close_range(2)) and waits until the program that started it has
        exited, as a daemon outlives it; then fetches from the address
        itself, or execs ARG... with "{addr}" and "{out}" filled in. The
        JSON goes to OUT (written whole, then renamed: a reader never sees
        half of it). The first process prints {"daemon": "started",
        "addr": ADDR} and exits at once.

A fetch's JSON: addr, result ("ok" or an errno name), body (the answer's
text, when connected). Exit status 0 whenever the program got that far, so
a test can tell a refused connection from a crash.
"""

import ctypes
import errno
import json
import os
import resource
import signal
import socket
import sys
import time

TIMEOUT = 10
# A daemon must end by itself even if nothing answers it.
DAEMON_ALARM_S = 20
SYS_CLOSE_RANGE = 436           # x86_64 and every newer architecture


def resolve(name):
    ai = socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)
    return ai[0][4][0]


def fetch(addr, port):
    out = {"addr": addr}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect((addr, port))
    except OSError as e:
        out["result"] = errno.errorcode.get(e.errno, str(e))
        s.close()
        return out
    s.sendall(b"GET / HTTP/1.0\r\nHost: tree\r\n\r\n")
    data = b""
    for _ in range(10000):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    out["result"] = "ok"
    out["body"] = data.decode("utf-8", "replace")
    return out


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(obj) + "\n")
    os.rename(tmp, path)


def cmd_fork(args):
    name, port = args[0], int(args[1])
    first = None
    if len(args) == 4 and args[2] == "--parent-first":
        first = resolve(args[3])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.write(w, resolve(name).encode())
        finally:
            os._exit(0)
    os.close(w)
    addr = os.read(r, 100).decode()
    os.close(r)
    os.waitpid(pid, 0)
    out = fetch(addr, port)
    out["parent_first"] = first
    print(json.dumps(out))


def cmd_fetch(args):
    out = fetch(args[0], int(args[1]))
    if len(args) == 4 and args[2] == "--out":
        write_json(args[3], out)
    else:
        print(json.dumps(out))


def fill(argv, **values):
    out = []
    for a in argv:
        for k, v in values.items():
            a = a.replace("{%s}" % k, v)
        out.append(a)
    return out


def cmd_exec(args):
    addr = resolve(args[0])
    argv = fill(args[1:], addr=addr)
    sys.stdout.flush()
    os.execvp(argv[0], argv)


def cmd_spawn(args):
    addr = resolve(args[0])
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        argv = fill(args[1:], addr=addr)
        os.execvp(argv[0], argv)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


def gone(pid):
    """Whether pid has exited (a zombie counts: it holds nothing)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def close_everything(how):
    if how == "range":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syscall(SYS_CLOSE_RANGE, 0, ctypes.c_uint(~0 & 0xFFFFFFFF),
                        0) != 0:
            os._exit(3)
        return
    # The way older daemons do it: close() on every number below the limit.
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit == resource.RLIM_INFINITY or limit > 1 << 20:
        limit = 1 << 20
    for fd in range(limit):
        try:
            os.close(fd)
        except OSError:
            pass


def cmd_daemon(args):
    name, port, out = args[0], int(args[1]), args[2]
    rest = args[3:]
    how = "loop"
    if rest[:1] == ["--close"]:
        how, rest = rest[1], rest[2:]
    argv = rest[1:] if rest[:1] == ["--exec"] else None
    addr = resolve(name)
    starter = os.getpid()
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        print(json.dumps({"daemon": "started", "addr": addr}))
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    signal.alarm(DAEMON_ALARM_S)
    close_everything(how)
    fd = os.open("/dev/null", os.O_RDWR)   # 0, 1 and 2 again
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    for _ in range(500):                    # 5 s at most
        if gone(starter):
            break
        time.sleep(0.01)
    try:
        if argv:
            argv = fill(argv, addr=addr, out=out)
            os.execvp(argv[0], argv)
        result = fetch(addr, port)
        result["closed"] = how
        write_json(out, result)
    except BaseException as e:
        write_json(out, {"addr": addr, "result": "exception: %r" % e})
    os._exit(0)


def main():
    cmds = {"fork": cmd_fork, "fetch": cmd_fetch, "exec": cmd_exec,
            "spawn": cmd_spawn, "daemon": cmd_daemon}
    if len(sys.argv) < 3 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    cmds[sys.argv[1]](sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
