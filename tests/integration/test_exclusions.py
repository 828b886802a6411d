"""Exclusion routing end to end: which connections go direct and which go
through the proxy, for every form SOCKS5WRAP_NO_PROXY takes.

Each case is judged twice, by what cannot lie about it:
- a direct connection to an address beyond the proxy host reaches the
  decoy (topo.py): a reset at once, and a packet to that address on the
  client's link, which a capture of the test's own must see; the target
  must see nothing. A proxied one reaches the target from the proxy's
  address, under the client fixture's leak capture.
- loopback, 0.0.0.0 and :: lead to one of two servers that name
  themselves: one on the client's own loopback, one on the proxy host's.
  A proxied connection to 127.0.0.1 reaches the proxy host's.
- the library's log with -vv says "direct" or "via PROXY: ok".
"""

import os
import re

import pytest

import conftest
import harness
import leakcap
import topo
from harness import DANTE, PYTHON, client_script

TARGET4, TARGET6 = "203.0.113.7", "fd00:5357:3::7"
PROXY_SIDE = topo.PROXY_SIDE
BANNER_PORT = 5601
DEFAULT = "127.0.0.0/8,::1"


def bracket(host):
    return "[%s]" % host if ":" in host else host


@pytest.fixture(scope="module")
def banners(lab):
    """Self-naming servers on the client's loopback and the proxy host's."""
    script = os.path.join(harness.CLIENTS, "banner_server.py")
    procs = {}
    for name, ns in (("client-lo", lab.topo.client),
                     ("proxy-lo", lab.topo.proxy)):
        log = os.path.join(lab.workdir, "banner-%s.txt" % name)
        procs[name] = lab.topo.spawn(
            "banner-%s" % name, ns,
            [PYTHON, "-u", script, name, log, "300",
             "127.0.0.1:%d" % BANNER_PORT, "[::1]:%d" % BANNER_PORT],
            lifetime=305)
        lab.topo.wait_tcp(ns, [("127.0.0.1", BANNER_PORT),
                               ("::1", BANNER_PORT)], proc=procs[name])
    yield procs
    for p in procs.values():
        p.stop()


def run_logged(client_or_lab, cmd, tmp_path, no_proxy=None, proxy=DANTE):
    """Run cmd under socks5wrap -vv with the log in a file; returns
    (result, log text). no_proxy=None leaves the variable unset."""
    log = tmp_path / "lib.log"
    env = {} if no_proxy is None else {"SOCKS5WRAP_NO_PROXY": no_proxy}
    c = (client_or_lab if isinstance(client_or_lab, harness.Client)
         else harness.Client(client_or_lab.topo))
    r = c.run_wrapped(cmd, proxy=proxy, opts=["-vv", "--log-file", str(log)],
                      env=env)
    return r, log.read_text() if log.exists() else ""


def proxied(log, host, port):
    """Did the log say host:port went through dante (an IPv6 socket
    reaches it at its IPv4-mapped address)?"""
    return re.search(r"connect %s:%d via (192\.0\.2\.1|\[::ffff:192\.0\.2\.1\])"
                     r":1080: ok" % (re.escape(bracket(host)), port),
                     log) is not None


def banner_of(r):
    out = r.json()
    assert out["result"] == "ok", r
    return out["received"].split()[0]


# ---- loopback, 0.0.0.0 and :: ----------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_loopback_is_direct_by_default(client, banners, tmp_path, host):
    r, log = run_logged(client, client_script(
        "tcp_client.py", host, BANNER_PORT, "--read-all"), tmp_path)
    assert banner_of(r) == "client-lo", r
    assert "connect %s:%d: direct" % (bracket(host), BANNER_PORT) in log, log
    assert " via " not in log, log


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_empty_list_sends_loopback_through_the_proxy(client, banners,
                                                     tmp_path, host):
    r, log = run_logged(client, client_script(
        "tcp_client.py", host, BANNER_PORT, "--read-all"), tmp_path,
        no_proxy="")
    # The proxy host's own loopback server answered: the proxy connected.
    assert banner_of(r) == "proxy-lo", r
    assert proxied(log, host, BANNER_PORT), log
    assert ": direct" not in log, log


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
@pytest.mark.parametrize("no_proxy", [None, ""])
def test_unspecified_address_is_this_host_and_never_proxied(
        client, banners, tmp_path, host, no_proxy):
    r, log = run_logged(client, client_script(
        "tcp_client.py", host, BANNER_PORT, "--read-all"), tmp_path,
        no_proxy=no_proxy)
    assert banner_of(r) == "client-lo", r
    assert "connect %s:%d: direct" % (bracket(host), BANNER_PORT) in log, log
    assert " via " not in log, log


# ---- addresses, networks, ports, both families ------------------------------

# (entry, destination, port, goes direct?)
CASES = [
    ("203.0.113.7", TARGET4, 80, True),
    ("203.0.113.8", TARGET4, 80, False),
    ("203.0.113.0/28", TARGET4, 80, True),
    ("203.0.113.16/28", TARGET4, 80, False),
    ("203.0.113.7:80", TARGET4, 80, True),
    ("203.0.113.7:80", TARGET4, 7, False),
    ("fd00:5357:3::7", TARGET6, 80, True),
    ("fd00:5357:3::/64", TARGET6, 7, True),
    ("fd00:5357:4::/64", TARGET6, 7, False),
    ("[fd00:5357:3::7]:80", TARGET6, 80, True),
    ("[fd00:5357:3::7]:80", TARGET6, 7, False),
    ("[fd00:5357:3::/64]:7", TARGET6, 7, True),
    # an IPv4 network says nothing about IPv6 destinations
    ("0.0.0.0/0", TARGET6, 7, False),
    ("0.0.0.0/0", TARGET4, 7, True),
]
# What to send to the target's echo and HTTP ports, and what proves the
# answer came from the target.
REQUEST = {7: ["--send", "x"],
           80: ["--send", "GET / HTTP/1.0\r\n\r\n", "--read-all"]}
ANSWER = {7: "x", 80: "socks5wrap test target"}
DIRECT = [c for c in CASES if c[3]]
PROXIED = [c for c in CASES if not c[3]]


@pytest.mark.parametrize("entry,dst,port,_", DIRECT)
def test_matching_entry_goes_direct(lab, tmp_path, entry, dst, port, _):
    lab.target.mark()
    cap = leakcap.LeakCapture(lab.topo, "excl-direct-%s-%d" % (
        entry.replace("/", "_").replace(":", "_"), port))
    try:
        r, log = run_logged(lab, client_script(
            "tcp_client.py", dst, port, "--send", "x"), tmp_path,
            no_proxy=DEFAULT + "," + entry)
    finally:
        leaks, everything = cap.stop()
    # The decoy reset it: it left the client as itself, not via the proxy.
    assert r.json()["result"] == "ECONNREFUSED", r
    assert "connect %s:%d: direct" % (bracket(dst), port) in log, log
    assert " via " not in log, log
    assert any("-> %s ports" % dst in l and l.endswith("-> %d" % port)
               for l in leaks), everything
    assert all(" %s " % dst in l for l in leaks), everything
    assert conftest.capture_problems(cap, leaks, everything, []), everything
    assert lab.target.peers() == []


@pytest.mark.parametrize("entry,dst,port,_", PROXIED)
def test_entry_that_does_not_match_goes_through_the_proxy(
        client, tmp_path, entry, dst, port, _):
    r, log = run_logged(client, client_script(
        "tcp_client.py", dst, port, *REQUEST[port]), tmp_path,
        no_proxy=DEFAULT + "," + entry)
    out = r.json()
    assert out["result"] == "ok", r
    assert ANSWER[port] in out["received"], r
    assert proxied(log, dst, port), log
    assert {(w, a) for w, a, _ in client.target_peers()} == {
        ("tcp/%d" % port, PROXY_SIDE[dst])}


# ---- names -------------------------------------------------------------------

@pytest.mark.parametrize("entry", ["ww.test", ".ww.test", "w.test", "test",
                                   "www.test.example"])
def test_domain_entry_matches_whole_labels_only(client, tmp_path, entry):
    # www.test is not below ww.test, and an entry without a leading dot is
    # that one name only: resolved by the proxy (no query here, which the
    # client fixture checks), fetched through it by name.
    r, log = run_logged(client, client_script(
        "dns_client.py", "fetch", "http://www.test/"), tmp_path,
        no_proxy=DEFAULT + "," + entry)
    out = r.json()
    assert out.get("status") == 200, r
    assert proxied(log, "www.test", 80), log
    assert {a for _, a, _ in client.target_peers()} <= set(
        PROXY_SIDE.values()), client.target_peers()


@pytest.mark.local_dns
@pytest.mark.parametrize("entry", [".test", "*.test", "www.test",
                                   ".www.test", "WWW.Test"])
def test_domain_entry_sends_the_name_to_the_local_resolver(client, tmp_path,
                                                           entry):
    # The local resolver (the trap) knows no www.test: the lookup fails
    # here, and the proxy never hears the name.
    before = len(client.proxy_log("dante"))
    r, log = run_logged(client, client_script(
        "dns_client.py", "resolve", "www.test"), tmp_path,
        no_proxy=DEFAULT + "," + entry)
    assert "error" in r.json(), r
    assert {q["name"].rstrip(".") for q in client.trap_queries()} == {
        "www.test"}
    assert "www.test" not in client.proxy_log("dante")[before:]
    assert client.target_peers() == []


# ---- the proxy itself --------------------------------------------------------

@pytest.mark.parametrize("no_proxy", [None, ""])
def test_connection_to_the_proxy_itself_is_never_proxied(client, tmp_path,
                                                         no_proxy):
    # A program that speaks SOCKS5 on its own, run under socks5wrap: its
    # connection to the proxy must not be wrapped in a second CONNECT.
    r, log = run_logged(client, ["curl", "-q", "-sS", "-m", "10", "--socks5",
                                 DANTE, "http://203.0.113.7/"], tmp_path,
                        no_proxy=no_proxy)
    assert r.rc == 0, r
    assert "peer 203.0.113.1 " in r.stdout, r
    assert "connect 192.0.2.1:1080: direct" in log, log
    assert " via " not in log, log
    assert {(w, a) for w, a, _ in client.target_peers()} == {
        ("tcp/80", "203.0.113.1")}
