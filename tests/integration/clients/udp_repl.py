"""One UDP socket driven by commands on stdin, one JSON line per command,
so that a test can change the world (restart the proxy, spoof a
datagram) between two calls on the same socket.

    bind [PORT] [4|6]   make the socket (bound to PORT, 0: any):
                        {"port"}; without it, the first command makes
                        an unbound AF_INET socket
    send HOST PORT TEXT sendto: {"ok": true} or {"error": ERRNO, "elapsed"}
    echo HOST PORT TEXT sendto, then recvfrom (5 s): {"reply", "src"}
                        or {"error", "stage", "elapsed"}
    recvall SECONDS     every datagram that arrives within SECONDS:
                        {"got": [[TEXT, [ADDR, PORT]], ...]}
    dontwait            one recvfrom(MSG_DONTWAIT) on the socket in
                        blocking mode: {"got": [TEXT, SRC]} or {"error"}
    brecv SECONDS       one blocking recvfrom (SO_RCVTIMEO SECONDS):
                        {"got": [TEXT, SRC], "elapsed"} or {"error"}
    quit
"""

import errno
import json
import socket
import struct
import sys
import time


def ename(e):
    return errno.errorcode.get(e, str(e))


class Repl:
    def __init__(self):
        self.s = None

    def make(self, port=0, fam="4"):
        family = socket.AF_INET6 if fam == "6" else socket.AF_INET
        self.s = socket.socket(family, socket.SOCK_DGRAM)
        self.s.bind(("::" if fam == "6" else "0.0.0.0", port))
        return {"port": self.s.getsockname()[1]}

    def sock(self):
        if self.s is None:
            self.make()
        return self.s

    def cmd_bind(self, port="0", fam="4"):
        return self.make(int(port), fam)

    def cmd_send(self, host, port, text):
        t0 = time.monotonic()
        try:
            self.sock().sendto(text.encode(), (host, int(port)))
        except OSError as e:
            return {"error": ename(e.errno),
                    "elapsed": time.monotonic() - t0}
        return {"ok": True, "elapsed": time.monotonic() - t0}

    def cmd_echo(self, host, port, text):
        r = self.cmd_send(host, port, text)
        if "error" in r:
            r["stage"] = "sendto"
            return r
        s = self.sock()
        s.settimeout(5.0)
        t0 = time.monotonic()
        try:
            data, src = s.recvfrom(65536)
        except socket.timeout:
            return {"error": "timeout", "stage": "recvfrom"}
        except OSError as e:
            return {"error": ename(e.errno), "stage": "recvfrom",
                    "elapsed": time.monotonic() - t0}
        return {"reply": data.decode("utf-8", "replace"),
                "src": [src[0], src[1]]}

    def cmd_recvall(self, seconds):
        s = self.sock()
        got = []
        deadline = time.monotonic() + float(seconds)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data, src = s.recvfrom(65536)
            except socket.timeout:
                break
            except OSError as e:
                got.append(["error " + ename(e.errno), None])
                break
            got.append([data.decode("utf-8", "replace"), [src[0], src[1]]])
        return {"got": got}


    def _one(self, flags, rcvtimeo):
        s = self.sock()
        s.settimeout(None)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                      struct.pack("ll", rcvtimeo, 0))
        t0 = time.monotonic()
        try:
            data, src = s.recvfrom(65536, flags)
            out = {"got": [data.decode("utf-8", "replace"),
                           [src[0], src[1]]]}
        except OSError as e:
            out = {"error": ename(e.errno)}
        out["elapsed"] = time.monotonic() - t0
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                     struct.pack("ll", 0, 0))
        return out

    def cmd_dontwait(self):
        return self._one(socket.MSG_DONTWAIT, 2)

    def cmd_brecv(self, seconds):
        return self._one(0, int(seconds))


def main():
    repl = Repl()
    for line in sys.stdin:
        words = line.strip().split(None, 3)
        if not words:
            continue
        if words[0] == "quit":
            break
        fn = getattr(repl, "cmd_" + words[0], None)
        if fn is None:
            out = {"error": "unknown command %s" % words[0]}
        else:
            out = fn(*words[1:])
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
