"""One name table per process tree: shared inside the tree, private to it.

Each socks5wrap run (and each program started with LD_PRELOAD, with all
it starts) has one table of names and fake addresses, a memfd that every
process of the tree maps (src/preload/tree.c). These tests check the
edges of that: two runs do not see each other's names; another user
cannot open the table, even holding its descriptor; a program that lost
its way to the table refuses the tree's addresses instead of sending them
anywhere; nothing is left once the tree is gone, also after SIGKILL. The
programs are clients/tree_probe.py, through dante, with the leak capture
(the client fixture) on.

    BUILD=build /usr/bin/python3 -m pytest -q tests/integration/test_table.py
"""

import json
import os
import signal
import subprocess
import time

import pytest

import harness
from harness import CLIENTS

PROBE = os.path.join(CLIENTS, "tree_probe.py")
PY = harness.PYTHON
NAME = "www.test"
PAGE = "socks5wrap test target"
NOBODY = "65534"


def probe(*args):
    return [PY, PROBE] + [str(a) for a in args]


def last_json(res):
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    assert lines, res
    return json.loads(lines[-1])


def test_two_runs_keep_their_own_tables(client):
    """An address one run handed out means nothing to another run: its
    connect is refused, nothing goes out."""
    a = client.run_wrapped(probe("resolve", NAME))
    assert a.rc == 0, a
    addr = last_json(a)["addr"]
    assert addr.startswith("198.18."), a
    b = client.run_wrapped(probe("fetch", addr))
    assert b.rc == 0, b
    assert last_json(b)["result"] == "EHOSTUNREACH", b
    assert "no host name maps to" in b.stderr, b
    # The same run resolving, then fetching: the page, through dante.
    c = client.run_wrapped(["/bin/sh", "-c", '%s "$(%s | sed "s/.*: \\"//;'
                            's/\\".*//")"' % (
                                " ".join(probe("fetch", "")).rstrip(),
                                " ".join(probe("resolve", NAME)))])
    assert c.rc == 0, c
    assert PAGE in last_json(c)["page"], c


def test_each_run_names_a_table_of_its_own(client):
    """SOCKS5WRAP_TABLE differs from run to run (a random id), and a run
    inside a run starts a table of its own."""
    one = last_json(client.run_wrapped(probe("table")))
    two = last_json(client.run_wrapped(probe("table")))
    assert one["env"] and two["env"], (one, two)
    assert one["env"].split(":")[0] != two["env"].split(":")[0]
    assert isinstance(one["ino"], int) and one["ino"] != two["ino"]
    nested = client.run_wrapped([harness.launcher_path(), "-p",
                                 harness.DANTE, "--"] + probe("table"))
    assert nested.rc == 0, nested
    assert last_json(nested)["env"].split(":")[0] != one["env"].split(":")[0]


def test_another_user_cannot_open_the_table(client):
    """A program of another user in the tree (setpriv, as a setuid program
    that changes user would) inherits the descriptor but can open the
    table neither through it nor through its parent's /proc entry; its
    preload makes a table of its own, so the tree's address is refused."""
    script = (
        'eval "$(%(py)s %(probe)s table | sed \'s/.*"fd": \\([0-9]*\\).*/'
        'fd=\\1/\')"; '
        'addr=$(%(py)s %(probe)s resolve %(name)s | sed \'s/.*: "//;'
        's/".*//\'); '
        'setpriv --reuid %(u)s --regid %(u)s --clear-groups '
        '%(py)s %(probe)s open-table /proc/self/fd/$fd; '
        'setpriv --reuid %(u)s --regid %(u)s --clear-groups '
        '%(py)s %(probe)s open-table /proc/$$/fd/$fd; '
        'setpriv --reuid %(u)s --regid %(u)s --clear-groups '
        '%(py)s %(probe)s fetch $addr; '
        '%(py)s %(probe)s fetch $addr' % {
            "py": PY, "probe": PROBE, "name": NAME, "u": NOBODY})
    r = client.run_wrapped(["/bin/sh", "-c", script])
    assert r.rc == 0, r
    lines = [json.loads(ln) for ln in r.stdout.splitlines()
             if ln.startswith("{")]
    assert len(lines) == 4, r
    inherited, parents, theirs, ours = lines
    assert inherited == {"rw": "EACCES", "ro": "EACCES"}, r
    assert parents["rw"] in ("EACCES", "EPERM"), r
    assert parents["ro"] in ("EACCES", "EPERM"), r
    assert theirs["result"] == "EHOSTUNREACH", r
    assert ours["result"] == "ok" and PAGE in ours["page"], r


CLOSER_C = r"""
/* closer FD PROGRAM [ARGS]: closes FD with the system call itself (a
 * static program: no library sees it), then execs PROGRAM. */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	syscall(SYS_close, atoi(argv[1]));
	execv(argv[2], argv + 2);
	return 127;
}
"""


@pytest.fixture(scope="module")
def closer(tmp_path_factory):
    d = tmp_path_factory.mktemp("closer")
    src, out = d / "closer.c", d / "closer"
    src.write_text(CLOSER_C)
    cp = subprocess.run(["gcc", "-static", "-O2", "-o", str(out), str(src)],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    return str(out)


def test_a_program_that_lost_the_table_refuses_its_addresses(client, closer):
    """The last holder of the table closes it behind the library's back (a
    static program's own system call) and execs a program: no process it
    can reach holds the table any more. The program says so and refuses
    the address the tree resolved before; nothing goes out."""
    script = ('addr=$(%s %s resolve %s | sed \'s/.*: "//;s/".*//\'); '
              'exec %s ${SOCKS5WRAP_TABLE##*:} %s %s fetch $addr' % (
                  PY, PROBE, NAME, closer, PY, PROBE))
    r = client.run_wrapped(["/bin/sh", "-c", script], opts=["-v"])
    assert r.rc == 0, r
    assert last_json(r)["result"] == "EHOSTUNREACH", r
    # A warning, shown from -v up: a program that closes every descriptor
    # and execs one that never connects should not print it each time.
    assert "name table is out of reach" in r.stderr, r


def test_closing_every_descriptor_keeps_the_table(client):
    """A program that closes every descriptor it can (os.closerange, as
    daemons do) and execs another: the table's descriptor is the
    library's, and stays, so the address resolved before connects."""
    closer = ("import os, sys; os.closerange(3, 65536); "
              "os.execv(sys.argv[1], sys.argv[1:])")
    script = ('addr=$(%s %s resolve %s | sed \'s/.*: "//;s/".*//\'); '
              'exec %s -c "%s" %s %s fetch $addr' % (
                  PY, PROBE, NAME, PY, closer, PY, PROBE))
    r = client.run_wrapped(["/bin/sh", "-c", script])
    assert r.rc == 0, r
    res = last_json(r)
    assert res["result"] == "ok" and PAGE in res["page"], r


# ---- nothing left behind ---------------------------------------------------

def holders_of(ino):
    """Processes with a descriptor or a mapping of the memfd ino."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                try:
                    st = os.stat("/proc/%s/fd/%s" % (pid, fd))
                except OSError:
                    continue
                if st.st_ino == ino and os.readlink(
                        "/proc/%s/fd/%s" % (pid, fd)).startswith(
                            "/memfd:socks5wrap"):
                    found.append((pid, "fd " + fd))
            with open("/proc/%s/maps" % pid) as f:
                for line in f:
                    parts = line.split()
                    if (len(parts) >= 6 and parts[4] == str(ino) and
                            "socks5wrap" in parts[5]):
                        found.append((pid, "map"))
        except OSError:
            continue
    return found


def parent_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def wait_gone(pids, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(os.path.exists("/proc/%d" % p) for p in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["exit", "kill-launcher"])
@pytest.mark.parametrize("mode", ["preload", "supervise"])
def test_nothing_is_left_when_the_tree_ends(client, how, mode):
    shm_before = sorted(os.listdir("/dev/shm"))
    opts = ["--supervise"] if mode == "supervise" else []
    seconds = 1 if how == "exit" else 30
    cmd = ["/bin/sh", "-c", "%s & %s; wait" % (
        " ".join(probe("hold", NAME, seconds)),
        " ".join(probe("hold", NAME, seconds)))]
    argv = client._wrapped_argv(cmd, harness.DANTE, opts, None)
    proc = subprocess.Popen([harness.topo.TIMEOUT_BIN, "-k", "2", "60"] +
                            argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=client._env(None))
    try:
        held = [json.loads(proc.stdout.readline()) for _ in range(2)]
        ino = held[0]["ino"]
        assert isinstance(ino, int) and held[1]["ino"] == ino, held
        assert held[0]["addr"] == held[1]["addr"], held
        probes = [h["pid"] for h in held]
        shell = parent_of(probes[0])
        top = shell if mode == "preload" else parent_of(shell)
        assert holders_of(ino), "the table is not held while the tree runs"
        if how == "kill-launcher":
            os.kill(top, signal.SIGKILL)
            # The rest of the tree is ours too; it goes with the test.
            for p in probes + [shell]:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        proc.wait(timeout=30)
        assert wait_gone(probes + [shell, top]), "the tree did not end"
        left = holders_of(ino)
        assert left == [], "the table outlived its tree: %r" % left
        assert sorted(os.listdir("/dev/shm")) == shm_before
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
