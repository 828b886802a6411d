"""Event loops through a slow proxy: connect() on a non-blocking socket must
not wait for the SOCKS5 handshake.

The slow proxy is socks_script.py in mode relay: it answers CONNECT only
after SLOW_MS, then relays to the real target, one thread per connection.
Real event-loop clients (python asyncio and aiohttp, node net and fetch,
curl --parallel) open COUNT connections at once through it. Were the
handshake done inside connect(), the loop would freeze for each one in
turn: COUNT x SLOW_MS of wall time, with the loop stalled all along. So
each asserts that
  - the COUNT connections took less than WALL_LIMIT together (they ran
    at the same time), though each one took at least SLOW_MS (the proxy
    really was slow);
  - a ticker in the same loop never waited more than STALL_LIMIT (node
    fetch: FETCH_STALL_LIMIT) between two ticks: no freeze (curl has no
    ticker; its wall time says enough);
  - every connection got its own data back, the target saw only the proxy
    host, and the leak capture (client fixture) saw nothing go around it.
The same clients through dante check correctness with a real server, with
a sane time bound only. Failures go the same way: a reply code after the
delay ends in the errno of the mapping, and an unanswered handshake in
ETIMEDOUT at SOCKS5WRAP_TIMEOUT, with the loop running meanwhile.
"""

import errno
import os
import shutil

import pytest

import sanitizers
import topo
from harness import CLIENTS, DANTE, client_script

SLOW_MS = 300
SLOW_S = SLOW_MS / 1000.0
COUNT = 20
# Concurrent: one delay and some overhead, far from COUNT delays (6 s).
WALL_LIMIT = 1.5
# The longest gap between two ticks of the clients' 5 ms ticker. A
# connect() that waits for the proxy freezes the loop for SLOW_MS at least;
# the limits sit well below that, and above what each client shows with no
# proxy at all (run in the proxy namespace straight to the target, 10 runs
# each: python asyncio, aiohttp and node net 5-17 ms; node fetch 7-41 ms,
# as undici builds 20 requests, or reads 20 answers, in one turn of the
# loop).
STALL_LIMIT = 0.05
FETCH_STALL_LIMIT = 0.1
# With libasan preloaded the runtimes allocate slower (node fetch with no
# proxy: up to 91 ms).
STALL_SCALE = 2 if sanitizers.enabled() else 1
# Through dante, where nothing is slow: correctness, and no hang.
SANE_WALL = 10.0
# A connection that ended before the delay did not wait for the proxy.
DELAY_SLACK = 0.02

TARGET6 = topo.TARGET6
PROXY_SIDE = {topo.PROXY4_T, topo.PROXY6_T}
ECHO_PORT, HTTP_PORT = 7, 80

# What the library makes of each reply code (see test_faults.py).
REP_ERRNO = {
    1: errno.ECONNREFUSED,
    2: errno.EACCES,
    3: errno.ENETUNREACH,
    4: errno.EHOSTUNREACH,
    5: errno.ECONNREFUSED,
    6: errno.ETIMEDOUT,
    7: errno.EOPNOTSUPP,
    8: errno.EAFNOSUPPORT,
}
FAIL_COUNT = 10
DEADLINE_COUNT = 5
DEADLINE_S = 1.0
DEADLINE_SLACK = 1.0


class Route:
    """The proxy a test goes through: the slow scripted relay (script) or
    dante."""

    def __init__(self, url, script=None):
        self.url = url
        self.script = script

    @property
    def slow(self):
        return self.script is not None


@pytest.fixture(params=["slow", "dante"], ids=["slow-proxy", "dante"])
def route(request, scripted):
    if request.param == "slow":
        sp = scripted("relay", delay_ms=SLOW_MS)
        return Route(sp.url, sp)
    return Route(DANTE)


def node():
    path = shutil.which("node") or shutil.which("nodejs")
    if not path:
        pytest.skip("node is not installed (package nodejs)")
    return path


def need_aiohttp():
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        pytest.skip("aiohttp is not installed (package python3-aiohttp)")


def py_batch(kind, host, port, count, *extra):
    return client_script("loop_batch.py", kind, host, port, count, *extra)


def node_batch(kind, host, port, count):
    return [node(), os.path.join(CLIENTS, "loop_batch.js"), kind, host,
            str(port), str(count), "--warmup"]


def figures(out):
    """One line with what a batch measured, for assertion messages."""
    el = [x["elapsed"] for x in out["results"]]
    return ("%d connections: wall %.2f s, longest loop stall %.3f s "
            "(ended at %.2f s; %d ticks), each %.2f-%.2f s" % (
                len(el), out["wall"], out["max_gap"], out["max_gap_at"],
                out["ticks"], min(el), max(el)))


def peer_in_body(body):
    for line in body.splitlines():
        if line.startswith("peer "):
            return line.split()[1]
    raise AssertionError("no peer line in %r" % body)


def run_batch(client, route, cmd, env=None):
    r = client.run_wrapped(cmd, proxy=route.url, env=env, timeout=60)
    assert r.rc == 0, r
    return r, r.json()


def assert_concurrent(out, r, stall_limit=STALL_LIMIT):
    """The batch ran at the same time and the loop never froze."""
    what = figures(out)
    stall_limit *= STALL_SCALE
    assert out["wall"] < WALL_LIMIT, (
        "not concurrent: %s (limit %.1f s); connect() waits for the "
        "handshake\n%s" % (what, WALL_LIMIT, r.stderr[-2000:]))
    assert out["max_gap"] < stall_limit, (
        "the event loop froze: %s (limit %.3f s)\n%s" % (
            what, stall_limit, r.stderr[-2000:]))


def check_batch(client, route, r, out, port, count=COUNT, warmup=True,
                http=False, stall_limit=STALL_LIMIT):
    """Every connection got its own data; only the proxy reached the
    target; through the slow proxy each waited for it, all together."""
    results = out["results"]
    assert len(results) == count, r
    bad = [dict(x, received=(x["received"] or "")[:200])
           for x in results if not x["ok"]]
    assert not bad, "%d of %d connections failed or got wrong data: %s\n" \
        "%s\n%s" % (len(bad), count, bad[:5], figures(out), r.stderr[-2000:])
    if http:
        peers = {peer_in_body(x["received"]) for x in results}
        assert peers <= PROXY_SIDE, peers
    # The clients' --warmup makes a first, untimed batch of COUNT.
    made = count * (2 if warmup else 1)
    seen = client.target_peers()
    assert sorted(w for w, _, _ in seen) == ["tcp/%d" % port] * made, seen
    assert {a for _, a, _ in seen} <= PROXY_SIDE, seen
    if not route.slow:
        assert out["wall"] < SANE_WALL, figures(out)
        return
    requests = [d for k, d in route.script.records() if k == "request"]
    assert len(requests) == made, requests
    assert min(x["elapsed"] for x in results) >= SLOW_S - DELAY_SLACK, (
        "a connection did not wait for the slow proxy: %s" % figures(out))
    assert_concurrent(out, r, stall_limit)


# -- working connections ---------------------------------------------------

@pytest.mark.parametrize("dst", [topo.TARGET4, TARGET6, "www.test"],
                         ids=["ipv4", "ipv6", "name"])
def test_python_asyncio_open_connection(client, route, dst):
    r, out = run_batch(client, route, py_batch(
        "asyncio", dst, ECHO_PORT, COUNT, "--warmup"))
    check_batch(client, route, r, out, ECHO_PORT)


def test_python_aiohttp_get(client, route):
    need_aiohttp()
    r, out = run_batch(client, route, py_batch(
        "aiohttp", topo.TARGET4, HTTP_PORT, COUNT, "--warmup"))
    check_batch(client, route, r, out, HTTP_PORT, http=True)


def test_node_net_connect(client, route):
    r, out = run_batch(client, route, node_batch(
        "net", topo.TARGET4, ECHO_PORT, COUNT))
    check_batch(client, route, r, out, ECHO_PORT)


def test_node_fetch(client, route):
    r, out = run_batch(client, route, node_batch(
        "fetch", topo.TARGET4, HTTP_PORT, COUNT))
    check_batch(client, route, r, out, HTTP_PORT, http=True,
                stall_limit=FETCH_STALL_LIMIT)


def test_curl_parallel(client, route, tmp_path):
    # --parallel-immediate: open all connections at once instead of
    # waiting for the first to see whether it can be shared (HTTP/2).
    cmd = ["curl", "-q", "-sS", "-m", "15", "--parallel",
           "--parallel-immediate", "--parallel-max", str(COUNT)]
    paths = ["/loop/%d" % i for i in range(COUNT)]
    for i, path in enumerate(paths):
        cmd += ["-o", str(tmp_path / ("%d.txt" % i)),
                "http://%s%s" % (topo.TARGET4, path)]
    r = client.run_wrapped(cmd, proxy=route.url, timeout=60)
    assert r.rc == 0, r
    for i, path in enumerate(paths):
        body = (tmp_path / ("%d.txt" % i)).read_text(errors="replace")
        assert "path %s\n" % path in body, (path, body, r)
        assert peer_in_body(body) in PROXY_SIDE, body
    seen = client.target_peers()
    assert sorted(w for w, _, _ in seen) == ["tcp/80"] * COUNT, seen
    assert {a for _, a, _ in seen} <= PROXY_SIDE, seen
    # The whole run: namespace, launcher and curl start, COUNT transfers.
    limit = WALL_LIMIT if route.slow else SANE_WALL
    assert r.elapsed < limit, (
        "curl --parallel fetched %d URLs in %.2f s (limit %.1f s)\n%s" % (
            COUNT, r.elapsed, limit, r))


# -- failures --------------------------------------------------------------

@pytest.mark.parametrize("rep", sorted(REP_ERRNO))
def test_python_asyncio_reply_code_after_the_delay(client, scripted, rep):
    sp = scripted("rep%d" % rep, delay_ms=SLOW_MS)
    r, out = run_batch(client, Route(sp.url), py_batch(
        "asyncio", topo.TARGET4, ECHO_PORT, FAIL_COUNT))
    results = out["results"]
    assert len(results) == FAIL_COUNT, r
    want = REP_ERRNO[rep]
    wrong = [x for x in results if x["ok"] or x["errno"] != want]
    assert not wrong, "expected %s from every connection: %s\n%s" % (
        errno.errorcode[want], wrong[:5], r)
    if rep in (1, 5):
        assert all(x["error"].startswith("ConnectionRefusedError")
                   for x in results), r
    assert min(x["elapsed"] for x in results) >= SLOW_S - DELAY_SLACK, (
        "failed before the proxy answered: %s" % figures(out))
    assert_concurrent(out, r)
    requests = [d for k, d in sp.records() if k == "request"]
    assert len(requests) == FAIL_COUNT, requests
    assert client.target_peers() == []


@pytest.mark.parametrize("mode,delay_ms", [("stall", 0), ("relay", 5000)],
                         ids=["greeting-unanswered", "connect-unanswered"])
def test_python_asyncio_deadline_while_the_loop_runs(client, scripted, mode,
                                                     delay_ms):
    sp = scripted(mode, delay_ms=delay_ms)
    r, out = run_batch(client, Route(sp.url), py_batch(
        "asyncio", topo.TARGET4, ECHO_PORT, DEADLINE_COUNT),
        env={"SOCKS5WRAP_TIMEOUT": "%g" % DEADLINE_S})
    results = out["results"]
    assert len(results) == DEADLINE_COUNT, r
    wrong = [x for x in results if x["ok"] or x["errno"] != errno.ETIMEDOUT
             or not x["error"].startswith("TimeoutError")]
    assert not wrong, "expected ETIMEDOUT from every connection: %s\n%s" % (
        wrong[:5], r)
    # The deadlines ran out together, and the ticker kept going meanwhile.
    assert out["wall"] <= DEADLINE_S + DEADLINE_SLACK, (
        "not concurrent: %s\n%s" % (figures(out), r.stderr[-2000:]))
    assert out["max_gap"] < STALL_LIMIT * STALL_SCALE, (
        "the event loop froze: %s\n%s" % (figures(out), r.stderr[-2000:]))
    for x in results:
        assert (DEADLINE_S - 0.2 <= x["elapsed"]
                <= DEADLINE_S + DEADLINE_SLACK), (
            "not at the deadline: %s" % figures(out))
    assert client.target_peers() == []
