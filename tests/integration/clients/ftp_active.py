"""Active-mode FTP clients for the BIND tests: ftp_active.py MODE ...

  session HOST OUTDIR ROUNDS
        python's ftplib with set_pasv(False): login, LIST, NLST, then every
        file of the test server ROUNDS times in the same session, written
        to OUTDIR/ROUND-NAME.
  threads HOST OUTDIR
        two such sessions (one round each) in two threads at once, written
        to OUTDIR/tTHREAD-0-NAME.
  loop HOST NAME OUTFILE SELECTOR PORTCMD
        an event loop of its own: the control connection by hand, a
        listener on the wildcard address announced with PORTCMD (PORT or
        EPRT) from the listener's getsockname(), the listener registered
        with SELECTOR (epoll or poll) and accepted once it is readable.
  listen HOST
        opens the control connection, then tries to listen on the wildcard
        address with an ephemeral port: reports listen()'s outcome.

Prints one JSON line; errors are reported in it ("error") rather than as
a traceback, with the errno name where there is one.
"""

import errno
import ftplib
import json
import os
import selectors
import socket
import sys
import threading
import time

FTP_PORT = 21
NAMES = ("big.bin", "hello.txt")
TIMEOUT = 15


def err_text(e):
    name = errno.errorcode.get(getattr(e, "errno", None) or 0, "")
    return ("%s %s: %s" % (name, type(e).__name__, e)).strip()


def ftplib_session(host, outdir, rounds, prefix=""):
    ftp = ftplib.FTP()
    ftp.connect(host, FTP_PORT, timeout=TIMEOUT)
    ftp.login()
    ftp.set_pasv(False)
    listing = []
    ftp.retrlines("LIST", listing.append)
    nlst = ftp.nlst()
    for r in range(rounds):
        for name in NAMES:
            path = os.path.join(outdir, "%s%d-%s" % (prefix, r, name))
            with open(path, "wb") as f:
                ftp.retrbinary("RETR " + name, f.write)
    control = ftp.sock.getsockname()[:2]
    ftp.quit()
    return {"list": listing, "nlst": sorted(nlst), "control": list(control)}


def do_session(host, outdir, rounds):
    try:
        out = ftplib_session(host, outdir, int(rounds))
        out["result"] = "ok"
    except Exception as e:
        out = {"result": "error", "error": err_text(e)}
    return out


def do_threads(host, outdir):
    results = [None, None]
    barrier = threading.Barrier(2)

    def work(i):
        try:
            barrier.wait(timeout=TIMEOUT)
            results[i] = ftplib_session(host, outdir, 1, prefix="t%d-" % i)
        except Exception as e:
            results[i] = {"error": err_text(e)}
    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(4 * TIMEOUT)
    ok = all(r is not None and "error" not in r for r in results)
    return {"result": "ok" if ok else "error", "threads": results}


class Control:
    """The control connection, spoken by hand."""

    def __init__(self, host):
        self.sock = socket.create_connection((host, FTP_PORT),
                                             timeout=TIMEOUT)
        self.buf = b""
        self.transcript = []

    def reply(self):
        """One complete reply (multi-line replies included): (code, text)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise EOFError("control connection closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            text = line.decode("utf-8", "replace")
            lines.append(text)
            if len(lines) == 1:
                code = text[:3]
                if text[3:4] != "-":
                    break
            elif text.startswith(code + " "):
                break
        self.transcript.append("< " + " | ".join(lines))
        return int(code), "\n".join(lines)

    def send(self, line):
        self.transcript.append("> " + line)
        self.sock.sendall(line.encode() + b"\r\n")

    def cmd(self, line, expect=None):
        self.send(line)
        code, text = self.reply()
        if expect is not None and code // 100 != expect:
            raise RuntimeError("%s: %s" % (line, text))
        return code, text


def announce(listener, how):
    addr = listener.getsockname()
    host, port = addr[0], addr[1]
    if how == "PORT":
        return "PORT %s,%d,%d" % (host.replace(".", ","), port >> 8,
                                  port & 0xFF)
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    fam = 2 if ":" in host else 1
    return "EPRT |%d|%s|%d|" % (fam, host, port)


def do_loop(host, name, outfile, selector, how):
    out = {"result": "error"}
    ctl = None
    try:
        ctl = Control(host)
        ctl.reply()
        ctl.cmd("USER anonymous", expect=3)
        ctl.cmd("PASS loop@example.test", expect=2)
        ctl.cmd("TYPE I", expect=2)
        fam = ctl.sock.family
        listener = socket.socket(fam, socket.SOCK_STREAM)
        listener.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", 0))
        listener.listen(1)
        out["listener"] = list(listener.getsockname()[:2])
        listener.setblocking(False)
        # Nobody knows the listener's address yet: nothing can have
        # connected, so a non-blocking accept must not block, nor succeed.
        try:
            listener.accept()
            out["early_accept"] = "accepted"
        except BlockingIOError:
            out["early_accept"] = "EAGAIN"
        except OSError as e:
            out["early_accept"] = err_text(e)
        cls = {"epoll": selectors.EpollSelector,
               "poll": selectors.PollSelector}[selector]
        sel = cls()
        sel.register(listener, selectors.EVENT_READ)
        out["ready_before_announce"] = bool(sel.select(timeout=0))
        port_line = announce(listener, how)
        out["announced"] = port_line
        t0 = time.monotonic()
        # The server answers PORT once its connection is made. Wait on the
        # listener and on the control connection: an early reply that is
        # not 2xx ends the wait at once, a 2xx one leaves the listener to
        # wait for.
        ctl.send(port_line)
        sel.register(ctl.sock, selectors.EVENT_READ)
        port_reply = None
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("the listener never became readable")
            ready = [key.fileobj for key, _ in sel.select(timeout=left)]
            if listener in ready:
                break
            if ctl.sock in ready and port_reply is None:
                port_reply = ctl.reply()
                sel.unregister(ctl.sock)
                if port_reply[0] // 100 != 2:
                    raise RuntimeError("%s: %s" % (port_line, port_reply[1]))
        out["ready_after_s"] = round(time.monotonic() - t0, 3)
        conn, peer = listener.accept()
        out["peer"] = list(peer[:2])
        out["conn_sockname"] = list(conn.getsockname()[:2])
        if port_reply is None:
            sel.unregister(ctl.sock)
            port_reply = ctl.reply()
            if port_reply[0] // 100 != 2:
                raise RuntimeError("%s: %s" % (port_line, port_reply[1]))
        conn.setblocking(True)
        conn.settimeout(TIMEOUT)
        ctl.cmd("RETR " + name, expect=1)
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        conn.close()
        code, _ = ctl.reply()
        out["transfer_reply"] = code
        with open(outfile, "wb") as f:
            f.write(data)
        out["size"] = len(data)
        # One BIND serves one connection.
        try:
            listener.accept()
            out["second_accept"] = "accepted"
        except BlockingIOError:
            out["second_accept"] = "EAGAIN"
        except OSError as e:
            out["second_accept"] = err_text(e)
        sel.close()
        listener.close()
        ctl.cmd("QUIT")
        out["result"] = "ok"
    except Exception as e:
        out["error"] = err_text(e)
    if ctl is not None:
        out["transcript"] = ctl.transcript
    return out


def do_listen(host):
    out = {}
    try:
        ctl = Control(host)
        ctl.reply()
        fam = ctl.sock.family
        listener = socket.socket(fam, socket.SOCK_STREAM)
        listener.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", 0))
        t0 = time.monotonic()
        try:
            listener.listen(1)
            out["listen"] = "ok"
            out["listener"] = list(listener.getsockname()[:2])
        except OSError as e:
            out["listen"] = errno.errorcode.get(e.errno, str(e))
            out["listen_errno"] = e.errno
        out["listen_s"] = round(time.monotonic() - t0, 3)
        listener.close()
        ctl.cmd("QUIT")
        out["result"] = "ok"
    except Exception as e:
        out["result"] = "error"
        out["error"] = err_text(e)
    return out


def main(argv):
    modes = {"session": do_session, "threads": do_threads, "loop": do_loop,
             "listen": do_listen}
    out = modes[argv[0]](*argv[1:])
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
