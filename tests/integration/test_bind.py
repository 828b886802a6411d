"""SOCKS5 BIND with real programs: active-mode FTP through dante.

The FTP server (ftp_target.py) runs on the target host and accepts a PORT
or EPRT only for the address it sees the control connection come from,
which through the proxy is the proxy's target-side address. A client
therefore gets its files only if its listener became a BIND at the proxy
and it announced the address of that BIND. The server records every
control connection, command and data connection, so each test checks who
the server connected to (the proxy: 203.0.113.1 or fd00:5357:3::1), and
compares the files byte for byte. The client fixture's leak capture
proves that the client sent nothing but SOCKS traffic to the proxy.
"""

import errno
import os

import pytest

import ftp_target
import topo
from harness import DANTE, DANTE6, MICRO, client_script

TARGET4, TARGET6 = topo.TARGET4, topo.TARGET6
# Names (dnsenv.py). dante resolves a name itself and, when it has both
# families, takes the IPv6 address: the FTP server then sees the control
# connection come from fd00:5357:3::1, which only EPRT can name and only an
# AF_INET6 socket can hold. A program that resolved the name to an IPv4
# (fake) address has an AF_INET socket: it cannot announce that address,
# so active FTP by a dual-stack name works only with AF_INET6 sockets
# (curl -6). ftp.test has only an A record: the IPv4 path by name.
NAME4 = "ftp.test"                # A 203.0.113.7
NAME46 = "www.test"               # A 203.0.113.7, AAAA fd00:5357:3::7
PROXY_SIDE = topo.PROXY_SIDE
PROXY_SIDES = (topo.PROXY4_T, topo.PROXY6_T)
BIG, SMALL = ftp_target.BIG_NAME, ftp_target.SMALL_NAME
CURL = ["curl", "-q", "-sS", "-m", "20", "-g", "--ftp-port", "-"]
# curl: "FTP: could not use PORT/EPRT" and the like.
CURL_FTP_PORT_FAILED = 30


@pytest.fixture(scope="module")
def ftp_server(lab):
    srv = ftp_target.FtpTarget(lab.topo, lifetime=300)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def ftp(ftp_server, client):
    """The FTP server, its event window starting with this test."""
    ftp_server.mark()
    return ftp_server


def ftp_url(host, path=""):
    return "ftp://%s/%s" % ("[%s]" % host if ":" in host else host, path)


def diag(client, ftp, result=None):
    """What a failing assertion shows: the client's result, the FTP
    server's events and dante's log (last lines)."""
    parts = [str(result)] if result is not None else []
    parts.append("--- FTP server events ---\n" + "\n".join(
        "%(ev)s %(session)s " % e + " ".join(
            "%s=%s" % (k, v) for k, v in sorted(e.items())
            if k not in ("ev", "session")) for e in ftp.events()))
    parts.append("--- dante log (end) ---\n%s" % "\n".join(
        client.proxy_log("dante").splitlines()[-25:]))
    return "\n".join(parts)


def check_sessions(client, ftp, result, sessions, data_per_session, cmd,
                   proxy_side=None):
    """The server saw `sessions` control connections, all from the proxy
    (proxy_side, or either of its target-side addresses), and in each
    data_per_session active data connections it opened to the address of
    that control connection's peer (the proxy's BIND), each announced with
    cmd (PORT or EPRT) and each to another port. Returns the sessions."""
    why = diag(client, ftp, result)
    controls = [e["session"] for e in ftp.events("control")]
    assert len(controls) == sessions, why
    data = ftp.events("data")
    for s in controls:
        addr = s.split()[0]
        if proxy_side is not None:
            assert addr == proxy_side, why
        assert addr in PROXY_SIDES, why
        mine = [d for d in data if d["session"] == s]
        assert len(mine) == data_per_session, why
        assert {d["cmd"] for d in mine} == {cmd}, why
        assert {d["peer"][0] for d in mine} == {addr}, why
        assert len({d["peer"][1] for d in mine}) == len(mine), why
    assert len(data) == sessions * data_per_session, why
    announced = [e["line"] for e in ftp.events("cmd")
                 if e["line"].split()[0] in ("PORT", "EPRT")]
    assert len(announced) == len(data), why
    # Nothing reached the other target servers.
    assert client.target_peers() == [], why
    return controls


def read(path):
    with open(path, "rb") as f:
        return f.read()


def assert_files(ftp, got, why):
    """got: {served name: path of the copy the client wrote}."""
    for name, path in got.items():
        assert os.path.exists(path), "%s not written\n%s" % (path, why)
        data = read(path)
        want = ftp.files[name]
        assert len(data) == len(want), "%s: %d bytes, want %d\n%s" % (
            name, len(data), len(want), why)
        assert data == want, "%s: contents differ\n%s" % (name, why)


# -- curl ------------------------------------------------------------------

def curl_three(client, ftp, tmp_path, host, extra=(), proxy=DANTE, env=None):
    """One curl run: the listing and both files from host, in one session.
    Returns (result, {name: output path}, listing path)."""
    listing = str(tmp_path / "listing.txt")
    out = {BIG: str(tmp_path / "copy-big"), SMALL: str(tmp_path / "copy-small")}
    cmd = CURL + list(extra) + [
        "-o", listing, ftp_url(host),
        "-o", out[BIG], ftp_url(host, BIG),
        "-o", out[SMALL], ftp_url(host, SMALL)]
    r = client.run_wrapped(cmd, proxy=proxy, env=env)
    return r, out, listing


@pytest.mark.parametrize("how", ["EPRT", "PORT"])
@pytest.mark.parametrize("host", [TARGET4, NAME4])
def test_curl_active_listing_and_two_files_in_one_session(client, ftp,
                                                          tmp_path, host,
                                                          how):
    extra = ["--disable-eprt"] if how == "PORT" else []
    r, out, listing = curl_three(client, ftp, tmp_path, host, extra,
                                 env={"SOCKS5WRAP_LOG": "info"})
    why = diag(client, ftp, r)
    assert r.rc == 0, why
    assert_files(ftp, out, why)
    text = read(listing).decode()
    assert BIG in text and SMALL in text, why
    # One BIND per transfer, for the destination as the program named it.
    assert r.stderr.count("listen: BIND for %s:0 via %s" % (
        host, DANTE)) == 3, why
    check_sessions(client, ftp, r, 1, 3, how, proxy_side=topo.PROXY4_T)
    announced = [e["line"] for e in ftp.events("cmd")
                 if e["line"].split()[0] == how]
    want = ("EPRT |1|%s|" % topo.PROXY4_T if how == "EPRT" else
            "PORT %s," % topo.PROXY4_T.replace(".", ","))
    assert all(l.startswith(want) for l in announced), why


@pytest.mark.parametrize("proxy,host,extra", [
    (DANTE, TARGET6, []), (DANTE6, TARGET6, []),
    # By a dual-stack name: dante goes over IPv6 (see NAME46); curl -6
    # gives curl AF_INET6 sockets that can hold that address.
    (DANTE, NAME46, ["-6"])])
def test_curl_eprt_over_ipv6(client, ftp, tmp_path, proxy, host, extra):
    r, out, listing = curl_three(client, ftp, tmp_path, host, extra,
                                 proxy=proxy)
    why = diag(client, ftp, r)
    assert r.rc == 0, why
    assert_files(ftp, out, why)
    assert SMALL in read(listing).decode(), why
    check_sessions(client, ftp, r, 1, 3, "EPRT", proxy_side=topo.PROXY6_T)
    eprts = [e["line"] for e in ftp.events("cmd")
             if e["line"].startswith("EPRT")]
    assert all(l.startswith("EPRT |2|%s|" % topo.PROXY6_T)
               for l in eprts), why


def test_curl_by_dual_stack_name_on_an_ipv4_socket_fails_closed(client, ftp,
                                                                tmp_path):
    # curl resolves www.test to an IPv4 (fake) address, dante reaches it
    # over IPv6 and listens for the BIND on fd00:5357:3::1, which an
    # AF_INET socket cannot show: listen() fails with EAFNOSUPPORT and
    # says so, curl gives up before announcing anything.
    r, out, listing = curl_three(client, ftp, tmp_path, NAME46)
    why = diag(client, ftp, r)
    assert r.rc == CURL_FTP_PORT_FAILED, why
    assert "Address family not supported" in r.stderr, why
    assert "listen: BIND for www.test:0 via %s: the address the proxy " \
        "listens at cannot be shown on this socket" % DANTE in r.stderr, why
    assert [e["session"].split()[0] for e in ftp.events("control")] == [
        topo.PROXY6_T], why
    assert ftp.events("data") == [], why
    assert [e for e in ftp.events("cmd")
            if e["line"].split()[0] in ("PORT", "EPRT")] == [], why
    assert not os.path.exists(out[BIG]), why


# -- python ftplib -----------------------------------------------------------

ROUNDS = 2


# IPv6 through dante's IPv6 address: ftplib's listener for an IPv6 control
# connection is IPv6-only (socket.create_server sets IPV6_V6ONLY), and the
# listener itself becomes the connection to the proxy, so it cannot reach
# an IPv4 proxy (see test_ftplib_ipv6_only_listener_and_ipv4_proxy).
@pytest.mark.parametrize("proxy,host", [(DANTE, TARGET4), (DANTE, NAME4),
                                        (DANTE6, TARGET6)])
def test_ftplib_active_session(client, ftp, tmp_path, proxy, host):
    r = client.run_wrapped(client_script("ftp_active.py", "session", host,
                                         tmp_path, ROUNDS), proxy=proxy)
    why = diag(client, ftp, r)
    assert r.rc == 0, why
    out = r.json()
    assert out["result"] == "ok", why
    assert out["nlst"] == sorted([BIG, SMALL]), why
    assert any(BIG in line for line in out["list"]), why
    # ftplib announces the control connection's getsockname() host: the
    # proxy's address as the target sees it.
    assert out["control"][0] in PROXY_SIDES, why
    got = {}
    for rnd in range(ROUNDS):
        for name in (BIG, SMALL):
            got[name] = str(tmp_path / ("%d-%s" % (rnd, name)))
        assert_files(ftp, got, why)
    # LIST, NLST, then both files per round: PORT for IPv4, EPRT for IPv6.
    (session,) = check_sessions(
        client, ftp, r, 1, 2 + 2 * ROUNDS,
        "EPRT" if ":" in out["control"][0] else "PORT",
        proxy_side=PROXY_SIDE.get(host, topo.PROXY4_T))
    assert session.split()[0] == out["control"][0], why


def test_ftplib_ipv6_only_listener_and_ipv4_proxy(client, ftp, tmp_path):
    # The control connection works (an AF_INET6 socket reaches the IPv4
    # proxy through a mapped address), but the IPv6-only listener cannot:
    # listen() fails with EAFNOSUPPORT and says why; nothing is announced.
    r = client.run_wrapped(client_script("ftp_active.py", "session", TARGET6,
                                         tmp_path, 1), proxy=DANTE)
    why = diag(client, ftp, r)
    assert r.rc == 0, why
    out = r.json()
    assert out["result"] == "error", why
    assert out["error"].startswith("EAFNOSUPPORT"), why
    assert "listen: the proxy has no address this socket's family can " \
        "reach" in r.stderr, why
    assert len(ftp.events("control")) == 1, why
    assert ftp.events("data") == [], why
    assert [e for e in ftp.events("cmd")
            if e["line"].split()[0] in ("PORT", "EPRT")] == [], why


def test_two_ftplib_sessions_in_two_threads(client, ftp, tmp_path):
    r = client.run_wrapped(client_script("ftp_active.py", "threads", TARGET4,
                                         tmp_path), proxy=DANTE)
    why = diag(client, ftp, r)
    assert r.rc == 0, why
    out = r.json()
    assert out["result"] == "ok", why
    for t in range(2):
        assert_files(ftp, {name: str(tmp_path / ("t%d-0-%s" % (t, name)))
                           for name in (BIG, SMALL)}, why)
    check_sessions(client, ftp, r, 2, 4, "PORT", proxy_side=topo.PROXY4_T)


# -- an event loop of its own -----------------------------------------------

@pytest.mark.parametrize("selector,how", [("epoll", "EPRT"),
                                          ("poll", "PORT")])
def test_event_loop_waits_for_the_listener(client, ftp, tmp_path, selector,
                                           how):
    path = str(tmp_path / "copy")
    r = client.run_wrapped(client_script("ftp_active.py", "loop", TARGET4,
                                         BIG, path, selector, how),
                           proxy=DANTE)
    why = diag(client, ftp, r)
    assert r.rc == 0, why
    out = r.json()
    assert out["result"] == "ok", why
    # listen() returned with the BIND's first reply: the listener's
    # address is the proxy's, and nothing can be accepted before the
    # address was even announced.
    assert out["listener"][0] == topo.PROXY4_T, why
    assert out["early_accept"] == "EAGAIN", why
    assert out["ready_before_announce"] is False, why
    # The accepted connection comes from the FTP server (the second reply)
    # and shows the BIND's address as its own.
    assert out["peer"][0] == TARGET4, why
    assert out["conn_sockname"] == out["listener"], why
    assert out["transfer_reply"] == 226, why
    assert out["second_accept"] == "EAGAIN", why
    assert_files(ftp, {BIG: path}, why)
    check_sessions(client, ftp, r, 1, 1, how, proxy_side=topo.PROXY4_T)
    (data,) = ftp.events("data")
    assert data["peer"] == out["listener"], why


# -- lftp --------------------------------------------------------------------

def test_lftp_active_by_address(client, ftp, tmp_path):
    # By address only: lftp resolves names in a forked child.
    path = str(tmp_path / "copy-big")
    script = ("set ftp:passive-mode off; set ftp:ssl-allow no; "
              "set net:max-retries 1; set net:timeout 10; "
              "set cmd:fail-exit yes; open ftp://%s; cat %s; get %s -o %s"
              % (TARGET4, SMALL, BIG, path))
    r = client.run_wrapped(["lftp", "-c", script], proxy=DANTE)
    why = diag(client, ftp, r)
    assert r.rc == 0, why
    assert r.stdout == ftp.files[SMALL].decode(), why
    assert_files(ftp, {BIG: path}, why)
    check_sessions(client, ftp, r, 1, 2, "PORT", proxy_side=topo.PROXY4_T)


# -- negative ------------------------------------------------------------------

def test_bind_off_makes_curl_active_ftp_fail(client, ftp, tmp_path):
    # Without BIND the listener stays on the client, where the server
    # cannot reach it: curl announces the client's own address (with BIND
    # off getsockname() shows it), which the server refuses, and gives up.
    r, out, listing = curl_three(client, ftp, tmp_path, TARGET4,
                                 env={"SOCKS5WRAP_BIND": "off"})
    why = diag(client, ftp, r)
    assert r.rc == CURL_FTP_PORT_FAILED, why
    assert ftp.events("data") == [], why
    assert not os.path.exists(out[BIG]) and not os.path.exists(out[SMALL]), \
        why
    assert len(ftp.events("control")) == 1, why
    assert client.target_peers() == [], why


def test_bind_off_makes_ftplib_active_mode_fail(client, ftp, tmp_path):
    # With BIND off nothing of the proxy's is shown: ftplib listens on the
    # client itself and announces the client's own address, which the
    # server refuses as foreign (501) and could not reach anyway.
    r = client.run_wrapped(client_script("ftp_active.py", "session", TARGET4,
                                         tmp_path, 1), proxy=DANTE,
                           env={"SOCKS5WRAP_BIND": "off"})
    why = diag(client, ftp, r)
    assert r.rc == 0, why
    out = r.json()
    assert out["result"] == "error", why
    assert "501" in out["error"], why
    assert ftp.events("data") == [], why
    (port_cmd,) = [e["line"] for e in ftp.events("cmd")
                   if e["line"].split()[0] in ("PORT", "EPRT")]
    assert port_cmd.startswith("PORT 192,0,2,2,"), why
    assert client.target_peers() == [], why


def test_microsocks_without_bind(client, ftp, tmp_path):
    # microsocks answers BIND with "command not supported" (REP 7).
    r = client.run_wrapped(client_script("ftp_active.py", "listen", TARGET4),
                           proxy=MICRO)
    why = diag(client, ftp, r)
    assert r.rc == 0, why
    out = r.json()
    assert out["result"] == "ok", why
    assert out.get("listen_errno") == errno.EOPNOTSUPP, why
    assert "command not supported" in r.stderr, why
    # curl gives up cleanly (no hang, no announcement the server could
    # act on), and nothing leaks (the capture).
    r, out, listing = curl_three(client, ftp, tmp_path, TARGET4, proxy=MICRO)
    why = diag(client, ftp, r)
    assert r.rc == CURL_FTP_PORT_FAILED, why
    assert r.elapsed < 10, why
    assert ftp.events("data") == [], why
    announced = [e for e in ftp.events("cmd")
                 if e["line"].split()[0] in ("PORT", "EPRT")]
    assert announced == [], why
    assert not os.path.exists(out[BIG]), why
    assert client.target_peers() == [], why
