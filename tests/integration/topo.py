"""Network namespaces for the integration tests.

    client 192.0.2.2 ---- 192.0.2.1 proxy 203.0.113.1 ---- 203.0.113.7 target
           fd00:5357:1::2  |  fd00:5357:1::1  fd00:5357:3::1     fd00:5357:3::7
                           |
                           +- 192.0.2.254 decoy (fd00:5357:1::fe)

The proxy namespace does not forward, so whatever the client reaches on the
target side went through a proxy process.

The client's default routes point at the decoy: a namespace on the
client's own link (a macvlan on the proxy's veth) that takes every address
as its own, except the client's subnet. A direct connection or datagram
that went around the proxy therefore leaves the client as a real packet,
which the leak capture on the client's link sees and flags, and it fails
at once (a TCP reset, an ICMP port unreachable) instead of hanging. Without
the decoy such an attempt would die inside the client's kernel with
ENETUNREACH and never become a packet, and a test could only judge it by
an errno that a proxy's reply code can give too.

Each namespace can get its own /etc/resolv.conf and /etc/hosts (etc_files,
see dnsenv.py), written to /etc/netns/NS before anything runs there.

Names carry the creating process's pid, so two runs never collide, and a
run that died leaves namespaces that a later run recognises and removes.
Every process started here runs under coreutils `timeout`, so even a run
killed with SIGKILL leaves nothing running for long.
"""

import atexit
import os
import re
import shutil
import signal
import subprocess
import time

IP = "/usr/sbin/ip"
TIMEOUT_BIN = "/usr/bin/timeout"

CLIENT4, PROXY4_C, PROXY4_T, TARGET4 = (
    "192.0.2.2", "192.0.2.1", "203.0.113.1", "203.0.113.7")
CLIENT6, PROXY6_C, PROXY6_T, TARGET6 = (
    "fd00:5357:1::2", "fd00:5357:1::1", "fd00:5357:3::1", "fd00:5357:3::7")

# What the target sees as the peer of a connection the proxy made for us.
PROXY_SIDE = {TARGET4: PROXY4_T, TARGET6: PROXY6_T}

# The decoy's addresses on the client's link.
DECOY4, DECOY6 = "192.0.2.254", "fd00:5357:1::fe"

NS_RE = re.compile(r"^s5w-(\d+)-[cptd]$")
# `ip netns exec NS` bind-mounts every file in ETC_NETNS/NS over /etc
# (resolv.conf, hosts): each namespace's own resolver configuration.
ETC_NETNS = "/etc/netns"

# Everything started or created by this process, for the atexit safety net.
_live_procs = []
_live_topologies = []


class SetupError(Exception):
    """The environment cannot host the topology (not root, no netns...)."""


def run(args, ns=None, timeout=10, check=True, input=None, env=None):
    """Run a short command (in namespace ns) and return CompletedProcess.

    Raises SetupError with the command's output when check and it fails.
    """
    full = ([IP, "netns", "exec", ns] if ns else []) + list(args)
    try:
        cp = subprocess.run(full, capture_output=True, text=True,
                            timeout=timeout, input=input, env=env)
    except subprocess.TimeoutExpired as e:
        raise SetupError("timed out after %ss: %s" % (timeout, " ".join(full))) from e
    if check and cp.returncode != 0:
        raise SetupError("failed (%d): %s\n%s%s" % (
            cp.returncode, " ".join(full), cp.stdout, cp.stderr))
    return cp


def check_environment():
    """Raise SetupError unless we are root and `ip netns` works."""
    if os.geteuid() != 0:
        raise SetupError("integration tests need root (network namespaces); "
                         "run them as root, e.g. sudo make integration")
    if not os.path.exists(IP):
        raise SetupError("%s not found (package iproute2)" % IP)
    cp = run([IP, "netns", "list"], check=False)
    if cp.returncode != 0:
        raise SetupError("`ip netns list` failed: %s" % cp.stderr.strip())
    if not os.path.exists(TIMEOUT_BIN):
        raise SetupError("%s not found (package coreutils)" % TIMEOUT_BIN)


class Proc:
    """A long-running process started by the tests inside a namespace.

    It runs as `timeout LIFETIME cmd`, in its own process group (timeout
    makes one), so stop() can end it and its children by our own pid.
    """

    def __init__(self, name, ns, args, lifetime, log_path, env=None,
                 stdout_pipe=False, stdin_null=True):
        self.name = name
        self.ns = ns
        self.args = list(args)
        self.log_path = log_path
        self._log = open(log_path, "ab")
        full = [IP, "netns", "exec", ns, TIMEOUT_BIN, "-k", "3",
                str(int(lifetime))] + self.args
        self.popen = subprocess.Popen(
            full, stdin=subprocess.DEVNULL if stdin_null else subprocess.PIPE,
            stdout=subprocess.PIPE if stdout_pipe else self._log,
            stderr=self._log, env=env)
        _live_procs.append(self)

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def log_text(self, limit=6000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace")

    def send_signal(self, sig):
        if self.alive():
            try:
                os.kill(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig=signal.SIGTERM, wait=5.0):
        """Stop the process (sig, then SIGKILL to its group); bounded."""
        try:
            if self.alive():
                self.send_signal(sig)
                try:
                    self.popen.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    # timeout(1) made itself a group leader: -pid is ours.
                    for target in (-self.popen.pid, self.popen.pid):
                        try:
                            os.kill(target, signal.SIGKILL)
                        except (ProcessLookupError, PermissionError):
                            pass
                    try:
                        self.popen.wait(timeout=3)
                    except subprocess.TimeoutExpired:
                        pass
            if self.popen.stdout:
                self.popen.stdout.close()
        finally:
            self._log.close()
            if self in _live_procs:
                _live_procs.remove(self)
        return self.popen.returncode


def _kill_namespace_pids(ns):
    """SIGKILL every process inside ns, by pid. Only ever called for our
    own namespaces, where every process was started by this harness."""
    pids = run([IP, "netns", "pids", ns], check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ValueError, ProcessLookupError):
            pass


def other_live_runs():
    """Pids of other test runs whose namespaces exist and which live."""
    cp = run([IP, "netns", "list"], check=False)
    pids = set()
    for line in cp.stdout.splitlines():
        m = NS_RE.match(line.split()[0] if line.split() else "")
        if m and int(m.group(1)) != os.getpid() and os.path.exists(
                "/proc/%s" % m.group(1)):
            pids.add(int(m.group(1)))
    return pids


def _remove_stale_namespaces():
    """Delete namespaces (and stop the servers in them) left by an earlier
    run that was killed: its pid, part of the name, no longer exists."""
    cp = run([IP, "netns", "list"], check=False)
    for line in cp.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = NS_RE.match(name)
        if m and not os.path.exists("/proc/%s" % m.group(1)):
            _kill_namespace_pids(name)
            run([IP, "netns", "del", name], check=False)
    try:
        names = os.listdir(ETC_NETNS)
    except OSError:
        names = []
    for name in names:
        m = NS_RE.match(name)
        if m and not os.path.exists("/proc/%s" % m.group(1)):
            shutil.rmtree(os.path.join(ETC_NETNS, name), ignore_errors=True)


class Topology:
    """client, proxy and target namespaces joined by two veth pairs."""

    def __init__(self, workdir, tag=None, etc_files=None):
        """etc_files: {"client"|"proxy"|"target": {"resolv.conf": TEXT,
        ...}}, written to /etc/netns/NS/ before anything runs in NS."""
        tag = str(tag if tag is not None else os.getpid())
        self.etc_files = etc_files or {}
        self.etc_dirs = []
        self.made_etc_netns = False
        self.tag = tag
        self.workdir = workdir
        self.client = "s5w-%s-c" % tag
        self.proxy = "s5w-%s-p" % tag
        self.target = "s5w-%s-t" % tag
        self.decoy = "s5w-%s-d" % tag
        # interface names: at most 15 characters
        self.if_client = "s5c%s" % tag          # in client
        self.if_proxy_c = "s5pc%s" % tag        # in proxy, towards client
        self.if_proxy_t = "s5pt%s" % tag        # in proxy, towards target
        self.if_target = "s5t%s" % tag          # in target
        self.if_decoy = "s5d%s" % tag           # in decoy (a macvlan)
        self.created = []
        self.procs = []
        # (protocol, first, last): ports on the proxy host where a server
        # of ours listens or relays; the leak capture allows them.
        self.proxy_ports = []

    # -- construction -----------------------------------------------------

    def create(self):
        check_environment()
        _remove_stale_namespaces()
        _live_topologies.append(self)
        for role, ns in (("client", self.client), ("proxy", self.proxy),
                         ("target", self.target), ("decoy", self.decoy)):
            run([IP, "netns", "add", ns])
            self.created.append(ns)
            self._write_etc(ns, self.etc_files.get(role))
            run(["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"], ns=ns)
            run([IP, "link", "set", "lo", "up"], ns=ns)
        run([IP, "link", "add", self.if_client, "netns", self.client,
             "type", "veth", "peer", "name", self.if_proxy_c,
             "netns", self.proxy])
        run([IP, "link", "add", self.if_proxy_t, "netns", self.proxy,
             "type", "veth", "peer", "name", self.if_target,
             "netns", self.target])
        self._addr(self.client, self.if_client, CLIENT4, 24, CLIENT6)
        self._addr(self.proxy, self.if_proxy_c, PROXY4_C, 24, PROXY6_C)
        self._addr(self.proxy, self.if_proxy_t, PROXY4_T, 24, PROXY6_T)
        self._addr(self.target, self.if_target, TARGET4, 24, TARGET6)
        # The proxy host must never route client packets by itself.
        run(["sysctl", "-qw", "net.ipv4.ip_forward=0"], ns=self.proxy)
        run(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=0"], ns=self.proxy)
        self._make_decoy()
        self.verify()
        return self

    def _make_decoy(self):
        """The decoy: a macvlan on the proxy's client-side veth, moved into
        its own namespace, so that it sits on the client's link with its
        own MAC address. Every address but the client's subnet is local
        there (a local route for the whole space, with the link's subnet
        carved out of the local table), and the client's default routes
        lead to it."""
        run([IP, "link", "add", self.if_decoy, "link", self.if_proxy_c,
             "type", "macvlan", "mode", "bridge"], ns=self.proxy)
        run([IP, "link", "set", self.if_decoy, "netns", self.decoy],
            ns=self.proxy)
        self._addr(self.decoy, self.if_decoy, DECOY4, 24, DECOY6)
        for fam, anyaddr, subnet in (("-4", "0.0.0.0/0", "192.0.2.0/24"),
                                     ("-6", "::/0", "fd00:5357:1::/64")):
            run([IP, fam, "route", "add", "local", anyaddr, "dev", "lo",
                 "table", "local"], ns=self.decoy)
            run([IP, fam, "route", "add", subnet, "dev", self.if_decoy,
                 "table", "local"], ns=self.decoy)
        run([IP, "route", "add", "default", "via", DECOY4], ns=self.client)
        run([IP, "-6", "route", "add", "default", "via", DECOY6],
            ns=self.client)

    def _write_etc(self, ns, files):
        """Before the first `ip netns exec NS`: it binds them from then on."""
        if not files:
            return
        if not os.path.isdir(ETC_NETNS):
            os.makedirs(ETC_NETNS)
            self.made_etc_netns = True
        d = os.path.join(ETC_NETNS, ns)
        os.makedirs(d, exist_ok=True)
        self.etc_dirs.append(d)
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)

    def _addr(self, ns, ifname, v4, plen4, v6):
        # Up first: an address added to a down link joined its
        # solicited-node group late, and the first neighbour solicitation
        # for it went unanswered (a 1 s stall on the first IPv6 connect).
        run([IP, "link", "set", ifname, "up"], ns=ns)
        run([IP, "addr", "add", "%s/%d" % (v4, plen4), "dev", ifname], ns=ns)
        run([IP, "-6", "addr", "add", "%s/64" % v6, "dev", ifname, "nodad"],
            ns=ns)

    def verify(self):
        """Check the isolation properties the tests rely on."""
        for key in ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"):
            val = run(["sysctl", "-n", key], ns=self.proxy).stdout.strip()
            if val != "0":
                raise SetupError("%s is %s in the proxy namespace" % (key, val))
        for fam, decoy in (("-4", DECOY4), ("-6", DECOY6)):
            routes = run([IP, fam, "route", "show", "default"],
                         ns=self.client).stdout.split()
            if routes[:3] != ["default", "via", decoy]:
                raise SetupError("client's default route is not the decoy "
                                 "%s: %s" % (decoy, " ".join(routes)))
        # Bounded wait until both ends of each link are up (carrier).
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if (self._oper_up(self.client, self.if_client)
                    and self._oper_up(self.target, self.if_target)
                    and self._oper_up(self.decoy, self.if_decoy)):
                return
            time.sleep(0.05)
        raise SetupError("veth links did not come up:\n%s" % run(
            [IP, "addr"], ns=self.client).stdout)

    def _oper_up(self, ns, ifname):
        out = run([IP, "-o", "link", "show", ifname], ns=ns).stdout
        return "state UP" in out

    def open_port(self, proto, first, last=None):
        """Declare a server port (or range) of ours on the proxy host, so
        that the leak capture allows client traffic to it, for the rest of
        the run (a capture judges after the test's servers stopped)."""
        self.proxy_ports.append((proto, first, first if last is None
                                 else last))

    # -- processes --------------------------------------------------------

    def spawn(self, name, ns, args, lifetime=600, env=None, stdout_pipe=False):
        """Start a long-running process in ns; logs go to workdir/name.log."""
        log = os.path.join(self.workdir, "%s.log" % name)
        p = Proc(name, ns, args, lifetime, log, env=env,
                 stdout_pipe=stdout_pipe)
        self.procs.append(p)
        return p

    def wait_tcp(self, ns, addrs, timeout=10.0, proc=None):
        """Wait until every (host, port) in addrs accepts a TCP connection
        from inside ns. Raises SetupError (with proc's log) on failure."""
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "waitport.py")
        args = ["/usr/bin/python3", script, "%.1f" % timeout]
        args += ["%s,%d" % (h, p) for h, p in addrs]
        cp = run(args, ns=ns, timeout=timeout + 5, check=False)
        if cp.returncode != 0:
            msg = "not accepting connections: %s\n%s" % (
                cp.stdout.strip(), cp.stderr.strip())
            if proc is not None:
                msg += "\n--- %s (%s) log ---\n%s" % (
                    proc.name, "running" if proc.alive() else
                    "exited %s" % proc.popen.returncode, proc.log_text())
            raise SetupError(msg)

    # -- teardown ---------------------------------------------------------

    def destroy(self):
        """Stop every process and delete the namespaces. Idempotent."""
        errors = []
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception as e:  # keep tearing down the rest
                errors.append("%s: %s" % (p.name, e))
        self.procs = []
        for ns in reversed(self.created):
            # Anything still inside was started by us; stop it by pid.
            _kill_namespace_pids(ns)
            cp = run([IP, "netns", "del", ns], check=False)
            if cp.returncode != 0:
                errors.append("netns del %s: %s" % (ns, cp.stderr.strip()))
        self.created = []
        for d in self.etc_dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.etc_dirs = []
        if self.made_etc_netns:
            try:
                os.rmdir(ETC_NETNS)          # only if nothing else is there
            except OSError:
                pass
            self.made_etc_netns = False
        if self in _live_topologies:
            _live_topologies.remove(self)
        return errors


def _cleanup_everything():
    for p in list(_live_procs):
        try:
            p.stop(wait=2)
        except Exception:
            pass
    for t in list(_live_topologies):
        try:
            t.destroy()
        except Exception:
            pass


atexit.register(_cleanup_everything)


def install_sigterm_handler():
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so finalizers run."""
    def handler(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)
