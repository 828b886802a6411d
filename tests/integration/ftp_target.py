"""An FTP server on the target host for the BIND tests (pyftpdlib).

    python3 ftp_target.py --root DIR --events FILE [--port 21]
                          [--lifetime SECONDS]

serves DIR anonymously and read-only on [::]:21, which takes both families
(an IPv4 peer shows as ::ffff:A.B.C.D inside; the events name it A.B.C.D).
Each session has a thread of its own (pyftpdlib's ThreadedFTPServer):
with the single-loop FTPServer, pyftpdlib 1.5.7 lost track of one of two
concurrent active-mode sessions about every other time (no reply to PORT,
or a download that stopped halfway), even without any proxy in between.
Only active mode is offered: PASV and EPSV are refused, so a client that
cannot open a listener through the proxy fails instead of falling back to
passive mode. pyftpdlib itself refuses a PORT or EPRT that names another
address than the control connection's peer: a client must announce the
address the server sees it at, which through a proxy is the proxy's.

Every event appends one JSON line to the events file; "session" is
"ADDR PORT" of the control connection's peer as the server saw it:
  {"ev": "control", "session": S}               a control connection
  {"ev": "cmd", "session": S, "line": L}        a command (PASS masked)
  {"ev": "reply", "session": S, "line": L}      a reply the server sent
  {"ev": "data", "session": S, "cmd": "PORT" or "EPRT",
   "peer": [ADDR, PORT], "local": [ADDR, PORT]}
                                                an active data connection
                                                the server opened
  {"ev": "sent", "session": S, "path": P}       a download completed

Imported, it offers FtpTarget, which writes the served files, starts the
program in the target namespace and reads the events.
"""

import argparse
import json
import os
import random
import sys
import threading
import time

FTP_PORT = 21
# The target's own addresses: readiness probes come from there.
SELF_ADDRS = ("203.0.113.7", "fd00:5357:3::7", "127.0.0.1", "::1")
# The served files: a binary one large enough for many TCP segments and a
# short text, of different contents, so a swap or a truncation shows.
BIG_NAME, SMALL_NAME = "big.bin", "hello.txt"
BIG_SIZE = 200 * 1024 + 123
SMALL_TEXT = b"socks5wrap active FTP through a SOCKS5 BIND\n"


def plain(addr):
    """An IPv4-mapped address as the IPv4 address it stands for."""
    return addr[7:] if addr.startswith("::ffff:") and "." in addr else addr


# -- the server side -------------------------------------------------------

def server_main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--port", type=int, default=FTP_PORT)
    ap.add_argument("--lifetime", type=float, default=600)
    opts = ap.parse_args(argv)

    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import ActiveDTP, FTPHandler
    from pyftpdlib.servers import ThreadedFTPServer

    lock = threading.Lock()
    out = open(opts.events, "a", buffering=1)

    def event(**fields):
        with lock:
            out.write(json.dumps(fields) + "\n")
            out.flush()

    def session_of(handler):
        return "%s %s" % (plain(handler.remote_ip), handler.remote_port)

    class RecordingActiveDTP(ActiveDTP):
        def handle_connect(self):
            try:
                peer = self.socket.getpeername()[:2]
                local = self.socket.getsockname()[:2]
                # (not self._cmd: pyftpdlib 1.5.7 names every IPv4
                # address's command EPRT there)
                event(ev="data", session=session_of(self.cmd_channel),
                      cmd=self.cmd_channel.announced_with,
                      peer=[plain(peer[0]), peer[1]],
                      local=[plain(local[0]), local[1]])
            except OSError as e:
                event(ev="data-error", session=session_of(self.cmd_channel),
                      error=str(e))
            return ActiveDTP.handle_connect(self)

    class RecordingHandler(FTPHandler):
        active_dtp = RecordingActiveDTP
        banner = "socks5wrap test FTP server"
        announced_with = None          # the last PORT or EPRT command


        def on_connect(self):
            event(ev="control", session=session_of(self))

        def pre_process_command(self, line, cmd, arg):
            shown = "PASS ******" if cmd == "PASS" else line
            if cmd in ("PORT", "EPRT"):
                self.announced_with = cmd
            event(ev="cmd", session=session_of(self), line=shown)
            return FTPHandler.pre_process_command(self, line, cmd, arg)

        def respond(self, resp, *args, **kwargs):
            event(ev="reply", session=session_of(self), line=resp)
            return FTPHandler.respond(self, resp, *args, **kwargs)

        def on_file_sent(self, file):
            event(ev="sent", session=session_of(self),
                  path=os.path.relpath(file, opts.root))

        # Active mode only (see the module's description).
        def ftp_PASV(self, line):
            self.respond("502 Passive mode is off on this test server.")

        def ftp_EPSV(self, line):
            self.respond("502 Passive mode is off on this test server.")

    auth = DummyAuthorizer()
    auth.add_anonymous(opts.root)
    RecordingHandler.authorizer = auth
    server = ThreadedFTPServer(("::", opts.port), RecordingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    time.sleep(opts.lifetime)
    return 0


# -- the test side ---------------------------------------------------------

def make_files(root):
    """Write the served files into root; returns {name: bytes}."""
    os.makedirs(root, exist_ok=True)
    rng = random.Random(5357)
    files = {BIG_NAME: bytes(rng.getrandbits(8) for _ in range(BIG_SIZE)),
             SMALL_NAME: SMALL_TEXT}
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    return files


class FtpTarget:
    """The FTP server running in topo.target (203.0.113.7 and
    fd00:5357:3::7, port 21)."""

    def __init__(self, t, lifetime=600):
        import topo           # the test side only
        self.topo = t
        cp = topo.run(["/usr/bin/python3", "-c", "import pyftpdlib"],
                      check=False)
        if cp.returncode != 0:
            raise topo.SetupError("python3 cannot import pyftpdlib (package "
                                  "python3-pyftpdlib): %s" % cp.stderr)
        self.root = os.path.join(t.workdir, "ftp-root")
        self.files = make_files(self.root)
        self.events_path = os.path.join(t.workdir, "ftp-events.jsonl")
        open(self.events_path, "w").close()
        self.proc = t.spawn(
            "ftp-target", t.target,
            ["/usr/bin/python3", os.path.abspath(__file__), "--root",
             self.root, "--events", self.events_path, "--lifetime",
             str(lifetime)], lifetime=lifetime + 5)
        t.wait_tcp(t.target, [("203.0.113.7", FTP_PORT),
                              ("fd00:5357:3::7", FTP_PORT)], proc=self.proc)
        # The readiness probes came from the target itself: forget them.
        self.mark()

    def _lines(self):
        with open(self.events_path) as f:
            return f.read().splitlines()

    def mark(self):
        """Start a new window for events()."""
        self._mark = len(self._lines())

    def events(self, ev=None):
        """The events since the last mark() (of kind ev if given)."""
        out = [json.loads(l) for l in self._lines()[self._mark:] if l.strip()]
        return [e for e in out if (ev is None or e["ev"] == ev) and
                e["session"].split()[0] not in SELF_ADDRS]

    def log_text(self):
        return self.proc.log_text()

    def stop(self):
        self.proc.stop()
        if self.proc in self.topo.procs:
            self.topo.procs.remove(self.proc)


if __name__ == "__main__":
    sys.exit(server_main(sys.argv[1:]))
