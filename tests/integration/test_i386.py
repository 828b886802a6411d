"""32-bit programs through socks5wrap: the library's -m32 build.

The launcher puts DIR/$LIB/libsocks5wrap.so into LD_PRELOAD, and each
dynamic loader opens the build of its own kind (ld.so(8) expands $LIB):
a 32-bit program, a 64-bit shell that runs one, a 64-bit parent that
execs one. The 32-bit client is clients/supervise_client.c built with
`gcc -m32` once per session (a few seconds in all); each test checks what
it got (the target's page names the proxy as its peer), who reached the
target, and the client fixture fails it when anything left the client
namespace around the proxy.

    BUILD=build /usr/bin/python3 -m pytest -q tests/integration/test_i386.py
"""

import os
import shlex
import shutil
import subprocess

import pytest

import harness
import sanitizers
import topo
from harness import CLIENTS, DANTE
from test_supervise import (NAME, HTTP, ECHO, PROXY_SIDES, _build,
                            assert_fetch_via_proxy, assert_only_proxy_reached,
                            in_fake_net, json_lines, run)

TARGET4 = topo.TARGET4
REPO = harness.REPO


def lib_tokens():
    """(native, 32-bit) expansions of $LIB the Makefile found, from
    BUILD/lib-token.mk; the 32-bit one is required here."""
    path = os.path.join(harness.build_dir(), "lib-token.mk")
    with open(path) as f:
        kv = dict(l.split(" := ", 1) for l in f.read().splitlines()
                  if " := " in l)
    native, t32 = kv.get("LIB_TOKEN", ""), kv.get("LIB_TOKEN32", "")
    assert native and t32, "no 32-bit library in %s: %s" % (
        harness.build_dir(), kv.get("LIB_TOKEN32_WHY"))
    return native, t32


def elf_class(path):
    with open(path, "rb") as f:
        head = f.read(5)
    assert head[:4] == b"\x7fELF", path
    return 32 if head[4] == 1 else 64


@pytest.fixture(scope="session")
def tokens():
    # A kernel without IA32 emulation runs no 32-bit program, so the build
    # has no 32-bit library and nothing here can run; anywhere else a
    # missing 32-bit library fails.
    harness.skip_without_ia32()
    return lib_tokens()


@pytest.fixture(scope="session")
def bin32(tmp_path_factory, tokens):
    """clients/supervise_client.c with gcc -m32 (dynamic: the preload's)."""
    d = tmp_path_factory.mktemp("i386-bin")
    out = str(d / "supervise_client32")
    _build(["gcc", "-m32", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread",
            "-o", out, os.path.join(CLIENTS, "supervise_client.c")],
           "supervise_client (gcc -m32)")
    assert elf_class(out) == 32, out
    return out


@pytest.fixture(scope="session")
def bin64(tmp_path_factory):
    d = tmp_path_factory.mktemp("i386-bin64")
    out = str(d / "supervise_client64")
    _build(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o",
            out, os.path.join(CLIENTS, "supervise_client.c")],
           "supervise_client (native)")
    assert elf_class(out) == 64, out
    return out


def fetched(r, how=None):
    """The one fetch line of a supervise_client run, checked: connected,
    page through the proxy."""
    assert r.rc == 0, r
    lines = [l for l in json_lines(r.stdout) if "connect" in l]
    assert len(lines) == 1, r
    res = lines[0]
    if how:
        assert res["how"] == how, r
    assert_fetch_via_proxy(res, r)
    return res


# What the dynamic loader says when it skips our library for a program of
# the other kind (under SANITIZE=1 it says so about the 64-bit libasan the
# tests preload, in a 32-bit program: that one is allowed).
SKIPPED = "libsocks5wrap.so' from LD_PRELOAD cannot be preloaded"


def no_arch_warning(r):
    assert "another architecture" not in r.stderr, r
    assert SKIPPED not in r.stderr, r


def both_fetched(client, r):
    """A run with two fetches, a 32- and a 64-bit program's: both through
    the proxy, our library skipped by neither loader."""
    lines = [l for l in json_lines(r.stdout) if "connect" in l]
    assert len(lines) == 2, r
    for res in lines:
        assert_fetch_via_proxy(res, r)
    assert SKIPPED not in r.stderr, r
    assert_only_proxy_reached(client, r, want=2)


def test_build_tree_holds_both_builds_under_lib(tokens):
    native, t32 = tokens
    b = harness.build_dir()
    lib64 = os.path.join(b, native, "libsocks5wrap.so")
    lib32 = os.path.join(b, t32, "libsocks5wrap.so")
    assert os.path.samefile(lib64, harness.library_path())
    assert elf_class(lib64) == 64 and elf_class(lib32) == 32


def test_launcher_preloads_through_lib_token(client, bin32):
    r = run(client, ["/bin/sh", "-c", 'printf "%s\\n" "$LD_PRELOAD"'])
    assert r.rc == 0, r
    first = r.stdout.split("\n")[0].split(":")[0]
    assert first == os.path.join(os.path.realpath(harness.build_dir()),
                                 "$LIB",
                                 "libsocks5wrap.so"), r


def test_32bit_program_fetches_by_name(client, bin32):
    # The name exists only for the proxy (remote DNS): the program gets a
    # fake address from the 32-bit library and connects to it.
    r = run(client, [bin32, "http", NAME, HTTP])
    res = fetched(r, "name")
    assert in_fake_net(res["addr"][0]), r
    no_arch_warning(r)
    assert_only_proxy_reached(client, r, want=1)


def test_32bit_program_fetches_by_address(client, bin32):
    r = run(client, [bin32, "http", TARGET4, HTTP])
    res = fetched(r, "address")
    assert res["peer"][0] == TARGET4, r
    assert_only_proxy_reached(client, r, want=1)


@pytest.mark.parametrize("mode", ["raw", "socketcall"])
def test_32bit_raw_system_call_connect_goes_through_the_proxy(client, bin32,
                                                               mode):
    # syscall(SYS_connect, ...) and syscall(SYS_socketcall, SYS_CONNECT,
    # args): no libc connect(), yet the library's syscall() takes them.
    r = run(client, [bin32, mode, TARGET4, HTTP])
    fetched(r, "address")
    assert_only_proxy_reached(client, r, want=1)


def test_32bit_udp_through_udp_associate(client, bin32):
    # sendto, sendmsg, sendmmsg and connect + send, one datagram each, each
    # echoed back through dante's relay.
    r = run(client, [bin32, "udp", TARGET4, ECHO])
    assert r.rc == 0, r
    res = r.json()
    assert len(res) == 4, r
    for way, got in res.items():
        assert got["send"] == "ok", (way, r)
        assert got["answer"] is not None, (way, r)
        src = got["answer"].split("\n", 1)[0].split()
        assert src[0] == "from" and src[1] in PROXY_SIDES, (way, r)
    assert_only_proxy_reached(client, r, want=4, proto="udp/%d" % ECHO)


def test_64bit_shell_runs_32_and_64bit_programs(client, bin32, bin64):
    script = "%s http %s %d && %s http %s %d" % (
        shlex.quote(bin32), NAME, HTTP, shlex.quote(bin64), NAME, HTTP)
    r = run(client, ["/bin/sh", "-c", script])
    assert r.rc == 0, r
    both_fetched(client, r)


# A 64-bit parent resolves (a fake address from the 64-bit library) and
# execs a 32-bit child that connects to it: the child's library must know
# the name behind the address, from a name table both share.
EXEC_CODE = r"""
import os, socket, sys
child, name, port = sys.argv[1], sys.argv[2], sys.argv[3]
addr = socket.getaddrinfo(name, int(port), socket.AF_INET,
                          socket.SOCK_STREAM)[0][4][0]
sys.stdout.flush()
os.execv(child, [child, "http", addr, port])
"""


def test_64bit_parent_resolves_and_execs_a_32bit_child(client, bin32):
    r = run(client, ["/usr/bin/python3", "-c", EXEC_CODE, bin32, NAME,
                     HTTP])
    res = fetched(r, "address")
    assert in_fake_net(res["addr"][0]), r
    assert_only_proxy_reached(client, r, want=1)


def test_32bit_parent_resolves_and_execs_a_64bit_child(client, bin32,
                                                       bin64):
    r = run(client, [bin32, "resolve-exec", NAME, HTTP, bin64])
    lines = json_lines(r.stdout)
    assert lines and in_fake_net(lines[0].get("resolved", "")), r
    res = fetched(r, "address")
    assert res["addr"][0] == lines[0]["resolved"], r
    assert_only_proxy_reached(client, r, want=1)


# -- make install --------------------------------------------------------------

def test_make_install_puts_both_builds_where_lib_finds_them(client, tokens,
                                                             bin32, bin64,
                                                             tmp_path):
    # Installed into DESTDIR with the PREFIX the launcher was built for
    # (/usr/local), then run from a mount namespace where DESTDIR's
    # /usr/local is /usr/local: the installed launcher, away from the
    # build tree, must find both libraries where $LIB leads.
    native, t32 = tokens
    dest = str(tmp_path / "dest")
    args = ["make", "-s", "-C", REPO, "install", "DESTDIR=" + dest,
            "BUILD=" + harness.build_dir()]
    if sanitizers.enabled():
        args.append("SANITIZE=1")
    cp = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert cp.returncode == 0, cp
    pre = os.path.join(dest, "usr/local")
    lib64 = os.path.join(pre, native, "socks5wrap/libsocks5wrap.so")
    lib32 = os.path.join(pre, t32, "socks5wrap/libsocks5wrap.so")
    assert elf_class(lib64) == 64 and elf_class(lib32) == 32
    launcher = os.path.join(pre, "bin/socks5wrap")
    assert os.access(launcher, os.X_OK)
    assert not os.path.exists(os.path.join(pre, "bin/libsocks5wrap.so"))

    inner = "%s && %s && %s" % (
        'printf "%s\\n" "$LD_PRELOAD"',
        "%s http %s %d" % (shlex.quote(bin32), NAME, HTTP),
        "%s http %s %d" % (shlex.quote(bin64), NAME, HTTP))
    outer = "mount --bind %s /usr/local && exec %s -p %s -- sh -c %s" % (
        shlex.quote(pre), "/usr/local/bin/socks5wrap", DANTE,
        shlex.quote(inner))
    env = {}
    if sanitizers.enabled():
        env = {"ASAN_OPTIONS": sanitizers.ASAN_OPTIONS,
               "UBSAN_OPTIONS": sanitizers.UBSAN_OPTIONS}
    r = client.run_direct([shutil.which("unshare"), "-m", "/bin/sh", "-c",
                           outer], env=env, timeout=30)
    assert r.rc == 0, r
    assert r.stdout.split("\n")[0] == \
        "/usr/local/$LIB/socks5wrap/libsocks5wrap.so", r
    both_fetched(client, r)
