"""Proxy faults that no real server produces, from socks_script.py in the
proxy namespace: each must end in the documented errno, fail closed (the
target sees nothing, no packet goes elsewhere) and stay within the time
limit."""

import errno
import socket

import pytest

from harness import client_script
from proxies import TEST_PASSWORD, TEST_PASSWORD_URL, TEST_USER

FAST = {"SOCKS5WRAP_TIMEOUT": "2"}

REP_ERRNO = {
    1: "ECONNREFUSED",
    2: "EACCES",
    3: "ENETUNREACH",
    4: "EHOSTUNREACH",
    5: "ECONNREFUSED",
    6: "ETIMEDOUT",
    7: "EOPNOTSUPP",
    8: "EAFNOSUPPORT",
}


def connect_via(client, sp, dst="203.0.113.7", port=80, extra=(), env=None,
                proxy=None, timeout=30):
    r = client.run_wrapped(
        client_script("tcp_client.py", dst, port, *extra),
        proxy=proxy or sp.url, env=dict(FAST, **(env or {})), timeout=timeout)
    assert r.rc == 0, r
    return r, r.json()


def connect_request(dst, port):
    if ":" in dst:
        addr = b"\x04" + socket.inet_pton(socket.AF_INET6, dst)
    else:
        addr = b"\x01" + socket.inet_aton(dst)
    return b"\x05\x01\x00" + addr + port.to_bytes(2, "big")


@pytest.mark.parametrize("rep,errname", sorted(REP_ERRNO.items()))
def test_reply_code_maps_to_errno(client, scripted, rep, errname):
    sp = scripted("rep%d" % rep)
    r, out = connect_via(client, sp)
    # By number: Python names 95 ENOTSUP, which is EOPNOTSUPP on Linux.
    assert out["errno"] == getattr(errno, errname), r
    assert ("request", connect_request("203.0.113.7", 80)) in sp.records()
    assert client.target_peers() == []


@pytest.mark.parametrize("rep", [3, 5])
def test_reply_code_on_nonblocking_socket(client, scripted, rep):
    sp = scripted("rep%d" % rep)
    r, out = connect_via(client, sp, extra=["--nonblocking"])
    assert out["errno"] == getattr(errno, REP_ERRNO[rep]), r
    assert client.target_peers() == []


def test_ipv6_destination_is_sent_as_ipv6_address(client, scripted):
    sp = scripted("rep5")
    r, out = connect_via(client, sp, dst="fd00:5357:3::7", port=7)
    assert out["result"] == "ECONNREFUSED", r
    assert ("request", connect_request("fd00:5357:3::7", 7)) in sp.records()


@pytest.mark.parametrize("mode", ["garbage", "garbage-method", "truncated",
                                  "close-greeting"])
def test_malformed_or_cut_handshake_is_eproto(client, scripted, mode):
    sp = scripted(mode)
    r, out = connect_via(client, sp)
    assert out["result"] == "EPROTO", r
    assert out["elapsed"] < 2.0, r
    assert client.target_peers() == []


@pytest.mark.parametrize("nonblocking", [False, True])
def test_stalled_proxy_times_out_at_the_deadline(client, scripted, nonblocking):
    sp = scripted("stall")
    r, out = connect_via(client, sp, env={"SOCKS5WRAP_TIMEOUT": "1"},
                         extra=["--nonblocking"] if nonblocking else [])
    assert out["result"] == "ETIMEDOUT", r
    assert 0.8 <= out["elapsed"] <= 5.0, r
    assert client.target_peers() == []


def test_timeout_option_of_launcher(client, scripted):
    sp = scripted("stall")
    r = client.run_wrapped(client_script("tcp_client.py", "203.0.113.7", 80),
                           proxy=sp.url, opts=["-t", "0.5"], timeout=30)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ETIMEDOUT", r
    assert 0.3 <= out["elapsed"] <= 4.0, r


def test_no_acceptable_method_is_eacces(client, scripted):
    sp = scripted("method-ff")
    r, out = connect_via(client, sp)
    assert out["result"] == "EACCES", r
    assert client.target_peers() == []


def test_rejected_credentials_are_eacces(client, scripted):
    sp = scripted("auth-reject")
    r, out = connect_via(client, sp, env={"SOCKS5_USER": TEST_USER,
                                          "SOCKS5_PASSWORD": TEST_PASSWORD})
    assert out["result"] == "EACCES", r
    assert client.target_peers() == []


def test_credentials_reach_the_server_decoded(client, scripted):
    sp = scripted("auth-ok")
    url = "socks5://%s:%s@%s" % (TEST_USER, TEST_PASSWORD_URL, sp.url)
    r, out = connect_via(client, sp, proxy=url, extra=["--read-all"])
    assert out["result"] == "ok", r
    assert out["received"] == "hello", r
    u, p = TEST_USER.encode(), TEST_PASSWORD.encode()
    auth = b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p
    assert ("auth", auth) in sp.records()
    greeting = [d for k, d in sp.records() if k == "greeting"][0]
    assert greeting[0] == 5 and 2 in greeting[2:], greeting


def test_closed_proxy_port_is_econnrefused_fast(client):
    # Nothing listens on 192.0.2.1:1999: the proxy host answers with RST.
    r = client.run_wrapped(client_script("tcp_client.py", "203.0.113.7", 80),
                           proxy="192.0.2.1:1999", env=FAST)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ECONNREFUSED", r
    assert out["elapsed"] < 1.0, r
    assert client.target_peers() == []


@pytest.mark.parametrize("nonblocking", [False, True])
def test_bytes_after_the_reply_belong_to_the_program(client, scripted,
                                                     nonblocking):
    # The reply and "hello" arrive in one segment: a library that reads
    # more than the reply would swallow the program's first bytes.
    sp = scripted("hello")
    extra = ["--read-all"] + (["--nonblocking"] if nonblocking else [])
    r, out = connect_via(client, sp, extra=extra)
    assert out["result"] == "ok", r
    assert out["received"] == "hello", r
    assert out["peer"] == ["203.0.113.7", 80], r
