"""Many threads of one process connect at the same moment."""

import pytest

import topo
from harness import DANTE, MICRO, client_script

THREADS = 50
PROXY_SIDE = topo.PROXY_SIDE


@pytest.mark.parametrize("proxy,dst", [(DANTE, "203.0.113.7"),
                                       (DANTE, "fd00:5357:3::7"),
                                       (MICRO, "203.0.113.7")])
def test_fifty_threads_echo_at_once(client, proxy, dst):
    r = client.run_wrapped(client_script("threads_client.py", dst, 7,
                                         THREADS), proxy=proxy, timeout=90)
    assert r.rc == 0, r
    out = r.json()
    assert out == {"ok": THREADS, "failures": []}, r
    # One connection per thread, each from the proxy's side.
    peers = client.target_peers()
    assert len(peers) == THREADS, peers
    assert {(w, a) for w, a, _ in peers} == {("tcp/7", PROXY_SIDE[dst])}, \
        peers
