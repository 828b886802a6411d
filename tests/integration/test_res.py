"""The res_* resolver functions (res_query, res_search, res_querydomain,
res_send and the res_n* forms) under socks5wrap.

glibc sends their queries through internal calls a preload cannot see;
the library sends them itself, routed like the program's own datagrams.
The name server here is dnsmasq at 203.0.113.53 (dnsenv.py), which only
the proxy host can reach: an answer proves the query went through the
proxy. The `client` fixture also fails a test when the client's own
resolver (the trap) heard a query or anything but SOCKS traffic left the
client's namespace. The program is clients/res_client.c, built here; it
sets the name server in the resolver state (_res) itself.
"""

import os
import shutil
import subprocess

import pytest

import dnsenv
from harness import DANTE, MICRO

CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients")
NS = "--ns=%s" % dnsenv.DNS4          # see res_client's --ns
SILENT_NS = "203.0.113.99"            # nobody there: queries go unanswered
HOST_NOT_FOUND, TRY_AGAIN, NO_DATA = 1, 2, 4


@pytest.fixture(scope="module")
def res_bin(tmp_path_factory):
    cc = shutil.which("cc")
    assert cc, "no C compiler (cc) to build clients/res_client.c"
    out = str(tmp_path_factory.mktemp("res-cc") / "res_client")
    cp = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", out,
                         os.path.join(CLIENTS, "res_client.c"), "-lresolv"],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return out


def res(client, res_bin, *args, proxy=DANTE, opts=("-v",), env=None,
        timeout=30):
    """Runs res_client ARGS under the launcher; (Result, its JSON)."""
    argv = [res_bin]
    for a in args:
        argv += a.split("=", 1) if a.startswith("--") and "=" in a else [a]
    r = client.run_wrapped(argv, proxy=proxy, opts=list(opts), env=env,
                           timeout=timeout)
    assert r.rc == 0, r
    return r, r.json()


def dnsmasq_saw(client, before, what):
    """Lines of dnsmasq's log after offset before that contain what."""
    log = client.lab.dns.dnsmasq.log_text(limit=1 << 20)[before:]
    return [l for l in log.splitlines() if what in l]


def dnsmasq_mark(client):
    return len(client.lab.dns.dnsmasq.log_text(limit=1 << 20))


# ---- answers through the proxy ---------------------------------------------

@pytest.mark.parametrize("name,rtype,want", [
    ("www.test", "MX", ["10 mail.test"]),
    ("txt.test", "TXT", [dnsenv.TXT_TEXT]),
    ("www.test", "A", ["203.0.113.7"]),
])
def test_res_query_is_answered_through_the_udp_relay(client, res_bin, name,
                                                     rtype, want):
    mark = dnsmasq_mark(client)
    r, out = res(client, res_bin, NS, "query", name, rtype)
    assert out["rc"] > 0 and out["answers"] == want, r
    assert out["rcode"] == 0 and out["tc"] == 0, r
    assert "res_query %s %s: %s:53 through the proxy (udp relay): " \
        "NOERROR" % (name, rtype, dnsenv.DNS4) in r.stderr, r
    # The name server heard it from the proxy host, not from the client.
    seen = dnsmasq_saw(client, mark, "query[%s] %s from" % (rtype, name))
    assert seen and all(l.rstrip().endswith(" from 203.0.113.1")
                        for l in seen), seen


@pytest.mark.parametrize("op", ["nquery", "send", "nsend"])
def test_other_forms_take_the_same_way(client, res_bin, op):
    r, out = res(client, res_bin, NS, op, "www.test", "MX")
    assert out["rc"] > 0 and out["answers"] == ["10 mail.test"], r
    assert "through the proxy (udp relay)" in r.stderr, r


def test_res_search_appends_the_search_domain(client, res_bin):
    mark = dnsmasq_mark(client)
    r, out = res(client, res_bin, NS, "--search=test", "search", "www",
                 "MX")
    assert out["answers"] == ["10 mail.test"], r
    # glibc's order for a dotless name: www.test first, and found.
    assert dnsmasq_saw(client, mark, "query[MX] www.test from"), r
    assert not dnsmasq_saw(client, mark, "query[MX] www from"), r


def test_res_querydomain_joins_name_and_domain(client, res_bin):
    r, out = res(client, res_bin, NS, "querydomain", "txt", "TXT", "test")
    assert out["answers"] == [dnsenv.TXT_TEXT], r


def test_truncated_reply_is_asked_again_over_tcp_through_the_proxy(
        client, res_bin):
    r, out = res(client, res_bin, NS, "query", "big.test", "TXT")
    assert out["rc"] > 512 and out["tc"] == 0, r
    assert out["answers"] == ["".join(dnsenv.BIG_TXT)], r
    assert "res_query big.test TXT: %s:53 through the proxy (tcp)" % \
        dnsenv.DNS4 in r.stderr, r
    # dante connected to the name server for us.
    assert "203.0.113.53.53" in client.proxy_log("dante"), \
        client.proxy_log("dante")[-2000:]


def test_usevc_asks_over_tcp_from_the_start(client, res_bin):
    r, out = res(client, res_bin, NS, "--usevc", "query", "www.test", "MX")
    assert out["answers"] == ["10 mail.test"], r
    assert "through the proxy (tcp)" in r.stderr, r
    assert "udp associate" not in r.stderr, r


def test_proxy_without_udp_gets_the_query_over_tcp(client, res_bin):
    # microsocks refuses UDP ASSOCIATE: TCP through it, never direct.
    r, out = res(client, res_bin, NS, "query", "www.test", "MX",
                 proxy=MICRO)
    assert out["answers"] == ["10 mail.test"], r
    assert "through the proxy (tcp)" in r.stderr, r


# ---- failures: glibc's h_errno, nothing sent any other way ----------------

def test_nxdomain_gives_host_not_found(client, res_bin):
    r, out = res(client, res_bin, NS, "query", "nosuch.test", "MX")
    assert out["rc"] == -1 and out["h_errno"] == HOST_NOT_FOUND, r
    assert out["rcode"] == 3, r


def test_empty_answer_gives_no_data(client, res_bin):
    r, out = res(client, res_bin, NS, "query", "txt.test", "MX")
    assert out["rc"] == -1 and out["h_errno"] == NO_DATA, r


def test_silent_server_times_out_with_try_again(client, res_bin):
    # retrans 1 s, 2 tries: glibc gives up after 2 s, and so must we.
    r, out = res(client, res_bin, "--ns=%s" % SILENT_NS, "--retrans=1",
                 "--retry=2", "query", "www.test", "MX")
    assert out["rc"] == -1 and out["h_errno"] == TRY_AGAIN, r
    assert 1900 <= out["ms"] <= 3500, r
    assert "res_query www.test MX: no answer" in r.stderr, r


def test_unreachable_proxy_fails_without_a_direct_query(client, res_bin):
    # Nothing listens at the proxy port: the query fails; it is never
    # sent to the name server directly (the capture would see it).
    r, out = res(client, res_bin, NS, "--retrans=1", "--retry=1", "query",
                 "www.test", "MX", proxy="192.0.2.1:1999")
    assert out["rc"] == -1 and out["h_errno"] == TRY_AGAIN, r
    assert "not sent any other way" in r.stderr, r


@pytest.mark.local_dns
def test_local_mode_leaves_the_query_to_libc(client, res_bin):
    # --dns=local: libc's resolver asks resolv.conf's server (the trap)
    # directly, which is what that mode means.
    r, out = res(client, res_bin, "query", "www.test", "MX",
                 opts=["-v", "--dns=local"])
    assert out["rc"] == -1 and out["h_errno"] == HOST_NOT_FOUND, r
    queries = client.trap_queries()
    assert {q["name"] for q in queries} == {"www.test"}, queries
    assert "res_query" not in r.stderr, r
