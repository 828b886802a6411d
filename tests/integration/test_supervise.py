"""The seccomp supervisor: programs that bypass libc go through the proxy too.

Go programs (static and the default dynamic build), `gcc -static` C
programs, busybox-static and a program connecting with io_uring make their
own system calls and resolve names themselves, so the preload library never
sees them. Under the launcher they must still reach the target only through
the proxy: each test checks what the program got (the target's page names
its peer, which is the proxy's target-side address when the proxy made the
connection), who reached the target (client.target_peers()), and the client
fixture fails it when anything left the client namespace around the proxy
or a DNS query reached the client's resolver (the trap).

The programs are built once per session from clients/ (goclient/main.go,
supervise_client.c, stress_client.c, uring_client.c) into a temporary
folder; a missing toolchain (golang-go, a static libc, liburing-dev) fails
the tests that need it.

    BUILD=build /usr/bin/python3 -m pytest -q \
        tests/integration/test_supervise.py
"""

import ipaddress
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import time

import pytest

import dnsenv
import harness
import leakcap
import proxies
import topo
from harness import CLIENTS, DANTE, has_interpreter

TARGET4 = topo.TARGET4
NAME = "www.test"                  # A 203.0.113.7, AAAA fd00:5357:3::7
HTTP, ECHO = 80, 7
# The proxy's addresses on the target side: dante reaches a name over IPv6
# when it has both families, an IPv4 address over IPv4.
PROXY_SIDES = {topo.PROXY4_T, topo.PROXY6_T}
# The supervisor's fake addresses (the library's defaults).
FAKE_NETS = [ipaddress.ip_network("198.18.0.0/15"),
             ipaddress.ip_network("fd53:5357::/64")]
PAGE = "socks5wrap test target"
RUN_TIMEOUT = 20                   # seconds, for every program run
BUILD_TIMEOUT = 120


# -- building the programs ----------------------------------------------------

def _build(argv, what, env=None, cwd=None):
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, env=env,
                            cwd=cwd, timeout=BUILD_TIMEOUT)
    except FileNotFoundError as e:
        pytest.fail("cannot build %s: %s" % (what, e), pytrace=False)
    assert cp.returncode == 0, "building %s failed:\n$ %s\n%s%s" % (
        what, " ".join(argv), cp.stdout, cp.stderr)


@pytest.fixture(scope="session")
def bindir(tmp_path_factory):
    return tmp_path_factory.mktemp("supervise-bin")


def _go(bindir, name, cgo):
    go = shutil.which("go")
    assert go, "go not found: install golang-go (see .ci/run)"
    work = str(bindir / ("go-" + name))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(GOCACHE=os.path.join(work, "cache"),
               GOPATH=os.path.join(work, "path"), GOFLAGS="-mod=mod",
               GOPROXY="off", GOENV="off", HOME=work,
               CGO_ENABLED="1" if cgo else "0")
    os.makedirs(work, exist_ok=True)
    out = str(bindir / name)
    _build([go, "build", "-o", out,
            os.path.join(CLIENTS, "goclient", "main.go")],
           "goclient (%s)" % name, env=env, cwd=work)
    return out


@pytest.fixture(scope="session")
def go_static(bindir):
    """goclient built with CGO_ENABLED=0: a static binary."""
    return _go(bindir, "goclient-static", cgo=False)


@pytest.fixture(scope="session")
def go_dynamic(bindir):
    """goclient built the default way: dynamically linked, yet it makes
    its own system calls and resolves names itself."""
    return _go(bindir, "goclient-dynamic", cgo=True)


def _cc_static(bindir, name, *extra):
    cc = shutil.which("gcc")
    assert cc, "gcc not found (build-essential)"
    out = str(bindir / name)
    _build([cc, "-static", "-O2", "-Wall", "-Wextra", "-Werror", *extra,
            "-o", out, os.path.join(CLIENTS, name + ".c")],
           "%s (gcc -static)" % name)
    assert not has_interpreter(out), "%s is not static" % out
    return out


@pytest.fixture(scope="session")
def c_static(bindir):
    """clients/supervise_client.c, gcc -static."""
    return _cc_static(bindir, "supervise_client", "-pthread")


@pytest.fixture(scope="session")
def c_dynamic(bindir):
    """clients/supervise_client.c, dynamically linked (the preload
    applies; its raw mode still bypasses libc)."""
    out = str(bindir / "supervise_client_dynamic")
    _build(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o",
            out, os.path.join(CLIENTS, "supervise_client.c")],
           "supervise_client (dynamic)")
    return out


@pytest.fixture(scope="session")
def stress_static(bindir):
    """clients/stress_client.c (test_stress.py's), gcc -static."""
    return _cc_static(bindir, "stress_client", "-pthread")


def _uring(bindir, static):
    assert os.path.exists("/usr/include/liburing.h"), \
        "liburing.h not found: install liburing-dev (see .ci/run)"
    out = str(bindir / ("uring_client" + ("_static" if static else "")))
    _build(["gcc", *(["-static"] if static else []), "-O2", "-Wall",
            "-Wextra", "-Werror", "-o", out,
            os.path.join(CLIENTS, "uring_client.c"), "-luring"],
           "uring_client")
    return out


@pytest.fixture(scope="session")
def uring_client(bindir):
    """clients/uring_client.c with liburing (dynamically linked)."""
    return _uring(bindir, static=False)


@pytest.fixture(scope="session")
def uring_static(bindir):
    """clients/uring_client.c with liburing, gcc -static."""
    return _uring(bindir, static=True)


BUSYBOX = "/bin/busybox"


@pytest.fixture(scope="session")
def busybox():
    assert os.access(BUSYBOX, os.X_OK), \
        "%s not found: install busybox-static (see .ci/run)" % BUSYBOX
    assert not has_interpreter(BUSYBOX), \
        "%s is dynamically linked: install busybox-static" % BUSYBOX
    return BUSYBOX


# -- checks -------------------------------------------------------------------

def json_lines(text):
    return [json.loads(l) for l in text.splitlines()
            if l.strip().startswith("{")]


def page_peer(text):
    """The peer the target's HTTP server named in its page."""
    for line in text.splitlines():
        if line.startswith("peer "):
            return line.split()[1]
    return None


def assert_fetched_via_proxy(text, why):
    assert PAGE in text, "no page from the target\n%s" % why
    peer = page_peer(text)
    assert peer in PROXY_SIDES, \
        "the target saw %s, not the proxy\n%s" % (peer, why)


def assert_fetch_via_proxy(res, why):
    """A supervise_client fetch (its JSON) connected and got the page
    through the proxy."""
    assert res.get("connect") == "ok", why
    assert_fetched_via_proxy(res.get("answer", ""), why)


def assert_only_proxy_reached(client, why, want=None, proto="tcp/80"):
    """Every connection or datagram at the target came from the proxy;
    want: how many of proto there must be."""
    peers = client.target_peers()
    direct = [p for p in peers if p[1] not in PROXY_SIDES]
    assert not direct, "reached the target around the proxy: %s\n%s" % (
        direct, why)
    if want is not None:
        got = [p for p in peers if p[0] == proto]
        assert len(got) == want, "target saw %s, want %d %s\n%s" % (
            peers, want, proto, why)


def in_fake_net(addr):
    a = ipaddress.ip_address(addr)
    return any(a in n for n in FAKE_NETS)


def run(client, cmd, opts=(), **kw):
    kw.setdefault("timeout", RUN_TIMEOUT)
    return client.run_wrapped([str(a) for a in cmd], opts=list(opts), **kw)


# -- Go -----------------------------------------------------------------------

@pytest.mark.parametrize("host", [NAME, TARGET4])
def test_go_static_http_get(client, go_static, host):
    r = run(client, [go_static, "get", "http://%s/" % host])
    assert r.rc == 0, r
    assert_fetched_via_proxy(r.stdout, r)
    if host == TARGET4:
        assert page_peer(r.stdout) == topo.PROXY4_T, r
    assert_only_proxy_reached(client, r, want=1)


def test_go_dynamic_http_get_by_name(client, go_dynamic):
    # The default `go build`: the launcher must see it is Go (its build
    # information), not only that it is static.
    r = run(client, [go_dynamic, "get", "http://%s/" % NAME])
    assert r.rc == 0, r
    assert_fetched_via_proxy(r.stdout, r)
    assert_only_proxy_reached(client, r, want=1)


def test_go_dynamic_with_the_cgo_resolver(client, go_dynamic):
    # Go resolves through libc's getaddrinfo (the preload's) whenever
    # nsswitch.conf names more than files and dns (mdns, resolve,
    # myhostname: common on desktops), then connects by system call:
    # the fake address comes from the preload, the connect goes to the
    # supervisor.
    r = run(client, [go_dynamic, "get", "http://%s/" % NAME],
            env={"GODEBUG": "netdns=cgo"})
    assert r.rc == 0, r
    assert_fetched_via_proxy(r.stdout, r)
    assert_only_proxy_reached(client, r, want=1)


def test_go_resolve_gives_fake_addresses(client, go_static):
    r = run(client, [go_static, "resolve", NAME])
    assert r.rc == 0, r
    res = r.json()
    assert res["addrs"], r
    assert all(in_fake_net(a) for a in res["addrs"]), r
    assert client.target_peers() == [], r


def test_go_50_concurrent_dials(client, go_static):
    n = 50
    r = run(client, [go_static, "dial", n, "%s:%d" % (TARGET4, ECHO)],
            timeout=30)
    assert r.rc == 0, r
    res = r.json()
    assert res["ok"] == n and res["errors"] == {}, r
    assert_only_proxy_reached(client, r, want=n, proto="tcp/%d" % ECHO)


def test_go_udp_is_proxied_or_refused(client, go_static):
    r = run(client, [go_static, "udp", "%s:%d" % (TARGET4, ECHO)])
    assert r.rc == 0, r
    res = r.json()
    for how in ("connected", "unconnected"):
        got = res[how]
        if got["answer"]:
            # Through the proxy's relay: the echo names who sent it.
            src = got["answer"].split("\n", 1)[0].split()
            assert src[0] == "from" and src[1] in PROXY_SIDES, (how, r)
        else:
            assert got["error"], (how, r)
    assert_only_proxy_reached(client, r)


# -- gcc -static --------------------------------------------------------------

def test_static_c_by_address(client, c_static):
    r = run(client, [c_static, "http", TARGET4, HTTP], opts=["-v"])
    assert r.rc == 0, r
    res = r.json()
    assert_fetch_via_proxy(res, r)
    # getpeername shows the destination, not the proxy.
    assert res["peer"] == [TARGET4, HTTP], r
    assert page_peer(res["answer"]) == topo.PROXY4_T, r
    # The preload's log line, from the supervisor.
    assert "connect %s:%d via %s: ok in " % (TARGET4, HTTP, DANTE) \
        in r.stderr, r
    assert_only_proxy_reached(client, r, want=1)


def test_static_c_by_name(client, c_static):
    # Static glibc resolves through /etc/resolv.conf itself: the supervisor
    # answers its queries with fake addresses, the name goes in CONNECT.
    r = run(client, [c_static, "http", NAME, HTTP], opts=["-v"])
    assert r.rc == 0, r
    res = r.json()
    assert_fetch_via_proxy(res, r)
    assert in_fake_net(res["addr"][0]), r
    # The fake address may be an IPv6 one: the program's AF_INET6 socket
    # then reaches the IPv4 proxy at its v4-mapped address (as with the
    # preload).
    assert re.search(r"connect %s:%d via (%s|\[::ffff:%s\]):%d: ok in " % (
        re.escape(NAME), HTTP, re.escape(topo.PROXY4_C),
        re.escape(topo.PROXY4_C), 1080), r.stderr), r
    assert_only_proxy_reached(client, r, want=1)


@pytest.mark.parametrize("proxy,user", [
    (harness.DANTE_USER, True), (harness.MICRO, False),
    (harness.MICRO_USER, True)], ids=["dante-user", "micro", "micro-user"])
def test_static_c_through_other_proxies(client, c_static, proxy, user):
    # Username/password authentication, and microsocks, which takes one
    # protocol message per read.
    env = {"SOCKS5_USER": proxies.TEST_USER,
           "SOCKS5_PASSWORD": proxies.TEST_PASSWORD} if user else None
    r = run(client, [c_static, "http", NAME, HTTP], proxy=proxy, env=env)
    assert r.rc == 0, r
    assert_fetch_via_proxy(r.json(), r)
    assert_only_proxy_reached(client, r, want=1)


def test_static_c_tcp_fast_open_is_proxied_or_refused(client, c_static):
    # sendto(MSG_FASTOPEN) connects as it sends: no connect() to catch.
    r = run(client, [c_static, "tfo", TARGET4, HTTP])
    assert r.rc == 0, r
    res = r.json()
    if res["sendto"] == "ok":
        assert_fetched_via_proxy(res.get("answer", ""), r)
    assert_only_proxy_reached(client, r)


def test_connect_address_flipped_by_another_thread(client, c_static):
    # A second thread flips the sockaddr between 127.0.0.1 (direct) and
    # the target (proxied) while connect runs: whichever address the
    # supervisor checks, the kernel must not connect to the target.
    n = 2000
    r = run(client, [c_static, "flip", TARGET4, ECHO, n], timeout=30)
    assert r.rc == 0, r
    results = r.json()["results"]
    assert sum(results.values()) == n, r
    # Through the proxy to the echo, or refused on the client's loopback.
    assert set(results) <= {"ok", "ECONNREFUSED"}, r
    assert results.get("ok", 0) > 0 and results.get("ECONNREFUSED", 0) > 0, r
    assert_only_proxy_reached(client, r)


@pytest.mark.parametrize("abi", ["i386", "x32"])
def test_static_c_foreign_abi_connects_are_refused(client, c_static, abi):
    # int $0x80 (i386) and x32 system calls: a filter written for the
    # x86-64 numbers would let them through untouched. One run per ABI: a
    # kernel without IA32 emulation kills the client at int $0x80 before
    # the filter sees the call, which leaves only the x32 call testable.
    if abi == "i386" and platform.machine() == "x86_64":
        harness.skip_without_ia32()
    r = run(client, [c_static, "foreign", TARGET4, HTTP, abi])
    assert r.rc == 0, r
    want = "ENOSYS" if platform.machine() == "x86_64" else "unsupported"
    assert r.json() == {abi: want}, r
    assert client.target_peers() == [], r


# What the preload's errno table says for each SOCKS5 reply code.
REP_ERRNO = {1: "ECONNREFUSED", 2: "EACCES", 3: "ENETUNREACH",
             4: "EHOSTUNREACH", 5: "ECONNREFUSED", 6: "ETIMEDOUT",
             7: "EOPNOTSUPP", 8: "EAFNOSUPPORT"}


@pytest.mark.parametrize("rep,errname", sorted(REP_ERRNO.items()))
def test_static_c_reply_code_maps_to_errno(client, scripted, c_static, rep,
                                           errname):
    sp = scripted("rep%d" % rep)
    r = run(client, [c_static, "http", TARGET4, HTTP], proxy=sp.url)
    assert r.rc == 0, r
    assert r.json()["connect"] == errname, r
    assert [k for k, _ in sp.records()].count("request") == 1, r
    assert client.target_peers() == [], r


@pytest.mark.parametrize("mode,errname", [("stall", "ETIMEDOUT"),
                                          ("garbage", "EPROTO")])
def test_static_c_proxy_faults(client, scripted, c_static, mode, errname):
    sp = scripted(mode)
    r = run(client, [c_static, "http", TARGET4, HTTP], proxy=sp.url,
            opts=["-t", "1"])
    assert r.rc == 0, r
    res = r.json()
    assert res["connect"] == errname, r
    if mode == "stall":
        assert 800 <= res["ms"] <= 5000, r
    assert client.target_peers() == [], r


# -- exclusions ---------------------------------------------------------------

BANNER_PORT = 5611


@pytest.fixture(scope="module")
def banners(lab):
    """Servers that name themselves on the client's loopback and on the
    proxy host's (a proxied connection to 127.0.0.1 reaches the latter)."""
    procs = []
    for name, ns in (("client-lo", lab.topo.client),
                     ("proxy-lo", lab.topo.proxy)):
        log = os.path.join(lab.workdir, "sup-banner-%s.txt" % name)
        p = lab.topo.spawn(
            "sup-banner-%s" % name, ns,
            [harness.PYTHON, "-u", os.path.join(CLIENTS, "banner_server.py"),
             name, log, "300", "127.0.0.1:%d" % BANNER_PORT], lifetime=305)
        procs.append(p)
        lab.topo.wait_tcp(ns, [("127.0.0.1", BANNER_PORT)], proc=p)
    yield
    for p in procs:
        p.stop()


def test_static_c_loopback_goes_direct(client, banners, c_static):
    r = run(client, [c_static, "http", "127.0.0.1", BANNER_PORT])
    assert r.rc == 0, r
    res = r.json()
    assert res["connect"] == "ok", r
    assert res["answer"].startswith("client-lo "), r


def test_static_c_proxy_host_goes_direct(client, c_static):
    # The proxy's own address is never proxied (README): the HTTP server
    # on the proxy host (192.0.2.1:8080), which logs its peers, sees the
    # client itself.
    client.capture.allow("tcp", dnsenv.CORP_HTTP_PORT)
    r = run(client, [c_static, "http", topo.PROXY4_C, dnsenv.CORP_HTTP_PORT])
    assert r.rc == 0, r
    assert r.json()["connect"] == "ok", r
    assert [a for a, _ in client.corp_http_peers()] == [topo.CLIENT4], r


def run_captured(lab, name, cmd, opts, env=None):
    """Run cmd under the launcher with a capture of the test's own (no
    client fixture: the test expects a direct connection, which the lab
    stops at the decoy). Returns (result, leaks, all packets)."""
    cap = leakcap.LeakCapture(lab.topo, name)
    lab.target.mark()
    try:
        r = harness.Client(lab.topo).run_wrapped(
            [str(c) for c in cmd], proxy=DANTE, opts=opts, env=env,
            timeout=RUN_TIMEOUT)
    finally:
        leaks, everything = cap.stop()
    return r, leaks, everything


def assert_went_direct(lab, r, leaks, everything):
    """The program's connect to the target went around the proxy: the
    decoy refused it, the capture saw it, the target saw nothing."""
    assert r.rc == 0, r
    assert r.json()["connect"] == "ECONNREFUSED", r
    assert lab.target.peers() == [], r
    assert any("-> %s" % TARGET4 in l and "-> %d" % HTTP in l
               for l in leaks), (leaks, everything, r)


def test_static_c_no_proxy_list_goes_direct(lab, c_static):
    r, leaks, everything = run_captured(
        lab, "supervise-no-proxy", [c_static, "http", TARGET4, HTTP],
        ["-n", "203.0.113.0/24"])
    assert_went_direct(lab, r, leaks, everything)


# -- busybox-static -----------------------------------------------------------

def test_busybox_wget_by_name(client, busybox):
    # No -T: busybox 1.35's wget -T crashes even without socks5wrap.
    r = run(client, [busybox, "wget", "-q", "-O", "-", "http://%s/" % NAME])
    assert r.rc == 0, r
    assert_fetched_via_proxy(r.stdout, r)
    assert_only_proxy_reached(client, r, want=1)


def test_busybox_nc_by_address(client, busybox):
    r = run(client, [busybox, "nc", TARGET4, str(HTTP)],
            input="GET / HTTP/1.0\r\n\r\n")
    assert r.rc == 0, r
    assert_fetched_via_proxy(r.stdout, r)
    assert page_peer(r.stdout) == topo.PROXY4_T, r
    assert_only_proxy_reached(client, r, want=1)


# -- io_uring -----------------------------------------------------------------

def check_uring(client, r):
    assert r.rc == 0, r
    res = r.json()
    # io_uring's operations never pass through seccomp: io_uring_setup
    # itself is refused, and the client falls back to connect().
    assert res["setup"] == "ENOSYS", r
    if res["connect"] == "ok":
        assert_fetched_via_proxy(res.get("answer", ""), r)
    assert_only_proxy_reached(client, r)


@pytest.mark.parametrize("how", ["option", "environment"])
def test_io_uring_connect_is_proxied_or_refused(client, uring_client, how):
    if how == "option":
        r = run(client, [uring_client, TARGET4, HTTP], opts=["--supervise"])
    else:
        r = run(client, [uring_client, TARGET4, HTTP],
                env={"SOCKS5WRAP_SUPERVISE": "on"})
    check_uring(client, r)


def test_io_uring_in_a_static_program(client, uring_static):
    # Supervised without being asked: the program is static.
    r = run(client, [uring_static, TARGET4, HTTP])
    check_uring(client, r)


@pytest.mark.parametrize("host", [TARGET4, NAME])
def test_raw_syscall_in_a_dynamic_program_under_supervise(client, c_dynamic,
                                                          host):
    # The bare syscall instruction: the preload never sees this connect.
    # By name, the preload's getaddrinfo hands out the fake address the
    # supervisor then sees.
    r = run(client, [c_dynamic, "raw", host, HTTP], opts=["--supervise"])
    assert r.rc == 0, r
    res = r.json()
    assert_fetch_via_proxy(res, r)
    if host == TARGET4:
        assert res["peer"] == [TARGET4, HTTP], r
    assert_only_proxy_reached(client, r, want=1)


def test_static_udp_is_proxied_or_refused(client, c_static):
    # sendto, sendmsg, sendmmsg and connect + send, one datagram each.
    r = run(client, [c_static, "udp", TARGET4, ECHO])
    assert r.rc == 0, r
    res = r.json()
    assert len(res) == 4, r
    for way, got in res.items():
        if got["answer"] is not None:
            # Through the proxy's relay: the echo names who sent it.
            src = got["answer"].split("\n", 1)[0].split()
            assert src[0] == "from" and src[1] in PROXY_SIDES, (way, r)
        else:
            assert got["send"] != "ok", (way, r)
    assert_only_proxy_reached(client, r)


# -- signals, threads, process trees ------------------------------------------

@pytest.mark.parametrize("how", ["restart", "norestart"])
def test_signals_during_a_slow_connect(client, scripted, c_static, how):
    # The timer's first signal comes 50 ms into the connect, when the
    # supervisor is well into the handshake (the proxy holds it 400 ms).
    sp = scripted("relay", delay_ms=400)
    r = run(client, [c_static, "signal", TARGET4, ECHO, how, 50],
            proxy=sp.url)
    assert r.rc == 0, r
    res = r.json()
    # Either connect waited for the answer, or (no SA_RESTART) it said
    # EINTR and finished in the background: both are allowed, but the
    # stream must hold nothing of the proxy's reply.
    assert res["connect"] == "ok" or (
        how == "norestart" and res["connect"] == "EINTR" and
        res["so_error"] == "ok"), r
    assert res["echo"] == "ok", r
    if res["connect"] == "ok":
        # The 1 ms timer fired all along the slow connect (the supervisor
        # may hold the signals back until its answer: they then arrive as
        # one).
        assert res["connect_ms"] >= 350 and res["alarms"] >= 1, r
    assert [k for k, _ in sp.records()].count("request") == 1, (
        sp.records(), r)
    assert_only_proxy_reached(client, r, want=1, proto="tcp/%d" % ECHO)


POLLOUT, POLLHUP = 0x4, 0x10


def test_signal_before_the_supervisor_takes_the_connect(client, scripted,
                                                        c_static):
    # A signal 1 ms into connect may come before the supervisor received
    # the notification: the kernel then ends connect with EINTR (no
    # SA_RESTART) and nothing was started, so the socket is not connected
    # at all (poll says POLLHUP, a write EPIPE), unlike a kernel connect,
    # which goes on in the background. Allowed here, as long as the
    # stream is never corrupted and nothing goes direct.
    sp = scripted("relay", delay_ms=50)
    outcomes = []
    for _ in range(10):
        r = run(client, [c_static, "signal", TARGET4, ECHO, "norestart", 1],
                proxy=sp.url)
        assert r.rc == 0, r
        res = r.json()
        if res["connect"] == "EINTR" and res["revents"] & POLLHUP:
            assert res["echo"] == "EPIPE", r
            outcomes.append("not started")
        else:
            assert res["connect"] in ("ok", "EINTR"), r
            assert res["echo"] == "ok", r
            outcomes.append("connected")
    assert "connected" in outcomes, outcomes
    assert_only_proxy_reached(client, outcomes, proto="tcp/%d" % ECHO,
                              want=outcomes.count("connected"))


def test_nonblocking_connect_through_a_slow_proxy(client, scripted,
                                                  c_static):
    # An event loop writes as soon as poll() says the socket is writable:
    # the handshake must be over by then (connect may block until it is).
    sp = scripted("relay", delay_ms=400)
    r = run(client, [c_static, "nonblocking", TARGET4, ECHO], proxy=sp.url)
    assert r.rc == 0, r
    res = r.json()
    assert res["connect"] in ("ok", "EINPROGRESS"), r
    if res["connect"] == "EINPROGRESS":
        assert res["poll"] == 1 and res["so_error"] == "ok", r
    assert res["echo"] == "ok", r
    assert_only_proxy_reached(client, r, want=1, proto="tcp/%d" % ECHO)


def test_go_dials_through_a_slow_proxy(client, scripted, go_static):
    # Go connects non-blocking from many goroutines at once; each CONNECT
    # waits 400 ms at this proxy: ten in a row would take 4 s.
    sp = scripted("relay", delay_ms=400)
    n = 10
    r = run(client, [go_static, "dial", n, "%s:%d" % (TARGET4, ECHO)],
            proxy=sp.url)
    assert r.rc == 0, r
    res = r.json()
    assert res["ok"] == n and res["errors"] == {}, r
    assert r.elapsed < 3.0, r
    assert_only_proxy_reached(client, r, want=n, proto="tcp/%d" % ECHO)


def test_many_threads(client, stress_static):
    n = 64
    r = run(client, [stress_static, "threads", TARGET4, ECHO, n],
            timeout=40)
    assert r.rc == 0, r
    res = r.json()
    assert res["ok"] == n and res["errors"] == {}, r
    assert res["barrier_timeouts"] == 0, r
    assert_only_proxy_reached(client, r, want=n, proto="tcp/%d" % ECHO)


def test_handshakes_run_concurrently(client, scripted, stress_static):
    # Every CONNECT waits 600 ms at this proxy: one after the other, ten
    # threads would need 6 s.
    sp = scripted("relay", delay_ms=600)
    n = 10
    r = run(client, [stress_static, "threads", TARGET4, ECHO, n],
            proxy=sp.url)
    assert r.rc == 0, r
    res = r.json()
    assert res["ok"] == n and res["errors"] == {}, r
    assert res["max_connect_ms"] < 3000, r
    assert_only_proxy_reached(client, r, want=n, proto="tcp/%d" % ECHO)


def test_fork_and_exec_of_static_programs(client, c_static):
    r = run(client, [c_static, "fork-exec", c_static, TARGET4, NAME, HTTP])
    assert r.rc == 0, r
    lines = json_lines(r.stdout)
    fetches = [l for l in lines if "how" in l]
    assert sorted(l["how"] for l in fetches) == ["address", "name"], r
    assert len({l["pid"] for l in fetches}) == 2, r
    for l in fetches:
        assert_fetch_via_proxy(l, r)
    assert lines[-1] == {"child_exit": 0, "child_signal": 0}, r
    assert_only_proxy_reached(client, r, want=2)


def test_child_left_behind_stays_supervised(client, c_static):
    # The program exits at once; its child connects 500 ms later. The
    # launcher stays until the last supervised process is gone, so the
    # child's connect is still answered (not ENOSYS).
    r = run(client, [c_static, "daemon", TARGET4, HTTP])
    assert r.rc == 0, r
    assert_fetch_via_proxy(r.json(), r)
    assert_only_proxy_reached(client, r, want=1)


def test_shell_script_running_go(client, go_static):
    script = "%s get http://%s/ && %s get http://%s/" % (
        go_static, NAME, go_static, TARGET4)
    r = run(client, ["sh", "-c", script], opts=["--supervise"])
    assert r.rc == 0, r
    assert r.stdout.count(PAGE) == 2, r
    assert_only_proxy_reached(client, r, want=2)


def _launcher_of(proc, pid):
    """pid when it is the launcher started for proc (an Interactive):
    the socks5wrap process that timeout(1), proc's own process, runs."""
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
        with open("/proc/%d/stat" % pid) as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None
    if os.path.basename(exe) == "socks5wrap" and ppid == proc.popen.pid:
        return pid
    return None


def _alive_as(pid, exe):
    try:
        return os.readlink("/proc/%d/exe" % pid) == exe
    except OSError:
        return False


def test_supervisor_killed_mid_run(client, c_static):
    p = client.start_wrapped([c_static, "stay", TARGET4, str(HTTP)],
                             lifetime=30)
    prog = None
    try:
        ppid = p.reply()["ppid"]
        first = p.reply()
        prog = first["pid"]
        assert_fetch_via_proxy(first, first)
        launcher = _launcher_of(p, ppid)
        assert launcher is not None, (
            "the program's parent (%d) is not the launcher: not "
            "supervised?\n%s" % (ppid, first))
        os.kill(launcher, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _launcher_of(p, launcher) and time.monotonic() < deadline:
            time.sleep(0.05)
        after = p.ask("addr")
        by_name = p.ask("name %s" % NAME)
    finally:
        # The program outlives its launcher (and timeout(1), which only
        # waited for the launcher): end it by its own pid, or finish()
        # would wait for its stdout forever.
        if prog is not None and _alive_as(prog, c_static):
            os.kill(prog, signal.SIGKILL)
        res = p.finish()
    why = "%s\n%s\n%s" % (res, after, by_name)
    # Intercepted calls now fail (ENOSYS); nothing goes direct.
    assert after["connect"] == "ENOSYS", why
    assert by_name.get("connect", "none") != "ok", why
    assert_only_proxy_reached(client, why, want=1)


def test_program_killed_during_a_slow_handshake(client, scripted, c_static):
    # The proxy holds CONNECT 3 s; the program dies 0.5 s into it. The
    # launcher reports SIGKILL (128 + 9) without waiting for the proxy.
    sp = scripted("relay", delay_ms=3000)
    p = client.start_wrapped([c_static, "stay", TARGET4, str(HTTP)],
                             proxy=sp.url, lifetime=30)
    t0 = time.monotonic()
    try:
        ppid = p.reply()["ppid"]
        assert _launcher_of(p, ppid), "not supervised?\n%s" % p.finish()
        time.sleep(0.5)
        with open("/proc/%d/task/%d/children" % (ppid, ppid)) as f:
            kids = [int(k) for k in f.read().split()]
        progs = [k for k in kids if _alive_as(k, c_static)]
        assert len(progs) == 1, kids
        os.kill(progs[0], signal.SIGKILL)
    finally:
        res = p.finish(timeout=10)
    assert res.rc == 128 + signal.SIGKILL, res
    assert time.monotonic() - t0 < 2.5, res
    assert client.target_peers() == [], res


def test_sigterm_to_the_launcher_reaches_the_program(client, c_static):
    # Before the supervisor the launcher's pid was the program's (exec):
    # a service manager's SIGTERM for it must still end the program.
    p = client.start_wrapped([c_static, "stay", TARGET4, str(HTTP)],
                             lifetime=30)
    prog = None
    try:
        ppid = p.reply()["ppid"]
        prog = p.reply()["pid"]
        assert _launcher_of(p, ppid), "not supervised?\n%s" % p.finish()
        os.kill(ppid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        while _alive_as(prog, c_static) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = _alive_as(prog, c_static)
    finally:
        if prog is not None and _alive_as(prog, c_static):
            os.kill(prog, signal.SIGKILL)
        res = p.finish(timeout=5)
    assert not left, "the program outlived its launcher\n%s" % res
    assert res.rc == 128 + signal.SIGTERM, res


@pytest.mark.parametrize("how", ["option", "environment"])
def test_no_supervise_runs_a_static_program_unsupervised(lab, c_static, how):
    # The old behaviour, on request: the launcher warns, the program goes
    # direct (stopped by the lab's decoy).
    r, leaks, everything = run_captured(
        lab, "no-supervise-" + how, [c_static, "http", TARGET4, HTTP],
        ["--no-supervise"] if how == "option" else [],
        env={"SOCKS5WRAP_SUPERVISE": "off"} if how == "environment" else None)
    assert "static" in r.stderr, r
    assert_went_direct(lab, r, leaks, everything)


# -- exit status, seccomp of the program's own --------------------------------

def test_exit_status_passes_through(client, c_static):
    r = run(client, [c_static, "exit", TARGET4, HTTP, "3"])
    assert r.rc == 3, r
    assert_fetch_via_proxy(r.json(), r)
    assert_only_proxy_reached(client, r, want=1)


def test_killed_by_sigterm(client, c_static):
    r = run(client, [c_static, "term", TARGET4, HTTP])
    assert r.rc in (128 + signal.SIGTERM, -signal.SIGTERM), r
    assert_fetch_via_proxy(r.json(), r)
    assert_only_proxy_reached(client, r, want=1)


def test_own_listener_filter_is_refused(client, c_static):
    r = run(client, [c_static, "own-listener", TARGET4, HTTP])
    assert r.rc == 0, r
    lines = json_lines(r.stdout)
    assert lines[0] == {"seccomp": -1, "errno": "EBUSY"}, r
    assert_fetch_via_proxy(lines[1], r)
    assert_only_proxy_reached(client, r, want=1)
