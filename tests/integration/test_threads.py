"""Many threads of one process connect at the same moment."""

import pytest

from harness import DANTE, MICRO, client_script

THREADS = 50


@pytest.mark.parametrize("proxy,dst", [(DANTE, "203.0.113.7"),
                                       (DANTE, "fd00:5357:3::7"),
                                       (MICRO, "203.0.113.7")])
def test_fifty_threads_echo_at_once(client, proxy, dst):
    r = client.run_wrapped(client_script("threads_client.py", dst, 7,
                                         THREADS), proxy=proxy, timeout=90)
    assert r.rc == 0, r
    out = r.json()
    assert out == {"ok": THREADS, "failures": []}, r
    peers = client.target_peers()
    assert len(peers) == THREADS, peers
