"""Names in the lab: who resolves what, and a trap for local DNS queries.

    client  resolv.conf: nameserver 192.0.2.53 (the trap, below)
            hosts: localhost, 203.0.113.7 hosts-entry.test
    proxy   resolv.conf: nameserver 203.0.113.53, so danted and
            microsocks resolve the names the client sends them there
            192.0.2.53: the TRAP, dnstrap.py: logs every query and answers
            only *.corp.test (A 192.0.2.1), NXDOMAIN for the rest
            192.0.2.1:8080: HTTP that names its peer (split-DNS test)
    target  203.0.113.53, fd00:5357:3::53: dnsmasq, authoritative for .test
              www.test     A 203.0.113.7, AAAA fd00:5357:3::7
              v6only.test  AAAA fd00:5357:3::7
              git.test     A 203.0.113.7
              ftp.test     A 203.0.113.7 (IPv4 only: the proxy reaches
                           it over IPv4, which a PORT command can name)
              www.test     MX 10 mail.test (res_query tests)
              txt.test     TXT "socks5wrap txt"
              big.test     TXT of 3 x 200 bytes: too big for a 512-byte
                           UDP reply, so it comes with TC set
            git daemon on port 9418 serving git://git.test/repo

A name the client resolves locally therefore reaches the trap (and the
leak capture), never the real answer: only the proxy can resolve .test.
"""

import json
import os
import subprocess

import topo

TRAP4 = "192.0.2.53"
DNS4, DNS6 = "203.0.113.53", "fd00:5357:3::53"
CORP_HTTP_PORT = 8080
GIT_PORT = 9418
DNSMASQ = "/usr/sbin/dnsmasq"
GIT = "/usr/bin/git"
PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))

TXT_TEXT = "socks5wrap txt"
BIG_TXT = ["%s%03d" % (c * 197, i) for i, c in enumerate("xyz")]

GIT_FILE = "hello.txt"
GIT_TEXT = "fetched by name through the proxy\n"

LOCALHOST = "127.0.0.1 localhost\n::1 localhost\n"
# Short resolver timeouts: a query nobody answers must not stall a test.
RESOLV_OPTS = "options timeout:1 attempts:2\n"

ETC_FILES = {
    "client": {
        "resolv.conf": "nameserver %s\n%s" % (TRAP4, RESOLV_OPTS),
        "hosts": LOCALHOST + "203.0.113.7 hosts-entry.test\n",
    },
    "proxy": {
        "resolv.conf": "nameserver %s\n%s" % (DNS4, RESOLV_OPTS),
        "hosts": LOCALHOST,
    },
    "target": {
        "resolv.conf": "nameserver %s\n%s" % (DNS4, RESOLV_OPTS),
        "hosts": LOCALHOST,
    },
}

REQUIRED = [(DNSMASQ, "dnsmasq-base"), (GIT, "git")]


def make_repo(workdir):
    """A bare repository with one commit: BASE/repo.git; returns BASE."""
    work = os.path.join(workdir, "git-work")
    base = os.path.join(workdir, "git-base")
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
               GIT_AUTHOR_NAME="s5w", GIT_AUTHOR_EMAIL="s5w@example.test",
               GIT_COMMITTER_NAME="s5w",
               GIT_COMMITTER_EMAIL="s5w@example.test")
    os.makedirs(work)
    os.makedirs(base)
    with open(os.path.join(work, GIT_FILE), "w") as f:
        f.write(GIT_TEXT)
    for args in (["init", "-q", "-b", "main", work],
                 ["-C", work, "add", GIT_FILE],
                 ["-C", work, "commit", "-q", "-m", "one commit"],
                 ["clone", "-q", "--bare", work,
                  os.path.join(base, "repo.git")]):
        cp = subprocess.run([GIT] + args, env=env, capture_output=True,
                            text=True, timeout=30)
        if cp.returncode != 0:
            raise topo.SetupError("git %s: %s%s" % (" ".join(args),
                                                    cp.stdout, cp.stderr))
    return base


class DnsLab:
    """Starts the name servers, the git daemon and the trap in t."""

    def __init__(self, t, lifetime=600):
        self.topo = t
        missing = ["%s (package %s)" % (p, pkg) for p, pkg in REQUIRED
                   if not os.access(p, os.X_OK)]
        if missing:
            raise topo.SetupError("missing programs: " + ", ".join(missing))
        wd = t.workdir
        self.trap_log = os.path.join(wd, "dns-trap.jsonl")
        self.http_log = os.path.join(wd, "corp-http.txt")
        for p in (self.trap_log, self.http_log):
            open(p, "w").close()
        topo.run([topo.IP, "addr", "add", "%s/24" % TRAP4, "dev",
                  t.if_proxy_c], ns=t.proxy)
        topo.run([topo.IP, "addr", "add", "%s/24" % DNS4, "dev", t.if_target],
                 ns=t.target)
        topo.run([topo.IP, "-6", "addr", "add", "%s/64" % DNS6, "dev",
                  t.if_target, "nodad"], ns=t.target)

        self.dnsmasq = t.spawn("dnsmasq", t.target, [
            DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null",
            "--no-resolv", "--no-hosts", "--no-poll", "--bind-interfaces",
            "--listen-address=%s" % DNS4, "--listen-address=%s" % DNS6,
            "--user=root", "--pid-file=", "--local=/test/",
            "--log-queries", "--log-facility=-",
            "--host-record=www.test,203.0.113.7,fd00:5357:3::7",
            "--host-record=v6only.test,fd00:5357:3::7",
            "--host-record=git.test,203.0.113.7",
            "--host-record=ftp.test,203.0.113.7",
            "--mx-host=www.test,mail.test,10",
            "--txt-record=txt.test,%s" % TXT_TEXT,
            "--txt-record=big.test,%s" % ",".join(BIG_TXT)],
            lifetime=lifetime)
        t.wait_tcp(t.target, [(DNS4, 53), (DNS6, 53)], proc=self.dnsmasq)

        base = make_repo(wd)
        self.git = t.spawn("git-daemon", t.target, [
            GIT, "daemon", "--base-path=%s" % base, "--export-all",
            "--reuseaddr", "--port=%d" % GIT_PORT, "--verbose",
            "--log-destination=stderr", "--listen=203.0.113.7",
            "--listen=fd00:5357:3::7", base], lifetime=lifetime)
        t.wait_tcp(t.target, [("203.0.113.7", GIT_PORT),
                              ("fd00:5357:3::7", GIT_PORT)], proc=self.git)

        self.trap = t.spawn("dns-trap", t.proxy, [
            PYTHON, os.path.join(HERE, "dnstrap.py"), "--dns", TRAP4,
            "--log", self.trap_log, "--http",
            "%s:%d" % (topo.PROXY4_C, CORP_HTTP_PORT),
            "--http-log", self.http_log, "--lifetime", str(lifetime)],
            lifetime=lifetime + 5)
        t.wait_tcp(t.client, [(TRAP4, 53), (topo.PROXY4_C, CORP_HTTP_PORT)],
                   proc=self.trap)
        self.mark()

    def check_proxy_resolves(self):
        """The proxy host resolves www.test through dnsmasq (setup check)."""
        cp = topo.run(["getent", "ahosts", "www.test"], ns=self.topo.proxy,
                      check=False)
        if "203.0.113.7" not in cp.stdout:
            raise topo.SetupError(
                "proxy namespace cannot resolve www.test: %s%s\n--- "
                "dnsmasq ---\n%s" % (cp.stdout, cp.stderr,
                                     self.dnsmasq.log_text()))

    # -- per test windows ---------------------------------------------------

    @staticmethod
    def _lines(path):
        with open(path) as f:
            return f.read().splitlines()

    def mark(self):
        self._trap_mark = len(self._lines(self.trap_log))
        self._http_mark = len(self._lines(self.http_log))
        self._git_mark = len(self.git.log_text(limit=1 << 20))

    def trap_queries(self):
        """[{"proto", "src", "name", "type"}] the trap got since mark()."""
        return [json.loads(l) for l in
                self._lines(self.trap_log)[self._trap_mark:] if l.strip()]

    def corp_http_peers(self):
        """[(addr, port)] that fetched from 192.0.2.1:8080 since mark()."""
        out = []
        for line in self._lines(self.http_log)[self._http_mark:]:
            addr, port = line.split()
            out.append((addr, int(port)))
        return out

    def git_log(self):
        """What the git daemon logged since mark()."""
        return self.git.log_text(limit=1 << 20)[self._git_mark:]
