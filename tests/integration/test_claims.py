"""Claims the README makes, each held by a test here: options and bound
address kept across a proxied connect, SCTP refused, UDP GSO refused,
EAI_AGAIN from a full fake-address table, bad configuration under a plain
LD_PRELOAD, what -v, -vv and -q write, a setgid program, the syscall()
hook, UDP readiness under poll and select, custom fake ranges, and one
lookup of a proxy given by name.

Where traffic is involved, each test also shows that it went through the
proxy (the target saw the proxy host, dante logged it, or the client's
capture saw the packets go to the proxy), or that nothing was sent.
The C programs come from clients/claims_calls.c, built here."""

import grp
import ipaddress
import os
import shutil
import subprocess

import pytest

import harness
import topo
from harness import DANTE, DANTE6, DANTE_USER, MICRO, client_script
from proxies import TEST_PASSWORD, TEST_PASSWORD_URL, TEST_USER

TARGET4, TARGET6 = "203.0.113.7", "fd00:5357:3::7"
SIDE4, SIDE6 = topo.PROXY4_T, topo.PROXY6_T       # the proxy, target side
ECHO, HTTP, SILENT = 7, 80, 9                        # SILENT: nobody listens
CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients")
FAKE4 = "198.18.0.0/15"


def claims(*args):
    return client_script("claims_client.py", *args)


def build_c(tmp_path_factory, source, out_name, extra=()):
    cc = shutil.which("cc")
    assert cc, "no C compiler (cc) to build clients/%s" % source
    out = str(tmp_path_factory.mktemp("claims-cc") / out_name)
    cp = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror"] +
                        list(extra) + ["-o", out,
                                       os.path.join(CLIENTS, source), "-ldl"],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return out


@pytest.fixture(scope="module")
def calls_bin(tmp_path_factory):
    return build_c(tmp_path_factory, "claims_calls.c", "claims_calls")


@pytest.fixture(scope="module")
def sctp_shim(tmp_path_factory):
    return build_c(tmp_path_factory, "claims_sctp_shim.c",
                   "libclaims_sctp_shim.so", ["-shared", "-fPIC"])


def run_preloaded(client, cmd, env, timeout=30):
    return client.run_preloaded(cmd, env, timeout=timeout)


def ok_json(r):
    assert r.rc == 0, r
    return r.json()


def lines(text):
    return [l for l in text.splitlines() if l.strip()]


class LogWindow:
    """What a proxy logged from now on."""

    def __init__(self, server):
        self.server = server
        self.start = len(server.log_text())

    def text(self):
        return self.server.log_text()[self.start:]

    def sessions(self):
        """Lines that start a session ("[:"; "]:" ends one, and may be
        the previous test's, written late)."""
        return [l for l in self.text().splitlines() if " [: " in l]

    def associations(self):
        return self.text().count("udp/udpassociate [:")


def dante(client, name="dante"):
    return LogWindow(client.lab.proxies[name])


def tcp_udp_packets(client):
    return [p for p in client.packets() if p.split()[1] in ("tcp", "udp")]


def assert_nothing_sent(client, window):
    """No TCP or UDP packet on the client's link, nothing at the proxy or
    the target."""
    assert tcp_udp_packets(client) == [], client.packets()
    assert window.sessions() == [], window.text()
    assert client.target_peers() == []


# ---- 1. options, bound address and file flags survive the proxy ------------

# Ports below the kernel's ephemeral range, one per case: no other
# connection of the run can hold the same address pair.
BIND_PORTS = {("ipv4", False): 24101, ("ipv4", True): 24102,
              ("ipv6", False): 24103, ("ipv6", True): 24104}


@pytest.mark.parametrize("nonblocking", [False, True],
                         ids=["blocking", "nonblocking"])
@pytest.mark.parametrize("dst,proxy,bind,side", [
    (TARGET4, DANTE, topo.CLIENT4, SIDE4),
    (TARGET6, DANTE6, topo.CLIENT6, SIDE6)], ids=["ipv4", "ipv6"])
def test_tcp_socket_keeps_its_options_bound_address_and_flags(
        client, dst, proxy, bind, side, nonblocking):
    window = dante(client)
    port = BIND_PORTS[("ipv6" if ":" in dst else "ipv4", nonblocking)]
    r = client.run_wrapped(claims("options", dst, ECHO, bind, port,
                                  *(["--nonblocking"] if nonblocking else [])),
                           proxy=proxy)
    out = ok_json(r)
    assert out["connect"] == "ok", r
    # A non-blocking connect returns before the proxy answered.
    assert out["connect_call"] == ("EINPROGRESS" if nonblocking else "ok"), r
    before, after = out["before"], out["after"]
    assert before["sockname"] == [bind, port], r
    assert before["keepalive"] and before["nodelay"], r
    assert before.get("tos", before.get("tclass")) == 0x28, r
    assert before["flags"] & os.O_ASYNC, r
    assert bool(before["flags"] & os.O_NONBLOCK) == nonblocking, r
    # Everything as the program left it, the bound address included.
    assert after == before, r
    assert out["peer"] == [dst, ECHO], r
    assert out["echo"] == "options kept", r
    peers = client.target_peers()
    assert [(w, a) for w, a, _ in peers] == [("tcp/%d" % ECHO, side)], peers
    # The proxy was reached from the bound port: on the wire and in
    # dante's log (which writes an address as ADDR.PORT).
    proxy_addr = topo.PROXY6_C if ":" in dst else topo.PROXY4_C
    words = [p.split() for p in tcp_udp_packets(client)]
    from_port = [w for w in words if w[2] == bind and w[6] == str(port)]
    assert from_port, client.packets()
    assert {(w[1], w[4], w[8]) for w in from_port} == {
        ("tcp", proxy_addr, "1080")}, from_port
    assert "tcp/accept [: %s.%d " % (bind, port) in window.text(), \
        window.text()


# ---- 2. SCTP is refused ----------------------------------------------------

def test_stream_socket_that_is_not_tcp_is_refused(client, calls_bin,
                                                  sctp_shim):
    # The kernels this runs on (CI's too) have no SCTP: socket(AF_INET,
    # SOCK_STREAM, IPPROTO_SCTP) fails with EPROTONOSUPPORT there, so no
    # SCTP socket can exist to test with. The shim, preloaded after the
    # library, makes getsockopt(SO_PROTOCOL) answer IPPROTO_SCTP for this
    # TCP socket: what the library sees of an SCTP socket on a kernel
    # that has SCTP.
    window = dante(client)
    cmd = [calls_bin, "stream-connect", TARGET4, str(HTTP)]
    r = client.run_wrapped(cmd, env={"LD_PRELOAD": sctp_shim})
    out = ok_json(r)
    assert out["connect"] == "EPROTONOSUPPORT", r
    refusals = [l for l in lines(r.stderr) if "not TCP" in l]
    assert len(refusals) == 1, r
    assert_nothing_sent(client, window)
    # Without the shim the same program connects through the proxy.
    r = client.run_wrapped(cmd)
    assert ok_json(r)["connect"] == "ok", r
    peers = client.target_peers()
    assert [(w, a) for w, a, _ in peers] == [("tcp/%d" % HTTP, SIDE4)], peers


# ---- 3. UDP GSO is refused with EIO ----------------------------------------

@pytest.mark.parametrize("mode", ["cmsg", "sockopt", "syscall"])
def test_udp_gso_through_the_relay_fails_with_eio(client, calls_bin, mode):
    # The proxy host's own address (not the proxy port) is excluded: the
    # same GSO send to its port 9 goes out directly, which shows that GSO
    # works on this kernel and link, so the EIO is the library's answer.
    client.capture.allow("udp", SILENT)
    window = dante(client)
    r = client.run_wrapped(
        [calls_bin, "gso", TARGET4, str(ECHO), mode, topo.PROXY4_C],
        env={"SOCKS5WRAP_NO_PROXY": "127.0.0.0/8,::1,%s" % topo.PROXY4_C})
    out = ok_json(r)
    # A plain send first: the socket is associated when it asks for GSO.
    assert out["plain_before"].startswith("from %s " % SIDE4), r
    assert out["direct"] == 250, r
    assert out["gso"] == "EIO", r
    assert out["after_gso"] == [], r
    # The program falls back to plain sends, which go through the relay.
    assert out["plain"].startswith("from %s " % SIDE4), r
    assert out["plain"].endswith("\nplain after gso"), r
    peers = client.target_peers()
    assert [(w, a) for w, a, _ in peers] == [("udp/%d" % ECHO, SIDE4)] * 2, \
        peers
    assert window.associations() == 1, window.text()
    # The direct send left as such (on veth the capture may see the
    # unsegmented packet).
    direct = [p for p in tcp_udp_packets(client)
              if p.split()[1] == "udp" and p.split()[-1] == str(SILENT)]
    assert direct, client.packets()


# ---- 4. a full fake-address table: EAI_AGAIN -------------------------------

@pytest.mark.parametrize("fake_net,capacity", [
    (None, 8192), ("198.18.0.0/29", 6), ("198.18.0.0/30", 2)],
    ids=["default", "slash29", "slash30"])
def test_full_fake_address_table_gives_eai_again(client, fake_net,
                                                   capacity):
    env = {"SOCKS5WRAP_FAKE_NET": fake_net} if fake_net else {}
    r = client.run_wrapped(claims("names", capacity), env=env, timeout=60)
    out = ok_json(r)
    # Every name younger than the 10 minutes a slot is kept: the table
    # takes exactly `capacity` names, the next lookup fails.
    assert out["resolved"] == capacity, r
    assert out["distinct"] == capacity, r
    assert out["failure"] == {"index": capacity,
                              "name": "n%d.claims.test" % capacity,
                              "error": "EAI_AGAIN"}, r
    net = ipaddress.ip_network(fake_net or FAKE4)
    for a in out["first"] + out["last"]:
        assert ipaddress.ip_address(a) in net, r
    assert out["first"][0] == str(net[1]), r
    # A name already in the table still resolves and connects by name;
    # a new one keeps failing.
    assert out["again_www"] == out["first"][0], r
    assert out["again_new"] == "EAI_AGAIN", r
    assert "peer %s " % SIDE4 in out["http"].get("body", "") or \
        "peer %s " % SIDE6 in out["http"].get("body", ""), r
    assert any("fake-address pool full" in l for l in lines(r.stderr)), r
    assert [w for w, _, _ in client.target_peers()] == ["tcp/%d" % HTTP]


# ---- 5. bad configuration under a plain LD_PRELOAD -------------------------

BAD_CONFIG = [
    ("SOCKS5_PROXY", {}),
    ("SOCKS5_PROXY", {"SOCKS5_PROXY": "192.0.2.1:notaport"}),
    ("SOCKS5WRAP_TIMEOUT", {"SOCKS5WRAP_TIMEOUT": "abc"}),
    ("SOCKS5WRAP_LOG", {"SOCKS5WRAP_LOG": "loud"}),
    ("SOCKS5WRAP_DNS", {"SOCKS5WRAP_DNS": "sideways"}),
    ("SOCKS5WRAP_UDP", {"SOCKS5WRAP_UDP": "maybe"}),
    ("SOCKS5WRAP_PIPELINE", {"SOCKS5WRAP_PIPELINE": "yes"}),
    ("SOCKS5WRAP_OPTIMISTIC", {"SOCKS5WRAP_OPTIMISTIC": "yes"}),
    ("SOCKS5WRAP_NO_PROXY", {"SOCKS5WRAP_NO_PROXY": "10.0.0.0/33"}),
    ("SOCKS5WRAP_FAKE_NET", {"SOCKS5WRAP_FAKE_NET": "198.18.0.0/31"}),
    ("SOCKS5WRAP_FAKE_NET6", {"SOCKS5WRAP_FAKE_NET6": "fd53::/127"}),
    ("SOCKS5_PASSWORD", {"SOCKS5_PASSWORD": "claims-lonely-password"}),
]


@pytest.mark.parametrize("var,bad", BAD_CONFIG,
                         ids=["%s-%d" % (v, i) for i, (v, _) in
                              enumerate(BAD_CONFIG)])
def test_bad_configuration_refuses_with_one_line_naming_the_variable(
        client, var, bad):
    env = {"SOCKS5_PROXY": DANTE}
    env.update(bad)
    if var == "SOCKS5_PROXY" and not bad:
        del env["SOCKS5_PROXY"]
    window = dante(client)
    r = run_preloaded(client, claims("misconfig", TARGET4, ECHO), env)
    out = ok_json(r)
    assert out == {"tcp": ["ECONNREFUSED", "ECONNREFUSED"],
                   "udp": "ECONNREFUSED"}, r
    # One line for the whole process, however many calls it refused.
    assert len(lines(r.stderr)) == 1, r
    assert var in r.stderr, r
    assert "claims-lonely-password" not in r.stderr, r
    assert_nothing_sent(client, window)


def test_fake_range_over_loopback_refuses_proxying_and_spares_loopback(
        client):
    # 127.0.0.0/8 as the fake range would take every loopback connection
    # for a fake address. It is a configuration error like the others:
    # the default range is used instead, so loopback still works, and
    # what should go through the proxy is refused with one line.
    window = dante(client)
    r = run_preloaded(client, claims("misconfig", TARGET4, ECHO,
                                     "--loopback"),
                      {"SOCKS5_PROXY": DANTE,
                       "SOCKS5WRAP_FAKE_NET": "127.0.0.0/8"})
    out = ok_json(r)
    assert out == {"loopback": "ok",
                   "tcp": ["ECONNREFUSED", "ECONNREFUSED"],
                   "udp": "ECONNREFUSED"}, r
    assert len(lines(r.stderr)) == 1, r
    line = lines(r.stderr)[0]
    assert line.startswith("socks5wrap["), r
    assert line.endswith(
        "]: error: SOCKS5WRAP_FAKE_NET: 127.0.0.0/8 overlaps loopback "
        "(127.0.0.0/8); refusing connections that should go through the "
        "proxy"), r
    assert_nothing_sent(client, window)


@pytest.mark.local_dns
def test_fake_range_over_a_looked_up_proxy_address_is_refused(client):
    # proxy.corp.test is 192.0.2.1 (the DNS trap's answer): known only
    # once looked up, it is checked then, with the same message. The
    # launcher looks the name up before the program and stops there...
    env = {"SOCKS5WRAP_FAKE_NET": "192.0.2.0/24"}
    want = ("SOCKS5WRAP_FAKE_NET: 192.0.2.0/24 overlaps the proxy's "
            "address (192.0.2.1)")
    window = dante(client)
    r = client.run_wrapped(claims("misconfig", TARGET4, ECHO), env=env,
                           proxy="proxy.corp.test:1080")
    assert r.rc == 125, r
    assert r.stdout == "", r
    assert r.stderr == "socks5wrap: %s\n" % want, r
    # ...and the library alone refuses what should go through the proxy,
    # while loopback keeps working.
    env["SOCKS5_PROXY"] = "proxy.corp.test:1080"
    r = run_preloaded(client, claims("misconfig", TARGET4, ECHO,
                                     "--loopback"), env)
    out = ok_json(r)
    assert out == {"loopback": "ok",
                   "tcp": ["ECONNREFUSED", "ECONNREFUSED"],
                   "udp": "ECONNREFUSED"}, r
    assert lines(r.stderr), r
    assert all(want in l for l in lines(r.stderr)), r
    assert window.sessions() == [], window.text()
    assert client.target_peers() == []


# ---- 6. log lines: no credentials; -q writes nothing -----------------------

SECRET_USER, SECRET_PASS = "claims-user-Zq7", "claims-pass-Xw9"


@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
def test_credentials_never_appear_in_log_lines(client, scripted, verbosity):
    ok, reject = scripted("auth-ok"), scripted("auth-reject")
    creds = {"SOCKS5_USER": SECRET_USER, "SOCKS5_PASSWORD": SECRET_PASS}
    tcp = client_script("tcp_client.py", TARGET4, HTTP, "--read-all")
    runs = []
    for sp, result in ((ok, "ok"), (reject, "EACCES")):
        r = client.run_wrapped(tcp, proxy=sp.url, opts=[verbosity],
                               env=creds)
        assert ok_json(r)["result"] == result, r
        runs.append(r)
    # Both in the URL, percent-encoded: a UDP association through dante
    # and a TCP connection, both logged at info.
    url = "socks5://%s:%s@%s" % (TEST_USER, TEST_PASSWORD_URL, DANTE_USER)
    r = client.run_wrapped(client_script("udp_client.py", "sendto", TARGET4,
                                         ECHO, "with credentials"),
                           proxy=url, opts=[verbosity])
    assert ok_json(r).get("src") == [TARGET4, ECHO], r
    runs.append(r)
    r = client.run_wrapped(client_script("tcp_client.py", TARGET4, HTTP,
                                         "--send", "GET / HTTP/1.0\r\n\r\n",
                                         "--read-all"),
                           proxy=url, opts=[verbosity])
    assert ok_json(r)["result"] == "ok", r
    runs.append(r)
    # The credentials were used: the scripted server got them, dante
    # accepted them.
    u, p = SECRET_USER.encode(), SECRET_PASS.encode()
    auth = b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p
    assert ("auth", auth) in ok.records()
    assert ("auth", auth) in reject.records()
    texts = {"connect ": 3, "udp associate via ": 1}
    for r in runs:
        # Something was logged (the check below is not vacuous)...
        assert lines(r.stderr), r
        # ...and nothing of the credentials, in any spelling.
        for secret in (SECRET_USER, SECRET_PASS, TEST_USER, TEST_PASSWORD,
                       TEST_PASSWORD_URL):
            assert secret not in r.stderr, r
    logged = "".join(r.stderr for r in runs)
    for text, least in texts.items():
        assert logged.count(text) >= least, logged
    peers = client.target_peers()
    assert {a for _, a, _ in peers} == {SIDE4}, peers


def test_credentials_never_appear_in_configuration_errors(client):
    # A URL that carries credentials but cannot be used (bad port), read
    # by the library itself at debug level, and by the launcher.
    url = "socks5://%s:%s@192.0.2.1:99999" % (SECRET_USER, SECRET_PASS)
    window = dante(client)
    r = run_preloaded(client, claims("misconfig", TARGET4, ECHO),
                      {"SOCKS5_PROXY": url, "SOCKS5WRAP_LOG": "debug"})
    assert ok_json(r)["tcp"] == ["ECONNREFUSED"] * 2, r
    launcher = client.run_wrapped(["true"], proxy=url, opts=["-vv"])
    assert launcher.rc == 125, launcher
    for res in (r, launcher):
        assert "SOCKS5_PROXY" in res.stderr or "-p" in res.stderr, res
        assert SECRET_USER not in res.stderr, res
        assert SECRET_PASS not in res.stderr, res
    assert_nothing_sent(client, window)


def test_quiet_library_writes_nothing_even_when_calls_fail(client):
    client.capture.allow("tcp", 1999)
    tcp = client_script("tcp_client.py", TARGET4, HTTP)
    # Nothing listens on 192.0.2.1:1999: without -q that is an error line.
    loud = client.run_wrapped(tcp, proxy="192.0.2.1:1999")
    assert ok_json(loud)["result"] == "ECONNREFUSED", loud
    assert len(lines(loud.stderr)) == 1, loud
    quiet = client.run_wrapped(tcp, proxy="192.0.2.1:1999", opts=["-q"])
    assert ok_json(quiet)["result"] == "ECONNREFUSED", quiet
    assert quiet.stderr == "", quiet
    # microsocks refuses UDP ASSOCIATE: an error line, unless -q.
    udp = client_script("udp_client.py", "fail", TARGET4, ECHO)
    loud = client.run_wrapped(udp, proxy=MICRO)
    assert ok_json(loud)["sends"][0]["error"] in ("EOPNOTSUPP",
                                                  "ENOTSUP"), loud
    assert lines(loud.stderr), loud
    quiet = client.run_wrapped(udp, proxy=MICRO, opts=["-q"])
    assert ok_json(quiet)["sends"][0]["error"] in ("EOPNOTSUPP",
                                                   "ENOTSUP"), quiet
    assert quiet.stderr == "", quiet
    assert client.target_peers() == []


# ---- 7. a setuid/setgid program --------------------------------------------

@pytest.fixture(scope="module")
def setgid_copy(calls_bin, tmp_path_factory):
    """A copy of claims_calls that is setgid to a group root is not in:
    run by root, its egid differs from its gid, and the kernel starts it
    with AT_SECURE as for any setuid or setgid program."""
    path = str(tmp_path_factory.mktemp("claims-setgid") / "claims_setgid")
    shutil.copy(calls_bin, path)
    os.chown(path, 0, grp.getgrnam("nogroup").gr_gid)
    os.chmod(path, 0o2755)
    return path


def test_library_in_a_setgid_program_ignores_environment_and_refuses(
        client, calls_bin, setgid_copy):
    lib = harness.library_path()
    args = ["dlopen-connect", lib, TARGET4, str(HTTP)]
    san = harness.sanitizer_env(calls_bin)
    san.pop("LD_PRELOAD", None)
    # The control: the same program without setgid uses the proxy its
    # environment names, and logs nothing (SOCKS5WRAP_LOG=none).
    env = dict(san, SOCKS5_PROXY=DANTE, SOCKS5WRAP_LOG="none")
    r = client.run_direct([calls_bin] + args, env=env)
    out = ok_json(r)
    assert out == {"at_secure": 0, "dlopen": "ok", "connect": "ok"}, r
    assert r.stderr == "", r
    peers = client.target_peers()
    assert [(w, a) for w, a, _ in peers] == [("tcp/%d" % HTTP, SIDE4)], peers
    # The setgid copy, with an environment that would also send the
    # target direct: none of it may count (a direct attempt would be a
    # packet to the decoy, which the capture flags).
    env["SOCKS5WRAP_NO_PROXY"] = "203.0.113.0/24"
    window = dante(client)
    before = len(client.packets())
    r = client.run_direct([setgid_copy] + args, env=env)
    out = ok_json(r)
    assert out["at_secure"] == 1, r
    assert out["dlopen"] == "ok", r
    assert out["connect"] == "ECONNREFUSED", r
    # SOCKS5WRAP_LOG=none was ignored too: the refusal is logged.
    assert "setuid/setgid" in r.stderr, r
    assert [p for p in client.packets()[before:]
            if p.split()[1] in ("tcp", "udp")] == [], client.packets()
    assert window.sessions() == [], window.text()
    assert len(client.target_peers()) == 1


# ---- 8. the syscall() hook -------------------------------------------------

def test_syscall_connect_goes_through_the_proxy(client, calls_bin):
    window = dante(client)
    r = client.run_wrapped([calls_bin, "syscall-connect", TARGET4,
                            str(HTTP)])
    out = ok_json(r)
    assert out["connect"] == "ok", r
    assert out["peer"] == [TARGET4, HTTP], r
    assert "peer %s " % SIDE4 in out["answer"], r
    assert out["close"] == "ok" and out["closed"], r
    peers = client.target_peers()
    assert [(w, a) for w, a, _ in peers] == [("tcp/%d" % HTTP, SIDE4)], peers
    assert "-> %s." % SIDE4 in window.text() and \
        "%s.%d" % (TARGET4, HTTP) in window.text(), window.text()


def test_syscall_close_and_close_range_cannot_take_the_control_connection(
        client, calls_bin):
    window = dante(client)
    r = client.run_wrapped([calls_bin, "udp-close", TARGET4, str(ECHO)])
    out = ok_json(r)
    for key, text in (("a_first", "first from a"),
                      ("a_second", "second from a"),
                      ("b_first", "first from b")):
        assert out[key].startswith("from %s " % SIDE4), r
        assert out[key].endswith("\n" + text), r
    a, ctl = out["a"], out["ctl"]
    assert ctl >= 1024, r       # a high descriptor, not the program's
    # The program cannot close what it never opened: close() of it is
    # a no-op that succeeds, and close_range leaves it out.
    assert out["close_ctl"] == "ok" and out["ctl_open_after_close"], r
    assert out["close_range_ctl"] == "ok", r
    assert out["ctl_open_after_close_range"], r
    assert out["close_range_above_a"] == "ok", r
    assert out["ctl_open_after_wide_range"] and out["a_open"], r
    # Closing the socket itself ends its association.
    assert out["close_a"] == "ok", r
    assert not out["a_open_after_close"], r
    assert not out["ctl_open_after_close_a"], r
    # close_range over everything closes the program's socket, and with
    # it the association's descriptor; nothing is left over.
    assert out["ctl_b"] >= 1024, r
    assert out["close_range_all"] == "ok", r
    assert not out["b_open"] and not out["ctl_b_open"], r
    assert out["fds_after"] == [0, 1, 2], r
    # Two sockets, two associations: the first one was never lost (a
    # lost control connection would have made a third).
    assert window.associations() == 2, window.text()
    peers = client.target_peers()
    assert [(w, a) for w, a, _ in peers] == [("udp/%d" % ECHO, SIDE4)] * 3, \
        peers
    assert a >= 3


# ---- 9. UDP readiness under poll() and select() ----------------------------

@pytest.mark.parametrize("dst,proxy,side", [(TARGET4, DANTE, SIDE4),
                                            (TARGET6, DANTE6, SIDE6)],
                         ids=["ipv4", "ipv6"])
def test_udp_socket_is_readable_when_the_relay_delivers(client, calls_bin,
                                                        dst, proxy, side):
    r = client.run_wrapped([calls_bin, "readiness", dst, str(ECHO),
                            str(SILENT)], proxy=proxy)
    out = ok_json(r)
    idle = ("poll_before_send", "poll_silent", "select_silent",
            "poll_after_read", "select_before", "select_after_read")
    for key in idle:
        # Nothing to read: the full timeout passes, nothing is ready.
        assert out[key][0] == 0 and out[key][2] >= 250, (key, r)
    assert out["silent_send"] == out["send_poll"] == "ok", r
    assert out["send_select"] == "ok", r
    for key, wait in (("poll_reply", "poll_got"),
                      ("select_reply", "select_got")):
        res = out[key]
        assert res[0] == 1 and res[1], (key, r)
        assert res[2] < 2000, (key, r)     # woken by the reply
        text, src = out[wait]
        assert src == [dst, ECHO], r
        assert text.startswith("from %s " % side), r
    assert out["poll_got"][0].endswith("\nfor poll"), r
    assert out["select_got"][0].endswith("\nfor select"), r
    peers = client.target_peers()
    assert [(w, a) for w, a, _ in peers] == [("udp/%d" % ECHO, side)] * 2, \
        peers


# ---- 10. custom fake ranges ------------------------------------------------

def test_custom_fake_ranges_are_used_and_reach_the_target_by_name(client):
    net4, net6 = "10.99.0.0/16", "fd99:5357:1:2::/64"
    window = dante(client)
    r = client.run_wrapped(claims("fake"),
                           env={"SOCKS5WRAP_FAKE_NET": net4,
                                "SOCKS5WRAP_FAKE_NET6": net6})
    out = ok_json(r)
    n4, n6 = ipaddress.ip_network(net4), ipaddress.ip_network(net6)
    (a4,) = out["inet"]["addrs"][:1]
    (a6,) = out["inet6"]["addrs"][:1]
    assert ipaddress.ip_address(a4) in n4, r
    assert ipaddress.ip_address(a6) in n6, r
    # AF_UNSPEC: the same two, IPv4 first.
    assert out["unspec"]["addrs"][0] == a4, r
    assert out["unspec"]["addrs"][-1] == a6, r
    for label in ("inet", "inet6"):
        assert out[label]["name"] == "www.test", r
        body = out[label]["http"].get("body", "")
        assert "peer %s " % SIDE4 in body or "peer %s " % SIDE6 in body, r
    peers = client.target_peers()
    assert [w for w, _, _ in peers] == ["tcp/%d" % HTTP] * 2, peers
    assert {a for _, a, _ in peers} <= {SIDE4, SIDE6}, peers
    # The name went to the proxy, which resolved it (the client never
    # learnt the target's address); the fake addresses never went out.
    log = window.text()
    assert "%s.%d" % (TARGET4, HTTP) in log or \
        "%s.%d" % (TARGET6, HTTP) in log, log
    assert "10.99." not in log and "fd99:" not in log, log


# ---- 11. a proxy given by name is looked up once ---------------------------

def proxy_lookups(client):
    queries = client.trap_queries()
    names = {q["name"].rstrip(".") for q in queries}
    assert names <= {"proxy.corp.test"}, queries
    return sorted(q["type"] for q in queries)


@pytest.mark.local_dns
def test_proxy_name_is_resolved_once_for_all_connections(client):
    # proxy.corp.test: the client's resolver (the DNS trap) answers it
    # with 192.0.2.1 and logs every query. One lookup is one A and one
    # AAAA query (getaddrinfo with AF_UNSPEC).
    r = run_preloaded(client, claims("proxyname", TARGET4, ECHO, 10, 16),
                      {"SOCKS5_PROXY": "proxy.corp.test:1080"}, timeout=60)
    out = ok_json(r)
    assert out["failures"] == [] and out["stuck"] == 0, r
    assert proxy_lookups(client) == ["A", "AAAA"], client.trap_queries()
    peers = client.target_peers()
    assert len(peers) == out["attempts"] == 26, peers
    assert {(w, a) for w, a, _ in peers} == {("tcp/%d" % ECHO, SIDE4)}


@pytest.mark.local_dns
def test_launcher_looks_the_proxy_name_up_once_before_the_program(client):
    # The launcher checks that the name resolves before it starts the
    # program; the program then looks it up once more, and only once.
    r = client.run_wrapped(claims("proxyname", TARGET4, ECHO, 4, 8),
                           proxy="proxy.corp.test:1080", timeout=60)
    out = ok_json(r)
    assert out["failures"] == [] and out["stuck"] == 0, r
    assert proxy_lookups(client) == ["A", "A", "AAAA", "AAAA"], \
        client.trap_queries()
    assert len(client.target_peers()) == 12
