"""The launcher as built: static, with musl, when musl-gcc is there, and
what that changes for the proxy given by name.

A static launcher has no dynamic loader and no glibc start-up to pay
before the program's own. Its getaddrinfo is musl's, which reads
/etc/hosts and asks the name servers of resolv.conf itself, without
glibc's name service switch: a proxy named in the client namespace's
/etc/hosts must still work, both for a dynamic program (the library
resolves the name again, with glibc) and for a static one (the
supervisor connects to the address the launcher found), and --check must
reach it. The name is only in /etc/hosts: a DNS query for it would reach
the client namespace's trap, which fails the test.

    BUILD=build /usr/bin/python3 -m pytest -q \
        tests/integration/test_launcher_build.py
"""

import os
import shutil

import pytest

import harness
from harness import has_interpreter
import sanitizers
import topo

PROXY_NAME = "socks-proxy.test"
PROXY_PORT = 1080                  # dante, no authentication (DANTE)
TARGET4 = topo.TARGET4
PAGE = "socks5wrap test target"
BUSYBOX = "/bin/busybox"
CURL = ["curl", "-q", "-sS", "-m", "10"]


def test_launcher_is_static_when_musl_gcc_is_there():
    launcher = harness.launcher_path()
    assert os.access(launcher, os.X_OK), "%s is not built" % launcher
    if shutil.which("musl-gcc") and not sanitizers.enabled():
        assert not has_interpreter(launcher), \
            "musl-gcc is installed, yet %s is dynamically linked" % launcher
    else:
        # Sanitizer builds (and machines without musl-tools) keep the
        # launcher of the rest of the build.
        assert has_interpreter(launcher), launcher


@pytest.fixture
def proxy_in_hosts(client):
    """PROXY_NAME -> the proxy's client-side address, in the client
    namespace's /etc/hosts for this test only."""
    path = os.path.join(topo.ETC_NETNS, client.lab.topo.client, "hosts")
    with open(path) as f:
        saved = f.read()
    with open(path, "a") as f:
        f.write("%s %s\n" % (topo.PROXY4_C, PROXY_NAME))
    try:
        yield "%s:%d" % (PROXY_NAME, PROXY_PORT)
    finally:
        with open(path, "w") as f:
            f.write(saved)


def assert_page_via_proxy(client, r):
    assert r.rc == 0, r
    assert PAGE in r.stdout, r
    assert "peer %s " % topo.PROXY_SIDE[TARGET4] in r.stdout, r
    seen = client.target_peers()
    assert {(w, a) for w, a, _ in seen} == \
        {("tcp/80", topo.PROXY_SIDE[TARGET4])}, seen


def test_proxy_named_in_etc_hosts_for_a_dynamic_program(client,
                                                        proxy_in_hosts):
    r = client.run_wrapped(CURL + ["http://%s/" % TARGET4],
                           proxy=proxy_in_hosts)
    assert_page_via_proxy(client, r)


def test_proxy_named_in_etc_hosts_for_a_static_program(client,
                                                       proxy_in_hosts):
    assert os.access(BUSYBOX, os.X_OK), \
        "%s not found: install busybox-static (see .ci/run)" % BUSYBOX
    assert not has_interpreter(BUSYBOX), \
        "%s is dynamically linked: install busybox-static" % BUSYBOX
    # Static: supervised, and the supervisor connects to the proxy at the
    # address the launcher looked up.
    r = client.run_wrapped([BUSYBOX, "wget", "-q", "-O", "-",
                            "http://%s/" % TARGET4], proxy=proxy_in_hosts)
    assert_page_via_proxy(client, r)


def test_check_reaches_a_proxy_named_in_etc_hosts(client, proxy_in_hosts):
    r = client.run_direct([harness.launcher_path(), "--check", "-p",
                           proxy_in_hosts])
    assert r.rc == 0, r
    assert r.stdout == ("proxy %s (%s:%d) reachable; method: no "
                        "authentication\n" % (PROXY_NAME, topo.PROXY4_C,
                                              PROXY_PORT)), r
