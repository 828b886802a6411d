"""Stress and faults: 1000 threads connecting at once (and 200 UDP
associations at once), a fork storm while threads connect and resolve,
exec chains under the launcher, a 1 ms SIGALRM timer without SA_RESTART,
proxies that die mid-handshake, mid-stream and mid-UDP-association, a
full descriptor table, and daemons that close every descriptor. Each test
is bounded in time; the whole file runs in about ten seconds.

The C client (clients/stress_client.c) is compiled once per session into
a temporary directory with cc. Proxies that are killed on purpose are our
own: clients/stress_killproxy.py, or a dedicated danted instance started
by this module in the proxy namespace (the shared ones keep running).
"""

import os
import signal
import subprocess
import threading
import time

import pytest

import harness
import proxies
import topo
from harness import CLIENTS, DANTE, PYTHON, client_script

TARGET4 = "203.0.113.7"
PROXY_SIDE4 = "203.0.113.1"
# dante resolves www.test to both families and may connect over either.
PROXY_SIDES = {PROXY_SIDE4, "fd00:5357:3::1"}
ECHO = 7
FAST = {"SOCKS5WRAP_TIMEOUT": "2"}

# Ports of our own servers in the proxy namespace (socks_script.py, the
# `scripted` fixture, counts up from 2000).
_next_port = [2600]
OWN_DANTE_PORT = 1090
OWN_DANTE_UDP = "42000-42999"


@pytest.fixture(scope="session")
def stress_bin(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("stress-bin") / "stress_client")
    src = os.path.join(CLIENTS, "stress_client.c")
    cp = subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror",
                         "-pthread", "-o", out, src], capture_output=True,
                        text=True, timeout=60)
    assert cp.returncode == 0, "cc failed:\n%s%s" % (cp.stdout, cp.stderr)
    return out


def run_stress(client, binary, args, proxy=DANTE, env=None, timeout=40,
               opts=()):
    r = client.run_wrapped([binary] + [str(a) for a in args], proxy=proxy,
                           env=env, timeout=timeout, opts=opts)
    assert r.rc == 0, r
    return r, r.json()


# -- our own proxies ----------------------------------------------------------

class KillProxy:
    """clients/stress_killproxy.py in the proxy namespace."""

    def __init__(self, lab, mode, delay_ms=0, lifetime=30):
        self.port = _next_port[0]
        _next_port[0] += 1
        self.url = "%s:%d" % (topo.PROXY4_C, self.port)
        lab.topo.open_port("tcp", self.port)
        self.proc = lab.topo.spawn(
            "stress-proxy-%d" % self.port, lab.topo.proxy,
            [PYTHON, os.path.join(CLIENTS, "stress_killproxy.py"),
             "--host", topo.PROXY4_C, "--port", str(self.port), "--mode",
             mode, "--delay", str(delay_ms), "--lifetime", str(lifetime)],
            lifetime=lifetime + 5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "ready" in self.proc.log_text():
                return
            if not self.proc.alive():
                break
            time.sleep(0.02)
        raise AssertionError("stress_killproxy.py did not start:\n%s" %
                             self.proc.log_text())

    def wait_dead(self, timeout=5.0):
        """True once the server process ended (it kills itself)."""
        try:
            self.proc.popen.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self):
        self.proc.stop()


@pytest.fixture
def killproxy(lab):
    started = []

    def start(mode, delay_ms=0):
        kp = KillProxy(lab, mode, delay_ms)
        started.append(kp)
        return kp
    try:
        yield start
    finally:
        for kp in started:
            kp.stop()


class OwnDante:
    """A danted of our own (the standard configuration, another port and
    relay range), which this module may kill and start again."""

    def __init__(self, lab, port=OWN_DANTE_PORT, udp_ports=OWN_DANTE_UDP):
        self.topo = lab.topo
        self.port = port
        self.url = "%s:%d" % (topo.PROXY4_C, port)
        proxies.open_dante_ports(self.topo, port, udp_ports)
        wd = lab.workdir
        self.name = "stress-dante-%d" % port
        self.conf = os.path.join(wd, "%s.conf" % self.name)
        self.errlog = os.path.join(wd, "%s-error.log" % self.name)
        with open(self.conf, "w") as f:
            f.write(proxies.dante_config(
                os.path.join(wd, "%s-socks.log" % self.name), self.errlog,
                port, "none", udp_ports))
        self.proc = None
        self.start()

    def start(self):
        self.proc = self.topo.spawn(self.name, self.topo.proxy,
                                    [proxies.DANTED, "-f", self.conf],
                                    lifetime=60)
        self.topo.wait_tcp(self.topo.client, [(topo.PROXY4_C, self.port)],
                           proc=self.proc)

    def kill(self):
        """SIGKILL danted and all its children at once (a crash): they
        are the process group of our own timeout(1) process."""
        p = self.proc
        if p is None:
            return
        pid = p.popen.pid
        if p.alive() and os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        p.stop(wait=3)
        if p in self.topo.procs:
            self.topo.procs.remove(p)
        self.proc = None

    def stop(self):
        self.kill()


# -- many threads ------------------------------------------------------------

THREADS = 1000


def test_thousand_concurrent_connects_from_one_process(client, stress_bin):
    r, out = run_stress(client, stress_bin,
                        ["threads", TARGET4, ECHO, THREADS], timeout=50)
    assert out["started"] == THREADS, r
    assert out["errors"] == {} and out["ok"] == THREADS, r
    assert out["barrier_timeouts"] == 0, r
    # All connections were open at the same moment...
    assert out["fd_peak"] >= out["fd_before"] + THREADS, r
    # ...and closing them left nothing behind.
    assert out["fd_after"] == out["fd_before"], r
    peers = client.target_peers()
    # At least one each; the target logs asynchronously, so a late line
    # from the previous test may fall into this one's window.
    assert len(peers) >= THREADS, len(peers)
    assert {(w, a) for w, a, _ in peers} == {("tcp/7", PROXY_SIDE4)}


# -- fork storm ---------------------------------------------------------------

CHILDREN = 50


def test_fork_storm_while_threads_connect_and_resolve(client, stress_bin):
    r, out = run_stress(client, stress_bin,
                        ["fork", "www.test", ECHO, CHILDREN, "git.test"],
                        timeout=50)
    assert "error" not in out, r
    assert out["fork_failures"] == 0 and out["hung"] == 0, r
    assert out["statuses"] == [0] * CHILDREN, r
    assert out["exit_ok"] == CHILDREN, r
    # The threads kept working while the process forked.
    assert out["thread_iters"] >= 4, r
    assert out["thread_failures"] == 0, r
    assert out["thread_mismatches"] == 0, r
    assert out["addr"].startswith("198.1"), r
    reports = [line.split() for line in out["reports"]]
    assert sorted(int(f[0]) for f in reports) == list(range(CHILDREN)), r
    # child: i, by-number echo, by-new-name echo, its fake address,
    # own-name lookup, own fake address
    assert all(f[1] == "ok" and f[2] == "ok" and f[4] == "ok"
               for f in reports), r
    # The name the children resolved is one fake address for all of them
    # and for the parent afterwards (the pool is shared memory)...
    assert {f[3] for f in reports} == {out["parent_name2"]}, r
    assert out["parent_name2"].startswith("198.1"), r
    assert out["parent_name2"] != out["addr"], r
    # ...and names resolved by different children at the same time got
    # different addresses.
    own = [f[5] for f in reports]
    assert len(set(own)) == CHILDREN, r
    assert not set(own) & {out["addr"], out["parent_name2"]}, r
    # Every echo reached the target through the proxy: 50 children x 2,
    # plus the threads' connections.
    peers = client.target_peers()
    assert len(peers) >= 2 * CHILDREN + out["thread_iters"] - \
        out["thread_failures"], (len(peers), r)
    assert {w for w, _, _ in peers} == {"tcp/7"}, peers
    assert {a for _, a, _ in peers} <= PROXY_SIDES, peers


# -- exec chains ---------------------------------------------------------------

CURL = "curl -q -sS -m 10 http://www.test/"
SHOW_PRELOAD = "env | grep ^LD_PRELOAD="
# SANITIZE=1 puts libasan after the library in LD_PRELOAD; curl hangs at
# start with libasan preloaded (see harness.asan_preload_works), so then
# curl alone gets only the first entry, the library. The chain still
# shows what it inherited.
CURL_PRELOAD = "LD_PRELOAD=%s{LD_PRELOAD%%%%:*} "


def exec_chain(kind):
    """sh -c 'sh -c "curl..."' (each shell forks the next) or the same
    with exec at each step."""
    # In exec-exec the middle shell sees the innermost command in double
    # quotes: \$ leaves the expansion to the innermost shell.
    dollar = "$" if kind == "fork-exec" else "\\$"
    curl = CURL
    if (os.environ.get("SANITIZE") == "1"
            and "LD_PRELOAD" not in harness.sanitizer_env("curl")):
        curl = CURL_PRELOAD % dollar + CURL
    if kind == "fork-exec":
        return "sh -c '%s; %s'" % (curl, SHOW_PRELOAD)
    return "exec sh -c 'exec sh -c \"%s; %s\"'" % (curl, SHOW_PRELOAD)


@pytest.mark.parametrize("kind", ["fork-exec", "exec-exec"])
def test_exec_chain_keeps_the_preload(client, kind):
    r = client.run_wrapped(["sh", "-c", exec_chain(kind)], timeout=30)
    assert r.rc == 0, r
    # curl, two shells down, resolved www.test through the library (the
    # local resolver would have failed and been seen) and connected
    # through dante: the target saw the proxy's address.
    peer = [l.split()[1] for l in r.stdout.splitlines()
            if l.startswith("peer ")]
    assert len(peer) == 1 and peer[0] in PROXY_SIDES, r
    lines = [l for l in r.stdout.splitlines() if l.startswith("LD_PRELOAD=")]
    assert len(lines) == 1 and "libsocks5wrap.so" in lines[0], r
    assert [(w, a) for w, a, _ in client.target_peers()] == [
        ("tcp/80", peer[0])]


# -- signals ---------------------------------------------------------------------

CONNECTS = 50
UDP_SOCKETS = 20


@pytest.mark.parametrize("slow", [False, True], ids=["dante", "slow-proxy"])
def test_interval_timer_signals_do_not_break_connect(client, stress_bin,
                                                     killproxy, slow):
    # A 1 ms SIGALRM timer without SA_RESTART runs all the time. The slow
    # proxy waits 20 ms before each of its two answers; it echoes by
    # itself (and has no UDP). Through dante, UDP sockets associate under
    # the timer too.
    proxy = killproxy("slow-echo", delay_ms=20).url if slow else DANTE
    n_udp = 0 if slow else UDP_SOCKETS
    r, out = run_stress(client, stress_bin,
                        ["signals", TARGET4, ECHO, CONNECTS, n_udp],
                        proxy=proxy, env=FAST, timeout=40)
    assert out["failures"] == [], r
    assert out["ok"] == CONNECTS, r
    assert out["udp_failures"] == [] and out["udp_ok"] == n_udp, r
    # The signals really came while connect() was busy. Through the slow
    # proxy, every connect waits twice for 20 ms, 20 timer periods: the
    # timer fires during each wait however loaded the machine is, and the
    # program runs its handler before the next wait (between the two it
    # runs the library's code), so each connect handles at least two,
    # with no clock involved. (A library that blocked signals during the
    # handshake would let through one at most.)
    if slow:
        assert out["fewest_alarms_in_a_connect"] >= 2, r
    else:
        assert out["alarms_during_connect"] >= 1, r
    # None took anything near the 2 s timeout.
    assert out["max_connect_ms"] < 1500, r
    assert out["udp_max_ms"] < 1500, r
    if not slow:
        assert out["alarms_during_udp"] >= 1, r
        peers = client.target_peers()
        assert sorted({w for w, _, _ in peers}) == ["tcp/7", "udp/7"], peers
        assert len(peers) == CONNECTS + UDP_SOCKETS, peers


# -- the proxy dies ---------------------------------------------------------------

# A proxy that dies with our greeting unread answers with RST; after
# reading it, with FIN: either way a hang-up mid-handshake, documented as
# EPROTO.
@pytest.mark.parametrize("mode", ["die-accept", "die-greeting",
                                  "die-request"])
def test_proxy_killed_mid_handshake(client, killproxy, mode):
    kp = killproxy(mode)
    r = client.run_wrapped(client_script("stress_stream.py", TARGET4, ECHO),
                           proxy=kp.url, env=FAST, timeout=20)
    assert r.rc == 0, r
    out = r.json()
    assert out["connect"] == "EPROTO", r
    assert out["connect_elapsed"] < 1.0, r
    assert kp.wait_dead(), "the proxy did not die"
    assert client.target_peers() == []


def test_proxy_killed_mid_stream(client, killproxy):
    kp = killproxy("die-stream")
    r = client.run_wrapped(client_script("stress_stream.py", TARGET4, ECHO),
                           proxy=kp.url, env=FAST, timeout=20)
    assert r.rc == 0, r
    out = r.json()
    assert out["connect"] == "ok" and out["first"] == "ok", r
    assert out["second_send"] == "ok", r
    assert out["second_read"] in ("eof", "ECONNRESET"), r
    assert out["third_send"] in ("ok", "EPIPE", "ECONNRESET"), r
    assert out["elapsed"] < 5.0, r
    assert kp.wait_dead(), "the proxy did not die"


def test_proxy_killed_mid_udp_association(client, lab, tmp_path):
    own = OwnDante(lab)
    steps = str(tmp_path)
    os.chmod(steps, 0o777)
    result = {}

    def run():
        result["r"] = client.run_wrapped(
            client_script("stress_udp.py", TARGET4, ECHO, steps),
            proxy=own.url, env=FAST, timeout=40)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    try:
        def wait_file(name):
            path = os.path.join(steps, name)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and th.is_alive():
                if os.path.exists(path):
                    return True
                time.sleep(0.01)
            return os.path.exists(path)

        if wait_file("associated"):
            own.kill()
            open(os.path.join(steps, "killed"), "w").close()
            if wait_file("failed"):
                own.start()
                open(os.path.join(steps, "restarted"), "w").close()
        th.join(45)
    finally:
        own.stop()
    assert not th.is_alive(), "client still running"
    r = result["r"]
    assert r.rc == 0, r
    out = r.json()
    assert "error" not in out, r
    assert out["first"]["send"] == "ok" and out["first"]["recv"] == "ok", r
    # The lost control connection is noticed at the next send: a new
    # association is tried and refused (nothing listens), at once.
    for key in ("after_kill", "again"):
        assert out[key]["send"] == "ECONNREFUSED", r
        assert out[key]["send_elapsed"] < 1.0, r
    # With the proxy back, the same socket associates again.
    assert out["after_restart"]["send"] == "ok", r
    assert out["after_restart"]["recv"] == "ok", r
    peers = client.target_peers()
    assert [w for w, _, _ in peers] == ["udp/7", "udp/7"], peers
    assert {a for _, a, _ in peers} == {PROXY_SIDE4}, peers


# -- descriptor pressure --------------------------------------------------------

def test_descriptor_pressure(client, stress_bin):
    r, out = run_stress(client, stress_bin,
                        ["pressure", TARGET4, ECHO, 64])
    assert "error" not in out, r
    assert out["filled"] == 64, r
    # TCP uses the program's own socket: no descriptor more is needed.
    assert out["tcp_socket"] == "ok" and out["tcp"] == "ok", r
    # The UDP socket took the last descriptor (the client counted none
    # free just before its send): the control connection cannot be opened,
    # and the send says so. The datagram went nowhere.
    assert out["udp_socket"] == "ok", r
    assert out["free_at_send"] == 0, r
    assert out["udp_none_left"] == "EMFILE", r
    assert out["udp_none_left_reply"] == 0, r
    # With one descriptor free again, the same socket associates.
    assert out["udp_one_free"] == "ok" and out["udp_one_free_reply"] == 1, r
    # Everything closed: only stdin, stdout, stderr remain.
    assert out["fds_end"] == 3, r
    # Both echoes reached the target through the proxy only.
    peers = client.target_peers()
    assert {(w, a) for w, a, _ in peers} == {("tcp/7", PROXY_SIDE4),
                                             ("udp/7", PROXY_SIDE4)}, peers


@pytest.mark.parametrize("how", ["close_range", "loop"])
def test_daemon_closing_every_descriptor_keeps_udp_working(
        client, stress_bin, tmp_path, how):
    # With a soft limit of 1024 the library keeps its own descriptors (log
    # file, control connections) from 960 up: inside what the loop closes.
    log = tmp_path / "lib.log"
    r = client.run_wrapped(
        ["sh", "-c", 'ulimit -n 1024 && exec "$0" "$@"', stress_bin,
         "daemon", TARGET4, str(ECHO), how], opts=["-v", "--log-file", str(log)],
        timeout=30)
    assert r.rc == 0, r
    out = r.json()
    text = log.read_text()
    assert out["first"] == "ok" and out["first_reply"] == 1, r
    assert out["kept_first"] == "ok" and out["kept_first_reply"] == 1, r
    assert out["close_range"] == "ok", r
    # Before: stdio (0 is now the kept socket), the two sockets, and the
    # library's own three: the log file and two control connections.
    before = out["fds_before"]
    internal = [fd for fd in before if fd >= 960]
    assert before == [0, 1, 2, out["u1"], out["kept"]] + internal, r
    assert len(internal) == 3, r
    # After: the closed socket and its control connection are gone; the
    # log file and the kept socket's control connection survived.
    assert out["u1_after"] == "EBADF", r
    after = out["fds_after"]
    assert after[:3] == [0, 1, 2] and len(after) == 5, r
    assert set(after[3:]) < set(internal), r
    # The kept socket still works, on its old association...
    assert out["kept_after"] == "ok" and out["kept_after_reply"] == 1, r
    assert "lost" not in text, text
    # ...and a new socket associates and works, twice.
    assert out["second"] == "ok" and out["second_reply"] == 1, r
    assert out["third"] == "ok" and out["third_reply"] == 1, r
    assert len(out["fds_end"]) == 7, r
    # The library still logs into its file after the purge: one line per
    # association, three in all.
    assert text.count("udp associate via 192.0.2.1:1080: ok") == 3, text
    # Five echoes, all relayed by the proxy.
    peers = client.target_peers()
    assert len(peers) == 5, peers
    assert {(w, a) for w, a, _ in peers} == {("udp/7", PROXY_SIDE4)}, peers


def test_name_lookup_with_a_full_descriptor_table_is_not_remembered(
        client, stress_bin):
    # hosts-entry.test is in the client's /etc/hosts (203.0.113.7): libc
    # answers it. A lookup made while no descriptor is free cannot read
    # the file; once descriptors are free again the answer must be the
    # file's, not whatever the failed read left behind.
    r, out = run_stress(client, stress_bin, ["names", "hosts-entry.test", 64])
    assert out["all_free"] == TARGET4, r


UDP_THREADS = 200


def test_udp_associations_from_many_threads_at_once(client, stress_bin):
    r, out = run_stress(client, stress_bin,
                        ["udp-threads", TARGET4, ECHO, UDP_THREADS],
                        env=FAST, timeout=40)
    assert out["started"] == UDP_THREADS, r
    assert out["failures"] == [] and out["ok"] == UDP_THREADS, r
    # Every socket and its control connection are closed again.
    assert out["fd_after"] == out["fd_before"], r
    peers = client.target_peers()
    assert len(peers) == UDP_THREADS, len(peers)
    assert {(w, a) for w, a, _ in peers} == {("udp/7", PROXY_SIDE4)}


def test_interval_timer_signals_do_not_stretch_the_timeout(
        client, stress_bin, scripted):
    # A proxy that never answers, the 1 ms timer, a 0.5 s timeout: every
    # connect ends with ETIMEDOUT at the deadline. A library that started
    # its wait again after each EINTR would never time out.
    sp = scripted("stall")
    r, out = run_stress(client, stress_bin,
                        ["signals", TARGET4, ECHO, 3, 0], proxy=sp.url,
                        env={"SOCKS5WRAP_TIMEOUT": "0.5"}, timeout=30)
    assert out["ok"] == 0 and len(out["failures"]) == 3, r
    for f in out["failures"]:
        words = f.split()
        assert words[1:3] == ["connect", "ETIMEDOUT"], r
        assert 400 <= float(words[4]) <= 1500, r
    # Signals interrupted every wait, more than once (a signal blocked
    # during the wait would be handled once, at the end): the timer keeps
    # firing every 1 ms for all of the 500 ms, so a library that restarted
    # its wait after each would never have reached the deadline above.
    assert out["fewest_alarms_in_a_connect"] >= 2, r


@pytest.mark.local_dns
def test_proxy_name_lookup_failing_for_lack_of_descriptors_is_retried(
        client, stress_bin):
    # The proxy is given by name (the client's resolver, the DNS trap,
    # answers *.corp.test with 192.0.2.1). The first connect happens with
    # no descriptor free for the lookup; once descriptors are free again,
    # the next connect must look the name up and work.
    r, out = run_stress(client, stress_bin,
                        ["proxyname", TARGET4, ECHO, 64],
                        proxy="proxy.corp.test:1080", env=FAST)
    assert out["none_free"] != "ok", r
    assert out["all_free"] == "ok", r
    names = {q["name"].rstrip(".") for q in client.trap_queries()}
    assert names <= {"proxy.corp.test"}, names

