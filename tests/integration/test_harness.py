"""The harness proves itself without socks5wrap: clients that speak SOCKS5
on their own reach the target only through the proxies, the isolation
holds, and the leak capture sees a stray packet."""

import socket
import struct

import pytest

import conftest
import harness
import leakcap
import proxies
from harness import client_script

TARGETS = [("203.0.113.7", "203.0.113.1"), ("fd00:5357:3::7", "fd00:5357:3::1")]


def run_uncaptured_direct(lab, name, cmd):
    """Run cmd in the client namespace without socks5wrap, under a capture
    of its own (not the client fixture's, which would fail this test for
    the leak it provokes on purpose). Returns (result, leaks, everything,
    the fixture's verdict on that capture)."""
    cap = leakcap.LeakCapture(lab.topo, name)
    try:
        r = harness.Client(lab.topo).run_direct(cmd)
    finally:
        leaks, everything = cap.stop()
    return r, leaks, everything, conftest.capture_problems(cap, leaks,
                                                          everything, [])


@pytest.mark.parametrize("dst,peer", TARGETS)
def test_direct_connection_is_a_packet_the_capture_flags(lab, dst, peer):
    # The decoy answers for every address beyond the proxy host: a direct
    # connection fails at once (a reset from the decoy), and only after it
    # left the client as a packet that the capture calls a leak.
    lab.target.mark()
    r, leaks, everything, problems = run_uncaptured_direct(
        lab, "direct-%s" % dst, client_script("tcp_client.py", dst, 7,
                                              "--send", "x"))
    assert r.rc == 0, r
    assert r.json()["result"] == "ECONNREFUSED", r
    assert any("tcp" in l and "-> %s ports" % dst in l
               for l in leaks), everything
    assert problems and "without the proxy" in problems[0], problems
    assert lab.target.peers() == []


@pytest.mark.parametrize("dst", ["203.0.113.7", "fd00:5357:3::7",
                                 "198.18.0.9"])
def test_direct_datagram_is_a_packet_the_capture_flags(lab, dst):
    fam = "AF_INET6" if ":" in dst else "AF_INET"
    code = ("import socket; s=socket.socket(socket.%s, socket.SOCK_DGRAM);"
            "s.sendto(b'leak', (%r, 7))" % (fam, dst))
    r, leaks, everything, problems = run_uncaptured_direct(
        lab, "direct-udp-%s" % dst, [harness.PYTHON, "-c", code])
    assert r.rc == 0, r
    assert any("udp" in l and "-> %s ports" % dst in l
               for l in leaks), everything
    assert problems, everything


def test_unused_port_on_the_proxy_host_is_a_leak(lab):
    # The proxy host itself is no free pass: only the ports of proxies in
    # use are allowed, and port 9 is not one of them.
    r, leaks, everything, problems = run_uncaptured_direct(
        lab, "proxyhost-port", client_script("tcp_client.py", "192.0.2.1",
                                             9, "--send", "x"))
    assert r.rc == 0, r
    assert r.json()["result"] == "ECONNREFUSED", r
    assert any("-> 192.0.2.1 ports" in l and l.endswith("-> 9")
               for l in leaks), everything
    assert problems, everything


def test_direct_curl_from_client_namespace_is_flagged(lab):
    lab.target.mark()
    r, leaks, everything, problems = run_uncaptured_direct(
        lab, "direct-curl", ["curl", "-q", "-sS", "-m", "5",
                             "http://203.0.113.7/"])
    assert r.rc != 0, r
    assert any("-> 203.0.113.7 ports" in l for l in leaks), everything
    assert problems, everything
    assert lab.target.peers() == []


def test_capture_reports_what_the_kernel_dropped(lab):
    cap = leakcap.LeakCapture(lab.topo, "self-test-dropped")
    leaks, everything = cap.stop()
    # tcpdump says how many packets it lost; a capture that does not say
    # fails the client fixture just like one that lost packets.
    assert cap.dropped() == 0, cap.proc.log_text()
    assert conftest.capture_problems(cap, leaks, everything, []) == []


def test_lost_packets_fail_the_capture():
    class Lost:
        path = "x.pcap"

        def dropped(self):
            return 3

        class proc:
            @staticmethod
            def log_text(limit=0):
                return "3 packets dropped by kernel"
    problems = conftest.capture_problems(Lost(), [], [], [])
    assert len(problems) == 1 and "lost packets" in problems[0], problems
    assert leakcap.DROPPED_RE.findall("12 packets captured\n"
                                      "0 packets dropped by kernel") == ["0"]


@pytest.mark.parametrize("proxy_host,port,creds", [
    ("192.0.2.1", proxies.DANTE_NOAUTH_PORT, []),
    ("fd00:5357:1::1", proxies.DANTE_NOAUTH_PORT, []),
    ("192.0.2.1", proxies.DANTE_USER_PORT,
     [proxies.TEST_USER, proxies.TEST_PASSWORD]),
    ("fd00:5357:1::1", proxies.DANTE_USER_PORT,
     [proxies.TEST_USER, proxies.TEST_PASSWORD]),
    ("192.0.2.1", proxies.MICRO_NOAUTH_PORT, []),
    ("192.0.2.1", proxies.MICRO_USER_PORT,
     [proxies.TEST_USER, proxies.TEST_PASSWORD]),
])
@pytest.mark.parametrize("dst,peer", TARGETS)
def test_self_speaking_socks_client_reaches_echo_through_proxy(
        client, proxy_host, port, creds, dst, peer):
    r = client.run_direct(client_script(
        "socks_client.py", proxy_host, port, dst, 7, "ping", *creds))
    assert r.rc == 0, r
    assert r.json() == {"result": "ok", "rep": 0, "received": "ping"}, r
    assert [(w, a) for w, a, _ in client.target_peers()] == [("tcp/7", peer)]


@pytest.mark.parametrize("port", [proxies.DANTE_USER_PORT,
                                  proxies.MICRO_USER_PORT])
def test_self_speaking_socks_client_with_wrong_password_is_rejected(
        client, port):
    r = client.run_direct(client_script(
        "socks_client.py", "192.0.2.1", port, "203.0.113.7", 7, "ping",
        proxies.TEST_USER, "wrong"))
    assert r.rc == 0, r
    assert r.json()["result"] in ("auth rejected", "method 255"), r
    assert client.target_peers() == []


def test_curl_socks5_option_reaches_http_target_via_dante(client):
    r = client.run_direct(["curl", "-q", "-sS", "-m", "10", "--socks5",
                           harness.DANTE, "http://203.0.113.7/"])
    assert r.rc == 0, r
    assert "peer 203.0.113.1 " in r.stdout, r


def test_scripted_server_hello_mode(client, scripted):
    sp = scripted("hello")
    r = client.run_direct(client_script(
        "socks_client.py", "192.0.2.1", sp.port, "203.0.113.7", 80, ""))
    assert r.rc == 0, r
    assert r.json()["received"] == "hello", r
    kinds = [k for k, _ in sp.records()]
    assert kinds == ["greeting", "request"], sp.records()


def test_leak_capture_flags_a_packet_to_another_host(lab):
    cap = leakcap.LeakCapture(lab.topo, "self-test")
    # A datagram to all nodes on the client's own link (link-local
    # multicast: it cannot leave our namespaces) is not traffic with the
    # proxy host, so the capture must call it a leak.
    code = ("import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM);"
            "s.sendto(b'leak', ('ff02::1%%%s', 9))" % lab.topo.if_client)
    r = harness.Client(lab.topo).run_direct([harness.PYTHON, "-c", code])
    leaks, everything = cap.stop()
    assert r.rc == 0, r
    assert any("udp" in l and "ff02::1" in l for l in leaks), everything


def _eth(etype, payload):
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", etype) + payload


def _ip4(src, dst, proto=6, sport=0, dport=0, l4=None):
    if l4 is None:
        l4 = struct.pack("!HH", sport, dport) + b"\x00" * 16
    return (bytes([0x45, 0, 0, 20 + len(l4), 0, 0, 0, 0, 64, proto, 0, 0]) +
            socket.inet_aton(src) + socket.inet_aton(dst) + l4)


def _ip6(src, dst, nxt, sport=0, dport=0, l4=None):
    if l4 is None:
        l4 = struct.pack("!HH", sport, dport) + b"\x00" * 4
    return (b"\x60\x00\x00\x00" + struct.pack("!H", len(l4)) +
            bytes([nxt, 64]) + socket.inet_pton(socket.AF_INET6, src) +
            socket.inet_pton(socket.AF_INET6, dst) + l4)


C4, P4, C6, P6 = "192.0.2.2", "192.0.2.1", "fd00:5357:1::2", "fd00:5357:1::1"


@pytest.mark.parametrize("frame,allowed", [
    (_eth(0x0806, b"\x00" * 28), True),
    # the proxies' ports and dante's relay ports, both directions
    (_eth(0x0800, _ip4(C4, P4, 6, 40000, 1080)), True),
    (_eth(0x0800, _ip4(P4, C4, 6, 1083, 40000)), True),
    (_eth(0x0800, _ip4(C4, P4, 17, 50000, 40123)), True),
    (_eth(0x0800, _ip4(P4, C4, 17, 41999, 50000)), True),
    (_eth(0x86DD, _ip6(C6, P6, 6, 40000, 1081)), True),
    # any other port on the proxy host, or a port on the client's side
    # that happens to be a proxy port, is not
    (_eth(0x0800, _ip4(C4, P4, 6, 40000, 8080)), False),
    (_eth(0x0800, _ip4(C4, P4, 6, 1080, 9)), False),
    (_eth(0x0800, _ip4(C4, P4, 17, 40000, 1080)), False),
    (_eth(0x0800, _ip4(C4, P4, 1, l4=b"\x08\x00" + b"\x00" * 6)), False),
    (_eth(0x86DD, _ip6(C6, P6, 6, 40000, 22)), False),
    # ICMP errors between client and proxy host; nothing else
    (_eth(0x0800, _ip4(P4, C4, 1, l4=b"\x03\x03" + b"\x00" * 6)), True),
    (_eth(0x86DD, _ip6(P6, C6, 58, l4=b"\x01\x04" + b"\x00" * 6)), True),
    (_eth(0x86DD, _ip6(C6, P6, 58, l4=b"\x80\x00" + b"\x00" * 6)), False),
    (_eth(0x0800, _ip4(C4, "203.0.113.7", 1,
                       l4=b"\x08\x00" + b"\x00" * 6)), False),
    # neighbour discovery and MLD, whoever they are for
    (_eth(0x86DD, _ip6("fe80::1", "ff02::1:ff00:1", 58,
                       l4=b"\x87\x00" + b"\x00" * 6)), True),
    (_eth(0x86DD, _ip6(C6, "fd00:5357:1::fe", 58,
                       l4=b"\x88\x00" + b"\x00" * 6)), True),
    (_eth(0x86DD, _ip6("fe80::1", "ff02::16", 58,
                       l4=b"\x8f\x00" + b"\x00" * 6)), True),
    # anyone else, the decoy included
    (_eth(0x0800, _ip4(C4, "203.0.113.7", 6, 40000, 80)), False),
    (_eth(0x0800, _ip4(C4, "192.0.2.254", 6, 40000, 1080)), False),
    (_eth(0x0800, _ip4(C4, "192.0.2.9", 17, 40000, 40000)), False),
    (_eth(0x86DD, _ip6(C6, "fd00:5357:3::7", 6, 40000, 1080)), False),
    (_eth(0x86DD, _ip6("fe80::1", "ff02::fb", 17, 5353, 5353)), False),
    (_eth(0x88CC, b"\x00" * 40), False),
])
def test_leak_classifier(frame, allowed):
    assert leakcap.classify(frame)[0] is allowed


def test_leak_classifier_takes_declared_ports():
    frame = _eth(0x0800, _ip4(C4, P4, 6, 40000, 2001))
    assert leakcap.classify(frame)[0] is False
    assert leakcap.classify(frame, ports=leakcap.STANDARD_PORTS +
                            (("tcp", 2000, 2099),))[0] is True


def test_leak_capture_sees_the_proxy_traffic(lab):
    # Guards against a blind capture (which would pass every leak check).
    cap = leakcap.LeakCapture(lab.topo, "self-test-seen")
    r = harness.Client(lab.topo).run_direct(client_script(
        "socks_client.py", "192.0.2.1", proxies.DANTE_NOAUTH_PORT,
        "203.0.113.7", 7, "ping"))
    leaks, everything = cap.stop()
    assert r.rc == 0, r
    assert leaks == [], everything
    assert any("ports" in p and "-> 1080" in p for p in everything), everything
