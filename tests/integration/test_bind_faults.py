"""SOCKS5 BIND (listen() through the proxy) against socks_script.py in mode
bind, which plays the proxy's part exactly and misbehaves on demand (the
behaviour is the one socks5wrap(1) describes under --bind; the program is
clients/bind_client.c).

- the BIND request: CMD 2, DST the control connection's destination
  address, by name when that was by name, with port 0 (the peer connects
  from a port of its own choosing, FTP's 20 or any: kind_bind.c); the
  most recent connection for the wildcard, the one whose address the
  socket is bound to otherwise; 0.0.0.0:0 under SOCKS5WRAP_BIND=all
  without a proxied connection;
- what the program sees: getsockname() = the first reply's BND (the
  proxy's own address for 0.0.0.0, IPv4-mapped on an AF_INET6 socket),
  readiness only with the second reply, accept() with the second reply's
  address as peer, data both ways, one connection per BIND;
- faults: every REP on either reply, garbage, a bad ATYP, truncation, a
  hang-up, a proxy that never sends the second reply (EAGAIN for a
  non-blocking accept or after SO_RCVTIMEO, EINTR for a signal);
- policy: off, auto (loopback, fixed ports, no proxied connection stay
  local and keep working for local clients), all.

Every test runs under the leak capture of conftest.py: nothing but the
SOCKS traffic to the scripted server may leave the client namespace.
"""

import json
import os
import shutil
import socket
import subprocess

import pytest

import topo
from harness import PYTHON

CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients")
FAST = {"SOCKS5WRAP_TIMEOUT": "2"}

CONTROL = "%s:80" % topo.TARGET4             # the control connection
BND = ["198.51.100.9", 8080]                 # socks_script.py's defaults
PEER = ["203.0.113.7", 20]
PEER_DATA = "data from peer"
CTL_SHOWN = ["198.51.100.10", 5000]          # first CONNECT's BND there
CLIENT_DATA = "data from client"
LOCAL_HELLO = "local hello"

# src/proto/rep.c
REP_ERRNO = {1: "ECONNREFUSED", 2: "EACCES", 3: "ENETUNREACH",
             4: "EHOSTUNREACH", 5: "ECONNREFUSED", 6: "ETIMEDOUT",
             7: "EOPNOTSUPP", 8: "EAFNOSUPPORT"}
MALFORMED = ["garbage", "badatyp", "truncated", "close"]


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    cc = shutil.which("cc")
    assert cc, "no C compiler (cc) to build clients/bind_client.c"
    out = str(tmp_path_factory.mktemp("bind-cc") / "bind_client")
    cp = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-pthread",
                         "-o", out, os.path.join(CLIENTS, "bind_client.c")],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return out


def steps_of(text):
    """{step: its JSON object} from bind_client's lines; "poll" and
    "control" map to the list of them."""
    steps = {"poll": [], "control": []}
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if obj["step"] in ("poll", "control"):
            steps[obj["step"]].append(obj)
        else:
            steps[obj["step"]] = obj
    return steps


def run(client, prog, sp, args, env=None, opts=(), proxy=None):
    """bind_client ARGS under the launcher, with the scripted server sp as
    the proxy; (steps, Result). It must have ended by itself."""
    r = client.run_wrapped([prog, "--watchdog", "5"] + [str(a) for a in args],
                           proxy=proxy or sp.url, opts=opts,
                           env=dict(FAST, **(env or {})), timeout=30)
    steps = steps_of(r.stdout)
    assert "stuck" not in steps, r
    assert r.rc == 0 and "end" in steps, r
    return steps, r


def addr_bytes(host, port):
    if ":" in host:
        a = b"\x04" + socket.inet_pton(socket.AF_INET6, host)
    else:
        a = b"\x01" + socket.inet_aton(host)
    return a + port.to_bytes(2, "big")


def name_bytes(name, port):
    return b"\x03" + bytes([len(name)]) + name.encode() + \
        port.to_bytes(2, "big")


def bind_request(host):
    """The BIND request towards host (an address or a name), port 0."""
    if any(c.isalpha() for c in host) and ":" not in host:
        dst = name_bytes(host, 0)
    else:
        dst = addr_bytes(host, 0)
    return b"\x05\x02\x00" + dst


def bind_requests(sp):
    return [d for k, d in sp.records() if k == "request" and d[1] == 2]


def stderr_lines(r):
    return [l for l in r.stderr.splitlines() if l.strip()]


def assert_bound_through_proxy(steps, r, bnd=BND, peer=PEER):
    assert steps["listen"]["result"] == "ok", r
    assert steps["sockname"]["addr"] == bnd, r
    acc = steps["accept"]
    assert acc["result"] == "ok", r
    assert acc["peer"] == peer, r
    assert acc["from"] == peer, r
    assert acc["sockname"] == bnd, r


def assert_data_both_ways(sp, steps, r):
    assert steps["read"] == {"step": "read", "result": "ok",
                             "received": PEER_DATA}, r
    assert steps["echo"] == {"step": "echo", "result": "ok",
                             "received": CLIENT_DATA}, r
    sent = b"".join(d for k, d in sp.records() if k == "from-client")
    assert sent == CLIENT_DATA.encode(), (sp.records(), r)


def assert_local_listener(sp, steps, r, host="0.0.0.0", port=None):
    """A plain listener of the kernel's: no BIND went out, the program's
    own client reached it on loopback and talked."""
    assert bind_requests(sp) == [], sp.records()
    assert steps["listen"]["result"] == "ok", r
    assert steps["listener"]["acceptconn"] == 1, r
    assert steps["listener"]["peer"] == "ENOTCONN", r
    shown = steps["sockname"]["addr"]
    assert shown[0] == host and shown != BND, r
    if port is not None:
        assert shown[1] == port, r
    assert steps["local-connect"]["result"] == "ok", r
    assert steps["accept"]["result"] == "ok", r
    assert steps["accept"]["peer"][0] in ("127.0.0.1", "::1"), r
    assert steps["read"]["received"] == LOCAL_HELLO, r
    assert steps["echo"]["received"] == LOCAL_HELLO, r


FULL = ["--read", len(PEER_DATA), "--send", CLIENT_DATA]


# ---- 1. the request ---------------------------------------------------------

def test_bind_request_names_the_control_connections_destination(
        client, scripted, prog):
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL] + FULL)
    assert steps["control"][0]["echo"] == "ctl", r
    assert bind_requests(sp) == [bind_request(topo.TARGET4)], sp.records()
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)
    assert client.target_peers() == []


def test_bind_request_is_by_name_when_the_control_connection_was(
        client, scripted, prog):
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", "www.test:21"] + FULL)
    assert steps["control"][0]["result"] == "ok", r
    connects = [d for k, d in sp.records() if k == "request" and d[1] == 1]
    assert connects == [b"\x05\x01\x00" + name_bytes("www.test", 21)]
    assert bind_requests(sp) == [bind_request("www.test")], sp.records()
    assert_bound_through_proxy(steps, r)


def test_wildcard_listener_binds_towards_the_latest_control_connection(
        client, scripted, prog):
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL,
                                      "--control", "www.test:21"] + FULL)
    assert bind_requests(sp) == [bind_request("www.test")], sp.records()
    assert_bound_through_proxy(steps, r)


@pytest.mark.parametrize("which", [1, 2])
def test_listener_bound_to_a_connections_shown_address_binds_towards_it(
        client, scripted, prog, which):
    # The scripted server shows 198.51.100.10 for the first control
    # connection, .11 for the second: binding to one of those (port 0)
    # picks that connection's destination.
    sp = scripted("bind")
    dsts = [topo.TARGET4, "www.test"]
    steps, r = run(client, prog, sp, [
        "--control", CONTROL, "--control", "www.test:21",
        "--bind", "control%d" % which] + FULL)
    # getsockname() of a proxied connection shows its CONNECT reply's BND.
    assert [c["sockname"] for c in steps["control"]] == [
        CTL_SHOWN, ["198.51.100.11", 5000]], r
    assert steps["bind"]["result"] == "ok", r
    assert steps["bind"]["addr"] == ["198.51.100.%d" % (9 + which), 0], r
    assert bind_requests(sp) == [bind_request(dsts[which - 1])], \
        sp.records()
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)


def test_listener_bound_to_a_control_connections_real_address_binds_too(
        client, scripted, prog):
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL,
                                      "--bind", topo.CLIENT4] + FULL)
    assert steps["bind"]["result"] == "ok", r
    assert bind_requests(sp) == [bind_request(topo.TARGET4)], sp.records()
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)


def test_getsockname_before_listen_already_shows_the_proxys_port(
        client, scripted, prog):
    # curl binds to the control connection's address, asks getsockname()
    # for the port to announce, and only then listens (kind_bind.c).
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--bind",
                                      "control", "--early-sockname"] + FULL)
    assert steps["early-sockname"]["addr"] == BND, r
    assert bind_requests(sp) == [bind_request(topo.TARGET4)], sp.records()
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)


def test_never_bound_socket_is_bound_through_the_proxy(client, scripted,
                                                       prog):
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--bind", "none"]
                   + FULL)
    assert len(bind_requests(sp)) == 1, sp.records()
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)


# ---- 2. what the program sees -----------------------------------------------

ACCEPT_STYLES = {
    "blocking": [],
    "nonblocking": ["--nonblocking"],
    "accept4": ["--accept4", "both"],
    "nonblocking-accept4": ["--nonblocking", "--accept4", "both"],
}


@pytest.mark.parametrize("style", sorted(ACCEPT_STYLES))
def test_accepted_connection_carries_the_peers_data(client, scripted, prog,
                                                    style):
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL] + FULL +
                   ACCEPT_STYLES[style])
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)
    flags = "accept4" in style
    assert steps["accept"]["nonblock"] is flags, r
    assert steps["accept"]["cloexec"] is flags, r
    assert client.target_peers() == []


@pytest.mark.parametrize("style", ["nonblocking", "accept4"])
def test_accept_leaves_the_listeners_flags_alone(client, scripted, prog,
                                                 style):
    # accept4 sets the new descriptor's flags only, and accept() on a
    # non-blocking listener gives a blocking connection without making
    # the listener blocking.
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL] + FULL +
                   ACCEPT_STYLES[style])
    assert_bound_through_proxy(steps, r)
    listener_nb = "--nonblocking" in ACCEPT_STYLES[style]
    assert steps["accept"]["listener_nonblock"] is listener_nb, r


def test_unspecified_bnd_means_the_proxys_address(client, scripted, prog):
    sp = scripted("bind:bnd=0.0.0.0:4321")
    steps, r = run(client, prog, sp, ["--control", CONTROL] + FULL)
    assert_bound_through_proxy(steps, r, bnd=[topo.PROXY4_C, 4321])
    assert_data_both_ways(sp, steps, r)


def test_ipv6_listener_shows_an_ipv4_bnd_mapped(client, scripted, prog):
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--family", 6]
                   + FULL)
    assert len(bind_requests(sp)) == 1, sp.records()
    assert_bound_through_proxy(steps, r, bnd=["::ffff:198.51.100.9", 8080],
                               peer=["::ffff:203.0.113.7", 20])
    assert_data_both_ways(sp, steps, r)


def test_ipv6_listener_shows_an_ipv6_bnd(client, scripted, prog):
    sp = scripted("bind:bnd=[2001:db8::9]:8080,peer=[2001:db8::7]:20")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--family", 6]
                   + FULL)
    assert_bound_through_proxy(steps, r, bnd=["2001:db8::9", 8080],
                               peer=["2001:db8::7", 20])
    assert_data_both_ways(sp, steps, r)


@pytest.mark.parametrize("cloexec", [False, True])
def test_listener_through_the_proxy_answers_like_a_listener(
        client, scripted, prog, cloexec):
    # Under the hood it is a connection to the proxy; to the program it
    # is a listening socket: SO_ACCEPTCONN 1, and no peer (the kernel's
    # ENOTCONN), not the proxy's address; its descriptor keeps the
    # close-on-exec flag the program gave it.
    sp = scripted("bind:wait=300")
    steps, r = run(client, prog, sp, ["--control", CONTROL] + FULL +
                   (["--cloexec"] if cloexec else []))
    assert steps["sockname"]["addr"] == BND, r
    assert_bound_through_proxy(steps, r)
    # Before and after its accept: the listener keeps its address.
    for step in ("listener", "listener-after"):
        assert steps[step]["acceptconn"] == 1, (step, r)
        assert steps[step]["addr"] == BND, (step, r)
        assert steps[step]["peer"] == "ENOTCONN", (step, r)
        assert steps[step]["cloexec"] is cloexec, (step, r)


@pytest.mark.parametrize("nonblocking", [False, True])
def test_listen_returns_when_the_first_reply_comes(client, scripted, prog,
                                                   nonblocking):
    # The proxy takes 300 ms to answer (CONNECT and BIND alike): listen()
    # waits for it, on a non-blocking socket too, within the timeout.
    sp = scripted("bind", delay_ms=300)
    steps, r = run(client, prog, sp, ["--control", CONTROL] + FULL +
                   (["--nonblocking"] if nonblocking else []))
    assert steps["listen"]["result"] == "ok", r
    assert 0.25 <= steps["listen"]["elapsed"] < 1.5, r
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)


@pytest.mark.parametrize("restart", [False, True])
def test_signal_during_listen_does_not_fail_it(client, scripted, prog,
                                               restart):
    # listen() has no EINTR in its manual: a program does not retry it.
    # A signal while it waits for the first reply leaves the wait going.
    sp = scripted("bind:firstwait=400")
    steps, r = run(client, prog, sp, ["--control", CONTROL,
                                      "--listen-alarm", 150] + FULL +
                   (["--restart"] if restart else []))
    assert steps["listen"]["result"] == "ok", r
    assert steps["listen"].get("alarm") is True, r
    assert 0.35 <= steps["listen"]["elapsed"] < 2.0, r
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)


def test_replies_that_come_in_pieces(client, scripted, prog):
    # Each reply arrives as 4 bytes, then the rest 300 ms later.
    sp = scripted("bind:split=300")
    steps, r = run(client, prog, sp, ["--control", CONTROL] + FULL)
    assert 0.25 <= steps["listen"]["elapsed"] < 1.5, r
    assert 0.25 <= steps["accept"]["elapsed"] < 1.5, r
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)


def test_second_reply_naming_the_peer_by_name(client, scripted, prog):
    # RFC 1928 allows a domain name (ATYP 3) in a reply: the connection
    # works and the peer's bytes are all the program's.
    sp = scripted("bind:peer=peer.example:20")
    steps, r = run(client, prog, sp, ["--control", CONTROL] + FULL)
    assert steps["accept"]["result"] == "ok", r
    assert steps["accept"]["sockname"] == BND, r
    assert_data_both_ways(sp, steps, r)


def test_ipv4_listener_cannot_show_an_ipv6_bnd(client, scripted, prog):
    # README: an IPv4 socket cannot announce a proxy that listens on IPv6.
    sp = scripted("bind:bnd=[2001:db8::9]:8080")
    steps, r = run(client, prog, sp, ["--control", CONTROL])
    assert len(bind_requests(sp)) == 1, sp.records()
    assert steps["listen"]["result"] == "EAFNOSUPPORT", r
    assert len(stderr_lines(r)) == 1, r


def test_v6only_listener_needs_an_ipv6_proxy(client, scripted, prog):
    # README: an IPV6_V6ONLY listener connects to the proxy itself, and
    # the proxy here has an IPv4 address only.
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--family", 6,
                                      "--v6only"])
    assert steps["listen"]["result"] == "EAFNOSUPPORT", r
    assert len(stderr_lines(r)) == 1, r
    assert bind_requests(sp) == [], sp.records()


@pytest.mark.parametrize("waiter", ["poll", "select", "epoll"])
def test_listener_becomes_readable_only_with_the_second_reply(
        client, scripted, prog, waiter):
    sp = scripted("bind:wait=700")
    steps, r = run(client, prog, sp, [
        "--control", CONTROL, "--nonblocking", "--waiter", waiter,
        "--poll", 250, "--poll", 5000, "--accept", "now"] + FULL)
    early, late = steps["poll"]
    assert early["ready"] is False and early["elapsed"] >= 0.2, r
    assert late["ready"] is True and late["elapsed"] < 3.0, r
    # Both waits together cover the delay of the second reply.
    assert early["elapsed"] + late["elapsed"] >= 0.55, r
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)


@pytest.mark.parametrize("style", [
    "blocking", "nonblocking", "accept4"])
def test_one_bind_serves_one_connection(client, scripted, prog, style):
    # accept4: a blocking listener that handed out a non-blocking
    # connection is still a blocking listener.
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--accept2"] +
                   FULL + ACCEPT_STYLES[style])
    assert_bound_through_proxy(steps, r)
    second = steps["accept2"]
    want = "EAGAIN" if style == "nonblocking" else "EINVAL"
    assert second["result"] == want, r
    assert second["elapsed"] < 1.0, r
    assert len(bind_requests(sp)) == 1, sp.records()


def test_closing_the_listener_keeps_the_accepted_connection(client,
                                                             scripted, prog):
    # ftplib and curl close the listening socket right after accept().
    sp = scripted("bind:wait=200")
    steps, r = run(client, prog, sp, ["--control", CONTROL,
                                      "--close-listener"] + FULL)
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)


def test_closed_listener_leaves_no_epoll_registration(client, scripted, prog):
    # The kernel drops a closed listener from an epoll set: the connection
    # accept() gave (the peer's data not read yet) must not show up there
    # under the listener's name.
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--nonblocking",
                                      "--epoll-listener", "--close-listener"]
                   + FULL)
    assert steps["accept"]["result"] == "ok", r
    assert steps["epoll-after"]["events"] == 0, r
    assert_data_both_ways(sp, steps, r)


def test_closing_the_accepted_connection_ends_it_while_the_listener_stays(
        client, scripted, prog):
    # The peer sees the end when the program closes the connection
    # accept() gave it, not only once it closes the listener as well.
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--linger", 500]
                   + FULL)
    assert_data_both_ways(sp, steps, r)
    linger = steps["linger"]
    eof = [float(d.decode()) for k, d in sp.records() if k == "eof"]
    assert len(eof) == 1, (sp.records(), r)
    assert eof[0] < linger["listener_closed_at"] - 0.3, (eof, r)
    # Nothing more is pending on the listener: it must not wake a loop.
    assert linger["listener_ready"] is False, r


def test_a_duplicate_of_the_listener_is_the_listener_too(client, scripted,
                                                        prog):
    # The program dup()s its listener and keeps the copy after the accept
    # (closing the original): the copy is the same listener, idle, and
    # holds nothing of the connection (the peer sees its end at close).
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--dup-listener",
                                      "--linger", 500] + FULL)
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)
    after = steps["listener-after"]
    assert after["acceptconn"] == 1 and after["addr"] == BND, r
    assert after["peer"] == "ENOTCONN", r
    linger = steps["linger"]
    assert linger["listener_ready"] is False, r
    eof = [float(d.decode()) for k, d in sp.records() if k == "eof"]
    assert len(eof) == 1, (sp.records(), r)
    assert eof[0] < linger["listener_closed_at"] - 0.2, (eof, r)


def test_a_child_holding_the_listener_does_not_hold_the_connection(
        client, scripted, prog):
    # A child forked after listen() (to run a helper) still holds the
    # listener when the parent closes the connection it accepted: for
    # the kernel the child holds a listener, so the peer sees the end.
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--fork-child",
                                      600, "--linger", 150] + FULL)
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)
    eof = [float(d.decode()) for k, d in sp.records() if k == "eof"]
    assert len(eof) == 1, (sp.records(), r)
    assert eof[0] < steps["linger"]["closed_at"] + 0.3, (eof, r)


def test_a_child_forked_before_the_peer_came_gets_an_idle_listener(
        client, scripted, prog):
    # The parent takes the connection (README: a child forked while a
    # listener waits for its peer gets an idle listener, so that it does
    # not hold the parent's connection open). Here the parent closes its
    # listener and the child waits on its own: it never turns readable,
    # and the BIND connection ends with the parent's close.
    sp = scripted("bind:wait=300")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--fork-accept",
                                      "--nonblocking", "--accept-wait", 1500]
                   + FULL)
    assert steps["child"]["result"] == "ok", r
    assert steps["parent"]["child_exit"] == 0, r
    assert steps["accept"]["result"] == "ETIMEDOUT", r
    assert len(bind_requests(sp)) == 1, sp.records()
    assert ("note", b"client closed before the second reply") in \
        sp.records(), sp.records()
    assert client.target_peers() == []


@pytest.mark.parametrize("after", ["unread-data", "peer-ended"])
def test_listener_is_quiet_after_its_connection_was_taken(client, scripted,
                                                         prog, after):
    # An event loop keeps polling its listener: once the one connection is
    # accepted, what happens on that connection (the peer's data not read
    # yet, or the peer's end) is no new connection to accept, and a
    # level-triggered loop that saw the listener readable would spin.
    sp = scripted("bind")
    extra = [] if after == "unread-data" else FULL + ["--half-close"]
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--nonblocking",
                                      "--linger", 300] + extra)
    assert steps["accept"]["result"] == "ok", r
    if after == "peer-ended":
        assert steps["drain"]["eof"] is True, r
    assert steps["linger"]["listener_ready"] is False, r


# ---- 3. faults on the first reply -------------------------------------------

@pytest.mark.parametrize("rep,errname", sorted(REP_ERRNO.items()))
def test_first_reply_code_fails_listen(client, scripted, prog, rep, errname):
    sp = scripted("bind:first=%d" % rep)
    steps, r = run(client, prog, sp, ["--control", CONTROL])
    assert len(bind_requests(sp)) == 1, sp.records()
    assert steps["listen"]["result"] == errname, r
    assert steps["listen"]["elapsed"] < 1.5, r
    assert "sockname" not in steps and "accept" not in steps, r
    assert len(stderr_lines(r)) == 1, r
    assert client.target_peers() == []


@pytest.mark.parametrize("fault", MALFORMED)
def test_malformed_or_missing_first_reply_fails_listen_with_eproto(
        client, scripted, prog, fault):
    sp = scripted("bind:first=%s" % fault)
    steps, r = run(client, prog, sp, ["--control", CONTROL])
    assert len(bind_requests(sp)) == 1, sp.records()
    assert steps["listen"]["result"] == "EPROTO", r
    assert steps["listen"]["elapsed"] < 1.5, r
    assert len(stderr_lines(r)) == 1, r


@pytest.mark.parametrize("fault,errname", [("5", "ECONNREFUSED"),
                                           ("garbage", "EPROTO")])
def test_first_reply_failure_on_a_nonblocking_socket(client, scripted, prog,
                                                     fault, errname):
    sp = scripted("bind:first=%s" % fault)
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--nonblocking"])
    assert len(bind_requests(sp)) == 1, sp.records()
    assert steps["listen"]["result"] == errname, r
    assert len(stderr_lines(r)) == 1, r


@pytest.mark.parametrize("fault,errname", [("7", "EOPNOTSUPP"),
                                           ("truncated", "EPROTO")])
def test_failed_bind_stays_failed(client, scripted, prog, fault, errname):
    # README: a listener whose BIND failed never becomes a local one.
    sp = scripted("bind:first=%s" % fault)
    steps, r = run(client, prog, sp, ["--control", CONTROL,
                                      "--listen-twice"])
    assert steps["listen"]["result"] == errname, r
    assert steps["listen2"]["result"] == errname, r
    assert len(bind_requests(sp)) == 1, sp.records()


def test_silent_first_reply_times_listen_out(client, scripted, prog):
    sp = scripted("bind:first=stall")
    steps, r = run(client, prog, sp, ["--control", CONTROL],
                   env={"SOCKS5WRAP_TIMEOUT": "0.5"})
    assert len(bind_requests(sp)) == 1, sp.records()
    assert steps["listen"]["result"] == "ETIMEDOUT", r
    assert 0.4 <= steps["listen"]["elapsed"] <= 3.0, r


def test_unreachable_proxy_fails_listen_with_econnrefused(client, prog):
    # Nothing listens on 192.0.2.1:1999 (conftest): the proxy host resets.
    steps, r = run(client, prog, None, [], proxy="192.0.2.1:1999",
                   env={"SOCKS5WRAP_BIND": "all"})
    assert steps["listen"]["result"] == "ECONNREFUSED", r
    assert steps["listen"]["elapsed"] < 1.0, r
    assert len(stderr_lines(r)) == 1, r


# ---- 4. faults on the second reply ------------------------------------------

@pytest.mark.parametrize("rep,errname", sorted(REP_ERRNO.items()))
def test_second_reply_code_fails_accept(client, scripted, prog, rep,
                                        errname):
    sp = scripted("bind:second=%d" % rep)
    steps, r = run(client, prog, sp, ["--control", CONTROL])
    assert steps["listen"]["result"] == "ok", r
    assert steps["sockname"]["addr"] == BND, r
    assert steps["accept"]["result"] == errname, r
    assert steps["accept"]["elapsed"] < 1.5, r


@pytest.mark.parametrize("fault", MALFORMED)
def test_malformed_or_missing_second_reply_fails_accept_with_eproto(
        client, scripted, prog, fault):
    sp = scripted("bind:second=%s,wait=200" % fault)
    steps, r = run(client, prog, sp, ["--control", CONTROL])
    assert steps["listen"]["result"] == "ok", r
    assert steps["accept"]["result"] == "EPROTO", r
    assert steps["accept"]["elapsed"] < 1.5, r


@pytest.mark.parametrize("fault", ["5", "garbage"])
def test_failed_second_reply_wakes_a_waiting_program(client, scripted, prog,
                                                     fault):
    # The failure is news: the listener becomes readable and accept()
    # reports it.
    sp = scripted("bind:second=%s,wait=300" % fault)
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--nonblocking",
                                      "--accept-wait", 3000])
    want = "ECONNREFUSED" if fault == "5" else "EPROTO"
    assert steps["accept"]["result"] == want, r
    assert steps["accept"]["elapsed"] < 2.0, r


def test_missing_second_reply_nonblocking_accept_is_eagain(client, scripted,
                                                           prog):
    sp = scripted("bind:second=stall")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--nonblocking",
                                      "--poll", 200, "--accept", "now"])
    assert steps["sockname"]["addr"] == BND, r
    assert steps["poll"][0]["ready"] is False, r
    assert steps["accept"]["result"] == "EAGAIN", r
    assert steps["accept"]["elapsed"] < 0.5, r


def test_missing_second_reply_blocking_accept_ends_at_so_rcvtimeo(
        client, scripted, prog):
    # SOCKS5WRAP_TIMEOUT (0.3 s) bounds the first reply only: the accept
    # waits as long as the program asked (0.8 s).
    sp = scripted("bind:second=stall")
    steps, r = run(client, prog, sp, ["--control", CONTROL,
                                      "--rcvtimeo", 800],
                   env={"SOCKS5WRAP_TIMEOUT": "0.3"})
    assert steps["sockname"]["addr"] == BND, r
    assert steps["accept"]["result"] == "EAGAIN", r
    assert 0.7 <= steps["accept"]["elapsed"] <= 3.0, r
    assert len(bind_requests(sp)) == 1, sp.records()


def test_missing_second_reply_blocking_accept_ends_with_a_signal(
        client, scripted, prog):
    sp = scripted("bind:second=stall")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--alarm", 800],
                   env={"SOCKS5WRAP_TIMEOUT": "0.3"})
    assert steps["sockname"]["addr"] == BND, r
    assert len(bind_requests(sp)) == 1, sp.records()
    assert steps["accept"]["result"] == "EINTR", r
    assert steps["accept"].get("alarm") is True, r
    assert 0.7 <= steps["accept"]["elapsed"] <= 3.0, r


def test_signal_with_sa_restart_does_not_end_a_blocking_accept(
        client, scripted, prog):
    # A handler installed with SA_RESTART (a SIGCHLD or SIGALRM handler of
    # a C program): the kernel restarts accept(), which goes on waiting
    # for the connection.
    sp = scripted("bind:wait=600")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--alarm", 200,
                                      "--restart"] + FULL)
    assert steps["accept"]["result"] == "ok", r
    assert steps["accept"].get("alarm") is True, r
    assert steps["accept"]["elapsed"] >= 0.5, r
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)


# ---- 5. policy --------------------------------------------------------------

LOCAL = ["--local", "--nonblocking", "--accept-wait", 2000]


@pytest.mark.parametrize("how", ["env", "launcher"])
def test_bind_off_keeps_a_plain_local_listener(client, scripted, prog, how):
    sp = scripted("bind")
    env, opts = ({"SOCKS5WRAP_BIND": "off"}, ()) if how == "env" else \
        ({}, ["--bind", "off"])
    steps, r = run(client, prog, sp, ["--control", CONTROL] + LOCAL,
                   env=env, opts=opts)
    assert steps["control"][0]["result"] == "ok", r
    assert_local_listener(sp, steps, r)


def test_auto_without_a_proxied_connection_listens_locally(client, scripted,
                                                          prog):
    sp = scripted("bind")
    steps, r = run(client, prog, sp, LOCAL)
    assert sp.records() == [], sp.records()
    assert_local_listener(sp, steps, r)


def test_auto_keeps_a_loopback_listener_local(client, scripted, prog):
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--bind",
                                      "loopback"] + LOCAL)
    assert_local_listener(sp, steps, r, host="127.0.0.1")


# The fixed ports below lie under the ephemeral range (32768-60999): a port
# in it may be held by one of the earlier tests' connections in TIME_WAIT,
# and bind() then fails with EADDRINUSE, after which the client listens on
# an ephemeral port, which auto mode rightly takes through the proxy.
def test_auto_keeps_a_fixed_port_on_the_wildcard_local(client, scripted,
                                                       prog):
    sp = scripted("bind")
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--port", 17301]
                   + LOCAL)
    assert_local_listener(sp, steps, r, port=17301)


def test_fixed_port_server_answers_another_program_meanwhile(client,
                                                             scripted, prog):
    # A program with a proxied connection serves on a fixed port; a second,
    # unwrapped program in the same namespace connects to it.
    sp = scripted("bind")
    port = 17302
    p = client.start_wrapped(
        [prog, "--control", CONTROL, "--port", str(port), "--read", "7",
         "--send", "reply"], proxy=sp.url, env=FAST, lifetime=20)
    try:
        seen = {}
        for _ in range(4):
            obj = p.reply(timeout=10)
            seen[obj["step"]] = obj
            if obj["step"] in ("sockname", "end"):
                break
        assert seen.get("sockname", {}).get("addr") == ["0.0.0.0", port], \
            p.finish()
        other = client.run_direct([PYTHON, "-c", (
            "import socket\n"
            "s = socket.create_connection(('127.0.0.1', %d), timeout=5)\n"
            "s.sendall(b'outside')\n"
            "d = b''\n"
            "while len(d) < 5:\n"
            "    c = s.recv(5 - len(d))\n"
            "    if not c: break\n"
            "    d += c\n"
            "s.sendall(d)\n"
            "print(d.decode())\n") % port], timeout=15)
        assert other.rc == 0 and other.stdout.strip() == "reply", other
    finally:
        res = p.finish(timeout=10)
    # The transcript ("< " + line) holds what reply() read, then the rest.
    steps = steps_of("\n".join(l[2:] if l.startswith("< ") else l
                               for l in res.stdout.splitlines()))
    assert steps["accept"]["result"] == "ok", res
    assert steps["read"]["received"] == "outside", res
    assert steps["echo"]["received"] == "reply", res
    assert bind_requests(sp) == [], sp.records()


def test_all_binds_without_a_proxied_connection(client, scripted, prog):
    sp = scripted("bind")
    steps, r = run(client, prog, sp, FULL, env={"SOCKS5WRAP_BIND": "all"})
    assert bind_requests(sp) == [bind_request("0.0.0.0")], sp.records()
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)


@pytest.mark.parametrize("how", ["env", "launcher"])
def test_all_binds_a_fixed_port_too(client, scripted, prog, how):
    sp = scripted("bind")
    env, opts = ({"SOCKS5WRAP_BIND": "all"}, ()) if how == "env" else \
        ({}, ["--bind", "all"])
    steps, r = run(client, prog, sp, ["--control", CONTROL, "--port", 17303]
                   + FULL, env=env, opts=opts)
    assert len(bind_requests(sp)) == 1, sp.records()
    assert_bound_through_proxy(steps, r)
    assert_data_both_ways(sp, steps, r)
