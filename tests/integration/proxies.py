"""Real SOCKS5 servers in the proxy namespace: dante and microsocks.

Ports (see DESIGN.md, "Testing topology"):
  1080  danted, no authentication, IPv4 and IPv6, CONNECT + UDP ASSOCIATE
  1081  danted, username/password (system user TEST_USER)
  1082  microsocks, no authentication, 192.0.2.1 only
  1083  microsocks with -u/-P, 192.0.2.1 only
"""

import os
import pwd

import topo

DANTED = "/usr/sbin/danted"
MICROSOCKS = "/usr/bin/microsocks"

TEST_USER = "s5wtest"
# ':' and '@' force a client to percent-encode the password in a URL.
TEST_PASSWORD = "s5w:p@ss"
TEST_PASSWORD_URL = "s5w%3Ap%40ss"
# The comment field marks the user as ours, so a later run removes a user
# that a killed run left behind.
TEST_USER_GECOS = "socks5wrap integration tests"

DANTE_NOAUTH_PORT = 1080
DANTE_USER_PORT = 1081
MICRO_NOAUTH_PORT = 1082
MICRO_USER_PORT = 1083

LOG_RULE = "  log: error connect disconnect\n"


def dante_config(log, errlog, port, method, udp_ports, internal=None):
    """internal: the addresses it listens on (default: the proxy host's
    client side, both families)."""
    rule_log = LOG_RULE
    listen = "".join("internal: %s port = %d\n" % (a, port) for a in
                     (internal or (topo.PROXY4_C, topo.PROXY6_C)))
    return (
        "logoutput: %(log)s\n"
        "errorlog: %(errlog)s\n"
        "%(listen)s"
        "external: %(pt4)s\n"
        "external: %(pt6)s\n"
        "socksmethod: %(method)s\n"
        "clientmethod: none\n"
        "user.privileged: root\n"
        "user.unprivileged: nobody\n"
        "timeout.negotiate: 30\n"
        "client pass {\n  from: 0/0 to: 0/0\n%(rl)s}\n"
        "socks pass {\n  from: 0/0 to: 0/0\n  command: bind connect\n%(rl)s}\n"
        "socks pass {\n  from: 0/0 to: 0/0\n  command: udpassociate\n"
        "  udp.portrange: %(udp)s\n%(rl)s}\n"
        "socks pass {\n  from: 0/0 to: 0/0\n  command: bindreply udpreply\n"
        "%(rl)s}\n"
    ) % dict(log=log, errlog=errlog, port=port, method=method, udp=udp_ports,
             listen=listen, pt4=topo.PROXY4_T,
             pt6=topo.PROXY6_T, rl=rule_log)


class TestUser:
    """The system user that danted's username method checks."""

    def __init__(self):
        self.created = False

    def ensure(self):
        try:
            entry = pwd.getpwnam(TEST_USER)
            self.created = entry.pw_gecos == TEST_USER_GECOS
        except KeyError:
            topo.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin",
                      "-c", TEST_USER_GECOS, TEST_USER])
            self.created = True
        # chpasswd splits "name:password" at the first ':' only.
        topo.run(["chpasswd"], input="%s:%s\n" % (TEST_USER, TEST_PASSWORD))

    def remove(self):
        # Another live run (its namespaces carry its pid) may still use
        # the user: it removes it at its own end instead.
        if self.created and not topo.other_live_runs():
            topo.run(["userdel", TEST_USER], check=False)
        self.created = False


def open_dante_ports(t, port, udp_ports):
    """Let the leak capture allow a dante's port and its relay range
    ("A-B", as in udp.portrange)."""
    t.open_port("tcp", port)
    t.open_port("udp", *(int(p) for p in udp_ports.split("-")))


def client_side(addr):
    return addr in (topo.PROXY4_C, topo.PROXY6_C)


class Dante:
    def __init__(self, t, name, port, method, udp_ports, lifetime=600,
                 internal=None):
        """internal: the addresses to listen on; by default the proxy
        host's client side. Only ports there are declared to the leak
        capture: a server on the target side is for other proxies."""
        self.topo = t
        self.name = name
        self.port = port
        self.udp_ports = udp_ports
        self.lifetime = lifetime
        self.internal = tuple(internal or (topo.PROXY4_C, topo.PROXY6_C))
        if any(client_side(a) for a in self.internal):
            open_dante_ports(t, port, udp_ports)
        self.conf = os.path.join(t.workdir, "%s.conf" % name)
        self.log_path = os.path.join(t.workdir, "%s-socks.log" % name)
        self.errlog_path = os.path.join(t.workdir, "%s-error.log" % name)
        with open(self.conf, "w") as f:
            f.write(dante_config(self.log_path, self.errlog_path, port, method,
                                 udp_ports, self.internal))
        # -V checks the addresses too, so it must run in the proxy namespace.
        cp = topo.run([DANTED, "-V", "-f", self.conf], ns=t.proxy,
                      check=False)
        if cp.returncode != 0:
            raise topo.SetupError("danted rejects %s:\n%s%s%s" % (
                self.conf, cp.stdout, cp.stderr, self.log_text(errors=True)))
        self.proc = None
        self.start()

    def start(self):
        """Start danted (again, after stop()) and wait until it listens."""
        t = self.topo
        self.proc = t.spawn(self.name, t.proxy, [DANTED, "-f", self.conf],
                            lifetime=self.lifetime)
        # From the proxy host itself when it listens on the target side.
        ns = t.client if all(client_side(a) for a in self.internal) \
            else t.proxy
        try:
            t.wait_tcp(ns, [(a, self.port) for a in self.internal],
                       proc=self.proc)
        except topo.SetupError as e:
            raise topo.SetupError("%s\n--- %s ---\n%s" % (
                e, self.errlog_path, self.log_text(errors=True)))

    def stop(self):
        """Stop danted and all its children; its connections close."""
        if self.proc is not None:
            self.proc.stop()
            if self.proc in self.topo.procs:
                self.topo.procs.remove(self.proc)
            self.proc = None

    def relay_ports(self):
        """The udp.portrange as a range()."""
        lo, hi = self.udp_ports.split("-")
        return range(int(lo), int(hi) + 1)

    def log_text(self, errors=False):
        path = self.errlog_path if errors else self.log_path
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Microsocks:
    def __init__(self, t, name, port, user=None, password=None, lifetime=600,
                 host=topo.PROXY4_C):
        """host: the one address it listens on (see Dante's internal)."""
        self.name = name
        self.port = port
        self.host = host
        if client_side(host):
            t.open_port("tcp", port)
        args = [MICROSOCKS, "-i", host, "-p", str(port)]
        if user is not None:
            args += ["-u", user, "-P", password]
        self.proc = t.spawn(name, t.proxy, args, lifetime=lifetime)
        t.wait_tcp(t.client if client_side(host) else t.proxy,
                   [(host, port)], proc=self.proc)

    def log_text(self, errors=False):
        return self.proc.log_text()


def start_all(t, user, lifetime=600):
    """Start the four standard proxies; returns {name: server}."""
    user.ensure()
    return {
        "dante": Dante(t, "dante", DANTE_NOAUTH_PORT, "none",
                       "40000-40999", lifetime),
        "dante-user": Dante(t, "dante-user", DANTE_USER_PORT, "username",
                            "41000-41999", lifetime),
        "micro": Microsocks(t, "micro", MICRO_NOAUTH_PORT, lifetime=lifetime),
        "micro-user": Microsocks(t, "micro-user", MICRO_USER_PORT, TEST_USER,
                                 TEST_PASSWORD, lifetime=lifetime),
    }
