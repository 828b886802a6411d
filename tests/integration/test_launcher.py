"""The socks5wrap launcher: options, environment, exit codes, warnings, --check.

These tests need no root and no network namespace. Programs run under a
tiny stand-in library (SOCKS5WRAP_LIBRARY) unless the test is about the
real one, so the launcher is tested on its own. --check talks to a small
SOCKS5 server played by a thread of this file.

    BUILD=build /usr/bin/python3 -m pytest -q tests/integration/test_launcher.py
"""

import os
import shutil
import socket
import stat
import subprocess
import threading

import pytest

import sanitizers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
LAUNCHER = os.path.join(BUILD, "socks5wrap")
REAL_LIB = os.path.join(BUILD, "libsocks5wrap.so")
TIMEOUT = 20  # seconds, for every subprocess

OWN, CANNOT, NOTFOUND = 125, 126, 127

OUR_VARS = ("SOCKS5_PROXY", "SOCKS5_USER", "SOCKS5_PASSWORD",
            "SOCKS5WRAP_NO_PROXY", "SOCKS5WRAP_TIMEOUT", "SOCKS5WRAP_LOG",
            "SOCKS5WRAP_LOG_FILE", "SOCKS5WRAP_DNS", "SOCKS5WRAP_LIBRARY",
            "SOCKS5WRAP_FAKE_NET", "SOCKS5WRAP_FAKE_NET6", "LD_PRELOAD")


# ---- helpers --------------------------------------------------------------

def lib_tokens():
    """(native, 32-bit) expansions of $LIB as the Makefile found them
    (BUILD/lib-token.mk); the 32-bit one is "" without a 32-bit build."""
    with open(os.path.join(BUILD, "lib-token.mk")) as f:
        kv = dict(l.rstrip("\n").split(" := ", 1) for l in f
                  if " := " in l)
    return kv.get("LIB_TOKEN", ""), kv.get("LIB_TOKEN32", "")


def build_tree_entry():
    """What the build tree's launcher puts into LD_PRELOAD: BUILD/$LIB/...
    when the 32-bit build is there too, else the library's path."""
    if lib_tokens()[1]:
        return os.path.join(os.path.realpath(BUILD), "$LIB",
                            "libsocks5wrap.so")
    return os.path.realpath(REAL_LIB)


def compile_c(src_text, out, *flags):
    """Compiles a C snippet; returns the CompletedProcess."""
    src = out + ".c"
    with open(src, "w") as f:
        f.write(src_text)
    return subprocess.run(["gcc", "-Wall", "-Wextra", "-Werror", *flags,
                           "-o", out, src],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def launcher():
    if not os.access(LAUNCHER, os.X_OK):
        pytest.fail("%s is not built (make BUILD=... %s)" % (LAUNCHER,
                                                             LAUNCHER))
    return LAUNCHER


@pytest.fixture(scope="session")
def libs(tmp_path_factory):
    """Two empty shared libraries that stand in for the real one."""
    d = tmp_path_factory.mktemp("libs")
    paths = []
    for name in ("stand-in", "other"):
        out = str(d / ("lib%s.so" % name))
        r = compile_c("int s5w_%s;\n" % name.replace("-", "_"), out,
                      "-shared", "-fPIC")
        assert r.returncode == 0, r.stderr
        paths.append(out)
    return paths


def clean_env(**extra):
    """The test's environment without any variable the launcher reads."""
    env = {k: v for k, v in os.environ.items() if k not in OUR_VARS}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    if sanitizers.enabled():
        # The launcher is an ASan program itself: a test's LD_PRELOAD
        # would put another library before the ASan runtime. Its leaks
        # are checked (it is ours); a report ends it with the sanitizers'
        # own exit statuses, never with one a test expects.
        opts = env.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
            "verify_asan_link_order=0:exitcode=%d" % sanitizers.ASAN_EXITCODE
        env["UBSAN_OPTIONS"] = sanitizers.UBSAN_OPTIONS
    env.update(extra)
    return env


def run_checked(argv, env, **kw):
    """subprocess.run with output captured; a sanitizer report (or, under
    SANITIZE=1, a sanitizer's exit status) fails the test."""
    r = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=TIMEOUT, **kw)
    sanitizers.check(r.returncode, r.stdout, r.stderr,
                     "$ %s\nexit %d\n--- stdout ---\n%s\n--- stderr ---\n%s"
                     % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


def run(args, env, **kw):
    return run_checked([LAUNCHER, *args], env, **kw)


def prog_env(libs, **extra):
    """A usable configuration and the stand-in library: ready to run."""
    return clean_env(**{"SOCKS5_PROXY": "127.0.0.1:1",
                        "SOCKS5WRAP_LIBRARY": libs[0], **extra})


def env_lines(stdout):
    return dict(line.split("=", 1) for line in stdout.splitlines()
                if "=" in line)


# ---- --help, --version, usage ---------------------------------------------

def test_help_goes_to_stdout_and_exits_0(launcher):
    for opt in ("--help", "-h"):
        r = run([opt], clean_env())
        assert r.returncode == 0
        assert r.stdout.startswith("Usage: socks5wrap")
        assert "SOCKS5_PASSWORD" in r.stdout
        assert "--check" in r.stdout
        assert r.stderr == ""


def test_version_goes_to_stdout_and_exits_0(launcher):
    r = run(["--version"], clean_env())
    assert r.returncode == 0
    assert r.stdout.startswith("socks5wrap ")
    assert r.stderr == ""


def test_no_program_prints_usage_and_exits_125(launcher):
    r = run([], clean_env(SOCKS5_PROXY="127.0.0.1:1"))
    assert r.returncode == OWN
    assert "Usage:" in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("args,word", [
    (["--bogus", "/bin/true"], "--bogus"),
    (["-Z", "/bin/true"], "-Z"),
    (["-p"], "-p"),
    (["--proxy"], "--proxy"),
    (["--help=3"], "--help=3"),
    (["--check", "-Zq"], "-Z"),
])
def test_bad_option_exits_125_naming_it(launcher, args, word):
    r = run(args, clean_env(SOCKS5_PROXY="127.0.0.1:1"))
    assert r.returncode == OWN
    assert r.stderr.startswith("socks5wrap: ")
    assert word in r.stderr


@pytest.mark.parametrize("args,prefix", [
    (["-p", "socks5://[::1", "/bin/true"], "socks5wrap: -p: "),
    (["--proxy=ftp://host", "/bin/true"], "socks5wrap: --proxy: "),
    (["-t", "abc", "/bin/true"], "socks5wrap: -t: "),
    (["--timeout", "0", "/bin/true"], "socks5wrap: --timeout: "),
    (["-n", "10.0.0.0/99", "/bin/true"], "socks5wrap: -n: "),
    (["-u", "", "/bin/true"], "socks5wrap: -u: "),
    (["--dns=nearby", "/bin/true"], "socks5wrap: --dns: "),
    (["--udp=drop", "/bin/true"], "socks5wrap: --udp: "),
    (["--bind=some", "/bin/true"], "socks5wrap: --bind: "),
    (["--log-file=", "/bin/true"], "socks5wrap: --log-file: "),
])
def test_bad_value_exits_125_naming_the_option(launcher, libs, args, prefix):
    r = run(args, prog_env(libs))
    assert r.returncode == OWN, r.stderr
    assert r.stderr.startswith(prefix), r.stderr


def test_verbose_and_quiet_together_are_refused(launcher, libs):
    r = run(["-v", "-q", "/bin/true"], prog_env(libs))
    assert r.returncode == OWN
    assert "-v and -q" in r.stderr


# ---- configuration --------------------------------------------------------

def test_no_proxy_configured_exits_125_with_a_hint(launcher, libs):
    for env in (clean_env(SOCKS5WRAP_LIBRARY=libs[0]),
                clean_env(SOCKS5WRAP_LIBRARY=libs[0], SOCKS5_PROXY="")):
        r = run(["/bin/true"], env)
        assert r.returncode == OWN
        assert "set SOCKS5_PROXY or use -p" in r.stderr


def test_bad_variable_in_environment_exits_125_naming_it(launcher, libs):
    r = run(["/bin/true"], prog_env(libs, SOCKS5WRAP_TIMEOUT="abc"))
    assert r.returncode == OWN
    assert r.stderr.startswith("socks5wrap: ")
    assert "SOCKS5WRAP_TIMEOUT" in r.stderr


@pytest.mark.parametrize("extra,error", [
    ({"SOCKS5WRAP_FAKE_NET": "127.0.0.0/8"},
     "SOCKS5WRAP_FAKE_NET: 127.0.0.0/8 overlaps loopback (127.0.0.0/8)"),
    ({"SOCKS5WRAP_FAKE_NET6": "::/64"},
     "SOCKS5WRAP_FAKE_NET6: ::/64 overlaps loopback (::1)"),
    ({"SOCKS5_PROXY": "192.0.2.1:1080", "SOCKS5WRAP_FAKE_NET": "192.0.2.0/24"},
     "SOCKS5WRAP_FAKE_NET: 192.0.2.0/24 overlaps the proxy's address "
     "(192.0.2.1)"),
    ({"SOCKS5WRAP_NO_PROXY": "10.0.0.0/8", "SOCKS5WRAP_FAKE_NET": "10.1.0.0/16"},
     "SOCKS5WRAP_FAKE_NET: 10.1.0.0/16 overlaps an entry of "
     "SOCKS5WRAP_NO_PROXY (10.0.0.0/8)"),
], ids=["loopback", "loopback6", "proxy", "exclusion"])
def test_fake_range_that_overlaps_exits_125_and_runs_nothing(
        launcher, libs, tmp_path, extra, error):
    marker = tmp_path / "ran"
    r = run(["/bin/sh", "-c", "echo ran; touch %s" % marker],
            prog_env(libs, **extra))
    assert r.returncode == OWN, r.stderr
    assert r.stderr == "socks5wrap: %s\n" % error
    assert r.stdout == ""
    assert not marker.exists()


def test_unresolvable_proxy_name_exits_125(launcher, libs):
    env = prog_env(libs, SOCKS5_PROXY="no-such-host.invalid:1080")
    r = run(["/bin/true"], env)
    assert r.returncode == OWN
    assert r.stderr.startswith("socks5wrap: ")


# ---- PROGRAM: found, not found, not executable ----------------------------

def test_program_exit_status_is_passed_on(launcher, libs):
    r = run(["/bin/sh", "-c", "exit 7"], prog_env(libs))
    assert r.returncode == 7


def test_options_after_program_belong_to_it(launcher, libs):
    r = run(["echo", "-v", "--help"], prog_env(libs))
    assert r.returncode == 0
    assert r.stdout == "-v --help\n"
    r = run(["-q", "--", "echo", "-p", "x"], prog_env(libs))
    assert r.returncode == 0
    assert r.stdout == "-p x\n"


def test_missing_program_exits_127(launcher, libs):
    r = run(["no-such-program-s5w"], prog_env(libs))
    assert r.returncode == NOTFOUND
    assert r.stderr == \
        "socks5wrap: no-such-program-s5w: command not found\n"
    r = run(["./no/such/program"], prog_env(libs))
    assert r.returncode == NOTFOUND
    assert "./no/such/program" in r.stderr


def test_non_executable_file_exits_126(launcher, libs, tmp_path):
    f = tmp_path / "notexec"
    f.write_text("#!/bin/sh\necho should not run\n")
    # No execute bit at all: execve refuses even root (EACCES).
    f.chmod(0o644)
    r = run([str(f)], prog_env(libs))
    assert r.returncode == CANNOT
    assert "Permission denied" in r.stderr
    # Found through PATH as well: still 126, not 127.
    r = run(["notexec"], prog_env(libs, PATH=str(tmp_path)))
    assert r.returncode == CANNOT


def test_file_that_is_no_program_exits_126(launcher, libs, tmp_path):
    f = tmp_path / "data"
    f.write_bytes(b"\x00\x01not a program\n")
    f.chmod(0o755)
    r = run([str(f)], prog_env(libs))
    assert r.returncode == CANNOT
    assert str(f) in r.stderr


def test_program_is_searched_in_path(launcher, libs, tmp_path):
    f = tmp_path / "hello-s5w"
    f.write_text("#!/bin/sh\necho found me\n")
    f.chmod(0o755)
    r = run(["hello-s5w"],
            prog_env(libs, PATH="/nonexistent:%s:/bin" % tmp_path))
    assert r.returncode == 0
    assert r.stdout == "found me\n"


# ---- environment for the program ------------------------------------------

def test_options_become_environment_variables(launcher, libs, tmp_path):
    log = str(tmp_path / "s5w.log")
    proxy = "socks5://127.0.0.1:1081"
    r = run(["-p", proxy, "-u", "alice", "-n", "10.0.0.0/8,.corp",
             "-t", "2.5", "-vv", "--log-file", log, "--dns=local",
             "--udp=block", "--bind=all", "--pipeline", "--optimistic",
             "--supervise", "/usr/bin/env"],
            prog_env(libs))
    assert r.returncode == 0, r.stderr
    env = env_lines(r.stdout)
    assert env["SOCKS5_PROXY"] == proxy
    assert env["SOCKS5_USER"] == "alice"
    assert env["SOCKS5WRAP_NO_PROXY"] == "10.0.0.0/8,.corp"
    assert env["SOCKS5WRAP_TIMEOUT"] == "2.5"
    assert env["SOCKS5WRAP_LOG"] == "debug"
    assert env["SOCKS5WRAP_LOG_FILE"] == log
    assert env["SOCKS5WRAP_DNS"] == "local"
    assert env["SOCKS5WRAP_UDP"] == "block"
    assert env["SOCKS5WRAP_BIND"] == "all"
    assert env["SOCKS5WRAP_PIPELINE"] == "1"
    assert env["SOCKS5WRAP_OPTIMISTIC"] == "1"
    assert env["SOCKS5WRAP_SUPERVISE"] == "on"
    r = run(["--no-supervise", "/usr/bin/env"], prog_env(libs))
    assert r.returncode == 0, r.stderr
    assert env_lines(r.stdout)["SOCKS5WRAP_SUPERVISE"] == "off"


@pytest.mark.parametrize("flags,level", [
    (["-v"], "info"), (["--verbose", "--verbose"], "debug"),
    (["-vvv"], "debug"), (["-q"], "none"), (["--quiet"], "none"),
])
def test_verbosity_sets_the_log_level(launcher, libs, flags, level):
    r = run([*flags, "/usr/bin/env"], prog_env(libs))
    assert r.returncode == 0, r.stderr
    assert env_lines(r.stdout)["SOCKS5WRAP_LOG"] == level


def test_option_overrides_the_environment(launcher, libs):
    env = prog_env(libs, SOCKS5_PROXY="127.0.0.2:2", SOCKS5_USER="bob",
                   SOCKS5WRAP_LOG="warn", SOCKS5_PASSWORD="pw")
    r = run(["-p", "127.0.0.3:3", "/usr/bin/env"], env)
    assert r.returncode == 0, r.stderr
    out = env_lines(r.stdout)
    assert out["SOCKS5_PROXY"] == "127.0.0.3:3"
    # What no option was given for stays as it was.
    assert out["SOCKS5_USER"] == "bob"
    assert out["SOCKS5WRAP_LOG"] == "warn"
    assert out["SOCKS5_PASSWORD"] == "pw"


def test_ld_preload_gets_the_library_first(launcher, libs):
    lib, other = libs
    r = run(["/usr/bin/env"], prog_env(libs))
    assert r.returncode == 0, r.stderr
    assert env_lines(r.stdout)["LD_PRELOAD"] == lib
    r = run(["/usr/bin/env"], prog_env(libs, LD_PRELOAD=""))
    assert env_lines(r.stdout)["LD_PRELOAD"] == lib
    r = run(["/usr/bin/env"], prog_env(libs, LD_PRELOAD=other))
    assert r.returncode == 0, r.stderr
    assert env_lines(r.stdout)["LD_PRELOAD"] == lib + ":" + other


def test_real_library_beside_the_launcher_is_preloaded(launcher, libs):
    # make builds both side by side.
    assert os.path.exists(REAL_LIB), "%s is not built" % REAL_LIB
    other = libs[1]
    extra = {}
    if sanitizers.enabled():
        # A sanitizer build needs the ASan runtime loaded: it is the
        # "other" preloaded library here, kept after ours. env(1) is not
        # ours: its leaks are not checked.
        other = subprocess.run(["gcc", "-print-file-name=libasan.so"],
                               capture_output=True, text=True,
                               timeout=TIMEOUT).stdout.strip()
        extra["ASAN_OPTIONS"] = sanitizers.ASAN_OPTIONS
    env = clean_env(SOCKS5_PROXY="127.0.0.1:1", LD_PRELOAD=other, **extra)
    r = run(["/usr/bin/env"], env)
    assert r.returncode == 0, r.stderr
    assert env_lines(r.stdout)["LD_PRELOAD"] == \
        build_tree_entry() + ":" + other


def test_library_beside_a_copied_launcher_is_found(launcher, libs, tmp_path):
    shutil.copy(LAUNCHER, tmp_path / "socks5wrap")
    shutil.copy(libs[0], tmp_path / "libsocks5wrap.so")
    r = run_checked([str(tmp_path / "socks5wrap"), "/usr/bin/env"],
                    clean_env(SOCKS5_PROXY="127.0.0.1:1"))
    assert r.returncode == 0, r.stderr
    assert env_lines(r.stdout)["LD_PRELOAD"] == \
        os.path.realpath(str(tmp_path / "libsocks5wrap.so"))


def test_missing_library_exits_125_naming_the_paths(launcher, tmp_path):
    copy = str(tmp_path / "socks5wrap")
    shutil.copy(LAUNCHER, copy)
    env = clean_env(SOCKS5_PROXY="127.0.0.1:1")
    hide = []
    r = run_checked([copy, "/usr/bin/env"], env)
    if r.returncode == 0:
        # An installed library (make install) was found: this run gets a
        # mount namespace of its own with an empty directory in its place
        # (root only, as the integration tests; elsewhere unshare fails
        # and so does the test).
        installed = env_lines(r.stdout)["LD_PRELOAD"]
        assert installed.endswith("/socks5wrap/libsocks5wrap.so"), r.stdout
        # Both builds installed: the entry holds $LIB, and the native
        # build's directory is the one the launcher checks first.
        installed = installed.replace("$LIB", lib_tokens()[0])
        hide = ["unshare", "--mount", "--propagation", "private", "--",
                "sh", "-c", 'mount -t tmpfs s5w-hidden "$0" && exec "$@"',
                os.path.dirname(installed)]
    r = run_checked(hide + [copy, "/bin/true"], env)
    assert r.returncode == OWN, r.stderr
    assert os.path.realpath(str(tmp_path)) + "/libsocks5wrap.so" in r.stderr
    assert "/socks5wrap/libsocks5wrap.so" in r.stderr  # the installed place


def test_missing_override_library_exits_125(launcher):
    env = clean_env(SOCKS5_PROXY="127.0.0.1:1",
                    SOCKS5WRAP_LIBRARY="/nonexistent/libx.so")
    r = run(["/bin/true"], env)
    assert r.returncode == OWN
    assert "/nonexistent/libx.so" in r.stderr


def test_library_path_with_space_or_colon_is_refused(launcher, libs,
                                                     tmp_path):
    for dirname in ("with space", "with:colon"):
        d = tmp_path / dirname
        d.mkdir()
        shutil.copy(libs[0], d / "lib.so")
        env = clean_env(SOCKS5_PROXY="127.0.0.1:1",
                        SOCKS5WRAP_LIBRARY=str(d / "lib.so"))
        r = run(["/bin/true"], env)
        assert r.returncode == OWN
        assert "LD_PRELOAD" in r.stderr


# ---- warnings -------------------------------------------------------------

def test_dynamic_program_and_script_get_no_warning(launcher, libs, tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\nexit 0\n")
    # A setuid script: the kernel ignores the bit, so no warning either.
    script.chmod(0o4755)
    for prog in ("/bin/true", str(script)):
        r = run([prog], prog_env(libs))
        assert r.returncode == 0
        assert r.stderr == ""


def static_program(tmp_path):
    out = str(tmp_path / "static")
    r = compile_c('#include <stdio.h>\nint main(void)\n'
                  '{ puts("static ran"); return 0; }\n', out, "-static")
    # libc.a is in libc6-dev, which .ci/run installs.
    assert r.returncode == 0, \
        "cannot link statically (no libc.a?): " + r.stderr[-400:]
    return out


def test_static_program_is_supervised_without_a_word(launcher, libs,
                                                     tmp_path):
    out = static_program(tmp_path)
    r = run([out], prog_env(libs))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "static ran\n"
    assert r.stderr == ""
    # -v says what happens instead.
    r = run(["-v", out], prog_env(libs))
    assert r.returncode == 0, r.stderr
    assert "statically linked: its system calls are supervised" in r.stderr


def test_static_program_without_the_supervisor_gets_a_warning(launcher, libs,
                                                              tmp_path):
    out = static_program(tmp_path)
    for opts, env in ((["--no-supervise"], {}),
                      ([], {"SOCKS5WRAP_SUPERVISE": "off"})):
        r = run(opts + [out], prog_env(libs, **env))
        assert r.returncode == 0
        assert r.stdout == "static ran\n"
        assert "statically linked" in r.stderr
        assert "will not go through the proxy" in r.stderr
        assert r.stderr.count("\n") == 1


def test_bad_supervise_value_is_refused(launcher, libs):
    r = run(["/bin/true"], prog_env(libs, SOCKS5WRAP_SUPERVISE="maybe"))
    assert r.returncode == 125
    assert "SOCKS5WRAP_SUPERVISE" in r.stderr


def test_setuid_program_gets_a_warning(launcher, libs, tmp_path):
    for mode, word in ((0o4755, "setuid"), (0o2755, "setgid")):
        prog = tmp_path / ("true-" + word)
        shutil.copy("/bin/true", prog)
        prog.chmod(mode)
        # Root can always set both bits (the tests run as root).
        assert os.stat(prog).st_mode & (stat.S_ISUID | stat.S_ISGID), \
            "cannot set the %s bit here" % word
        r = run([str(prog)], prog_env(libs))
        assert r.returncode == 0
        assert "is " + word in r.stderr
        assert "LD_PRELOAD" in r.stderr


def test_password_in_proxy_url_warns_once(launcher, libs):
    r = run(["-p", "socks5://u:s3cr3t@127.0.0.1:1",
             "--proxy", "socks5://u:0th3r@127.0.0.1:1", "/bin/true"],
            prog_env(libs))
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("password") == 1
    assert "SOCKS5_PASSWORD" in r.stderr
    assert "s3cr3t" not in r.stderr and "0th3r" not in r.stderr
    r = run(["-p", "socks5://u@127.0.0.1:1", "/bin/true"], prog_env(libs))
    assert r.returncode == 0
    assert r.stderr == ""


# ---- --check --------------------------------------------------------------

def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


class ScriptedProxy:
    """Plays the proxy's side of one handshake (RFC 1928 section 3, RFC
    1929), then waits for the client to hang up. mode: "none" (no
    authentication), "userpass" (checks user/password), "stall" (never
    answers the greeting)."""

    def __init__(self, mode, user=b"", password=b"",
                 family=socket.AF_INET, host="127.0.0.1"):
        self.mode, self.user, self.password = mode, user, password
        self.methods = self.creds = None
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(4)
        self.sock.settimeout(TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(TIMEOUT)
            try:
                self.handshake(conn)
                while conn.recv(64):  # until the client closes
                    pass
            except (EOFError, OSError):
                pass

    def handshake(self, conn):
        ver, n = recv_exact(conn, 2)
        self.methods = recv_exact(conn, n)
        if self.mode == "stall":
            return
        if self.mode == "none":
            conn.sendall(b"\x05\x00")
            return
        conn.sendall(b"\x05\x02")
        _, ulen = recv_exact(conn, 2)
        user = recv_exact(conn, ulen)
        plen = recv_exact(conn, 1)[0]
        password = recv_exact(conn, plen)
        self.creds = (user, password)
        ok = (user, password) == (self.user, self.password)
        conn.sendall(b"\x01\x00" if ok else b"\x01\x01")

    def close(self):
        self.sock.close()
        self.thread.join(TIMEOUT)


@pytest.fixture
def proxy_factory():
    made = []

    def make(*args, **kw):
        p = ScriptedProxy(*args, **kw)
        made.append(p)
        return p
    yield make
    for p in made:
        p.close()


def free_port():
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_without_authentication(launcher, proxy_factory):
    p = proxy_factory("none")
    r = run(["--check"], clean_env(SOCKS5_PROXY="127.0.0.1:%d" % p.port))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "proxy 127.0.0.1:%d reachable; method: no " \
        "authentication\n" % p.port
    p.thread.join(TIMEOUT)
    assert p.methods == b"\x00"


def test_check_with_authentication(launcher, proxy_factory):
    p = proxy_factory("userpass", b"alice", b"pa:ss")
    env = clean_env(SOCKS5_PASSWORD="pa:ss")
    r = run(["-p", "127.0.0.1:%d" % p.port, "-u", "alice", "--check"], env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("proxy 127.0.0.1:%d reachable; method: "
                        "username/password; authentication succeeded\n"
                        % p.port)
    p.thread.join(TIMEOUT)
    assert p.methods == b"\x02"
    assert p.creds == (b"alice", b"pa:ss")


def test_check_with_rejected_credentials_exits_1(launcher, proxy_factory):
    p = proxy_factory("userpass", b"alice", b"right")
    env = clean_env(SOCKS5_PROXY="socks5://alice@127.0.0.1:%d" % p.port,
                    SOCKS5_PASSWORD="wrong")
    r = run(["--check"], env)
    # 1 is --check's "not accepted"; a sanitizer report ends the launcher
    # with a status of its own (run() fails the test on one).
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert r.stderr == ("socks5wrap: proxy 127.0.0.1:%d: proxy rejected the "
                        "username/password: Permission denied\n" % p.port)
    assert "wrong" not in r.stderr


def test_check_of_unreachable_proxy_exits_1(launcher):
    port = free_port()
    r = run(["--check", "-p", "127.0.0.1:%d" % port], clean_env())
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert r.stderr == ("socks5wrap: proxy 127.0.0.1:%d: could not connect "
                        "to the proxy: Connection refused\n" % port)


def test_check_of_silent_proxy_times_out(launcher, proxy_factory):
    p = proxy_factory("stall")
    r = run(["--check", "-t", "0.5", "-p", "127.0.0.1:%d" % p.port],
            clean_env())
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert r.stderr == ("socks5wrap: proxy 127.0.0.1:%d: proxy did not "
                        "answer in time: Connection timed out\n" % p.port)


def test_check_over_ipv6(launcher, proxy_factory):
    # The integration tests need IPv6 anyway: no ::1 is a broken machine.
    p = proxy_factory("none", family=socket.AF_INET6, host="::1")
    r = run(["--check", "-p", "[::1]:%d" % p.port], clean_env())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("proxy [::1]:%d reachable" % p.port)


def test_check_with_bad_configuration_exits_125(launcher):
    r = run(["--check"], clean_env())
    assert r.returncode == OWN
    assert "set SOCKS5_PROXY or use -p" in r.stderr
    r = run(["--check"], clean_env(SOCKS5_PROXY="127.0.0.1:1",
                                   SOCKS5WRAP_DNS="sideways"))
    assert r.returncode == OWN
    assert "SOCKS5WRAP_DNS" in r.stderr


def test_check_takes_no_program(launcher):
    r = run(["--check", "/bin/true"], clean_env(SOCKS5_PROXY="127.0.0.1:1"))
    assert r.returncode == OWN
