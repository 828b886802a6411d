"""Proxy lists in the launcher: repeated -p, --chain, --check of a failover
list and of a chain, ALL_PROXY, and failover and chains in the seccomp
supervisor (busybox-static makes its own system calls).

The lab's proxies: dante on 192.0.2.1:1080 (no authentication) and 1081
(user name), microsocks on 1082; nothing listens on 192.0.2.1:1999. A chain
microsocks -> dante has microsocks connect to dante inside the proxy's
namespace.

    /usr/bin/python3 -m pytest -x -q tests/integration/test_check_list.py
"""

import os
import subprocess
import urllib.parse

import pytest

import harness
import proxies
import sanitizers
import topo
from harness import DANTE, DANTE_USER, MICRO

CLOSED = "192.0.2.1:1999"
NAME = "www.test"
PAGE = "socks5wrap test target"
PROXY_SIDES = {topo.PROXY4_T, topo.PROXY6_T}
BUSYBOX = "/bin/busybox"
TIMEOUT = 30


def user_url(hostport):
    return "socks5://%s:%s@%s" % (
        proxies.TEST_USER, urllib.parse.quote(proxies.TEST_PASSWORD, safe=""),
        hostport)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(harness.SCRUB_PREFIXES)
           and k not in harness.SCRUB_NAMES
           and k not in ("ALL_PROXY", "NO_PROXY", "no_proxy")}
    # SANITIZE=1: the program the launcher runs (env, say) is not built
    # with ASan; the sanitizers' options let the library load libasan.
    if sanitizers.enabled():
        env.update(ASAN_OPTIONS=sanitizers.ASAN_OPTIONS,
                   UBSAN_OPTIONS=sanitizers.UBSAN_OPTIONS)
    env.update(extra)
    return env


def launch(args, env=None, netns=None, timeout=TIMEOUT):
    argv = [harness.launcher_path()] + list(args)
    if netns:
        argv = [topo.IP, "netns", "exec", netns] + argv
    cp = subprocess.run(argv, env=env or clean_env(), capture_output=True,
                        text=True, errors="replace", timeout=timeout)
    return cp


def show(cp):
    return "rc %s\nstdout:\n%s\nstderr:\n%s" % (cp.returncode, cp.stdout,
                                                  cp.stderr)


def env_of(args, env=None):
    """The environment the launcher gives a program (no traffic: env
    makes no connection)."""
    cp = launch(list(args) + ["--", "/usr/bin/env"], env=env)
    assert cp.returncode == 0, show(cp)
    return dict(l.split("=", 1) for l in cp.stdout.splitlines() if "=" in l)


# ---- options ---------------------------------------------------------------

def test_repeated_proxy_options_join_in_order():
    got = env_of(["-p", "192.0.2.1:1080", "--proxy", "192.0.2.1:1082,"
                  " 192.0.2.1:1081", "-p", "[fd00:5357:1::1]:1080"])
    assert got["SOCKS5_PROXY"] == ("192.0.2.1:1080,192.0.2.1:1082, "
                                   "192.0.2.1:1081,[fd00:5357:1::1]:1080")
    assert "SOCKS5WRAP_CHAIN" not in got


def test_one_proxy_option_is_passed_as_it_is():
    assert env_of(["-p", DANTE])["SOCKS5_PROXY"] == DANTE


@pytest.mark.parametrize("opt,want", [("--chain", "1"), ("--no-chain", "0")])
def test_chain_options(opt, want):
    got = env_of(["-p", DANTE, "-p", MICRO, opt],
                 env=clean_env(SOCKS5WRAP_CHAIN="5"))
    assert got["SOCKS5WRAP_CHAIN"] == want


@pytest.mark.parametrize("value,words", [
    ("192.0.2.1:1080,http://192.0.2.1:3128", ["-p", "http"]),
    (" , ,", ["-p", "no proxy, only commas"]),
    (",".join(["192.0.2.1:%d" % (1100 + i) for i in range(9)]),
     ["-p", "more than 8 proxies"]),
])
def test_bad_proxy_lists_are_refused(value, words):
    cp = launch(["-p", value, "--", "/bin/true"])
    assert cp.returncode == 125, show(cp)
    for w in words:
        assert w in cp.stderr, show(cp)


def test_nine_proxies_over_several_options_are_refused():
    args = []
    for i in range(9):
        args += ["-p", "192.0.2.1:%d" % (1100 + i)]
    cp = launch(args + ["--", "/bin/true"])
    assert cp.returncode == 125, show(cp)
    assert "more than 8 proxies" in cp.stderr, show(cp)


def test_help_names_the_list_and_chain():
    cp = launch(["--help"])
    assert cp.returncode == 0
    for w in ("--chain", "--no-chain", "comma-separated list",
              "SOCKS5WRAP_CHAIN=1"):
        assert w in cp.stdout, cp.stdout


# ---- --check ---------------------------------------------------------------

def check(lab, args, env=None):
    return launch(list(args) + ["--check"], env=env, netns=lab.topo.client)


def test_check_failover_list_one_down(lab):
    cp = check(lab, ["-p", "%s,%s" % (CLOSED, DANTE), "-p", MICRO])
    assert cp.returncode == 0, show(cp)
    assert "proxy 192.0.2.1:1080 reachable; method: no authentication" \
        in cp.stdout, show(cp)
    assert "proxy 192.0.2.1:1082 reachable" in cp.stdout, show(cp)
    assert "proxy 192.0.2.1:1999: " in cp.stderr, show(cp)
    assert "Connection refused" in cp.stderr, show(cp)
    assert "1 of 3 proxies down: 192.0.2.1:1999" in cp.stdout, show(cp)


def test_check_failover_list_all_down(lab):
    cp = check(lab, ["-p", CLOSED, "-p", "192.0.2.1:1998"])
    assert cp.returncode == 1, show(cp)
    assert "all 2 proxies are down" in cp.stderr, show(cp)


def test_check_chain_ok_with_credentials_at_the_last(lab):
    cp = check(lab, ["-p", MICRO, "-p", user_url(DANTE_USER), "--chain"])
    assert cp.returncode == 0, show(cp)
    assert "proxy 192.0.2.1:1082 reachable" in cp.stdout, show(cp)
    assert "chain 192.0.2.1:1082 -> 192.0.2.1:1081: ok" in cp.stdout, \
        show(cp)


def test_check_chain_wrong_password_at_the_last(lab):
    url = "socks5://%s:wrong@%s" % (proxies.TEST_USER, DANTE_USER)
    cp = check(lab, ["-p", MICRO, "-p", url, "--chain"])
    assert cp.returncode == 1, show(cp)
    assert "failed at proxy 2 (192.0.2.1:1081)" in cp.stderr, show(cp)


def test_check_chain_fails_at_the_second_proxy(lab):
    cp = check(lab, ["-p", "%s,%s,%s" % (MICRO, CLOSED, DANTE), "--chain"])
    assert cp.returncode == 1, show(cp)
    # The first proxy alone is fine; the chain stops where the first
    # could not reach the second.
    assert "proxy 192.0.2.1:1082 reachable" in cp.stdout, show(cp)
    assert ("chain 192.0.2.1:1082 -> 192.0.2.1:1999 -> 192.0.2.1:1080: "
            "failed at proxy 2 (192.0.2.1:1999)") in cp.stderr, show(cp)


def test_check_chain_fails_at_the_first_proxy(lab):
    cp = check(lab, ["-p", "%s,%s" % (CLOSED, DANTE), "--chain"])
    assert cp.returncode == 1, show(cp)
    assert "failed at proxy 1 (192.0.2.1:1999)" in cp.stderr, show(cp)


def test_check_names_all_proxy_as_the_source(lab):
    env = clean_env(ALL_PROXY="socks5h://%s" % DANTE)
    cp = check(lab, [], env=env)
    if "no proxy configured" in cp.stderr or \
            "SOCKS5_PROXY is not set" in cp.stderr:
        pytest.fail("the configuration does not read ALL_PROXY yet:\n%s"
                    % show(cp), pytrace=False)
    assert cp.returncode == 0, show(cp)
    assert "proxy list from ALL_PROXY (SOCKS5_PROXY is not set)" \
        in cp.stdout, show(cp)


# ---- the supervisor --------------------------------------------------------

@pytest.fixture(scope="module")
def busybox():
    assert os.access(BUSYBOX, os.X_OK), "install busybox-static"
    assert not harness.has_interpreter(BUSYBOX), \
        "%s is dynamically linked: install busybox-static" % BUSYBOX
    return BUSYBOX


def wget(client, busybox, proxy, opts=()):
    return client.run_wrapped(
        [busybox, "wget", "-q", "-O", "-", "http://%s/" % NAME],
        proxy=proxy, opts=["-v"] + list(opts), timeout=TIMEOUT)


def page_peer(text):
    for line in text.splitlines():
        if line.startswith("peer "):
            return line.split()[1]
    return None


def test_supervised_failover_past_a_closed_proxy(client, busybox):
    r = wget(client, busybox, "%s,%s" % (CLOSED, DANTE))
    assert r.rc == 0, r
    assert PAGE in r.stdout, r
    assert page_peer(r.stdout) in PROXY_SIDES, r
    assert "trying 192.0.2.1:1080" in r.stderr, r
    assert "supervis" in r.stderr, r
    peers = client.target_peers()
    assert peers and all(p[1] in PROXY_SIDES for p in peers), peers


def test_supervised_list_of_closed_proxies_fails(client, busybox):
    # 1998 is closed like 1999, but the lab's capture knows only 1999.
    client.capture.allow("tcp", 1998)
    r = wget(client, busybox, "%s,192.0.2.1:1998" % CLOSED)
    assert r.rc != 0, r
    assert PAGE not in r.stdout, r
    assert client.target_peers() == [], r


def test_supervised_chain(client, busybox):
    r = wget(client, busybox, "%s,%s" % (MICRO, DANTE), ["--chain"])
    assert r.rc == 0, r
    assert PAGE in r.stdout, r
    assert page_peer(r.stdout) in PROXY_SIDES, r
    # The log names the chain (the first proxy as the socket reaches it,
    # maybe IPv4-mapped).
    assert "1082 -> 192.0.2.1:1080: ok" in r.stderr, r


def test_supervised_chain_with_a_dead_second_hop_fails(client, busybox):
    # The same chain with a closed second proxy: proof that the first
    # one's CONNECT really goes to the second, and that a chain does
    # not fail over.
    r = wget(client, busybox, "%s,%s" % (MICRO, CLOSED), ["--chain"])
    assert r.rc != 0, r
    assert PAGE not in r.stdout, r
    assert client.target_peers() == [], r


def test_supervised_failover_past_a_silent_proxy(client, scripted, busybox):
    # The first proxy takes the connection and never answers the
    # greeting: the supervisor's deadline passes, and the next proxy of
    # the list gets the connection with a fresh timeout.
    silent = scripted("stall")
    r = client.run_wrapped(
        [busybox, "wget", "-q", "-O", "-", "http://%s/" % NAME],
        proxy="%s,%s" % (silent.url, DANTE), opts=["-v", "-t", "1"],
        timeout=TIMEOUT)
    assert r.rc == 0, r
    assert PAGE in r.stdout, r
    assert page_peer(r.stdout) in PROXY_SIDES, r
    assert "trying 192.0.2.1:1080" in r.stderr, r
    # One timeout of about 1 s, not the default 10 s.
    assert 1.0 <= r.elapsed < 8, r
