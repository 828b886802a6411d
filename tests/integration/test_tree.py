"""One name table for a whole process tree: real programs that resolve a
name in one process and connect to its fake address from another.

The library answers a host name with a fake address (198.18.0.0/15) and
remembers which name it stands for; a connect to that address becomes a
CONNECT for the name. Programs often resolve in one process and connect
in another: lftp resolves in a forked child, Chromium resolves in the
browser process and connects from its network service (an exec'd
process), shell scripts pass getent's answer to curl, daemons resolve
before they detach. Every process of the tree must therefore read the
same table, across fork and exec, after a daemon closed every descriptor
and after a program cleared its environment, with the launcher and with
a plain LD_PRELOAD. A process that does not know a fake address refuses
to connect to it (EHOSTUNREACH, "a fake address that no host name maps
to"): nothing goes direct either way.

Each test checks what the program got (the target's page names its peer,
the proxy's target-side address), who reached the target
(client.target_peers()), and the client fixture fails it when anything
left the client namespace around the proxy or a DNS query reached the
client's resolver. The names exist only for the proxy (dnsenv.py).

    BUILD=build /usr/bin/python3 -m pytest -q tests/integration/test_tree.py
"""

import ipaddress
import json
import os
import re
import shlex
import time

import pytest

import ftp_target
import harness
import sanitizers
import topo
from harness import DANTE, client_script

NAME = "www.test"                  # A 203.0.113.7, AAAA fd00:5357:3::7
FTP_NAME = "ftp.test"              # A 203.0.113.7 only
HTTP = 80
PAGE = "socks5wrap test target"
# dante reaches a name over IPv6 when it has both families.
PROXY_SIDES = {topo.PROXY4_T, topo.PROXY6_T}
# The library's fake addresses (its defaults).
FAKE_NETS = [ipaddress.ip_network("198.18.0.0/15"),
             ipaddress.ip_network("fd53:5357::/64")]
RUN_TIMEOUT = 20
# The two ways a program gets the library (parametrize ids).
WAYS = ["launcher", "preload"]


def tree_client(*args):
    return client_script("tree_client.py", *args)


def run(client, cmd, way, env=None, timeout=RUN_TIMEOUT, input=None):
    """cmd in the client namespace through dante: under the launcher, or
    with the library in LD_PRELOAD and SOCKS5_PROXY set by hand. With
    SANITIZE=1 the preload order is the launcher's (the library, then
    libasan), so a program down the tree sees the same either way."""
    env = dict(env or {})
    if way == "launcher":
        return client.run_wrapped(cmd, proxy=DANTE, env=env,
                                  timeout=timeout, input=input)
    san = harness.sanitizer_env(cmd[0])
    pre = [harness.library_path()] + ([san["LD_PRELOAD"]]
                                      if "LD_PRELOAD" in san else [])
    full = dict(san, SOCKS5_PROXY="socks5://" + DANTE, **env)
    full["LD_PRELOAD"] = ":".join(pre)
    return client.run_direct(cmd, env=full, timeout=timeout, input=input)


def curl(*args):
    """curl's command line. With SANITIZE=1 curl cannot start with libasan
    preloaded (harness.NO_ASAN_PRELOAD): started from a program that has
    it, curl gets the library alone, as the launcher would give it."""
    cmd = ["curl", "-q", "-sS", "-g", "-m", "10", "--noproxy", "*"]
    cmd += list(args)
    if (sanitizers.enabled()
            and "LD_PRELOAD" not in harness.sanitizer_env("curl")):
        cmd = ["/usr/bin/env", "LD_PRELOAD=" + harness.library_path()] + cmd
    return cmd


def is_fake(addr):
    ip = ipaddress.ip_address(addr)
    return any(ip in net for net in FAKE_NETS if net.version == ip.version)


def peer_of(page):
    """The peer the target named on its page ("peer ADDR PORT")."""
    m = re.search(r"^peer (\S+) \d+$", page, re.M)
    return m.group(1) if m else None


def assert_page_through_proxy(client, page, why, port=HTTP, count=None):
    """page is the target's answer, fetched through the proxy; the target
    saw nobody else."""
    assert PAGE in page, why
    assert peer_of(page) in PROXY_SIDES, why
    seen = client.target_peers()
    assert seen, "the target saw no connection\n%s" % why
    assert {w for w, _, _ in seen} == {"tcp/%d" % port}, (seen, why)
    assert {a for _, a, _ in seen} <= PROXY_SIDES, (seen, why)
    if count is not None:
        assert len(seen) == count, (seen, why)


# -- 1. lftp -----------------------------------------------------------------
#
# lftp resolves host names in a forked child (dns:use-fork) and connects
# from its main process. Passive mode is lftp's default and what is tested
# first: the data connection is one more CONNECT, to the address the server
# names (PASV) or to the control connection's own address (EPSV, the fake
# one again), so any CONNECT proxy carries it. Active mode (a listener
# through dante's BIND) is the second test, against ftp_target.py, which
# offers active mode only.

PASV_PORT = 2121
PASV_DATA_PORTS = "50000-50100"
FTP_FILE = "tree.txt"
FTP_TEXT = b"socks5wrap: lftp by name, one table for the tree\n" * 40


@pytest.fixture(scope="module")
def pasv_ftp(lab):
    """pyftpdlib's own server in the target namespace: anonymous, passive
    mode on, on both families (dante connects to ftp.test over IPv4)."""
    root = os.path.join(lab.workdir, "tree-ftp")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, FTP_FILE), "wb") as f:
        f.write(FTP_TEXT)
    t = lab.topo
    proc = t.spawn("tree-ftp", t.target, [
        harness.PYTHON, "-m", "pyftpdlib", "-i", "::", "-p", str(PASV_PORT),
        "-d", root, "-r", PASV_DATA_PORTS], lifetime=300)
    try:
        t.wait_tcp(t.target, [(topo.TARGET4, PASV_PORT)], proc=proc)
        yield proc
    finally:
        proc.stop()
        if proc in t.procs:
            t.procs.remove(proc)


LFTP_SETTINGS = ("set net:max-retries 1; set net:timeout 10; "
                 "set cmd:fail-exit yes; set ftp:ssl-allow no; ")


def sessions_from(log, start):
    """The peers pyftpdlib logged a session from, after offset start (an
    IPv4-mapped address as the IPv4 address)."""
    return [re.sub(r"^::ffff:(?=[0-9.]+$)", "", a) for a in re.findall(
        r"\] ([0-9a-f.:]+):\d+-\[\] FTP session opened", log[start:])]


@pytest.mark.parametrize("way", WAYS)
def test_lftp_by_name_in_passive_mode(client, pasv_ftp, way):
    start = len(pasv_ftp.log_text(1 << 20))
    r = run(client, ["lftp", "-c", LFTP_SETTINGS + "cat ftp://%s:%d/%s" % (
        FTP_NAME, PASV_PORT, FTP_FILE)], way)
    log = pasv_ftp.log_text(1 << 20)
    why = "%s\n--- ftp server ---\n%s" % (r, log[start:])
    assert r.rc == 0, why
    assert r.stdout.encode() == FTP_TEXT, why
    # The control connection came from the proxy (dante reaches ftp.test
    # over IPv4); the data connection went the same way (the capture).
    assert sessions_from(log, start) == [topo.PROXY4_T], why
    assert client.target_peers() == [], why


@pytest.fixture(scope="module")
def active_ftp(lab):
    srv = ftp_target.FtpTarget(lab.topo, lifetime=300)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("way", WAYS)
def test_lftp_by_name_in_active_mode_through_bind(client, active_ftp, way):
    active_ftp.mark()
    r = run(client, ["lftp", "-c", LFTP_SETTINGS + (
        "set ftp:passive-mode off; cat ftp://%s/%s" % (
            FTP_NAME, ftp_target.SMALL_NAME))], way)
    why = "%s\n--- ftp events ---\n%s" % (r, "\n".join(
        json.dumps(e) for e in active_ftp.events()))
    assert r.rc == 0, why
    assert r.stdout.encode() == ftp_target.SMALL_TEXT, why
    controls = [e["session"].split()[0] for e in active_ftp.events("control")]
    assert controls == [topo.PROXY4_T], why
    data = active_ftp.events("data")
    assert [d["peer"][0] for d in data] == [topo.PROXY4_T], why
    assert client.target_peers() == [], why


# -- 2. fork, then connect ---------------------------------------------------

@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("parent_first", [False, True],
                         ids=["child-only", "parent-first"])
def test_parent_connects_to_the_address_its_forked_child_resolved(
        client, way, parent_first):
    args = ["fork", NAME, HTTP]
    if parent_first:
        # Another name: the child's answer is a new entry either way.
        args += ["--parent-first", "parent.test"]
    r = run(client, tree_client(*args), way)
    assert r.rc == 0, r
    out = r.json()
    assert is_fake(out["addr"]), r
    if parent_first:
        assert is_fake(out["parent_first"]), r
        assert out["parent_first"] != out["addr"], r
    assert out["result"] == "ok", r
    assert_page_through_proxy(client, out["body"], r, count=1)


# -- 3. Chromium -------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
# Chromium refuses to run as root without --no-sandbox ("Running as root
# without --no-sandbox is not supported"), and the tests run as root.
# Everything that would talk to the network on its own is off, so what the
# proxy and the capture see is the page; whatever else it tries still goes
# through the library (the capture fails the test otherwise).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-extensions", "--disable-breakpad", "--metrics-recording-only",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection",
    "--password-store=basic", "--use-mock-keychain",
    # Chromium's own DNS client (AsyncDns) asks the name server of
    # resolv.conf itself, by UDP (through the proxy's relay, so not
    # around it), and would ask the client's resolver for the names only
    # the proxy knows; without it Chromium resolves with getaddrinfo, as
    # the library needs.
    "--disable-features=AsyncDns",
    # No name but the test's is looked up at all: Debian's build still
    # reaches for clients2.google.com, update.googleapis.com and
    # accounts.google.com at start, whatever the flags above say.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE %s" % NAME]
CHROMIUM_TIMEOUT = 60
# Why the ASan pass cannot run Chromium (SANITIZE=1; skip_policy.py accepts
# this reason): preloaded, the ASan-built library crashes Chromium at start
# (SIGSEGV, even for --version), and with libasan preloaded first Chromium
# spins at full CPU for over a minute on --version, past what
# harness.asan_preload_works allows.
CHROMIUM_NO_ASAN = ("Chromium cannot run with the ASan-built library "
                    "(SANITIZE=1); the plain pass runs this test")


@pytest.mark.skipif(sanitizers.enabled(), reason=CHROMIUM_NO_ASAN)
@pytest.mark.parametrize("way", WAYS)
def test_chromium_multi_process_fetches_a_page_by_name(client, tmp_path, way):
    # About 1 s a run on the development machine (0.7 to 1.2 s).
    cmd = [CHROMIUM] + CHROMIUM_FLAGS + [
        "--user-data-dir=%s" % (tmp_path / "profile"),
        "--dump-dom", "http://%s/" % NAME]
    r = run(client, cmd, way, timeout=CHROMIUM_TIMEOUT,
            env={"HOME": str(tmp_path), "SOCKS5WRAP_LOG": "debug"})
    # --dump-dom exits 0 also when the page did not load.
    assert r.rc == 0, r
    assert PAGE in r.stdout, r
    assert peer_of(r.stdout) in PROXY_SIDES, r
    seen = client.target_peers()
    assert seen and {a for _, a, _ in seen} <= PROXY_SIDES, (seen, r)
    assert {w for w, _, _ in seen} == {"tcp/80"}, (seen, r)
    # The default process model: the name was resolved in one process
    # and the proxy asked for it from another (the network service).
    resolved = re.findall(r"socks5wrap\[(\d+)\]: debug: resolve '([^']*)'",
                          r.stderr)
    asked = re.findall(r"socks5wrap\[(\d+)\]: info: connect %s:80 via "
                       r"\S+: ok" % re.escape(NAME), r.stderr)
    assert {name for _, name in resolved} == {NAME}, r
    assert asked, r
    assert not {pid for pid, _ in resolved} & set(asked), r


# -- 4. resolve, then exec curl on the address -------------------------------

@pytest.mark.parametrize("way", WAYS)
def test_python_resolves_then_execs_curl_on_the_fake_address(client, way):
    r = run(client, tree_client("exec", NAME, *curl(
        "-w", "\\nurl %{url_effective}\\n", "http://{addr}/")), way)
    assert r.rc == 0, r
    m = re.search(r"^url http://([0-9.]+)/$", r.stdout, re.M)
    assert m and is_fake(m.group(1)), r
    assert_page_through_proxy(client, r.stdout, r, count=1)


# -- 5. shell scripts --------------------------------------------------------

def shell_fetch():
    """Shell text that fetches http://$addr/ with curl."""
    return " ".join(shlex.quote(a) for a in curl()) + ' "http://$addr/"'


RESOLVE = ("addr=$(getent ahostsv4 %s | head -n 1 | cut -d ' ' -f 1); "
           "echo \"addr $addr\"; " % NAME)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("chain", ["script", "sh-c-chain", "python"])
def test_shell_passes_getent_answer_to_another_program(client, way, chain):
    if chain == "script":
        script = RESOLVE + shell_fetch()
    elif chain == "sh-c-chain":
        # curl two shells below the one that resolved, each forked.
        script = RESOLVE + "export addr; sh -c %s" % shlex.quote(
            "sh -c %s" % shlex.quote(shell_fetch()))
    else:
        script = RESOLVE + 'exec %s "$addr" %d' % (
            " ".join(tree_client("fetch")), HTTP)
    r = run(client, ["sh", "-c", script], way)
    assert r.rc == 0, r
    addr = re.search(r"^addr (\S*)$", r.stdout, re.M).group(1)
    assert is_fake(addr), r
    if chain == "python":
        out = r.json()
        assert out["result"] == "ok", r
        page = out["body"]
    else:
        page = r.stdout
    assert_page_through_proxy(client, page, r, count=1)


def test_getent_hosts_answer_reaches_curl(client):
    # getent hosts asks for IPv6 first: the fake address may be either.
    script = ("addr=$(getent hosts %s | cut -d ' ' -f 1); echo \"addr "
              "$addr\"; case $addr in *:*) addr=\"[$addr]\";; esac; %s" % (
                  NAME, shell_fetch()))
    r = run(client, ["sh", "-c", script], "launcher")
    assert r.rc == 0, r
    addr = re.search(r"^addr (\S*)$", r.stdout, re.M).group(1)
    assert is_fake(addr), r
    assert_page_through_proxy(client, r.stdout, r, count=1)


# -- 6. daemons --------------------------------------------------------------

DAEMON_WAIT_S = 25


def wait_json(path, why):
    deadline = time.monotonic() + DAEMON_WAIT_S
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        time.sleep(0.05)
    raise AssertionError("the daemon wrote nothing to %s in %d s\n%s" % (
        path, DAEMON_WAIT_S, why))


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("close", ["loop", "range"])
@pytest.mark.parametrize("then", ["connect", "exec"])
def test_daemon_that_closed_every_descriptor_connects_to_an_earlier_name(
        client, tmp_path, way, close, then):
    out_path = str(tmp_path / "daemon.json")
    args = ["daemon", NAME, HTTP, out_path, "--close", close]
    if then == "exec":
        args += ["--exec"] + tree_client("fetch", "{addr}", HTTP, "--out",
                                         "{out}")
    r = run(client, tree_client(*args), way)
    assert r.rc == 0, r
    started = r.json()
    out = wait_json(out_path, r)
    why = "%s\ndaemon: %s" % (r, json.dumps(out))
    assert out["addr"] == started["addr"] and is_fake(out["addr"]), why
    assert out["result"] == "ok", why
    assert_page_through_proxy(client, out["body"], why, count=1)


# -- 7. a program that clears its environment --------------------------------
#
# env -i LD_PRELOAD=... PROGRAM ADDRESS, the address resolved before by the
# program's parent, which runs it as a child and waits ("child"), or by a
# shell that then execs env in its own place ("exec": the program is the
# process that resolved, under another image and without the environment).

def cleared_env(keep_proxy, how):
    """sh -c text: resolve NAME, then run tree_client.py fetch ADDR under
    env -i that keeps LD_PRELOAD (and, with keep_proxy, SOCKS5_PROXY); with
    SANITIZE=1 also the sanitizers' options, without which the ASan runtime
    refuses to start after the library."""
    keep = ["LD_PRELOAD"] + (["SOCKS5_PROXY"] if keep_proxy else [])
    if sanitizers.enabled():
        keep += ["ASAN_OPTIONS", "UBSAN_OPTIONS"]
    env_i = "env -i %s " % " ".join('%s="$%s"' % (k, k) for k in keep)
    fetch = " ".join(tree_client("fetch"))
    if how == "exec":
        return RESOLVE + 'exec %s%s "$addr" %d' % (env_i, fetch, HTTP)
    # python resolves and starts env as its child; sh only fills in the
    # variables and execs python.
    return "exec %s %s%s {addr} %d" % (" ".join(tree_client("spawn", NAME)),
                                       env_i, fetch, HTTP)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("how", ["child", "exec"])
def test_program_with_a_cleared_environment_uses_the_tree_table(client,
                                                                way, how):
    r = run(client, ["sh", "-c", cleared_env(True, how)], way)
    assert r.rc == 0, r
    out = r.json()
    assert is_fake(out["addr"]), r
    assert out["result"] == "ok", r
    assert_page_through_proxy(client, out["body"], r, count=1)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("how", ["child", "exec"])
def test_program_without_proxy_settings_refuses_a_tree_name(client, way,
                                                            how):
    # Without SOCKS5_PROXY the library has no proxy and refuses whatever
    # should go through one (src/config: "SOCKS5_PROXY is not set"); the
    # address is still the tree's, so it is refused as a proxied name,
    # not as an unknown fake address. Nothing goes direct (the capture).
    r = run(client, ["sh", "-c", cleared_env(False, how)], way)
    assert r.rc == 0, r
    out = r.json()
    assert is_fake(out["addr"]), r
    assert out["result"] == "ECONNREFUSED", r
    assert "SOCKS5_PROXY is not set" in r.stderr, r
    assert "no host name maps to" not in r.stderr, r
    assert client.target_peers() == [], r
