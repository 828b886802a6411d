"""Pipelined handshake (SOCKS5WRAP_PIPELINE=1, launcher --pipeline):
greeting, authentication and request leave in one write.

Measured here, against the real servers of the lab: dante 1.4.2 accepts
it with and without authentication; microsocks 1.0.3 reads one message
per read and loses what came with the greeting, so the reply never
comes: the connect must then fail with ETIMEDOUT at the deadline and a
log line that names pipelining, never hang.
"""

import pytest

import topo
from harness import DANTE, DANTE_USER, MICRO, MICRO_USER, client_script
from proxies import TEST_PASSWORD, TEST_USER

CREDS = {"SOCKS5_USER": TEST_USER, "SOCKS5_PASSWORD": TEST_PASSWORD}
# The proxy host's address on the target's side: the only peer the echo
# server may see.
PROXY_SIDE4 = topo.PROXY4_T


def echo_client():
    return client_script("tcp_client.py", "203.0.113.7", "7",
                         "--send", "pipelined")


@pytest.mark.parametrize("proxy,env", [(DANTE, {}), (DANTE_USER, CREDS)],
                         ids=["dante", "dante-username"])
def test_dante_accepts_a_pipelined_handshake(client, proxy, env):
    r = client.run_wrapped(echo_client(), proxy=proxy,
                           opts=["--pipeline", "-v"], env=env)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ok", r
    assert out["received"] == "pipelined", r
    assert "ok in" in r.stderr, r
    seen = client.target_peers()
    assert [(w, a) for w, a, _ in seen] == [("tcp/7", PROXY_SIDE4)], seen


@pytest.mark.parametrize("proxy,env", [(MICRO, {}), (MICRO_USER, CREDS)],
                         ids=["microsocks", "microsocks-username"])
def test_a_server_that_loses_the_pipelined_request_gives_a_clear_error(
        client, proxy, env):
    r = client.run_wrapped(echo_client(), proxy=proxy,
                           opts=["--pipeline", "-t", "1.5"], env=env)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ETIMEDOUT", r
    # The deadline, not a hang.
    assert 1.2 <= out["elapsed"] <= 5, r
    assert "may not accept pipelining" in r.stderr, r
    assert client.target_peers() == []


def test_the_same_server_works_without_pipelining(client):
    r = client.run_wrapped(echo_client(), proxy=MICRO)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ok", r
    assert out["received"] == "pipelined", r
    seen = client.target_peers()
    assert [(w, a) for w, a, _ in seen] == [("tcp/7", PROXY_SIDE4)], seen


# ---- optimistic data (SOCKS5WRAP_OPTIMISTIC=1, launcher --optimistic) ------

@pytest.mark.parametrize("nonblocking", [False, True],
                         ids=["blocking", "nonblocking"])
@pytest.mark.parametrize("proxy,env", [(DANTE, {}), (DANTE_USER, CREDS)],
                         ids=["dante", "dante-username"])
def test_optimistic_data_goes_through_dante(client, proxy, env, nonblocking):
    r = client.run_wrapped(
        client_script("tcp_client.py", "203.0.113.7", "7", "--send",
                      "optimistic",
                      *(["--nonblocking"] if nonblocking else [])),
        proxy=proxy, opts=["--optimistic", "-v"], env=env)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ok", r
    assert out["received"] == "optimistic", r
    # Connected before the reply came: the peer is the destination.
    assert out["peer"] == ["203.0.113.7", 7], r
    assert "ok in" in r.stderr, r
    seen = client.target_peers()
    assert [(w, a) for w, a, _ in seen] == [("tcp/7", PROXY_SIDE4)], seen


@pytest.mark.parametrize("rep,errname", [(2, "EACCES"), (4, "EHOSTUNREACH"),
                                         (5, "ECONNREFUSED")])
def test_optimistic_refusal_shows_on_the_first_read(client, scripted, rep,
                                                     errname):
    sp = scripted("rep%d" % rep)
    r = client.run_wrapped(
        client_script("tcp_client.py", "203.0.113.7", "80", "--send", "x"),
        proxy=sp.url, opts=["--optimistic"], env={"SOCKS5WRAP_TIMEOUT": "2"})
    assert r.rc == 0, r
    out = r.json()
    # connect() succeeded; the read gives the reply code's errno.
    assert out["result"] == "io:" + errname, r
    assert client.target_peers() == []


def test_optimistic_data_with_a_server_that_loses_it_fails_clearly(client):
    r = client.run_wrapped(echo_client(), proxy=MICRO,
                           opts=["--optimistic", "-t", "1.5"])
    assert r.rc == 0, r
    out = r.json()
    # The request (and the data behind it) is lost or misread: the first
    # read fails (microsocks 1.0.3 answers with a reply code), never hangs
    # and never passes the proxy's bytes off as the program's.
    assert out["result"].startswith("io:"), r
    assert out["received"] is None, r
    assert client.target_peers() == []
