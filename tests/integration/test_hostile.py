"""Programs that use the socket API in ways the kernel accepts but that a
socksifier easily overlooks, and programs that close descriptors without
calling close(). Each test holds one of these:

- test_udp_unspec_destination_is_taken_as_ipv4,
  test_udp_unspec_destination_is_refused_when_udp_is_blocked,
  test_raw_socket_unspec_destination_is_refused,
  test_unspec_destination_with_a_dead_proxy_sends_nothing:
  the kernel takes sin_family = AF_UNSPEC in the address of sendto(),
  sendmsg() and sendmmsg() on an IPv4 UDP or raw socket as AF_INET, so
  the datagram must be treated as one to sin_addr: through the relay,
  refused with EPERM under SOCKS5WRAP_UDP=block and on raw sockets, and
  failing like the AF_INET send when the proxy is down. Nothing may go
  direct.
- test_ipv6_udp_unspec_name_means_the_connected_peer: on an IPv6 UDP
  socket the kernel reads an AF_UNSPEC name as "no address": EDESTADDRREQ
  unconnected, the virtual peer of a socket connect()ed through the proxy.
- test_ipv6_udp_socket_connected_to_an_ipv4_address_uses_the_relay: an
  IPv6 UDP socket (not IPV6_V6ONLY) connect()ed with a sockaddr_in; its
  send(), write() and sendmsg() must go through the relay.
- test_stale_udp_state_does_not_hijack_a_reused_tcp_descriptor,
  test_stale_udp_state_never_touches_a_reused_file: a UDP socket with an
  association closed behind the library (fclose of an fdopen'ed socket,
  glibc's closefrom, a close or close_range system call from an inline
  syscall instruction) leaves state that must not apply to the next
  socket or file with that number.
- test_log_descriptor_closed_behind_the_library_is_not_the_programs,
  test_control_connection_closed_behind_the_library_is_not_the_programs:
  the library's own descriptors (the log file, a UDP control connection)
  closed by a close_range system call the library did not see, and the
  number taken by a file of the program: no library line, read, write or
  close may reach that file. closefrom() is hooked and leaves them open.

Every test runs in the client namespace under the leak capture of
conftest.py: a datagram or connection that went around the proxy fails
the test there. Payloads the target echoed are compared exactly. The C
programs come from clients/hostile_calls.c, built here.
"""

import json
import os
import shutil
import subprocess

import pytest

import topo
from harness import DANTE, DANTE6, PYTHON

TARGET4, TARGET6 = topo.TARGET4, topo.TARGET6
SIDE4, SIDE6 = topo.PROXY4_T, topo.PROXY6_T        # the proxy, target side
ECHO, HTTP, SILENT = 7, 80, 9                        # SILENT: nobody listens
DEAD_PROXY = "192.0.2.1:%d" % 1999                   # conftest: nothing there
CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients")
FAKE_PREFIX = "198.18."
HOWS = ["fclose", "closefrom", "asm-close", "asm-close-range"]
HOWS_ALL = ["closefrom", "asm-close-range"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    cc = shutil.which("cc")
    assert cc, "no C compiler (cc) to build clients/hostile_calls.c"
    out = str(tmp_path_factory.mktemp("hostile-cc") / "hostile_calls")
    cp = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", out,
                         os.path.join(CLIENTS, "hostile_calls.c")],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return out


@pytest.fixture
def scratch(tmp_path):
    """A folder the program in the client namespace writes its files to."""
    os.chmod(str(tmp_path), 0o755)
    return str(tmp_path)


def parse(r):
    """The program's JSON object. When its watchdog fired, what it had
    printed so far (the line before, not closed) plus "stuck" and
    "cpu_ms"."""
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    out = r.json()
    if "stuck" in out and len(lines) >= 2:
        try:
            partial = json.loads(lines[-2] + "}")
        except ValueError:
            partial = {"unreadable": lines[-2]}
        partial.update(out)
        out = partial
    return out


def run(client, hostile, args, proxy=DANTE, env=None, opts=(), wrap=(),
        may_hang=False):
    """hostile_calls ARGS under the launcher; its JSON (see parse). wrap
    goes between the launcher and the program (e.g. prlimit). Unless
    may_hang, a stage that hung fails here."""
    r = client.run_wrapped(list(wrap) + [hostile] + [str(a) for a in args],
                           proxy=proxy, env=env, opts=opts, timeout=60)
    out = parse(r)
    if "stuck" in out and may_hang:
        return out, r
    assert "stuck" not in out, r
    assert r.rc == 0, r
    return out, r


def echo_of(text, side):
    """A predicate: is reply the target's UDP echo of text, sent to it
    from side (b"from ADDR PORT\\n" + text)?"""
    return lambda reply: (isinstance(reply, str) and
                          reply.startswith("from %s " % side) and
                          reply.endswith("\n" + text) and
                          reply.count("\n") == 1)


def assert_echo(out, key, text, sides=(SIDE4,)):
    reply = out[key]
    assert any(echo_of(text, s)(reply) for s in sides), (key, out)


def peers_seen(client):
    """[(what, address)] that reached the target in this test."""
    return [(w, a) for w, a, _ in client.target_peers()]


def tcp_udp_packets(client):
    """The capture's TCP and UDP packets so far ("arp" is one word)."""
    return [p for p in client.packets()
            if p.split()[1:2] in (["tcp"], ["udp"])]


def assert_nothing_left(client):
    """No TCP or UDP packet at all on the client's link, and nothing
    reached the target."""
    assert tcp_udp_packets(client) == [], client.packets()
    assert client.target_peers() == []


# ---- 1. AF_UNSPEC destinations ---------------------------------------------

UNSPEC4_CASES = [(TARGET4, "fresh", how)
                 for how in ("sendto", "sendmsg", "sendmmsg")]
UNSPEC4_CASES += [(TARGET4, "associated", how)
                  for how in ("sendto", "sendmsg", "sendmmsg")]
UNSPEC4_CASES += [("www.test", "fresh", "sendto"),
                  ("www.test", "associated", "sendmsg")]


@pytest.mark.parametrize("host,prep,how", UNSPEC4_CASES,
                         ids=["-".join(c).replace(".", "_")
                              for c in UNSPEC4_CASES])
def test_udp_unspec_destination_is_taken_as_ipv4(client, hostile, host,
                                                   prep, how):
    out, r = run(client, hostile, ["unspec4", host, ECHO, prep, how])
    dst = out["dst"]
    by_name = host != TARGET4
    if by_name:
        # A fake address: the name travels to the proxy, which resolves
        # it (dante prefers the IPv6 address).
        assert dst[0].startswith(FAKE_PREFIX) and dst[1] == ECHO, r
        sides = (SIDE4, SIDE6)
    else:
        assert dst == [TARGET4, ECHO], r
        sides = (SIDE4,)
    if prep == "associated":
        assert out["first_send"] == "ok", r
        assert_echo(out, "first", "first as AF_INET", sides)
        assert out["first_src"] == dst, r
    # The AF_UNSPEC datagram is the kernel's AF_INET one: through the
    # relay, answered like any other.
    text = "unspec by %s" % how
    assert out["send"] == "ok", r
    replies = ["reply"]
    if how == "sendmmsg":
        assert out["sent"] == 2, r
        replies.append("reply2")
    else:
        assert out["sent"] == len(text), r
    for key in replies:
        assert_echo(out, key, text, sides)
        assert out[key + "_src"] == dst, r
    peers = peers_seen(client)
    assert len(peers) == len(replies) + (prep == "associated"), peers
    assert {w for w, _ in peers} == {"udp/%d" % ECHO}, peers
    assert {a for _, a in peers} <= set(sides), peers


@pytest.mark.parametrize("host,how", [(TARGET4, "sendto"),
                                      (TARGET4, "sendmmsg"),
                                      ("www.test", "sendmsg")],
                         ids=["addr-sendto", "addr-sendmmsg",
                              "name-sendmsg"])
def test_udp_unspec_destination_is_refused_when_udp_is_blocked(
        client, hostile, host, how):
    out, r = run(client, hostile, ["unspec4", host, ECHO, "fresh", how],
                 opts=["--udp", "block"])
    assert out["send"] == "EPERM", r
    assert out["reply"] == "no reply", r
    assert_nothing_left(client)


@pytest.mark.parametrize("how", ["sendto", "sendmsg"])
def test_raw_socket_unspec_destination_is_refused(client, hostile, how):
    out, r = run(client, hostile, ["unspec-raw", TARGET4, how])
    # AF_INET: refused today already; AF_UNSPEC is the same address.
    assert out["inet"] == "EPERM", r
    assert out["unspec"] == "EPERM", r
    # Not one packet: an ICMP echo request would be a leak too (the
    # capture flags it), and no TCP or UDP either.
    assert [p for p in client.packets() if " icmp " in p] == [], \
        client.packets()
    assert_nothing_left(client)


def test_ipv6_udp_unspec_name_means_the_connected_peer(client, hostile):
    # The AF_UNSPEC name carries an IPv4 layout for 203.0.113.7:9, where
    # nobody answers: an IPv6 socket must not read it as an address.
    out, r = run(client, hostile, ["unspec6", TARGET6, ECHO, TARGET4,
                                   SILENT], proxy=DANTE6)
    # Unconnected: "no address", the kernel's EDESTADDRREQ, nothing sent.
    assert out["unconnected"] == "EDESTADDRREQ", r
    assert out["unconnected_msg"] == "EDESTADDRREQ", r
    assert out["unconnected_readable"] is False, r
    # Connected through the proxy: the virtual peer, through the relay.
    assert out["connect"] == "ok", r
    for send, reply, text in (("send", "reply", "unspec to the peer"),
                              ("send_msg", "reply_msg",
                               "unspec msg to the peer")):
        assert out[send] == "ok", (send, r)
        assert_echo(out, reply, text, (SIDE6,))
        assert out[reply + "_src"] == [TARGET6, ECHO], r
    assert peers_seen(client) == [("udp/%d" % ECHO, SIDE6)] * 2


UNSPEC_REPRO = r"""
import ctypes, json, socket, struct
lis = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
lis.bind(("127.0.0.2", 5556))
lis.settimeout(0.5)
fd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
libc = ctypes.CDLL(None, use_errno=True)
name = (struct.pack("<H", 0) + struct.pack(">H", 5556) +
        socket.inet_aton("127.0.0.2") + b"\0" * 8)
ret = libc.sendto(fd.fileno(), b"leak", 4, 0, name, 16)
err = ctypes.get_errno() if ret < 0 else 0
got = []
try:
    got.append(lis.recv(100).decode())
except socket.timeout:
    pass
print(json.dumps({"ret": ret, "errno": err, "received": got}))
"""


def test_unspec_destination_with_a_dead_proxy_sends_nothing(client,
                                                            hostile):
    # Loopback is proxied too (empty exclusion list) and nothing listens
    # at the proxy's address: every datagram must fail, none may reach
    # the listener on 127.0.0.2 directly.
    env = {"SOCKS5WRAP_NO_PROXY": ""}
    out, r = run(client, hostile, ["unspec-loop", "127.0.0.2", 5556],
                 proxy=DEAD_PROXY, env=env)
    assert out["inet"] == "ECONNREFUSED", r
    assert out["unspec"] == out["inet"], r
    assert out["received"] == [], r
    # The same through ctypes from python.
    r = client.run_wrapped([PYTHON, "-c", UNSPEC_REPRO], proxy=DEAD_PROXY,
                           env=env)
    assert r.rc == 0, r
    py = r.json()
    assert py["ret"] == -1 and py["errno"] != 0, r
    assert py["received"] == [], r
    # Only knocks at the dead proxy's port left the client.
    for p in tcp_udp_packets(client):
        words = p.split()
        assert words[1] == "tcp" and "1999" in (words[6], words[8]), p
    assert client.target_peers() == []


# ---- 2. an IPv6 UDP socket connected to a sockaddr_in ----------------------

V4_PEER_AS_GIVEN = ([TARGET4, ECHO], ["::ffff:%s" % TARGET4, ECHO])


def test_ipv6_udp_socket_connected_to_an_ipv4_address_uses_the_relay(
        client, hostile):
    # Guards first. An IPV6_V6ONLY socket: the kernel's EAFNOSUPPORT,
    # then no peer and nothing sent.
    only, r = run(client, hostile, ["v6-connect4", TARGET4, ECHO, "v6only"])
    assert only["connect"] == "EAFNOSUPPORT", r
    assert only["peer"] == "ENOTCONN", r
    for call in ("send", "write", "sendmsg"):
        assert only[call] == "EDESTADDRREQ", (call, r)
        assert only[call + "_reply"] == "no reply", (call, r)
    assert_nothing_left(client)
    # sendto() with a sockaddr_in on an IPv6 socket goes through the relay.
    s4, r = run(client, hostile, ["v6-sendto4", TARGET4, ECHO])
    assert s4["sendto"] == "ok", r
    assert_echo(s4, "reply", "v4 name on v6")
    assert s4["reply_src"] in V4_PEER_AS_GIVEN, r
    # connect() with a sockaddr_in, then calls without an address.
    out, r = run(client, hostile, ["v6-connect4", TARGET4, ECHO])
    assert out["connect"] == "ok", r
    # The kernel shows such a peer as ::ffff:203.0.113.7; the library
    # keeps a virtual peer as the program gave it. Either names it.
    assert out["peer"] in V4_PEER_AS_GIVEN, r
    for call, text in (("send", "via send"), ("write", "via write"),
                       ("sendmsg", "via sendmsg")):
        assert out[call] == "ok", (call, r)
        assert_echo(out, call + "_reply", text)
    assert peers_seen(client) == [("udp/%d" % ECHO, SIDE4)] * 4


# ---- 3. a stale UDP entry and a reused descriptor number -------------------

@pytest.mark.parametrize("how", HOWS)
def test_stale_udp_state_does_not_hijack_a_reused_tcp_descriptor(
        client, hostile, how):
    # Three programs, each with a proxied UDP socket (connect()ed, one
    # echo) closed behind the library, whose number a TCP socket takes:
    # connected through the proxy to the target's TCP echo, connected
    # directly to a listener of the program on 127.0.0.1 (excluded), or
    # accepted from such a listener.
    outs = {}
    for mode in ("proxied", "excluded", "accepted"):
        outs[mode] = run(client, hostile, ["stale-tcp", how, mode, TARGET4,
                                           ECHO, TARGET4, ECHO],
                         may_hang=True)
    for mode, (out, r) in outs.items():
        assert out["udp_connect"] == "ok", r
        assert_echo(out, "udp_echo", "udp before")
        assert out["closed_by"] == "ok" and out["u_open"] is False, r
        # The number came back to the program for its TCP socket.
        assert out["s"] == out["u"], r
        assert out["connect"] == "ok" and out["send"] == "ok", r
        # The stream carries exactly what the program sent, both ways.
        if mode != "proxied":
            assert out["peer_got"] == "PAYLOAD", (mode, r)
        assert out["echo"] == "PAYLOAD", (mode, r)
        # SO_RCVTIMEO (1 s) ends an idle receive, which waits rather than
        # spins; the end of the stream ends one at once.
        assert out["idle"] == "EAGAIN", (mode, r)
        assert 800 <= out["idle_ms"] <= 5000, (mode, r)
        assert out["idle_cpu_ms"] <= 300, (mode, r)
        # (The program's watchdog ends a receive that never returns after
        # 3 s and reports the CPU time it burnt: "stuck".)
        assert "stuck" not in out, (mode, r)
        assert out["eof"] == "eof", (mode, r)
        assert out["eof_ms"] <= 2000 and out["eof_cpu_ms"] <= 300, (mode, r)
    peers = client.target_peers()
    assert sorted(w for w, _, _ in peers) == sorted(
        ["tcp/%d" % ECHO] + ["udp/%d" % ECHO] * 3), peers
    assert {a for _, a, _ in peers} == {SIDE4}, peers


@pytest.mark.parametrize("how", HOWS)
def test_stale_udp_state_never_touches_a_reused_file(client, hostile,
                                                     scratch, how):
    path = os.path.join(scratch, "program-file")
    out, r = run(client, hostile, ["stale-file", how, TARGET4, ECHO, path])
    assert_echo(out, "udp_echo", "udp before")
    assert out["closed_by"] == "ok", r
    assert out["f"] == out["u"], r           # the file got the number
    # More UDP through the library (a new association, its close) in
    # between the program's writes.
    assert out["v_send"] == "ok" and out["v_close"] == "ok", r
    assert_echo(out, "v_echo", "from v")
    assert out["write1"] == "ok" and out["write2"] == "ok", r
    assert out["f_open"] is True, r
    want = "program line 1\nprogram line 2\n"
    assert out["content"] == want, r
    # The program's close() closes its file, for real.
    assert out["close"] == "ok" and out["f_open_after_close"] is False, r
    with open(path) as f:
        assert f.read() == want
    assert peers_seen(client) == [("udp/%d" % ECHO, SIDE4)] * 2


# ---- 4. internal descriptors closed behind the library ---------------------

@pytest.mark.parametrize("how", HOWS_ALL)
def test_log_descriptor_closed_behind_the_library_is_not_the_programs(
        client, hostile, scratch, how):
    log = os.path.join(scratch, "library.log")
    path = os.path.join(scratch, "program-file")
    # A descriptor limit of 100 puts the log (opened in the library's
    # constructor, before main) within reach of the program's numbers.
    out, r = run(client, hostile,
                 ["log-reuse", how, log, TARGET4, ECHO, HTTP, path],
                 opts=["-vv", "--log-file", log],
                 wrap=["prlimit", "--nofile=100:100", "--"])
    assert 3 <= out["log_fd"] < 100, r
    if how == "closefrom":
        # The closefrom() hook leaves the library's descriptors open, as
        # the close_range() hook does: the file gets another number.
        assert out["log_open_after_close_all"] is True, r
        assert out["f"] != out["log_fd"], r
    else:
        # A raw system call closed it: the file got the number.
        assert out["log_open_after_close_all"] is False, r
        assert out["f"] == out["log_fd"], r
    assert out["write1"] == "ok" and out["write2"] == "ok", r
    assert out["connect1"] == "ok" and out["connect2"] == "ok", r
    want = "program line 1\nprogram line 2\n"
    assert out["content"] == want, r
    assert out["close"] == "ok", r
    assert out["f_open_after_close"] is False, r
    with open(path) as f:
        assert f.read() == want
    # The library's lines still reach its log, the program's never.
    with open(log) as f:
        text = f.read()
    for port in (ECHO, HTTP):
        assert "connect %s:%d via %s: ok" % (TARGET4, port, DANTE) in text, \
            text
    assert "program line" not in text, text
    peers = client.target_peers()
    assert sorted(w for w, _, _ in peers) == ["tcp/%d" % ECHO,
                                              "tcp/%d" % HTTP], peers


def test_control_connection_closed_behind_the_library_is_not_the_programs(
        client, hostile, scratch):
    out, r = run(client, hostile, ["ctl-reuse", TARGET4, ECHO, scratch])
    assert_echo(out, "udp_echo", "udp before")
    assert out["ctl"] > out["u"], r
    assert out["u_open"] is False and out["ctl_open"] is False, r
    # The program's files got both numbers: its socket's and the one the
    # association's control connection had.
    assert out["f_sock"] == out["u"] and out["f_ctl"] == out["ctl"], r
    assert out["v_send"] == "ok" and out["v_close"] == "ok", r
    assert_echo(out, "v_echo", "from v")
    for name in ("sock", "ctl"):
        for n in (1, 2):
            assert out["write_%s%d" % (name, n)] == "ok", (name, n, r)
        assert out["f_%s_open" % name] is True, (name, r)
        want = "%s line 1\n%s line 2\n" % (name, name)
        assert out["content_" + name] == want, (name, r)
        assert out["close_" + name] == "ok", (name, r)
        assert out["f_%s_open_after_close" % name] is False, (name, r)
        with open(os.path.join(scratch, name)) as f:
            assert f.read() == want, name
    assert peers_seen(client) == [("udp/%d" % ECHO, SIDE4)] * 2
