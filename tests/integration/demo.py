"""`make demo`: socks5wrap in a three-namespace network, shown step by step.

    python3 tests/integration/demo.py [TAG]   (as root; scripts/demo.sh runs it)

TAG (digits: a pid) names the namespaces s5w-TAG-{c,p,t,d}; the default is
this process's pid.

Builds client / proxy / target namespaces, starts danted (no auth) on
192.0.2.1:1080 and the HTTP target on 203.0.113.7:80, shows that the
client cannot reach the target directly, then runs
    socks5wrap -v -p 192.0.2.1:1080 curl -s http://203.0.113.7/
in the client namespace and shows the answer and danted's log line.
Everything is torn down at the end, also on failure or SIGTERM.
Exit status 0 when the request went through the proxy.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import proxies  # noqa: E402
import targets  # noqa: E402
import topo  # noqa: E402

LIFETIME = 60
URL = "http://203.0.113.7/"


def say(text=""):
    print(text, flush=True)


def indent(text):
    return "\n".join("    " + l for l in text.rstrip("\n").splitlines())


def demo(t):
    launcher = harness.launcher_path()
    if not os.access(launcher, os.X_OK):
        say("demo: %s is not built; run make first" % launcher)
        return 1
    say("== network namespaces")
    say("    %-10s 192.0.2.2, fd00:5357:1::2 (beyond the proxy host, only a "
        "decoy that refuses everything)" % t.client)
    say("    %-10s 192.0.2.1 | 203.0.113.1, forwarding off, danted on :1080"
        % t.proxy)
    say("    %-10s 203.0.113.7, HTTP on :80" % t.target)
    t.create()
    target = targets.Target(t, lifetime=LIFETIME)
    dante = proxies.Dante(t, "dante", proxies.DANTE_NOAUTH_PORT, "none",
                          "40000-40999", lifetime=LIFETIME)
    client = harness.Client(t)

    say("\n== without socks5wrap: curl -s %s" % URL)
    r = client.run_direct(["curl", "-q", "-sS", "-m", "5", URL], timeout=15)
    say(indent(r.stderr or r.stdout) or "    (no output)")
    say("    exit %s: the client cannot reach the target by itself" % r.rc)
    if r.rc == 0:
        say("demo: the client reached the target directly; topology broken")
        return 1

    target.mark()
    say("\n== socks5wrap -v -p %s curl -s %s" % (harness.DANTE, URL))
    r = client.run_wrapped(["curl", "-q", "-s", "-m", "10", URL],
                           proxy=harness.DANTE, opts=["-v"], timeout=30)
    say("  curl printed:")
    say(indent(r.stdout) or "    (nothing)")
    if r.stderr.strip():
        say("  socks5wrap logged:")
        say(indent(r.stderr))
    say("  danted logged:")
    lines = [l for l in dante.log_text().splitlines() if "tcp/connect [" in l]
    say(indent("\n".join(lines[-1:])) or "    (no connect line)")
    ok = (r.rc == 0 and "peer 203.0.113.1 " in r.stdout and
          [a for _, a, _ in target.peers()] == ["203.0.113.1"])
    if ok:
        say("\n== ok: the target saw the proxy (203.0.113.1), not the client")
        return 0
    say("\n== FAILED (curl exit %s)" % r.rc)
    return 1


def main():
    try:
        topo.check_environment()
    except topo.SetupError as e:
        say("demo: %s" % e)
        return 1
    topo.install_sigterm_handler()
    tag = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1].isdigit() else None
    t = topo.Topology(tempfile.mkdtemp(prefix="socks5wrap-demo-"), tag=tag)
    try:
        return demo(t)
    except topo.SetupError as e:
        say("demo: setup failed: %s" % e)
        return 1
    except KeyboardInterrupt:
        say("demo: interrupted")
        return 1
    finally:
        t.destroy()


if __name__ == "__main__":
    sys.exit(main())
