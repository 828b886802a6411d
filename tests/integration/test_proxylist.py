"""Proxy lists end to end: failover to the next proxy, chains of proxies,
and the proxy taken from curl's ALL_PROXY / NO_PROXY.

Each test proves the path by what the servers saw, not by the program's
word alone: the target's peer (the proxy host's address when a proxy
connected), the proxies' own logs (dante writes ADDR.PORT, microsocks
"client[N] ADDR: connected to HOST:PORT"), a scripted proxy's records,
and the client fixture's leak capture (nothing but traffic with the proxy
host's client side left the client).

Chains need proxies the client cannot reach: a dante and a microsocks of
this module listen on the proxy host's target side (203.0.113.1,
fd00:5357:3::1), where only the first proxy of the chain can connect.
"""

import errno
import os
import re
import shlex
import signal
import time

import pytest

import ftp_target
import proxies
import topo
from harness import DANTE, MICRO, PYTHON, client_script
from proxies import TEST_PASSWORD_URL, TEST_USER

TARGET4, TARGET6 = "203.0.113.7", "fd00:5357:3::7"
PROXY_SIDE = topo.PROXY_SIDE
CLOSED = "192.0.2.1:1999"          # conftest: nothing listens there
CURL = ["curl", "-q", "-sS", "-m", "10", "-g"]
ECHO = 7

# Servers of this module on the proxy host's target side.
IN_DANTE, IN_DANTE_USER, IN_MICRO, IN_MICRO_USER, IN_MICRO6 = (
    3080, 3081, 3082, 3083, 3084)
IN_CLOSED = 3999                   # nothing listens there
KILL_MICRO = 3090                  # a private microsocks on the client side
# A name only the proxy host resolves (its /etc/hosts), for a chain's
# second hop: IPv4 only, as microsocks listens on one address.
HOP_NAME = "hop.proxylist.test"


def cred(hostport):
    return "socks5://%s:%s@%s" % (TEST_USER, TEST_PASSWORD_URL, hostport)


def in4(port):
    return "%s:%d" % (topo.PROXY4_T, port)


def in6(port):
    return "[%s]:%d" % (topo.PROXY6_T, port)


def dotted(hostport):
    """dante's way of writing an address: ADDR.PORT."""
    host, _, port = hostport.rpartition(":")
    return "%s.%s" % (host.strip("[]"), port)


class LogWindow:
    """What a server appends to its log file from now on."""

    def __init__(self, path):
        self.path = path
        self.start = self._size()

    def _size(self):
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def text(self, settle=0.3):
        # The servers write after the client already got its answer.
        time.sleep(settle)
        try:
            with open(self.path, "rb") as f:
                f.seek(self.start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def window(server):
    """A LogWindow on a proxies.Dante or proxies.Microsocks."""
    if isinstance(server, proxies.Dante):
        return LogWindow(server.log_path)
    return LogWindow(server.proc.log_path)


def asked(sp):
    """The kinds of message a scripted proxy received (no notes)."""
    return [k for k, _ in sp.records() if k != "note"]


def unmapped(hostport):
    """192.0.2.1:1080 for [::ffff:192.0.2.1]:1080 (an IPv6 socket reaches
    an IPv4 proxy at its mapped address, and the log says so)."""
    return re.sub(r"^\[::ffff:([0-9.]+)\]", r"\1", hostport)


def micro_saw(text, src, dst_host, dst_port):
    """Did microsocks log a connection from src to dst_host:dst_port?"""
    return re.search(r"client\[\d+\] %s: connected to %s:%d\b" % (
        re.escape(src), re.escape(dst_host), dst_port), text) is not None


def run(client, cmd, proxy_list, env=None, chain=False, timeout=30,
        input=None):
    """cmd under the launcher with SOCKS5_PROXY=proxy_list (a list is
    joined with commas; None leaves SOCKS5_PROXY unset)."""
    e = {"SOCKS5WRAP_LOG": "info"}
    if proxy_list is not None:
        e["SOCKS5_PROXY"] = (proxy_list if isinstance(proxy_list, str)
                             else ",".join(proxy_list))
    if chain:
        e["SOCKS5WRAP_CHAIN"] = "1"
    e.update(env or {})
    return client.run_wrapped(cmd, proxy=None, env=e, timeout=timeout,
                              input=input)


def echo(dst, text="over the list\n", *extra):
    return client_script("tcp_client.py", dst, ECHO, "--send", text, *extra)


def assert_echo_ok(r, text="over the list\n"):
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ok", r
    assert out["received"] == text, r
    return out


def assert_target_saw(client, peers, what="tcp/%d" % ECHO, count=None):
    seen = client.target_peers()
    assert seen, "the target saw nothing"
    assert {(w, a) for w, a, _ in seen} <= {(what, p) for p in peers}, seen
    if count is not None:
        assert len(seen) == count, seen


# ---- servers of this module ----

@pytest.fixture(scope="module")
def inner(lab):
    """dante (no auth, username) and microsocks (no auth, -u/-P, and one on
    the IPv6 address) on the proxy host's target side, and HOP_NAME in the
    proxy host's /etc/hosts."""
    hosts = os.path.join(topo.ETC_NETNS, lab.topo.proxy, "hosts")
    with open(hosts) as f:
        saved = f.read()
    # In place: `ip netns exec` bind-mounted this very file over /etc/hosts
    # of the running servers, and glibc reads it at every lookup.
    with open(hosts, "a") as f:
        f.write("%s %s\n" % (topo.PROXY4_T, HOP_NAME))
    t = lab.topo
    both = (topo.PROXY4_T, topo.PROXY6_T)
    servers = {}
    try:
        servers["dante"] = proxies.Dante(
            t, "in-dante", IN_DANTE, "none", "44000-44099", 300, both)
        servers["dante-user"] = proxies.Dante(
            t, "in-dante-user", IN_DANTE_USER, "username", "44100-44199",
            300, both)
        servers["micro"] = proxies.Microsocks(t, "in-micro", IN_MICRO,
                                              lifetime=300,
                                              host=topo.PROXY4_T)
        servers["micro-user"] = proxies.Microsocks(
            t, "in-micro-user", IN_MICRO_USER, TEST_USER,
            proxies.TEST_PASSWORD, lifetime=300, host=topo.PROXY4_T)
        servers["micro6"] = proxies.Microsocks(t, "in-micro6", IN_MICRO6,
                                               lifetime=300,
                                               host=topo.PROXY6_T)
        yield servers
    finally:
        for s in servers.values():
            if isinstance(s, proxies.Dante):
                s.stop()
            else:
                s.proc.stop()
        with open(hosts, "w") as f:
            f.write(saved)


# ---- 1. failover ----

def test_closed_first_proxy_fails_over_to_dante_curl(client):
    dante = window(client.lab.proxies["dante"])
    r = run(client, CURL + ["http://%s/" % TARGET4], [CLOSED, DANTE])
    assert r.rc == 0, r
    assert "peer %s " % PROXY_SIDE[TARGET4] in r.stdout, r
    assert_target_saw(client, {PROXY_SIDE[TARGET4]}, what="tcp/80", count=1)
    log = dante.text()
    assert "%s.80" % TARGET4 in log, log
    # The failover is said, naming both proxies.
    assert re.search(r"192\.0\.2\.1:1999.*192\.0\.2\.1:1080", r.stderr), r
    assert re.search(r"connect %s:80 via (\[::ffff:)?192\.0\.2\.1\]?:1080: "
                     r"ok" % re.escape(TARGET4), r.stderr), r


def test_closed_first_proxy_fails_over_to_dante_ncat(client):
    dante = window(client.lab.proxies["dante"])
    r = run(client, ["ncat", "-w", "5", TARGET6, str(ECHO)],
            [CLOSED, DANTE], timeout=20, input="ncat over the list\n")
    assert r.rc == 0, r
    assert r.stdout == "ncat over the list\n", r
    assert_target_saw(client, {PROXY_SIDE[TARGET6]}, count=1)
    assert "%s.%d" % (TARGET6, ECHO) in dante.text()


def test_stalled_first_proxy_fails_over_after_the_timeout(client, scripted):
    sp = scripted("stall")
    r = run(client, echo(TARGET4), [sp.url, DANTE],
            env={"SOCKS5WRAP_TIMEOUT": "1"})
    out = assert_echo_ok(r)
    # The stalled proxy had its full second, no more than a few.
    assert 0.8 <= out["elapsed"] <= 3.5, r
    assert asked(sp) == ["greeting"], sp.records()
    assert_target_saw(client, {PROXY_SIDE[TARGET4]}, count=1)
    assert sp.url in r.stderr and "192.0.2.1:1080" in r.stderr, r


def test_each_silent_proxy_gets_the_full_timeout(client, scripted):
    a, b = scripted("stall"), scripted("stall")
    r = run(client, echo(TARGET4), [a.url, b.url, DANTE],
            env={"SOCKS5WRAP_TIMEOUT": "1"})
    out = assert_echo_ok(r)
    assert 1.8 <= out["elapsed"] <= 4.5, r
    assert asked(a) == ["greeting"] and asked(b) == ["greeting"], (
        a.records(), b.records())
    assert_target_saw(client, {PROXY_SIDE[TARGET4]}, count=1)


def test_a_proxy_of_the_other_family_is_passed_over(client):
    # An AF_INET socket cannot reach an IPv6-only proxy: the list goes on
    # to the next, without a timeout.
    r = run(client, echo(TARGET4), ["[fd00:5357:1::1]:1080", DANTE])
    out = assert_echo_ok(r)
    assert out["elapsed"] < 1.0, r
    assert_target_saw(client, {PROXY_SIDE[TARGET4]}, count=1)
    assert re.search(r"via 192\.0\.2\.1:1080: ok", r.stderr), r


def test_eight_proxies_blanks_ignored_the_last_one_carries(client):
    # Seven closed ports of the proxy host (each answers with a reset),
    # written with blanks and empty entries around them.
    client.capture.allow("tcp", 1992, 1998)
    closed = ["192.0.2.1:%d" % p for p in range(1992, 1999)]
    listed = " , ".join(closed[:3]) + ", ,," + " ,".join(closed[3:]) + \
        " , %s ,  " % DANTE
    r = run(client, echo(TARGET4), listed)
    out = assert_echo_ok(r)
    assert out["elapsed"] < 2.0, r
    assert_target_saw(client, {PROXY_SIDE[TARGET4]}, count=1)
    for c in closed:
        assert c in r.stderr, r


def test_nine_proxies_are_refused(client):
    listed = ",".join(["192.0.2.1:%d" % p for p in range(1991, 1999)] +
                      [DANTE])
    r = run(client, echo(TARGET4), listed)
    # The launcher refuses the configuration, or the program runs and its
    # connection is refused; either way nothing goes anywhere.
    assert r.rc != 0 or r.json()["result"] != "ok", r
    assert re.search(r"at most 8|9 proxies", r.stderr), r
    assert client.target_peers() == []


# Connects to HOST PORT once per line on stdin ("go"), echoes a line and
# prints one JSON line per connection; ends at "end" or EOF (bounded).
TWICE = r"""
import json, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
for n in range(10):
    line = sys.stdin.readline().strip()
    if line != "go":
        break
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.settimeout(10)
    try:
        s.connect((host, port))
        s.sendall(b"conn %d\n" % n)
        got = s.recv(100).decode()
        print(json.dumps({"n": n, "result": "ok", "received": got}),
              flush=True)
    except OSError as e:
        print(json.dumps({"n": n, "result": str(e)}), flush=True)
    finally:
        s.close()
"""


def test_proxy_killed_mid_run_the_next_connection_fails_over(client):
    t = client.lab.topo
    own = proxies.Microsocks(t, "kill-micro", KILL_MICRO, lifetime=60)
    own_log = window(own)
    dante = window(client.lab.proxies["dante"])
    url = "%s:%d" % (topo.PROXY4_C, KILL_MICRO)
    prog = client.start_wrapped(
        [PYTHON, "-c", TWICE, TARGET4, str(ECHO)], proxy=None,
        env={"SOCKS5_PROXY": "%s,%s" % (url, DANTE),
             "SOCKS5WRAP_LOG": "info"}, lifetime=60)
    try:
        first = prog.ask("go")
        assert first == {"n": 0, "result": "ok", "received": "conn 0\n"}, \
            prog.transcript
        text = own_log.text()
        assert micro_saw(text, topo.CLIENT4, TARGET4, ECHO), text
        assert "%s.%d" % (TARGET4, ECHO) not in dante.text(0), "dante too"
        # By its pid (the timeout(1) wrapper, which passes SIGTERM on).
        own.proc.stop(sig=signal.SIGTERM)
        second = prog.ask("go")
        assert second == {"n": 1, "result": "ok", "received": "conn 1\n"}, \
            prog.transcript
        prog.send("end")
    finally:
        res = prog.finish()
        own.proc.stop()
    assert res.rc == 0, res
    assert "%s.%d" % (TARGET4, ECHO) in dante.text(), res
    assert_target_saw(client, {PROXY_SIDE[TARGET4]}, count=2)
    assert url in res.stderr, res


@pytest.mark.parametrize("how", ["launcher", "preload"])
def test_a_process_tree_pays_the_timeout_once(client, scripted, how):
    timeout = 2
    sp = scripted("stall")
    one = " ".join(shlex.quote(a) for a in echo(TARGET4, "tree\n"))
    script = "for i in 1 2 3 4; do %s || exit 1; done" % one
    env = {"SOCKS5WRAP_TIMEOUT": str(timeout)}
    t0 = time.monotonic()
    if how == "launcher":
        r = run(client, ["sh", "-c", script], [sp.url, DANTE], env=env,
                timeout=60)
    else:
        # No launcher: the tree is whatever shares the preloaded library
        # from one first process (sh) down.
        env.update(SOCKS5WRAP_LOG="info",
                   SOCKS5_PROXY="%s,%s" % (sp.url, DANTE))
        r = client.run_preloaded(["sh", "-c", script], env, timeout=60)
    wall = time.monotonic() - t0
    assert r.rc == 0, r
    outs = [l for l in r.stdout.splitlines() if l.startswith("{")]
    assert len(outs) == 4, r
    assert all('"result": "ok"' in l and '"received": "tree\\n"' in l
               for l in outs), r
    # Only the first process knocked at the stalled proxy; the others knew
    # it was dead and went to dante first.
    assert asked(sp) == ["greeting"], sp.records()
    assert wall < 2 * timeout + 6, r
    assert_target_saw(client, {PROXY_SIDE[TARGET4]}, count=4)


def test_a_proxy_that_answers_with_a_reply_code_is_not_skipped(client,
                                                               scripted):
    sp = scripted("rep5")
    dante = window(client.lab.proxies["dante"])
    r = run(client, echo(TARGET4), [sp.url, DANTE],
            env={"SOCKS5WRAP_TIMEOUT": "2"})
    assert r.rc == 0, r
    assert r.json()["errno"] == errno.ECONNREFUSED, r
    assert asked(sp) == ["greeting", "request"], sp.records()
    assert client.target_peers() == []
    log = dante.text()
    assert "%s.%d" % (TARGET4, ECHO) not in log, log


@pytest.mark.parametrize("mode,errname", [("method-ff", "EACCES"),
                                           ("garbage-method", "EPROTO")])
def test_a_proxy_that_answered_the_greeting_is_not_skipped(client, scripted,
                                                           mode, errname):
    # It is there and said something, if only no or nonsense: the list
    # does not hide a proxy that misbehaves.
    sp = scripted(mode)
    dante = window(client.lab.proxies["dante"])
    r = run(client, echo(TARGET4), [sp.url, DANTE])
    assert r.rc == 0, r
    assert r.json()["result"] == errname, r
    assert asked(sp) == ["greeting"], sp.records()
    assert client.target_peers() == []
    assert "%s.%d" % (TARGET4, ECHO) not in dante.text()


def test_rejected_credentials_are_not_skipped(client, scripted):
    sp = scripted("auth-reject")
    dante = window(client.lab.proxies["dante"])
    r = run(client, echo(TARGET4), [cred(sp.url), DANTE])
    assert r.rc == 0, r
    assert r.json()["errno"] == errno.EACCES, r
    assert client.target_peers() == []
    assert "%s.%d" % (TARGET4, ECHO) not in dante.text()


# A non-blocking connect driven by select(), as event loops do.
SELECT_CONNECT = r"""
import errno, json, select, socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.setblocking(False)
t0 = time.monotonic()
rc = s.connect_ex((host, port))
if rc == errno.EINPROGRESS:
    for _ in range(200):
        _, w, _ = select.select([], [s], [], 0.1)
        if w:
            break
    rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
out = {"result": errno.errorcode.get(rc, "ok") if rc else "ok",
       "elapsed": round(time.monotonic() - t0, 3)}
if rc == 0:
    s.setblocking(True)
    s.settimeout(10)
    s.sendall(b"selected\n")
    out["received"] = s.recv(100).decode()
print(json.dumps(out))
"""


@pytest.mark.parametrize("first", ["closed", "stall"])
@pytest.mark.parametrize("how", ["blocking", "poll", "select", "curl"])
def test_failover_for_blocking_and_nonblocking_connects(client, scripted,
                                                        first, how):
    url = CLOSED if first == "closed" else scripted("stall").url
    env = {"SOCKS5WRAP_TIMEOUT": "1"}
    if how == "curl":
        r = run(client, CURL + ["http://%s/" % TARGET4], [url, DANTE],
                env=env)
        assert r.rc == 0, r
        assert "peer %s " % PROXY_SIDE[TARGET4] in r.stdout, r
        assert_target_saw(client, {PROXY_SIDE[TARGET4]}, what="tcp/80",
                          count=1)
        return
    if how == "select":
        r = run(client, [PYTHON, "-c", SELECT_CONNECT, TARGET4, str(ECHO)],
                [url, DANTE], env=env)
        assert r.rc == 0, r
        out = r.json()
        assert out["result"] == "ok", r
        assert out["received"] == "selected\n", r
    else:
        extra = ["--nonblocking"] if how == "poll" else []
        r = run(client, echo(TARGET4, "over the list\n", *extra),
                [url, DANTE], env=env)
        out = assert_echo_ok(r)
    if first == "stall":
        assert out["elapsed"] >= 0.8, r
    assert_target_saw(client, {PROXY_SIDE[TARGET4]}, count=1)


@pytest.mark.parametrize("dst", [TARGET4, TARGET6])
def test_udp_association_fails_over(client, dst):
    r = run(client, client_script("udp_client.py", "sendto", dst, ECHO,
                                  "udp over the list"), [CLOSED, DANTE])
    assert r.rc == 0, r
    out = r.json()
    assert out.get("src") == [dst, ECHO], r
    head, _, payload = out["reply"].partition("\n")
    assert payload == "udp over the list", r
    assert head.split()[1] == PROXY_SIDE[dst], r
    assert_target_saw(client, {PROXY_SIDE[dst]}, what="udp/%d" % ECHO,
                      count=1)


def test_dig_fails_over_for_udp(client):
    dns = client.lab.dns.dnsmasq
    before = len(dns.log_text(limit=1 << 20))
    r = run(client, ["dig", "+short", "+tries=1", "+time=3", "@203.0.113.53",
                     "www.test", "A"], [CLOSED, DANTE], timeout=20)
    assert r.rc == 0, r
    assert r.stdout.split() == [TARGET4], r
    log = dns.log_text(limit=1 << 20)[before:]
    assert "query[A] www.test from 203.0.113.1" in log, log


# ---- 2. chains ----

# (id, first proxy URL, name of the first proxy's server in lab.proxies,
#  second hop URL, name of the second in `inner`, the address the second
#  sees the first connect from)
CHAINS = [
    ("dante>micro", DANTE, "dante", in4(IN_MICRO), "micro", topo.PROXY4_T),
    ("micro>dante", MICRO, "micro", in4(IN_DANTE), "dante", topo.PROXY4_T),
    ("dante-user>micro-user", cred("192.0.2.1:1081"),
     "dante-user", cred(in4(IN_MICRO_USER)), "micro-user", topo.PROXY4_T),
    ("micro-user>dante-user", cred("192.0.2.1:1083"), "micro-user",
     cred(in4(IN_DANTE_USER)), "dante-user", topo.PROXY4_T),
    ("dante>micro-user", DANTE, "dante", cred(in4(IN_MICRO_USER)),
     "micro-user", topo.PROXY4_T),
    ("dante-user>micro", cred("192.0.2.1:1081"), "dante-user",
     in4(IN_MICRO), "micro", topo.PROXY4_T),
    ("dante>micro-by-name", DANTE, "dante", "%s:%d" % (HOP_NAME, IN_MICRO),
     "micro", topo.PROXY4_T),
    ("micro>dante-by-name", MICRO, "micro", "%s:%d" % (HOP_NAME, IN_DANTE),
     "dante", topo.PROXY4_T),
    ("dante>micro6", DANTE, "dante", in6(IN_MICRO6), "micro6",
     topo.PROXY6_T),
    ("micro>dante6", MICRO, "micro", in6(IN_DANTE), "dante", topo.PROXY6_T),
]
TARGETS = [TARGET4, TARGET6, "www.test"]


def second_saw(server, text, src, dst, port):
    """Did the chain's second proxy log a connection from src to dst?"""
    if isinstance(server, proxies.Dante):
        # "tcp/connect [: SRC.PORT ... -> ... DST.PORT" on one line; dante
        # writes the address it resolved a name to.
        want = (TARGET4, TARGET6) if dst == "www.test" else (dst,)
        return any(re.search(r"[ @]%s\.\d+ " % re.escape(src), line) and
                   any("%s.%d" % (w, port) in line for w in want)
                   for line in text.splitlines())
    return micro_saw(text, src, dst, port)


def first_saw_second(server, text, hop):
    """Did the chain's first proxy log its connection to the second?"""
    if HOP_NAME in hop:
        host = topo.PROXY4_T
        port = int(hop.rpartition(":")[2])
    else:
        hp = hop.rpartition("@")[2]
        host, _, p = hp.rpartition(":")
        host, port = host.strip("[]"), int(p)
    if isinstance(server, proxies.Dante):
        return ("%s.%d" % (host, port) in text or
                "%s.%d" % (HOP_NAME, port) in text)
    return micro_saw(text, topo.CLIENT4, host, port) or \
        micro_saw(text, topo.CLIENT4, HOP_NAME, port)


@pytest.mark.parametrize("dst", TARGETS)
@pytest.mark.parametrize("case", CHAINS, ids=[c[0] for c in CHAINS])
def test_two_proxy_chain(client, inner, case, dst):
    _, url1, name1, url2, name2, seen_from = case
    first = client.lab.proxies[name1]
    second = inner[name2]
    w1, w2 = window(first), window(second)
    r = run(client, echo(dst), [url1, url2], chain=True)
    out = assert_echo_ok(r)
    if dst != "www.test":
        assert out["peer"] == [dst, ECHO], r
        peers = {PROXY_SIDE[dst]}
    else:
        # dnsmasq gives both families; the last proxy picks one.
        peers = set(PROXY_SIDE.values())
    assert_target_saw(client, peers, count=1)
    t1, t2 = w1.text(), w2.text()
    assert first_saw_second(first, t1, url2), t1
    assert second_saw(second, t2, seen_from, dst, ECHO), t2
    # The chain is named in the log line of the connection.
    m = re.search(r"connect (\S+) via (\S+) -> (\S+): ok", r.stderr)
    assert m, r.stderr
    assert unmapped(m.group(2)) == url1.rpartition("@")[2], r.stderr
    assert m.group(3) == url2.rpartition("@")[2], r.stderr


def test_name_target_is_resolved_by_the_last_proxy(client, inner):
    # The first proxy (dante) never sees the name: it only connects to the
    # second; the second (microsocks) asks for www.test itself. The
    # client's resolver trap got nothing (the client fixture checks).
    w1, w2 = window(client.lab.proxies["dante"]), window(inner["micro"])
    r = run(client, CURL + ["http://www.test/"], [DANTE, in4(IN_MICRO)],
            chain=True)
    assert r.rc == 0, r
    assert "peer %s " % topo.PROXY4_T in r.stdout or \
        "peer %s " % topo.PROXY6_T in r.stdout, r
    assert "www.test" not in w1.text(), "the first proxy saw the name"
    assert micro_saw(w2.text(), topo.PROXY4_T, "www.test", 80), w2.text()
    assert client.trap_queries() == []


def test_three_proxy_chain(client, inner):
    w1 = window(client.lab.proxies["dante"])
    w2, w3 = window(inner["micro"]), window(inner["dante"])
    chain = [DANTE, in4(IN_MICRO), in4(IN_DANTE)]
    r = run(client, echo(TARGET4), chain, chain=True)
    assert_echo_ok(r)
    assert_target_saw(client, {PROXY_SIDE[TARGET4]}, count=1)
    t1, t2, t3 = w1.text(), w2.text(), w3.text()
    assert dotted(in4(IN_MICRO)) in t1, t1
    assert micro_saw(t2, topo.PROXY4_T, topo.PROXY4_T, IN_DANTE), t2
    assert "%s.%d" % (TARGET4, ECHO) in t3, t3
    assert re.search(r"via 192\.0\.2\.1:1080 -> 203\.0\.113\.1:%d -> "
                     r"203\.0\.113\.1:%d: ok" % (IN_MICRO, IN_DANTE),
                     r.stderr), r.stderr


def test_chain_with_closed_second_hop_fails_without_fallback(client, inner):
    w1 = window(client.lab.proxies["dante"])
    r = run(client, echo(TARGET4), [DANTE, in4(IN_CLOSED)], chain=True)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] != "ok", r
    # dante answers "connection refused" for the second hop.
    assert out["errno"] == errno.ECONNREFUSED, r
    assert client.target_peers() == []
    assert dotted(in4(IN_CLOSED)) in w1.text()
    assert in4(IN_CLOSED) in r.stderr, r
    assert "%s.%d" % (TARGET4, ECHO) not in w1.text(0)


UDP_CONNECT = r"""
import errno, json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print(json.dumps({"connect": "ok"}))
except OSError as e:
    print(json.dumps({"connect": errno.errorcode.get(e.errno, str(e))}))
"""


@pytest.mark.parametrize("how", ["sendto", "connect"])
def test_chain_refuses_udp(client, inner, how):
    w = window(client.lab.proxies["dante"])
    if how == "sendto":
        cmd = client_script("udp_client.py", "fail", TARGET4, ECHO)
    else:
        cmd = [PYTHON, "-c", UDP_CONNECT, TARGET4, str(ECHO)]
    r = run(client, cmd, [DANTE, in4(IN_DANTE)], chain=True)
    assert r.rc == 0, r
    out = r.json()
    if how == "sendto":
        assert [s["error"] for s in out["sends"]] == ["EPERM", "EPERM"], r
    else:
        assert out == {"connect": "EPERM"}, r
    assert re.search(r"UDP.*chain", r.stderr), r
    assert client.target_peers() == []
    assert "udpassociate" not in w.text(), "dante was asked for UDP"


def test_chain_does_not_fall_back_to_a_later_proxy_alone(client):
    # In a chain a dead first proxy is the end: the second is not a
    # stand-in (it is a hop, reached only through the first).
    dante = window(client.lab.proxies["dante"])
    r = run(client, echo(TARGET4), [CLOSED, DANTE], chain=True)
    assert r.rc == 0, r
    assert r.json()["errno"] == errno.ECONNREFUSED, r
    assert client.target_peers() == []
    assert "192.0.2.1.1080" not in dante.text()


@pytest.fixture(scope="module")
def ftp_server(lab):
    srv = ftp_target.FtpTarget(lab.topo, lifetime=300)
    try:
        yield srv
    finally:
        srv.stop()


def test_bind_through_a_chain_is_made_at_the_last_proxy(client, inner,
                                                         ftp_server,
                                                         tmp_path):
    # Active FTP: curl's data listener becomes a BIND. The FTP server
    # connects only to the address the control connection came from, so
    # the transfer works only if the BIND was made where the CONNECT
    # ended: at the chain's last proxy.
    ftp_server.mark()
    w1, w2 = window(client.lab.proxies["dante"]), window(inner["dante"])
    out = str(tmp_path / "copy")
    r = run(client, ["curl", "-q", "-sS", "-m", "20", "--ftp-port", "-",
                     "-o", out, "ftp://%s/%s" % (TARGET4,
                                                ftp_target.SMALL_NAME)],
            [DANTE, in4(IN_DANTE)], chain=True)
    assert r.rc == 0, r
    with open(out, "rb") as f:
        assert f.read() == ftp_server.files[ftp_target.SMALL_NAME], r
    t1, t2 = w1.text(), w2.text()
    assert "tcp/bind" in t2, t2
    assert "tcp/bind" not in t1, t1
    assert dotted(in4(IN_DANTE)) in t1, t1
    data = ftp_server.events("data")
    assert data and {d["peer"][0] for d in data} == {topo.PROXY4_T}, data


def test_launcher_chain_option(client, inner):
    w2 = window(inner["micro"])
    r = client.run_wrapped(echo(TARGET4), proxy="%s,%s" % (DANTE,
                                                         in4(IN_MICRO)),
                           opts=["--chain", "-v"])
    assert_echo_ok(r)
    assert micro_saw(w2.text(), topo.PROXY4_T, TARGET4, ECHO), w2.text()


# ---- 3. ALL_PROXY and NO_PROXY ----

def corp_get(host):
    """An HTTP GET of the proxy host's self-naming server (192.0.2.1:8080)."""
    return client_script("tcp_client.py", host, 8080, "--send",
                         "GET / HTTP/1.0\r\n\r\n", "--read-all")


@pytest.mark.parametrize("var,url", [
    ("ALL_PROXY", "socks5h://192.0.2.1:1080"),
    ("all_proxy", "socks5://192.0.2.1:1080"),
    ("all_proxy", "socks5://192.0.2.1:1082"),
    ("ALL_PROXY", "socks5h://%s:%s@192.0.2.1:1081" % (TEST_USER,
                                                     TEST_PASSWORD_URL)),
])
def test_all_proxy_alone(client, var, url):
    name = {"1082": "micro", "1081": "dante-user"}.get(url[-4:], "dante")
    w = window(client.lab.proxies[name])
    r = run(client, echo(TARGET4), None, env={var: url})
    assert_echo_ok(r)
    assert_target_saw(client, {PROXY_SIDE[TARGET4]}, count=1)
    text = w.text()
    if name != "micro":
        assert "%s.%d" % (TARGET4, ECHO) in text, text
    else:
        assert micro_saw(text, topo.CLIENT4, TARGET4, ECHO), text


def test_http_all_proxy_is_ignored_and_connections_are_refused(client):
    # Through the library alone (no launcher, which would refuse to start
    # without a proxy): the program runs and its proxied connect fails.
    env = {"SOCKS5WRAP_LOG": "info", "ALL_PROXY": "http://192.0.2.1:3128"}
    r = client.run_preloaded(echo(TARGET4), env)
    assert r.rc == 0, r
    assert r.json()["errno"] == errno.ECONNREFUSED, r
    # The log names the variable and the scheme it could not take.
    assert re.search(r"ALL_PROXY.*http", r.stderr), r
    assert client.target_peers() == []
    # The launcher, given only that, says there is no usable proxy.
    r = client.run_wrapped(echo(TARGET4), proxy=None,
                           env={"ALL_PROXY": "http://192.0.2.1:3128"})
    assert r.rc != 0 or r.json()["errno"] == errno.ECONNREFUSED, r
    assert client.target_peers() == []


def test_socks5_proxy_wins_over_all_proxy(client):
    wd = window(client.lab.proxies["dante"])
    wm = window(client.lab.proxies["micro"])
    r = run(client, echo(TARGET4), MICRO,
            env={"ALL_PROXY": "socks5://192.0.2.1:1080"})
    assert_echo_ok(r)
    assert micro_saw(wm.text(), topo.CLIENT4, TARGET4, ECHO), wm.text()
    assert "%s.%d" % (TARGET4, ECHO) not in wd.text(0)


@pytest.mark.parametrize("var,entry", [("NO_PROXY", "192.0.2.1"),
                                       ("no_proxy", "192.0.2.0/24")])
def test_no_proxy_address_goes_direct_others_through_proxy(client, var,
                                                           entry):
    client.capture.allow("tcp", 8080)
    env = {"ALL_PROXY": "socks5://192.0.2.1:1080", var: entry}
    r = run(client, corp_get(topo.PROXY4_C), None, env=env)
    assert r.rc == 0, r
    assert "peer 192.0.2.2 " in r.json()["received"], r
    assert [a for a, _ in client.corp_http_peers()] == ["192.0.2.2"]
    r = run(client, echo(TARGET4), None, env=env)
    assert_echo_ok(r)
    assert_target_saw(client, {PROXY_SIDE[TARGET4]}, count=1)


@pytest.mark.local_dns
@pytest.mark.parametrize("entry", ["corp.test", ".corp.test"])
def test_no_proxy_domain_goes_direct(client, entry):
    client.capture.allow("tcp", 8080)
    env = {"ALL_PROXY": "socks5h://192.0.2.1:1080", "NO_PROXY": entry}
    r = run(client, corp_get("app.corp.test"), None, env=env)
    assert r.rc == 0, r
    assert "peer 192.0.2.2 " in r.json()["received"], r
    assert [a for a, _ in client.corp_http_peers()] == ["192.0.2.2"]
    assert {q["name"] for q in client.trap_queries()} == {"app.corp.test"}
    r = run(client, echo("www.test"), None, env=env)
    assert_echo_ok(r)
    assert_target_saw(client, set(PROXY_SIDE.values()), count=1)
    assert "www.test" not in {q["name"] for q in client.trap_queries()}


def test_no_proxy_star_proxies_nothing(client):
    client.capture.allow("tcp", 8080)
    dante = window(client.lab.proxies["dante"])
    r = run(client, corp_get(topo.PROXY4_C), None,
            env={"ALL_PROXY": "socks5://192.0.2.1:1080", "NO_PROXY": "*"})
    assert r.rc == 0, r
    assert "peer 192.0.2.2 " in r.json()["received"], r
    assert "192.0.2.1.8080" not in dante.text()


def test_socks5wrap_no_proxy_overrides_no_proxy(client):
    client.capture.allow("tcp", 8080)
    dante = window(client.lab.proxies["dante"])
    r = run(client, corp_get(topo.PROXY4_C), None,
            env={"ALL_PROXY": "socks5://192.0.2.1:1080",
                 "NO_PROXY": "192.0.2.1",
                 "SOCKS5WRAP_NO_PROXY": "127.0.0.0/8,::1"})
    assert r.rc == 0, r
    received = r.json()["received"]
    assert "peer 192.0.2.2 " not in received, r
    assert [a for a, _ in client.corp_http_peers()] != ["192.0.2.2"]
    assert "192.0.2.1.8080" in dante.text()


def test_no_proxy_does_not_apply_to_socks5_proxy(client):
    # curl's NO_PROXY belongs with ALL_PROXY: a proxy from SOCKS5_PROXY
    # keeps the library's own exclusions only.
    client.capture.allow("tcp", 8080)
    dante = window(client.lab.proxies["dante"])
    r = run(client, corp_get(topo.PROXY4_C), DANTE,
            env={"NO_PROXY": "192.0.2.1"})
    assert r.rc == 0, r
    assert "peer 192.0.2.2 " not in r.json()["received"], r
    assert "192.0.2.1.8080" in dante.text()
