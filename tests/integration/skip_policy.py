"""Skips on CI: with CI=true in the environment a skipped test (or module)
is a failure, unless its reason is one CI accepts (ACCEPTED below).

Everywhere else a skip stays a skip, and `make integration` lists each one
with its reason (pytest -rs). On CI nothing the tests need may be missing:
.ci/run installs it, and a test that cannot run there proves nothing while
it looks green. Expected failures (xfail) are not skips and are left alone.

Registered from conftest.py (pytest_plugins).
"""

import os
import re

import pytest

# Skip reasons CI accepts: (regular expression searched in the reason, why
# CI cannot do better). CI's machine is Debian 12 as root with the packages
# .ci/run installs, which is all these tests need; what is accepted is a
# program that cannot run in one of CI's passes at all.
ACCEPTED = [
    (r"^Chromium cannot run with the ASan-built library \(SANITIZE=1\)",
     "Chromium crashes at start with the ASan-built library preloaded, and "
     "spins for minutes with libasan preloaded first (test_tree.py); the "
     "plain pass runs the test"),
    (r"^this kernel cannot run 32-bit x86 programs \(no IA32 emulation\)",
     "a kernel built without IA32 emulation, or booted with "
     "ia32_emulation=0, refuses every 32-bit x86 program (execve fails "
     "with ENOEXEC, int $0x80 is killed by SIGSEGV): no package makes the "
     "32-bit library usable or testable there, and with IA32 emulation "
     "the tests run and a missing 32-bit library fails"),
]


def on_ci():
    """True when the run is a CI run (CI=true, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def skip_reason(report):
    """The reason of a skipped report, without pytest's "Skipped: "."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = longrepr[2]
    else:
        reason = str(longrepr)
    return re.sub(r"^Skipped: ", "", reason)


def accepted(reason):
    """Whether CI accepts a skip for REASON (see ACCEPTED)."""
    return any(re.search(pattern, reason) for pattern, _ in ACCEPTED)


def _judge(report):
    if not report.skipped or hasattr(report, "wasxfail") or not on_ci():
        return
    reason = skip_reason(report)
    if accepted(reason):
        return
    report.outcome = "failed"
    report.longrepr = (
        "skipped on CI (CI=true), which accepts no skip for this reason:\n"
        "  %s\nInstall what the test needs in .ci/run, make the test run "
        "without it, or list the reason in tests/integration/skip_policy.py"
        " (ACCEPTED) with why CI cannot do better." % reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _judge(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    # pytest.skip(allow_module_level=True), importorskip: a whole module.
    outcome = yield
    _judge(outcome.get_result())
