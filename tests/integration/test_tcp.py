"""TCP through socks5wrap: real clients, real proxies, and proof that the
target was reached only through the proxy (the target saw the proxy's
address; the leak capture saw only client <-> proxy traffic)."""

import pytest

import topo
from harness import DANTE, DANTE6, MICRO, client_script

TARGET4, TARGET6 = "203.0.113.7", "fd00:5357:3::7"
# What the target sees as the peer when the proxy connects from its side.
PROXY_SIDE = topo.PROXY_SIDE
CURL = ["curl", "-q", "-sS", "-m", "10", "-g"]


def url_of(host, path="/"):
    return "http://%s%s" % ("[%s]" % host if ":" in host else host, path)


def assert_only_proxy_reached(client, dst, port):
    seen = client.target_peers()
    assert seen, "the target saw no connection"
    assert {(w, a) for w, a, _ in seen} == {("tcp/%d" % port, PROXY_SIDE[dst])}, seen


# Every (proxy, destination) pair whose families can meet on the program's
# own socket: an AF_INET6 socket reaches an IPv4 proxy through a mapped
# address, but an AF_INET socket cannot reach an IPv6-only proxy (the
# library keeps the program's socket; see
# test_ipv4_socket_with_ipv6_only_proxy_fails_closed).
PAIRS = [(DANTE, TARGET4), (DANTE, TARGET6), (DANTE6, TARGET6),
         (MICRO, TARGET4), (MICRO, TARGET6)]


@pytest.mark.parametrize("proxy,dst", PAIRS)
def test_curl_fetches_literal_url_through_proxy(client, proxy, dst):
    r = client.run_wrapped(CURL + [url_of(dst)], proxy=proxy)
    assert r.rc == 0, r
    assert "peer %s " % PROXY_SIDE[dst] in r.stdout, r
    assert_only_proxy_reached(client, dst, 80)


def test_curl_takes_proxy_from_environment(client):
    r = client.run_wrapped(CURL + [url_of(TARGET4)], proxy=None,
                           env={"SOCKS5_PROXY": "socks5://" + DANTE})
    assert r.rc == 0, r
    assert "peer 203.0.113.1 " in r.stdout, r
    assert_only_proxy_reached(client, TARGET4, 80)


def test_curl_fetches_a_larger_body_intact(client):
    n = 3 * 1024 * 1024 + 17
    r = client.run_wrapped(["curl", "-q", "-sS", "-m", "20", "-o", "/dev/null",
                            "-w", "%{size_download}",
                            url_of(TARGET6, "/bytes/%d" % n)], proxy=DANTE)
    assert r.rc == 0, r
    assert r.stdout.strip() == str(n), r


@pytest.mark.parametrize("proxy,dst", PAIRS)
def test_python_blocking_echo_and_getpeername(client, proxy, dst):
    r = client.run_wrapped(client_script("tcp_client.py", dst, 7,
                                         "--send", "ping over socks\n"),
                           proxy=proxy)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ok", r
    assert out["received"] == "ping over socks\n", r
    assert out["peer"] == [dst, 7], r
    assert_only_proxy_reached(client, dst, 7)


@pytest.mark.parametrize("proxy", [DANTE, MICRO])
def test_ipv4_mapped_destination_on_an_ipv6_socket(client, proxy):
    # An AF_INET6 socket asking for ::ffff:203.0.113.7: the proxy is asked
    # for the IPv4 address, and the program still sees its own form.
    mapped = "::ffff:" + TARGET4
    r = client.run_wrapped(client_script("tcp_client.py", mapped, 7,
                                         "--send", "mapped\n"),
                           proxy=proxy)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ok", r
    assert out["received"] == "mapped\n", r
    assert out["peer"] == [mapped, 7], r
    assert_only_proxy_reached(client, TARGET4, 7)


@pytest.mark.parametrize("proxy", [DANTE, MICRO])
@pytest.mark.parametrize("dst", [TARGET4, TARGET6])
def test_python_nonblocking_connect_echo(client, proxy, dst):
    r = client.run_wrapped(client_script("tcp_client.py", dst, 7,
                                         "--nonblocking", "--send", "nb\n"),
                           proxy=proxy)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ok", r
    assert out["received"] == "nb\n", r
    assert out["peer"] == [dst, 7], r
    assert_only_proxy_reached(client, dst, 7)


@pytest.mark.parametrize("proxy", [DANTE, MICRO])
@pytest.mark.parametrize("dst", [TARGET4, TARGET6])
def test_python_asyncio_echo(client, proxy, dst):
    r = client.run_wrapped(client_script("asyncio_client.py", dst, 7,
                                         "asyncio says hi\n"), proxy=proxy)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ok", r
    assert out["received"] == "asyncio says hi\n", r
    assert out["peer"][:2] == [dst, 7], r
    assert_only_proxy_reached(client, dst, 7)


def test_ipv4_socket_with_ipv6_only_proxy_fails_closed(client):
    r = client.run_wrapped(client_script("tcp_client.py", TARGET4, 7,
                                         "--send", "x"), proxy=DANTE6)
    assert r.rc == 0, r
    assert r.json()["result"] == "EAFNOSUPPORT", r
    assert "no IPv4 address" in r.stderr, r
    assert client.target_peers() == []


# ncat half-closes when its input ends and waits for the echo server to
# close; dante relays a half-close, microsocks ends both directions.
# (No -i: ncat 7.93 lets an idle timer expire even after the peer's EOF.)
@pytest.mark.parametrize("proxy,dst", [(DANTE, TARGET4), (DANTE, TARGET6),
                                       (DANTE6, TARGET6)])
def test_ncat_echo(client, proxy, dst):
    r = client.run_wrapped(["ncat", "-w", "10", dst, "7"],
                           proxy=proxy, input="ncat line\n")
    assert r.rc == 0, r
    assert r.stdout == "ncat line\n", r
    assert_only_proxy_reached(client, dst, 7)


# TCP Fast Open: sendto()/sendmsg() with MSG_FASTOPEN connect implicitly;
# the library must carry that connection through the proxy to the address
# given, which the target confirms (it saw the proxy, on the right port,
# and echoed the data sent with the connect).
TFO_CODE = r"""
import json, socket, sys
host, port, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(10)
data = b"fast open via " + how.encode() + b"\n"
if how == "sendto":
    n = s.sendto(data, socket.MSG_FASTOPEN, (host, port))
else:
    n = s.sendmsg([data[:5], data[5:]], [], socket.MSG_FASTOPEN, (host, port))
got = b""
while len(got) < len(data):
    chunk = s.recv(100)
    if not chunk:
        break
    got += chunk
print(json.dumps({"sent": n, "echo": got.decode(), "want": data.decode(),
                  "peer": list(s.getpeername()[:2])}))
"""


@pytest.mark.parametrize("how", ["sendto", "sendmsg"])
@pytest.mark.parametrize("dst", [TARGET4, TARGET6])
def test_tcp_fast_open_goes_through_dante_to_the_right_target(client, dst,
                                                              how):
    r = client.run_wrapped(["/usr/bin/python3", "-c", TFO_CODE, dst, "7",
                            how], proxy=DANTE)
    assert r.rc == 0, r
    out = r.json()
    assert out["sent"] == len(out["want"]), r
    assert out["echo"] == out["want"], r
    assert out["peer"] == [dst, 7], r
    assert_only_proxy_reached(client, dst, 7)
