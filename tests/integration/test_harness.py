"""The harness proves itself without socks5wrap: clients that speak SOCKS5
on their own reach the target only through the proxies, the isolation
holds, and the leak capture sees a stray packet."""

import socket
import struct

import pytest

import harness
import leakcap
import proxies
from harness import client_script

TARGETS = [("203.0.113.7", "203.0.113.1"), ("fd00:5357:3::7", "fd00:5357:3::1")]


@pytest.mark.parametrize("dst,peer", TARGETS)
def test_direct_connection_from_client_namespace_is_unreachable(client, dst, peer):
    for port in (7, 80):
        r = client.run_direct(client_script("tcp_client.py", dst, port,
                                            "--send", "x"))
        assert r.rc == 0, r
        assert r.json()["result"] == "ENETUNREACH", r
    assert client.target_peers() == []


def test_direct_curl_from_client_namespace_fails(client):
    r = client.run_direct(["curl", "-q", "-sS", "-m", "5",
                           "http://203.0.113.7/"])
    assert r.rc != 0, r
    assert client.target_peers() == []


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


def _ip4(src, dst, proto=6):
    return (bytes([0x45, 0, 0, 40, 0, 0, 0, 0, 64, proto, 0, 0]) +
            socket.inet_aton(src) + socket.inet_aton(dst) + b"\x00" * 20)


def _ip6(src, dst, nxt):
    return (b"\x60\x00\x00\x00\x00\x08" + bytes([nxt, 64]) +
            socket.inet_pton(socket.AF_INET6, src) +
            socket.inet_pton(socket.AF_INET6, dst) + b"\x00" * 8)


@pytest.mark.parametrize("frame,allowed", [
    (_eth(0x0806, b"\x00" * 28), True),
    (_eth(0x0800, _ip4("192.0.2.2", "192.0.2.1")), True),
    (_eth(0x0800, _ip4("192.0.2.1", "192.0.2.2")), True),
    (_eth(0x0800, _ip4("192.0.2.2", "203.0.113.7")), False),
    (_eth(0x0800, _ip4("192.0.2.2", "192.0.2.9", 17)), False),
    (_eth(0x86DD, _ip6("fd00:5357:1::2", "fd00:5357:1::1", 6)), True),
    (_eth(0x86DD, _ip6("fd00:5357:1::2", "fd00:5357:3::7", 6)), False),
    (_eth(0x86DD, _ip6("fe80::1", "ff02::1:ff00:1", 58)), True),
    (_eth(0x86DD, _ip6("fe80::1", "ff02::fb", 17)), False),
    (_eth(0x88CC, b"\x00" * 40), False),
])
def test_leak_classifier(frame, allowed):
    assert leakcap.classify(frame)[0] is allowed


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
