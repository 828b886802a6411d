"""Names through socks5wrap: real programs resolve *.test names that only
the proxy host can resolve (dnsmasq behind it, see dnsenv.py), so a fetch
that works proves the name travelled to the proxy inside CONNECT.

Every test also proves that no name was resolved locally: the client's
resolver is a trap (192.0.2.53) whose log must stay empty, and the leak
capture calls any DNS packet a leak (both checked by the `client`
fixture). Tests marked local_dns expect a local query and check the trap
log themselves.
"""

import ipaddress
import os
import shutil
import socket
import struct
import tempfile

import pytest

import dnsenv
import leakcap
from harness import DANTE, MICRO, client_script

PROXY_SIDE = {"203.0.113.1", "fd00:5357:3::1"}
FAKE4 = ipaddress.ip_network("198.18.0.0/15")
FAKE6 = ipaddress.ip_network("fd53:5357::/64")
CURL = ["curl", "-q", "-sS", "-m", "10"]
# The default list (loopback) plus one entry for the corp names.
NO_PROXY_BASE = "127.0.0.0/8,::1,"


def is_fake(addr):
    a = ipaddress.ip_address(addr)
    return a in (FAKE4 if a.version == 4 else FAKE6)


def peer_in_body(body):
    """The address the target saw, from its "peer ADDR PORT" line."""
    for line in body.splitlines():
        if line.startswith("peer "):
            return line.split()[1]
    raise AssertionError("no peer line in %r" % body)


def assert_through_proxy(client, r, port=80, peers=PROXY_SIDE):
    """The body names a proxy-side address and the target saw only that."""
    if port == 80:
        assert peer_in_body(r.stdout) in peers, r
    seen = client.target_peers()
    assert seen, "the target saw no connection\n%s" % r
    assert {w for w, _, _ in seen} == {"tcp/%d" % port}, seen
    assert {a for _, a, _ in seen} <= peers, seen


def dns_client(*args):
    return client_script("dns_client.py", *args)


# ---- real programs, names resolved by the proxy ---------------------------

@pytest.mark.parametrize("proxy", [DANTE, MICRO])
def test_curl_fetches_by_name(client, proxy):
    before = len(client.proxy_log("micro"))
    r = client.run_wrapped(CURL + ["http://www.test/"], proxy=proxy)
    assert r.rc == 0, r
    assert "socks5wrap test target" in r.stdout, r
    # Both proxies prefer the AAAA record, but either family proves it.
    assert_through_proxy(client, r)
    if proxy == MICRO:
        # microsocks logs the destination as the client sent it: a name.
        log = client.proxy_log("micro")[before:]
        assert "connected to www.test:80" in log, log


def test_curl_ipv6_lookup_reaches_ipv4_proxy(client):
    # curl -6 asks for AF_INET6 only: a fake IPv6 address, an AF_INET6
    # socket, and the proxy at an IPv4 address.
    r = client.run_wrapped(CURL + ["-6", "http://www.test/"], proxy=DANTE)
    assert r.rc == 0, r
    assert_through_proxy(client, r)


def test_curl_v6_only_name_via_dante(client):
    # Only an AAAA record exists: dante must connect over IPv6.
    r = client.run_wrapped(CURL + ["http://v6only.test/"], proxy=DANTE)
    assert r.rc == 0, r
    assert_through_proxy(client, r, peers={"fd00:5357:3::1"})


def test_wget_fetches_by_name(client):
    assert shutil.which("wget"), "wget is not installed (package wget)"
    r = client.run_wrapped(["wget", "-q", "-T", "10", "-t", "1", "-O", "-",
                            "http://www.test/"], proxy=DANTE)
    assert r.rc == 0, r
    assert_through_proxy(client, r)


def test_python_urllib_fetches_by_name(client):
    r = client.run_wrapped(dns_client("fetch", "http://www.test/"),
                           proxy=DANTE)
    assert r.rc == 0, r
    out = r.json()
    assert out.get("status") == 200, r
    assert peer_in_body(out["body"]) in PROXY_SIDE, r
    seen = client.target_peers()
    assert [w for w, _, _ in seen] == ["tcp/80"], seen
    assert {a for _, a, _ in seen} <= PROXY_SIDE, seen


@pytest.mark.parametrize("proxy", [DANTE, MICRO])
def test_python_asyncio_echo_by_name(client, proxy):
    r = client.run_wrapped(client_script("asyncio_client.py", "www.test", 7,
                                         "asyncio by name\n"), proxy=proxy)
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ok", r
    assert out["received"] == "asyncio by name\n", r
    # The program sees the fake address it connected to.
    assert is_fake(out["peer"][0]) and out["peer"][1] == 7, r
    assert_through_proxy(client, r, port=7)


def test_node_http_get_by_name(client):
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "node is not installed (package nodejs)"
    code = (
        "setTimeout(() => { console.error('timeout'); process.exit(4); },"
        " 15000).unref();"
        "require('http').get('http://www.test/', r => {"
        " let b = ''; r.setEncoding('latin1');"
        " r.on('data', d => b += d);"
        " r.on('end', () => { process.stdout.write(b); }); })"
        ".on('error', e => { console.error(e.message); process.exit(3); });")
    r = client.run_wrapped([node, "-e", code], proxy=DANTE)
    assert r.rc == 0, r
    assert_through_proxy(client, r)


def test_getent_ahosts_gives_fake_addresses_ipv4_first(client):
    r = client.run_wrapped(["getent", "ahosts", "www.test"], proxy=DANTE)
    assert r.rc == 0, r
    addrs = []
    for line in r.stdout.splitlines():
        a = line.split()[0]
        if a not in addrs:
            addrs.append(a)
    assert addrs, r
    assert all(is_fake(a) for a in addrs), r
    versions = [ipaddress.ip_address(a).version for a in addrs]
    assert versions == [4, 6], r
    assert "www.test" in r.stdout, r
    assert client.target_peers() == []


def test_git_clone_by_name(client):
    dest = tempfile.mkdtemp(prefix="s5w-git-")
    try:
        env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
               "GIT_TERMINAL_PROMPT": "0", "HOME": dest}
        r = client.run_wrapped(["git", "clone", "-q", "git://git.test/repo",
                                os.path.join(dest, "repo")], proxy=DANTE,
                               env=env)
        assert r.rc == 0, "%s\n--- git daemon ---\n%s" % (r, client.git_log())
        with open(os.path.join(dest, "repo", dnsenv.GIT_FILE)) as f:
            assert f.read() == dnsenv.GIT_TEXT
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    log = client.git_log()
    assert "Connection from" in log, log
    froms = [l.split("Connection from", 1)[1].strip()
             for l in log.splitlines() if "Connection from" in l]
    assert froms and all(f.startswith("203.0.113.1:") for f in froms), log


# ---- the resolver functions themselves ------------------------------------

def test_python_resolver_functions_answer_with_the_name(client):
    r = client.run_wrapped(dns_client("names", "www.test"), proxy=DANTE)
    assert r.rc == 0, r
    out = r.json()
    assert is_fake(out["gethostbyname"]), r
    name, aliases, addrs = out["gethostbyname_ex"]
    assert name == "www.test" and addrs and all(is_fake(a) for a in addrs), r
    for key in ("v4", "v6"):
        e = out[key]
        assert e["addr"] and is_fake(e["addr"]), r
        assert e["getnameinfo"] == ["www.test", "80"], r
        assert e["gethostbyaddr"][0] == "www.test", r
        assert e["gethostbyaddr"][2] == [e["addr"]], r
    assert out["v4"]["addr"] == out["gethostbyname"], r


def test_getaddrinfo_canonname(client):
    r = client.run_wrapped(dns_client("resolve", "www.test", "--canon"),
                           proxy=DANTE)
    assert r.rc == 0, r
    out = r.json()
    assert out.get("canon") == "www.test", r
    assert out["families"] == ["AF_INET", "AF_INET6"], r
    assert all(is_fake(a) for a in out["addrs"]), r


@pytest.mark.parametrize("family,version", [("4", 4), ("6", 6)])
def test_getaddrinfo_one_family(client, family, version):
    r = client.run_wrapped(dns_client("resolve", "www.test", "--family",
                                      family), proxy=DANTE)
    assert r.rc == 0, r
    addrs = r.json()["addrs"]
    assert len(addrs) == 1 and is_fake(addrs[0]), r
    assert ipaddress.ip_address(addrs[0]).version == version, r


def test_forked_child_shares_the_pool(client):
    r = client.run_wrapped(dns_client("fork-echo", "www.test", "git.test",
                                      7, "from the child\n"), proxy=DANTE)
    assert r.rc == 0, r
    out = r.json()
    assert is_fake(out["addr"]), r
    assert out["child_status"] == 0, r
    assert out["child"]["received"] == "from the child\n", r
    # A name the child resolved after the fork is known to the parent.
    assert out["child"]["other"] and is_fake(out["child"]["other"]), r
    assert out["parent_other"] == "from the child\n", r
    seen = client.target_peers()
    assert [w for w, _, _ in seen] == ["tcp/7", "tcp/7"], seen
    assert {a for _, a, _ in seen} <= PROXY_SIDE, seen


@pytest.mark.parametrize("name", ["a..b.test", "a" * 64 + ".test",
                                  ".leading.test"])
def test_malformed_names_fail_without_a_query(client, name):
    r = client.run_wrapped(dns_client("resolve", name), proxy=DANTE)
    assert r.rc == 0, r
    assert r.json() == {"error": "EAI_NONAME"}, r


@pytest.mark.parametrize("name", ["foo.localhost", "a.b.LOCALHOST."])
def test_names_below_localhost_are_loopback_without_a_query(client, name):
    # RFC 6761 section 6.3: glibc alone would ask the DNS server.
    r = client.run_wrapped(dns_client("resolve", name), proxy=DANTE)
    assert r.rc == 0, r
    assert r.json()["addrs"] == ["127.0.0.1", "::1"], r


@pytest.mark.parametrize("addr", ["203.0.113.9", "fd00:5357:3::9"])
def test_reverse_lookup_of_a_real_address_sends_no_query(client, addr):
    # A PTR query would tell the local resolver whom the program talks
    # to; in remote mode the address simply has no name.
    r = client.run_wrapped(dns_client("reverse", addr), proxy=DANTE)
    assert r.rc == 0, r
    out = r.json()
    assert out["nameinfo"] == [addr, "80"], r
    assert out["nameinfo_reqd"] == {"error": "EAI_NONAME"}, r
    assert out["gethostbyaddr"] == {"error": 1}, r  # HOST_NOT_FOUND


def test_unknown_fake_address_is_unreachable(client):
    # A fake address the pool never handed out: fail, never leak.
    r = client.run_wrapped(client_script("tcp_client.py", "198.19.255.254",
                                         80), proxy=DANTE)
    assert r.rc == 0, r
    assert r.json()["result"] == "EHOSTUNREACH", r
    assert client.target_peers() == []


# ---- names the proxy cannot resolve, names that stay local ----------------

def test_name_unknown_at_the_proxy_fails_without_local_query(client):
    r = client.run_wrapped(CURL + ["http://nosuch.test/"], proxy=DANTE)
    # dante answers "host unreachable": connect() fails, curl exits 7.
    assert r.rc == 7, r
    assert 'could not resolve hostname "nosuch.test"' in \
        client.proxy_log("dante")
    assert client.target_peers() == []


def test_etc_hosts_name_goes_through_proxy_by_address(client):
    r = client.run_wrapped(CURL + ["http://hosts-entry.test/"], proxy=DANTE)
    assert r.rc == 0, r
    # Connected by address 203.0.113.7: the proxy connects over IPv4.
    assert_through_proxy(client, r, peers={"203.0.113.1"})


@pytest.mark.local_dns
@pytest.mark.parametrize("entry", [".corp.test", "*.corp.test",
                                   "app.corp.test"])
def test_split_dns_excluded_name_resolves_locally_and_connects_direct(
        client, entry):
    # The one direct connection this test expects, to the corp server.
    client.capture.allow("tcp", dnsenv.CORP_HTTP_PORT)
    r = client.run_wrapped(
        dns_client("fetch", "http://app.corp.test:%d/" %
                   dnsenv.CORP_HTTP_PORT),
        proxy=DANTE, env={"SOCKS5WRAP_NO_PROXY": NO_PROXY_BASE + entry})
    assert r.rc == 0, r
    out = r.json()
    assert out.get("status") == 200, r
    assert "peer 192.0.2.2 " in out["body"], r
    assert [a for a, _ in client.corp_http_peers()] == ["192.0.2.2"]
    queries = client.trap_queries()
    assert queries, "the excluded name was not resolved locally"
    assert {q["name"] for q in queries} == {"app.corp.test"}, queries
    # dante writes a destination as ADDR.PORT: it never heard of this one.
    assert "192.0.2.1.%d" % dnsenv.CORP_HTTP_PORT not in \
        client.proxy_log("dante")
    assert client.target_peers() == []


@pytest.mark.local_dns
def test_dns_local_mode_resolves_here_and_leaks_the_query(client):
    # --dns=local: the local resolver (the trap) answers NXDOMAIN for
    # www.test, so curl cannot resolve it; the query is the documented
    # leak this mode implies.
    r = client.run_wrapped(CURL + ["http://www.test/"], proxy=DANTE,
                           opts=["--dns=local"])
    assert r.rc == 6, r
    queries = client.trap_queries()
    assert queries and {q["name"] for q in queries} == {"www.test"}, queries
    assert client.target_peers() == []


# ---- the leak capture's DNS rules ----------------------------------------

def _frame(src, dst, proto, sport, dport):
    l4 = struct.pack("!HH", sport, dport) + b"\x00" * 16
    if ":" in src:
        ip = (b"\x60\x00\x00\x00" + struct.pack("!H", len(l4)) +
              bytes([proto, 64]) + socket.inet_pton(socket.AF_INET6, src) +
              socket.inet_pton(socket.AF_INET6, dst))
        etype = 0x86DD
    else:
        ip = (bytes([0x45, 0, 0, 20 + len(l4), 0, 0, 0, 0, 64, proto, 0, 0])
              + socket.inet_aton(src) + socket.inet_aton(dst))
        etype = 0x0800
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", etype) + ip + l4


UDP, TCP = 17, 6


@pytest.mark.parametrize("frame,strict,local_dns", [
    # DNS to the proxy host itself is still DNS
    (_frame("192.0.2.2", "192.0.2.1", UDP, 40000, 53), False, False),
    (_frame("192.0.2.1", "192.0.2.2", TCP, 53, 40000), False, False),
    (_frame("fd00:5357:1::2", "fd00:5357:1::1", UDP, 40000, 53), False,
     False),
    # the trap: a leak unless the test expects a local query
    (_frame("192.0.2.2", "192.0.2.53", UDP, 40000, 53), False, True),
    (_frame("192.0.2.53", "192.0.2.2", UDP, 53, 40000), False, True),
    (_frame("192.0.2.2", "192.0.2.53", TCP, 40000, 53), False, True),
    # anything else to the trap is never allowed
    (_frame("192.0.2.2", "192.0.2.53", TCP, 40000, 80), False, False),
    # the proxy traffic stays allowed either way
    (_frame("192.0.2.2", "192.0.2.1", TCP, 40000, 1080), True, True),
])
def test_leak_classifier_dns_rules(frame, strict, local_dns):
    assert leakcap.classify(frame)[0] is strict
    assert leakcap.classify(frame, allow_local_dns=True)[0] is local_dns
