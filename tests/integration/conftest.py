"""Fixtures for the integration tests.

  lab       (session) the topology with the target servers and the four
            standard proxies running; fails every test that uses it when
            the machine cannot host namespaces (never skips).
  client    (per test) a harness.Client for the client namespace, with a
            leak capture running for the whole test: at teardown every
            packet on the client's link must be ARP, ICMPv6 or between
            the client and the proxy host, or the test errors with the
            packet list. client.target_peers() lists who reached the
            target during this test; client.packets() what the capture
            saw so far. DNS on the link is a leak too, and
            so is any query the client's resolver (the trap, see
            dnsenv.py) received during the test, unless the test is
            marked @pytest.mark.local_dns (it expects a local query and
            checks client.trap_queries() itself).
  scripted  (per test) factory: scripted(mode, delay_ms=0) starts
            socks_script.py in the proxy namespace (delay_ms: how long it
            holds the answer to CONNECT back) and returns an object with
            .url, .port, .records().
"""

import json
import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dnsenv  # noqa: E402
import harness  # noqa: E402
import leakcap  # noqa: E402
import proxies  # noqa: E402
import targets  # noqa: E402
import topo  # noqa: E402

pytest_plugins = ["skip_policy"]  # a skip fails on CI (CI=true)

REQUIRED = [
    (proxies.DANTED, "dante-server"), (proxies.MICROSOCKS, "microsocks"),
    (leakcap.TCPDUMP, "tcpdump"), ("/usr/bin/ncat", "ncat"),
    ("/usr/bin/curl", "curl"), (topo.IP, "iproute2"),
    ("/usr/sbin/useradd", "passwd"), ("/usr/sbin/chpasswd", "passwd"),
]
CLOSED_PROXY_PORT = 1999
SERVER_LIFETIME = int(os.environ.get("S5W_SERVER_LIFETIME", "600"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "local_dns: the test expects the client to query its "
        "local resolver (the DNS trap); the leak checks allow that")


def pytest_terminal_summary(terminalreporter):
    if harness.asan_preload_skipped:
        terminalreporter.write_line(
            "SANITIZE=1: libasan not preloaded for %s (hangs at start with "
            "it preloaded); ASan still loads through the library" %
            ", ".join(sorted(harness.asan_preload_skipped)))


class Lab:
    def __init__(self, workdir):
        self.workdir = workdir
        self.topo = topo.Topology(workdir, etc_files=dnsenv.ETC_FILES)
        self.user = proxies.TestUser()
        self.target = None
        self.dns = None
        self.proxies = {}

    def start(self):
        missing = ["%s (package %s)" % (path, pkg) for path, pkg in REQUIRED
                   if not os.access(path, os.X_OK)]
        if missing:
            raise topo.SetupError("missing programs: " + ", ".join(missing))
        self.topo.create()
        self.target = targets.Target(self.topo, lifetime=SERVER_LIFETIME)
        self.dns = dnsenv.DnsLab(self.topo, lifetime=SERVER_LIFETIME)
        self.dns.check_proxy_resolves()
        self.proxies = proxies.start_all(self.topo, self.user,
                                         lifetime=SERVER_LIFETIME)
        # Tests name 192.0.2.1:1999 as a proxy where nothing listens: the
        # client may knock there (and get a reset) like at any proxy port.
        self.topo.open_port("tcp", CLOSED_PROXY_PORT)

    def stop(self):
        errors = []
        try:
            errors = self.topo.destroy()
        finally:
            self.user.remove()
        return errors


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    topo.install_sigterm_handler()
    workdir = str(tmp_path_factory.mktemp("s5w-lab"))
    lab = Lab(workdir)
    try:
        lab.start()
    except topo.SetupError as e:
        lab.stop()
        pytest.fail("integration topology could not be set up: %s" % e,
                    pytrace=False)
    except BaseException:
        lab.stop()
        raise
    try:
        yield lab
    finally:
        errors = lab.stop()
        if errors:
            print("teardown problems: %s" % "; ".join(errors),
                  file=sys.stderr)


class ClientHandle(harness.Client):
    def __init__(self, lab):
        super().__init__(lab.topo)
        self.lab = lab

    def target_peers(self):
        """Connections and datagrams the target saw during this test."""
        return self.lab.target.peers()

    def proxy_log(self, name):
        return self.lab.proxies[name].log_text()

    def trap_queries(self):
        """Queries the client's resolver (the trap) got during this test."""
        return self.lab.dns.trap_queries()

    def corp_http_peers(self):
        """Who fetched from the corp HTTP server (192.0.2.1:8080)."""
        return self.lab.dns.corp_http_peers()

    def git_log(self):
        return self.lab.dns.git_log()

    def packets(self):
        """Summaries of what the leak capture saw so far in this test
        (leakcap.summarize: "ip udp SRC -> DST ports A -> B", ...)."""
        return self.capture.summaries()


def _safe_name(nodeid):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-80:]


def capture_problems(cap, leaks, everything, queries):
    """What fails a test after its capture stopped: lost packets, queries
    the local resolver got, packets that went around the proxy."""
    problems = []
    dropped = cap.dropped()
    if dropped != 0:
        problems.append("the leak capture lost packets (tcpdump: %s dropped "
                        "by kernel), so it proves nothing:\n%s" % (
                            dropped, cap.proc.log_text(1000)))
    if queries:
        problems.append("the client's local resolver got DNS queries "
                        "(names must go to the proxy):\n  %s" % "\n  ".join(
                            json.dumps(q) for q in queries[:30]))
    if leaks:
        problems.append(
            "traffic left the client namespace without the proxy "
            "(%d packets):\n  %s\nfull capture (%s):\n  %s" % (
                len(leaks), "\n  ".join(leaks[:30]), cap.path,
                "\n  ".join(everything[:60])))
    return problems


@pytest.fixture
def client(lab, request):
    local_dns = request.node.get_closest_marker("local_dns") is not None
    cap = leakcap.LeakCapture(lab.topo, _safe_name(request.node.nodeid),
                              allow_local_dns=local_dns)
    lab.target.mark()
    lab.dns.mark()
    handle = ClientHandle(lab)
    handle.capture = cap
    try:
        yield handle
    finally:
        leaks, everything = cap.stop()
    queries = [] if local_dns else lab.dns.trap_queries()
    problems = capture_problems(cap, leaks, everything, queries)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


class ScriptedProxy:
    def __init__(self, lab, mode, port, lifetime, delay_ms=0):
        self.mode = mode
        self.port = port
        self.url = "%s:%d" % (topo.PROXY4_C, port)
        self.record_path = os.path.join(lab.workdir,
                                        "script-%d.rec" % port)
        script = os.path.join(harness.HERE, "socks_script.py")
        # Registered for the rest of the run: the capture judges after
        # this fixture stopped the server, and ports are never reused.
        lab.topo.open_port("tcp", port)
        self.proc = lab.topo.spawn(
            "script-%d" % port, lab.topo.proxy,
            [harness.PYTHON, script, "--host", topo.PROXY4_C, "--port",
             str(port), "--mode", mode, "--lifetime", str(lifetime),
             "--record", self.record_path, "--delay-ms", str(delay_ms)],
            lifetime=lifetime + 5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "ready" in self.proc.log_text():
                return
            if not self.proc.alive():
                break
            time.sleep(0.02)
        raise AssertionError("socks_script.py (%s) did not start:\n%s" % (
            mode, self.proc.log_text()))

    def records(self):
        """[(kind, bytes)] the scripted server received, in order."""
        try:
            with open(self.record_path) as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            kind, _, data = line.partition(" ")
            out.append((kind, bytes.fromhex(data)))
        return out

    def stop(self):
        self.proc.stop()


_next_script_port = [2000]


@pytest.fixture
def scripted(lab):
    started = []

    def start(mode, lifetime=30, delay_ms=0):
        port = _next_script_port[0]
        _next_script_port[0] += 1
        sp = ScriptedProxy(lab, mode, port, lifetime, delay_ms)
        started.append(sp)
        return sp
    try:
        yield start
    finally:
        for sp in started:
            sp.stop()
