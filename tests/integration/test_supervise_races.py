"""The supervisor against a program that races its own threads.

The supervisor reads a call's address and descriptor, decides, and then
either makes the call itself on its copy of the socket or lets the kernel
run it as made. In the second case the kernel reads the address and looks
the descriptor number up again, so a thread that changes either in between
must find nothing to gain: clients/sup_race.c flips a sendmsg header's
name (also with MSG_FASTOPEN on TCP), and swaps an AF_UNIX socket and an
IPv4 socket under one number, while its main thread sends and connects to
the target as fast as it can.
The client fixture's leak capture fails the test on any packet that left
the client for the target directly.

    BUILD=build /usr/bin/python3 -m pytest -q \
        tests/integration/test_supervise_races.py
"""

import os
import shutil
import subprocess

import pytest

import topo
from harness import CLIENTS

TARGET4 = topo.TARGET4
PORT = 9  # discard: nothing needs to answer


@pytest.fixture(scope="session")
def race_prog(tmp_path_factory):
    cc = shutil.which("gcc")
    assert cc, "gcc not found (build-essential)"
    out = str(tmp_path_factory.mktemp("race") / "sup_race")
    cp = subprocess.run([cc, "-static", "-pthread", "-O2", "-Wall",
                         "-Wextra", "-Werror", "-o", out,
                         os.path.join(CLIENTS, "sup_race.c")],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    return out


@pytest.mark.parametrize("mode", ["msgname", "swapsend", "swapconnect",
                                  "fastopen"])
def test_racing_threads_send_nothing_direct(lab, client, race_prog, mode):
    r = client.run_wrapped([race_prog, mode, TARGET4, str(PORT)],
                           opts=["-q"], env={"RACE_MS": "1500"},
                           timeout=30)
    assert r.rc == 0, str(r)
    assert r.stdout.startswith(mode + ": ok "), str(r)
    # Every datagram was refused, and every connection went through the
    # proxy: the target saw no one but the proxy.
    assert set(client.target_peers()) <= {topo.PROXY4_T, topo.PROXY6_T}, \
        str(r)
    if mode in ("msgname", "swapsend"):
        assert r.stdout.split()[2] == "0", str(r)
