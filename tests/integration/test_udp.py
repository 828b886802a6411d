"""UDP through socks5wrap: datagrams travel inside dante's UDP ASSOCIATE
relay. The target's UDP echo (targets.py) answers b"from ADDR PORT\\n" +
payload, so each test checks that the target saw the proxy's address
only; the leak capture (conftest.py) checks that nothing but traffic with
the proxy host left the client, and relay_only() that every datagram the
client exchanged with the proxy host used one of dante's relay ports.
"""

import errno
import ipaddress
import os
import shutil
import subprocess
import time

import pytest

import dnsenv
import proxies
import topo
from harness import DANTE, DANTE6, MICRO, PYTHON, client_script

TARGET4, TARGET6 = "203.0.113.7", "fd00:5357:3::7"
ECHO = 7
PROXY_SIDE = {TARGET4: "203.0.113.1", TARGET6: "fd00:5357:3::1"}
DANTE_RELAY = range(40000, 41000)        # proxies.start_all: "dante"
RESTART_PORT = 1091                      # the test's own dante, below
RESTART_RELAY = "43000-43099"
FAKE4 = "198.18.0.0/15"
EOPNOTSUPP = errno.errorcode[errno.EOPNOTSUPP]   # Python calls 95 ENOTSUP


def udp(*args):
    return client_script("udp_client.py", *args)


def parse_echo(reply):
    """(addr, port, payload) from the echo's b"from ADDR PORT\\n" + data."""
    assert isinstance(reply, str) and reply.startswith("from "), reply
    head, _, payload = reply.partition("\n")
    _, addr, port = head.split()
    return addr, int(port), payload


def assert_echo(reply, payload, seen_from):
    addr, _, data = parse_echo(reply)
    assert data == payload, reply
    assert addr in seen_from, reply


def assert_target_saw_proxy_only(client, expect=None, count=None):
    """Only datagrams on udp/7 reached the target, from the proxy host."""
    seen = client.target_peers()
    assert seen, "the target saw no datagram"
    assert {w for w, _, _ in seen} == {"udp/%d" % ECHO}, seen
    allowed = set(expect or PROXY_SIDE.values())
    assert {a for _, a, _ in seen} <= allowed, seen
    if count is not None:
        assert len(seen) == count, seen


def udp_packets(client):
    """(src, dst, sport, dport) for every UDP packet captured so far."""
    out = []
    for p in client.packets():
        words = p.split()
        # "ip udp SRC -> DST ports A -> B"
        if len(words) == 9 and words[1] == "udp":
            out.append((words[2], words[4], int(words[6]), int(words[8])))
    return out


def relay_only(client, relay=DANTE_RELAY, least=1):
    """Every UDP packet went between the client and a relay port of the
    proxy host; returns them."""
    pkts = udp_packets(client)
    assert len(pkts) >= least, client.packets()
    proxy_hosts = {topo.PROXY4_C, topo.PROXY6_C}
    for src, dst, sport, dport in pkts:
        if src in proxy_hosts:
            assert sport in relay, (src, dst, sport, dport)
        else:
            assert dst in proxy_hosts and dport in relay, (src, dst, sport,
                                                          dport)
    return pkts


class Associations:
    """Counts the UDP ASSOCIATE sessions a dante starts from now on."""

    def __init__(self, dante):
        self.dante = dante
        self.start = len(dante.log_text())

    def count(self):
        return self.dante.log_text()[self.start:].count(
            "udp/udpassociate [:")


def run_json(client, cmd, proxy=DANTE, **kw):
    r = client.run_wrapped(cmd, proxy=proxy, **kw)
    assert r.rc == 0, r
    return r, r.json()


# ---- unconnected sockets ------------------------------------------------

def test_sendto_recvfrom_ipv4(client):
    r, out = run_json(client, udp("sendto", TARGET4, ECHO, "hello udp"))
    assert out.get("src") == [TARGET4, ECHO], r
    assert_echo(out["reply"], "hello udp", {"203.0.113.1"})
    assert_target_saw_proxy_only(client, {"203.0.113.1"}, count=1)
    relay_only(client, least=2)


@pytest.mark.parametrize("proxy", [DANTE, DANTE6])
def test_sendto_recvfrom_ipv6_peer(client, proxy):
    # An AF_INET6 socket: with DANTE the relay is an IPv4 address that
    # the socket reaches as ::ffff:192.0.2.1.
    r, out = run_json(client, udp("sendto", TARGET6, ECHO, "hello v6"),
                      proxy=proxy)
    assert out.get("src") == [TARGET6, ECHO], r
    assert_echo(out["reply"], "hello v6", {"fd00:5357:3::1"})
    assert_target_saw_proxy_only(client, {"fd00:5357:3::1"}, count=1)
    relay_only(client, least=2)


def test_ipv6_only_socket_through_ipv6_proxy(client):
    # IPV6_V6ONLY: the socket cannot reach an IPv4 relay at all, so the
    # association must yield an IPv6 relay (dante answers with one when
    # the request carries an IPv6 address, "::" port 0).
    r, out = run_json(client, udp("sendto", TARGET6, ECHO, "v6only",
                                  "--v6only"), proxy=DANTE6)
    assert out.get("src") == [TARGET6, ECHO], r
    assert_echo(out["reply"], "v6only", {"fd00:5357:3::1"})
    assert_target_saw_proxy_only(client, {"fd00:5357:3::1"}, count=1)
    relay_only(client, least=2)


def test_dual_stack_socket_to_mapped_ipv4(client):
    mapped = "::ffff:" + TARGET4
    r, out = run_json(client, udp("sendto", mapped, ECHO, "mapped"))
    assert out.get("src") == [mapped, ECHO], r
    assert_echo(out["reply"], "mapped", {"203.0.113.1"})
    assert_target_saw_proxy_only(client, {"203.0.113.1"}, count=1)
    relay_only(client, least=2)


# ---- connected sockets --------------------------------------------------

def test_connected_socket_send_recv_read_write_and_disconnect(client):
    r, out = run_json(client, udp("connected", TARGET4, ECHO, "conn"))
    assert out.get("peer") == [TARGET4, ECHO], r
    assert_echo(out["recv"], "conn send", {"203.0.113.1"})
    assert_echo(out["read"], "conn write", {"203.0.113.1"})
    assert_echo(out["readv"], "conn writev", {"203.0.113.1"})
    assert out["disconnect"] == 0, r
    assert out["peer_after"] == "ENOTCONN", r
    # Unconnected again: sendto still goes through the relay.
    again = out["again"]
    assert isinstance(again, dict), r
    assert again["src"] == [TARGET4, ECHO], r
    assert_echo(again["reply"], "conn again", {"203.0.113.1"})
    assert_target_saw_proxy_only(client, {"203.0.113.1"}, count=4)
    relay_only(client, least=8)


def test_one_byte_payloads_and_buffers(client):
    # 1 is also the library's internal "not mine, pass it on" value: a
    # datagram of one byte must not also go to the kernel directly, and a
    # receive that returns one byte must not be followed by a real one.
    r, out = run_json(client, udp("tiny", TARGET4, ECHO))
    assert out == {
        "sendto": 1, "recvfrom": ["f", [TARGET4, ECHO]],
        "sendmsg": 1, "recvmsg": ["f", True, [TARGET4, ECHO]],
        "send": 1, "recv": "f", "write": 1, "read": "f",
        "left": "timeout"}, r
    assert_target_saw_proxy_only(client, {"203.0.113.1"}, count=4)
    relay_only(client, least=8)


# ---- real programs --------------------------------------------------------

def test_dig_over_udp_through_relay(client):
    # dig 9.18 runs on libuv, which connect()s its UDP socket and (libuv
    # 1.44) sends and receives with syscall(SYS_sendmmsg / SYS_recvmmsg),
    # not through the libc functions of those names.
    before = len(client.lab.dns.dnsmasq.log_text(limit=1 << 20))
    r = client.run_wrapped(["dig", "+short", "+tries=1", "+time=3",
                            "@" + dnsenv.DNS4, "www.test", "A"], timeout=20)
    assert r.rc == 0, r
    assert r.stdout.split() == [TARGET4], r
    log = client.lab.dns.dnsmasq.log_text(limit=1 << 20)[before:]
    assert "query[A] www.test from 203.0.113.1" in log, log
    # dig talked UDP (no TCP to port 53 through CONNECT), via the relay.
    relay_only(client, least=2)


def test_dig_over_tcp_through_connect(client):
    before = len(client.lab.dns.dnsmasq.log_text(limit=1 << 20))
    r = client.run_wrapped(["dig", "+tcp", "+short", "+tries=1", "+time=3",
                            "@" + dnsenv.DNS4, "www.test", "A"], timeout=20)
    assert r.rc == 0, r
    assert r.stdout.split() == [TARGET4], r
    log = client.lab.dns.dnsmasq.log_text(limit=1 << 20)[before:]
    assert "query[A] www.test from 203.0.113.1" in log, log
    assert udp_packets(client) == [], client.packets()


# ---- names ----------------------------------------------------------------

@pytest.mark.parametrize("family", ["4", "6"])
def test_name_as_udp_destination(client, family):
    r, out = run_json(client, udp("name", "www.test", ECHO, "by name",
                                  "--family", family))
    assert "error" not in out, r
    addr = ipaddress.ip_address(out["addr"][0])
    fake = ipaddress.ip_network(FAKE4 if family == "4" else "fd53:5357::/64")
    assert addr in fake, r
    # The reply's source is the fake address the program sent to.
    assert out["src"] == out["addr"], r
    # dante resolves the name itself and prefers the IPv6 address.
    assert_echo(out["reply"], "by name", set(PROXY_SIDE.values()))
    assert_target_saw_proxy_only(client, count=1)
    relay_only(client, least=2)


# ---- sendmmsg / recvmmsg, fortified receives (C) --------------------------

@pytest.fixture(scope="module")
def mmsg_binary(tmp_path_factory):
    cc = shutil.which("cc")
    assert cc, "no C compiler (cc) to build clients/udp_mmsg.c"
    out = str(tmp_path_factory.mktemp("udp-mmsg") / "udp_mmsg")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "clients", "udp_mmsg.c")
    cp = subprocess.run([cc, "-O2", "-D_FORTIFY_SOURCE=2", "-Wall", "-Wextra",
                         "-Werror", "-o", out, src], capture_output=True,
                        text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    syms = subprocess.run(["nm", "-D", out], capture_output=True, text=True,
                          timeout=10).stdout
    for sym in ("sendmmsg", "recvmmsg", "__recv_chk", "__read_chk",
                "__recvfrom_chk"):
        assert sym in syms, "%s not used by %s:\n%s" % (sym, out, syms)
    return out


@pytest.mark.parametrize("dst,proxy", [(TARGET4, DANTE), (TARGET6, DANTE6)])
def test_sendmmsg_recvmmsg_and_fortified_calls(client, mmsg_binary, dst,
                                               proxy):
    r, out = run_json(client, [mmsg_binary, dst, str(ECHO)], proxy=proxy)
    assert out["sent"] == 8, r
    assert out["msg_len"] == [len("mmsg %d" % i) for i in range(8)], r
    got = out["got"]
    assert len(got) == 8, r
    payloads = sorted(parse_echo(g)[2] for g in got)
    assert payloads == ["mmsg %d" % i for i in range(8)], r
    for g in got:
        assert_echo(g, parse_echo(g)[2], {PROXY_SIDE[dst]})
    assert out["sources"] == [[dst, ECHO]] * 8, r
    text, src = out["recvfrom"]
    assert src == [dst, ECHO], r
    assert_echo(text, "recvfrom", {PROXY_SIDE[dst]})
    assert_echo(out["send_recv"], "fortified send_recv", {PROXY_SIDE[dst]})
    assert_echo(out["write_read"], "fortified write_read",
                {PROXY_SIDE[dst]})
    assert_target_saw_proxy_only(client, {PROXY_SIDE[dst]}, count=11)
    relay_only(client, least=22)


# ---- event loops and receive flags ---------------------------------------

def test_nonblocking_epoll(client):
    r, out = run_json(client, udp("epoll", TARGET4, ECHO))
    assert sorted(parse_echo(t)[2] for t, _ in out["got"]) == [
        "epoll 0", "epoll 1", "epoll 2"], r
    assert all(src == [TARGET4, ECHO] for _, src in out["got"]), r
    assert out["idle_events"] == 0, r
    assert out["idle_elapsed"] >= 0.25, r
    assert out["after"] == "EAGAIN", r
    assert_target_saw_proxy_only(client, {"203.0.113.1"}, count=3)
    relay_only(client, least=6)


def test_msg_peek_and_msg_trunc(client):
    r, out = run_json(client, udp("peek-trunc", TARGET4, ECHO))
    assert out["peeked"] == out["data"], r
    assert_echo(out["data"], "peek me", {"203.0.113.1"})
    assert out["peek_src"] == out["src"] == [TARGET4, ECHO], r
    assert out["small"] == out["data"][:8], r          # "from 203"
    assert out["msg_trunc"], r
    assert out["trunc_src"] == [TARGET4, ECHO], r
    # recv(MSG_TRUNC): the length of the payload alone, not the header's.
    relay_port = client.target_peers()[-1][2]
    assert out["recv_trunc_len"] == len(
        "from 203.0.113.1 %d\nand its length" % relay_port), r
    assert out["recv_trunc_data"] == "from", r
    assert_target_saw_proxy_only(client, {"203.0.113.1"}, count=3)


# ---- many sockets -----------------------------------------------------------

def test_hundred_sockets_each_with_its_own_association(client):
    assoc = Associations(client.lab.proxies["dante"])
    r, out = run_json(client, udp("many", TARGET4, ECHO, 100), timeout=60)
    assert out["ok"] == 100, r
    # One control connection per socket, internal, close-on-exec, high.
    assert out["extra"] == 100, r
    assert out["extra_cloexec"] == 100, r
    assert out["extra_min"] >= 100, r
    # All closed with their sockets.
    assert out["leftover"] == [], r
    assert out["after"] == out["before"], r
    seen = client.target_peers()
    assert len(seen) == 100, seen
    assert {a for _, a, _ in seen} == {"203.0.113.1"}, seen
    # dante answers from the client's own port number where it can:
    # 100 sockets, 100 ports on the target side.
    assert len({p for _, _, p in seen}) == 100, seen
    assert assoc.count() == 100, client.proxy_log("dante")[-3000:]
    relay_only(client)


# ---- proxies without UDP, block mode --------------------------------------

def test_microsocks_refuses_udp_associate(client):
    r, out = run_json(client, udp("fail", TARGET4, ECHO), proxy=MICRO)
    first, second = out["sends"]
    assert first["error"] == EOPNOTSUPP, r
    assert first["elapsed"] < 2.0, r
    assert second["error"] == EOPNOTSUPP, r
    assert second["elapsed"] < 0.2, r
    # One error line (the default log level), naming what the proxy said.
    lines = [l for l in r.stderr.splitlines() if "udp" in l.lower()]
    assert len(lines) == 1, r
    assert "command not supported" in lines[0], r
    assert client.target_peers() == []
    assert udp_packets(client) == [], client.packets()


def test_udp_block_mode(client):
    r, out = run_json(client, udp("fail", TARGET4, ECHO),
                      env={"SOCKS5WRAP_UDP": "block"})
    assert [s["error"] for s in out["sends"]] == ["EPERM", "EPERM"], r
    assert client.target_peers() == []
    assert [p for p in client.packets() if " tcp " in p or " udp " in p] \
        == [], client.packets()


def test_raw_and_icmp_datagram_sockets_are_refused(client):
    ns = client.topo.client
    old = topo.run(["sysctl", "-n", "net.ipv4.ping_group_range"],
                   ns=ns).stdout.strip()
    topo.run(["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"],
             ns=ns)
    try:
        r4, out4 = run_json(client, udp("refuse", TARGET4))
        r6, out6 = run_json(client, udp("refuse", TARGET6))
    finally:
        topo.run(["sysctl", "-qw", "net.ipv4.ping_group_range=%s" %
                  "\t".join(old.split())], ns=ns)
    for r, out in ((r4, out4), (r6, out6)):
        assert out == {"raw": "EPERM", "raw_connect": "EPERM",
                       "ping": "EPERM", "ping_connect": "EPERM"}, r
    assert client.target_peers() == []
    assert [p for p in client.packets() if "icmp" in p and "icmp6" not in p
            ] == [], client.packets()


# ---- sources other than the relay -----------------------------------------

SPOOF_CODE = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", 5555))
hdr = b"\\0\\0\\0\\1" + socket.inet_aton("203.0.113.7") + struct.pack("!H", 7)
for i in range(3):
    s.sendto(hdr + b"SPOOF %d" % i, ("192.0.2.2", int(sys.argv[1])))
    s.sendto(b"raw spoof %d" % i, ("192.0.2.2", int(sys.argv[1])))
"""


def spoof(client, port):
    # The spoofed datagrams come from our own sender on the proxy host.
    client.capture.allow("udp", 5555)
    topo.run([PYTHON, "-c", SPOOF_CODE, str(port)], ns=client.topo.proxy)
    time.sleep(0.2)


def spoof_seen(client, port):
    return [p for p in udp_packets(client)
            if p[0] == topo.PROXY4_C and p[2] == 5555 and p[3] == port]


def test_datagrams_not_from_the_relay_are_dropped(client):
    app = client.start_wrapped(client_script("udp_repl.py"))
    try:
        port = app.ask("bind 0")["port"]
        first = app.ask("echo %s %d one" % (TARGET4, ECHO))
        spoof(client, port)
        # Only spoofed datagrams are queued: nothing for the program.
        dontwait = app.ask("dontwait")
        assert app.ask("send %s %d two" % (TARGET4, ECHO)).get("ok")
        # A blocking receive skips the spoofed ones and gets the echo.
        blocking = app.ask("brecv 3")
        rest = app.ask("recvall 0.5")["got"]
    finally:
        res = app.finish()
    assert res.rc == 0, res
    assert first.get("src") == [TARGET4, ECHO], res
    assert dontwait.get("error") == "EAGAIN", res
    assert blocking.get("got", [None, None])[1] == [TARGET4, ECHO], res
    assert_echo(blocking["got"][0], "two", {"203.0.113.1"})
    assert rest == [], res
    # The spoofed datagrams did reach the client's socket.
    assert len(spoof_seen(client, port)) == 6, client.packets()
    assert_target_saw_proxy_only(client, {"203.0.113.1"}, count=2)


def test_datagrams_from_an_excluded_source_are_delivered(client):
    # 192.0.2.1 is the proxy host itself: its relay port still counts as
    # the relay, any other port as a direct (excluded) peer.
    app = client.start_wrapped(client_script("udp_repl.py"),
                               env={"SOCKS5WRAP_NO_PROXY": "192.0.2.1/32"})
    try:
        port = app.ask("bind 0")["port"]
        first = app.ask("echo %s %d one" % (TARGET4, ECHO))
        spoof(client, port)
        assert app.ask("send %s %d two" % (TARGET4, ECHO)).get("ok")
        got = app.ask("recvall 1.0")["got"]
    finally:
        res = app.finish()
    assert res.rc == 0, res
    assert first.get("src") == [TARGET4, ECHO], res
    real = [g for g in got if g[1] == [TARGET4, ECHO]]
    assert len(real) == 1, res
    assert_echo(real[0][0], "two", {"203.0.113.1"})
    others = [g for g in got if g[1] != [TARGET4, ECHO]]
    # Delivered as they came, a header-like prefix included.
    assert len(others) == 6, res
    assert all(src == [topo.PROXY4_C, 5555] for _, src in others), res
    assert sorted(t for t, _ in others if t.startswith("raw")) == [
        "raw spoof %d" % i for i in range(3)], res
    assert len(spoof_seen(client, port)) == 6, client.packets()
    assert_target_saw_proxy_only(client, {"203.0.113.1"}, count=2)


# ---- descriptors: fork, dup2 ---------------------------------------------

def test_fork_child_uses_the_parents_association(client):
    assoc = Associations(client.lab.proxies["dante"])
    r, out = run_json(client, udp("fork", TARGET4, ECHO))
    for key, text in (("parent1", "parent before fork"), ("child", "child"),
                      ("parent2", "parent after fork")):
        res = out[key]
        assert isinstance(res, dict), r
        assert res["src"] == [TARGET4, ECHO], r
        assert_echo(res["reply"], text, {"203.0.113.1"})
    assert out["child_status"] == 0, r
    # One association, made by the parent, used by both.
    assert assoc.count() == 1, client.proxy_log("dante")[-3000:]
    assert_target_saw_proxy_only(client, {"203.0.113.1"}, count=3)
    relay_only(client, least=6)


def test_dup2_copy_shares_the_association(client):
    assoc = Associations(client.lab.proxies["dante"])
    r, out = run_json(client, udp("dup2", TARGET4, ECHO))
    for key, text in (("first", "before dup2"), ("copy", "through the copy")):
        res = out[key]
        assert isinstance(res, dict), r
        assert res["src"] == [TARGET4, ECHO], r
        assert_echo(res["reply"], text, {"203.0.113.1"})
    assert assoc.count() == 1, client.proxy_log("dante")[-3000:]
    assert_target_saw_proxy_only(client, {"203.0.113.1"}, count=2)


# ---- the control connection is lost --------------------------------------

@pytest.fixture(scope="module")
def own_dante(lab):
    """A dante for this module alone, so that restarting it disturbs no
    other test."""
    d = proxies.Dante(lab.topo, "dante-udp-restart", RESTART_PORT, "none",
                      RESTART_RELAY, lifetime=300)
    try:
        yield d
    finally:
        d.stop()


def test_lost_control_connection_reassociates(client, own_dante):
    url = "%s:%d" % (topo.PROXY4_C, RESTART_PORT)
    assoc = Associations(own_dante)
    app = client.start_wrapped(client_script("udp_repl.py"), proxy=url)
    try:
        one = app.ask("echo %s %d one" % (TARGET4, ECHO))
        own_dante.stop()
        time.sleep(0.3)
        # The next send notices the lost control connection, tries to
        # associate again and fails: nobody listens on the port.
        down = app.ask("send %s %d down" % (TARGET4, ECHO))
        down2 = app.ask("send %s %d down" % (TARGET4, ECHO))
        own_dante.start()
        time.sleep(0.2)
        two = app.ask("echo %s %d two" % (TARGET4, ECHO))
        # A restart between two sends, without a failing send between.
        own_dante.stop()
        own_dante.start()
        time.sleep(0.2)
        three = app.ask("echo %s %d three" % (TARGET4, ECHO))
    finally:
        res = app.finish()
        if own_dante.proc is None:
            own_dante.start()
    assert one.get("src") == [TARGET4, ECHO], res
    assert down.get("error") == "ECONNREFUSED", res
    assert down.get("elapsed", 9) < 2.0, res
    assert down2.get("error") == "ECONNREFUSED", res
    for reply, text in ((two, "two"), (three, "three")):
        assert reply.get("src") == [TARGET4, ECHO], res
        assert_echo(reply["reply"], text, {"203.0.113.1"})
    # Three associations: before the stop, after the first start and
    # after the restart (the failed attempt never reached a dante).
    assert assoc.count() == 3, own_dante.log_text()[-3000:]
    assert_target_saw_proxy_only(client, {"203.0.113.1"}, count=3)
    relay_only(client, relay=own_dante.relay_ports(), least=6)
