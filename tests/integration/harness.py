"""Run programs in the client namespace, with or without socks5wrap.

All client invocations go through Client.run_wrapped / run_direct, so the
sanitizer handling (SANITIZE=1) and the clean environment live here only.
"""

import errno
import json
import os
import select
import shlex
import shutil
import signal
import struct
import subprocess
import tempfile
import time

import pytest

import sanitizers
import topo

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLIENTS = os.path.join(HERE, "clients")
PYTHON = "/usr/bin/python3"

# Standard proxy URLs (see proxies.py for what runs on each port).
DANTE = "192.0.2.1:1080"
DANTE6 = "[fd00:5357:1::1]:1080"
DANTE_USER = "192.0.2.1:1081"
MICRO = "192.0.2.1:1082"
MICRO_USER = "192.0.2.1:1083"

# Variables from the caller's environment that would change what a client
# does; the tests set what they need explicitly.
SCRUB_PREFIXES = ("SOCKS5", "SOCKS5WRAP_", "ASAN_", "UBSAN_")
SCRUB_NAMES = ("LD_PRELOAD", "http_proxy", "https_proxy", "all_proxy",
               "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
               "NO_PROXY", "CURL_HOME")


def build_dir():
    b = os.environ.get("BUILD", "build")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def launcher_path():
    return os.path.join(build_dir(), "socks5wrap")


def library_path():
    return os.path.join(build_dir(), "libsocks5wrap.so")


# The skip reason of every test that needs a 32-bit x86 program to run
# (skip_policy.py accepts it on CI: a kernel property no package changes).
NO_IA32 = "this kernel cannot run 32-bit x86 programs (no IA32 emulation)"
_runs_32bit = None


def _i386_exit_elf(code):
    """The smallest i386 executable: one segment, and _exit(CODE) through
    int $0x80. Written by hand so that asking the kernel needs no -m32
    toolchain and no 32-bit libc."""
    base, off = 0x08048000, 52 + 32
    text = (b"\xb8\x01\x00\x00\x00"                  # mov eax, 1 (exit)
            + b"\xbb" + struct.pack("<I", code)       # mov ebx, CODE
            + b"\xcd\x80")                            # int $0x80
    size = off + len(text)
    ehdr = (b"\x7fELF\x01\x01\x01" + bytes(9)
            + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, base + off, 52, 0, 0,
                          52, 32, 1, 0, 0, 0))
    phdr = struct.pack("<IIIIIIII", 1, 0, base, base, size, size, 5,
                       0x1000)
    return ehdr + phdr + text


def kernel_runs_32bit():
    """Whether this kernel runs 32-bit x86 programs. Without IA32
    emulation (a kernel built without it, or booted with
    ia32_emulation=0) execve(2) fails with ENOEXEC, and int $0x80 from a
    64-bit program is killed by SIGSEGV: nothing 32-bit can be tested.
    Asked once, by running a tiny i386 program that exits with 42."""
    global _runs_32bit
    if _runs_32bit is None:
        with tempfile.TemporaryDirectory(prefix="s5w-ia32-") as d:
            path = os.path.join(d, "exit42")
            with open(path, "wb") as f:
                f.write(_i386_exit_elf(42))
            os.chmod(path, 0o755)
            try:
                rc = subprocess.run([path], timeout=10).returncode
            except OSError as e:
                if e.errno != errno.ENOEXEC:
                    raise
                rc = None
        # Any other outcome than ENOEXEC or exit 42 is a broken probe,
        # not a missing kernel feature: fail rather than skip.
        assert rc in (None, 42), "the i386 probe exited with %r" % rc
        _runs_32bit = rc == 42
    return _runs_32bit


def skip_without_ia32():
    """Skips the calling test (or fixture) when the kernel cannot run
    32-bit x86 programs; with IA32 emulation it does nothing."""
    if not kernel_runs_32bit():
        pytest.skip(NO_IA32)


ASAN_OPTIONS = sanitizers.ASAN_OPTIONS
# Programs that cannot start with libasan preloaded, and why. They run with
# the library's own dependency on libasan instead (see sanitizer_env). Any
# other program that hangs that way fails the test that runs it: nothing
# loses the preload without a reason written here.
NO_ASAN_PRELOAD = {
    "curl": "hangs in setlocale(): p11-kit's constructor (loaded through "
            "libcurl's TLS library) runs under the preloaded ASan runtime "
            "and waits on a lock forever",
    "wget": "hangs in setlocale(): p11-kit's constructor (loaded through "
            "GnuTLS) runs under the preloaded ASan runtime and waits on a "
            "lock forever",
    "lftp": "hangs in setlocale(): p11-kit's constructor (loaded through "
            "GnuTLS) runs under the preloaded ASan runtime and waits on a "
            "lock forever (a five-line program linked with libp11-kit "
            "does the same)",
}
# The probe: PROGRAM --version with libasan preloaded. A program that
# sleeps for PROBE_STALL_S without using any CPU time is hung (a lock that
# is never released); one that keeps working but has not finished after
# PROBE_LIMIT_S is a failure too, however slow the machine is.
PROBE_STALL_S = 5.0
PROBE_LIMIT_S = 120.0
# program path -> True when it runs with libasan preloaded, False when it
# is on NO_ASAN_PRELOAD and hangs, or an AssertionError to raise again
_asan_preload_ok = {}
# programs run without the libasan preload, for the session summary
asan_preload_skipped = set()


def libasan_path():
    cp = subprocess.run(["gcc", "-print-file-name=libasan.so"],
                        capture_output=True, text=True, timeout=10)
    asan = cp.stdout.strip()
    if cp.returncode != 0 or not os.path.isabs(asan):
        raise AssertionError("SANITIZE=1 but libasan.so not found: %r" % asan)
    return asan


def _session_activity(sid):
    """(states, user+system clock ticks) summed over every process of
    session SID: a program whose --version runs helpers counts as one. The
    states are the letters of proc(5), sorted."""
    states, ticks = [], 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                # The name in parentheses may hold spaces: count the
                # fields after its closing parenthesis.
                rest = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(rest[3]) == sid:
            states.append(rest[0])
            ticks += int(rest[11]) + int(rest[12])
    return "".join(sorted(states)), ticks


def _probe_asan_preload(path, asan):
    """Runs PATH --version with libasan preloaded. Returns "ok" when it
    ended by itself, "hung" when it slept PROBE_STALL_S without using CPU
    time; raises AssertionError when it was still busy after
    PROBE_LIMIT_S, was killed by a signal or printed a sanitizer report."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(SCRUB_PREFIXES) and k not in SCRUB_NAMES}
    env.update(LD_PRELOAD=asan, ASAN_OPTIONS=sanitizers.ASAN_OPTIONS,
               UBSAN_OPTIONS=sanitizers.UBSAN_OPTIONS)
    argv = [path, "--version"]
    what = "$ LD_PRELOAD=%s %s --version" % (asan, path)
    with tempfile.TemporaryFile() as errf:
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=errf,
                             start_new_session=True)
        t0 = time.monotonic()
        seen, still_since = None, t0
        try:
            while True:
                try:
                    rc = p.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                act = _session_activity(p.pid)
                # Only interruptible sleep without progress counts: a
                # process that is runnable (R) or waits for the disk (D)
                # is slow, not hung.
                if set(act[0]) != {"S"} or act != seen:
                    seen, still_since = act, now
                elif now - still_since >= PROBE_STALL_S:
                    return "hung"
                if now - t0 >= PROBE_LIMIT_S:
                    raise AssertionError(
                        "%s: still running after %.0f s, using CPU time "
                        "(slow, not hung): the preload probe gives up" % (
                            what, PROBE_LIMIT_S))
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    desc = "%s\nexit %s\n--- stderr ---\n%s" % (what, rc, err[-4000:])
    sanitizers.check(rc, "", err, desc)
    if rc < 0:
        raise AssertionError("killed by signal %d at start with libasan "
                             "preloaded:\n%s" % (-rc, desc))
    return "ok"


def asan_preload_works(program, asan):
    """Does PROGRAM start with libasan preloaded? Probed once per program
    (see _probe_asan_preload). A program that hangs must be listed in
    NO_ASAN_PRELOAD; then it runs without the preload. Raises
    AssertionError for any other program that cannot start that way."""
    path = shutil.which(program) or program
    if path not in _asan_preload_ok:
        try:
            outcome = _probe_asan_preload(path, asan)
        except AssertionError as e:
            _asan_preload_ok[path] = e
            raise
        name = os.path.basename(path)
        if outcome == "ok":
            _asan_preload_ok[path] = True
        elif name in NO_ASAN_PRELOAD:
            _asan_preload_ok[path] = False
            asan_preload_skipped.add(path)
        else:
            _asan_preload_ok[path] = AssertionError(
                "%s hangs at start with libasan preloaded (asleep for %.0f "
                "s without CPU time) and is not in harness.NO_ASAN_PRELOAD: "
                "find out why, and list it there with the reason only if it "
                "cannot be helped" % (path, PROBE_STALL_S))
    ok = _asan_preload_ok[path]
    if isinstance(ok, AssertionError):
        raise ok
    return ok


def sanitizer_env(program):
    """Extra variables for running PROGRAM under an ASan+UBSan build
    (SANITIZE=1), else {}. libasan is preloaded so that it comes first
    and replaces malloc; a program listed in NO_ASAN_PRELOAD that hangs
    with it runs without it, and the library's own dependency on libasan
    loads it later instead (ASan then checks stack and globals but not the
    heap of that program)."""
    if not sanitizers.enabled():
        return {}
    env = {"ASAN_OPTIONS": sanitizers.ASAN_OPTIONS,
           "UBSAN_OPTIONS": sanitizers.UBSAN_OPTIONS}
    asan = libasan_path()
    if asan_preload_works(program, asan):
        env["LD_PRELOAD"] = asan
    return env


def client_script(name, *args):
    """Command line for one of the Python programs in clients/."""
    return [PYTHON, os.path.join(CLIENTS, name)] + [str(a) for a in args]


class Result:
    def __init__(self, argv, rc, stdout, stderr, elapsed):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    def json(self):
        """The last line of stdout as JSON (what clients/*.py print)."""
        lines = [l for l in self.stdout.splitlines() if l.strip()]
        if not lines:
            raise AssertionError("no output from client\n%s" % self)
        try:
            return json.loads(lines[-1])
        except ValueError:
            raise AssertionError("client output is not JSON\n%s" % self)

    def __str__(self):
        return ("$ %s\nexit %s after %.2fs\n--- stdout ---\n%s\n"
                "--- stderr ---\n%s" % (
                    " ".join(shlex.quote(a) for a in self.argv), self.rc,
                    self.elapsed, self.stdout[-4000:], self.stderr[-4000:]))

    __repr__ = __str__


def has_interpreter(path):
    """Whether the 64-bit little-endian ELF file at path names a dynamic
    loader (a PT_INTERP program header): false for a static program."""
    with open(path, "rb") as f:
        head = f.read(64)
        assert head[:4] == b"\x7fELF" and head[4] == 2, path
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return any(struct.unpack_from("<I", table, i * phentsize)[0] == 3
               for i in range(phnum))


class Client:
    """Runs commands in the client namespace of a topology."""

    def __init__(self, t):
        self.topo = t

    def _env(self, extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(SCRUB_PREFIXES) and k not in SCRUB_NAMES}
        env.update(extra or {})
        return env

    def _run(self, argv, env, timeout, input):
        t0 = time.monotonic()
        try:
            cp = subprocess.run(argv, env=env, capture_output=True,
                                timeout=timeout, input=input,
                                text=True, errors="replace")
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(
                e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode(errors="replace") if isinstance(
                e.stderr, bytes) else (e.stderr or "")
            res = Result(argv, None, out, err, time.monotonic() - t0)
            sanitizers.check(None, out, err, str(res))
            raise AssertionError("client timed out after %ss\n%s" % (
                timeout, res))
        res = Result(argv, cp.returncode, cp.stdout, cp.stderr,
                     time.monotonic() - t0)
        # A sanitizer report fails the test whatever the test expects.
        sanitizers.check(res.rc, res.stdout, res.stderr, str(res))
        return res

    def _wrapped_argv(self, cmd, proxy, opts, env):
        launcher = launcher_path()
        if not os.access(launcher, os.X_OK):
            raise AssertionError(
                "launcher %s is not built (make, or set BUILD=)" % launcher)
        wrapped = [launcher]
        if proxy is not None:
            wrapped += ["-p", proxy]
        wrapped += list(opts) + ["--"] + list(cmd)
        san = sanitizer_env(cmd[0])
        prefix = []
        if san:
            # Through env(1), so that only the launcher and the program see
            # libasan, not ip(8). The launcher keeps the existing
            # LD_PRELOAD after its own library.
            pre = ":".join(p for p in (san.get("LD_PRELOAD"),
                                       (env or {}).get("LD_PRELOAD")) if p)
            if pre:
                san = dict(san, LD_PRELOAD=pre)
            prefix = ["/usr/bin/env"] + ["%s=%s" % kv for kv in san.items()]
        return ([topo.IP, "netns", "exec", self.topo.client] + prefix +
                wrapped)

    def run_wrapped(self, cmd, proxy=DANTE, opts=(), env=None, timeout=30,
                    input=None):
        """Run cmd in the client namespace under the socks5wrap launcher:
        `socks5wrap -p PROXY OPTS -- cmd`. proxy=None leaves -p out (the
        proxy then comes from env, e.g. SOCKS5_PROXY). Returns a Result."""
        argv = self._wrapped_argv(cmd, proxy, opts, env)
        return self._run(argv, self._env(env), timeout, input)

    def start_wrapped(self, cmd, proxy=DANTE, opts=(), env=None, lifetime=60):
        """Start cmd like run_wrapped, but return at once an Interactive
        that talks to it line by line (stdin / stdout pipes)."""
        argv = self._wrapped_argv(cmd, proxy, opts, env)
        return Interactive(argv, self._env(env), lifetime)

    def run_direct(self, cmd, env=None, timeout=30, input=None):
        """Run cmd in the client namespace without socks5wrap."""
        argv = [topo.IP, "netns", "exec", self.topo.client] + list(cmd)
        return self._run(argv, self._env(env), timeout, input)

    def run_preloaded(self, cmd, env, timeout=30):
        """cmd in the client namespace with the library in LD_PRELOAD and
        no launcher (env's variables added); with SANITIZE=1, libasan
        goes first as the launcher's runs have it."""
        san = sanitizer_env(cmd[0])
        pre = [p for p in (san.get("LD_PRELOAD"), library_path()) if p]
        full = dict(san, **env)
        full["LD_PRELOAD"] = ":".join(pre)
        return self.run_direct(cmd, env=full, timeout=timeout)


class Interactive:
    """A client program driven line by line: send() writes one line to
    its stdin, reply() reads one JSON line from its stdout (bounded).
    It runs under timeout(1), so it ends even if a test forgets it."""

    def __init__(self, argv, env, lifetime):
        self.argv = [topo.TIMEOUT_BIN, "-k", "2", str(int(lifetime))] + argv
        self.t0 = time.monotonic()
        self.popen = subprocess.Popen(
            self.argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self._buf = b""
        self.transcript = []

    def send(self, line):
        self.transcript.append("> " + line)
        self.popen.stdin.write(line.encode() + b"\n")
        self.popen.stdin.flush()

    def reply(self, timeout=10.0):
        """The next stdout line as JSON; AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        fd = self.popen.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise AssertionError("no reply within %ss\n%s" % (
                    timeout, self.finish()))
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError("client ended\n%s" % self.finish())
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        text = line.decode(errors="replace")
        self.transcript.append("< " + text)
        try:
            return json.loads(text)
        except ValueError:
            raise AssertionError("not JSON: %r\n%s" % (text, self.finish()))

    def ask(self, line, timeout=10.0):
        self.send(line)
        return self.reply(timeout)

    def finish(self, timeout=5.0):
        """Close stdin, wait (bounded, then kill) and return a Result."""
        try:
            out, err = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # timeout(1) passes SIGTERM on to the program; then SIGKILL.
            self.popen.terminate()
            try:
                out, err = self.popen.communicate(timeout=3)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                out, err = self.popen.communicate()
        except ValueError:           # already communicated
            out, err = b"", b""
        out = self._buf + (out or b"")
        res = Result(self.argv, self.popen.returncode,
                     "\n".join(self.transcript) + "\n" +
                     out.decode(errors="replace"),
                     (err or b"").decode(errors="replace"),
                     time.monotonic() - self.t0)
        sanitizers.check(res.rc, res.stdout, res.stderr, str(res))
        return res
