"""What SANITIZE=1 runs set for ASan and UBSan, and how a report is told
apart from an ordinary failure.

A sanitizer report ends the process with a status of its own (below), one
that no program these tests run uses, so that a report can never pass for
an exit status a test expects (1 is the sanitizers' default, and also what
`socks5wrap --check` and many programs return). tests/snippets/run.sh and
the Makefile's unit target set the same values.
"""

import os

ASAN_EXITCODE = 86
UBSAN_EXITCODE = 87
EXITCODES = (ASAN_EXITCODE, UBSAN_EXITCODE)

# Leaks are not checked in the programs we preload into (curl, python and
# the others are not ours); verify_asan_link_order=0 because the ASan
# runtime is preloaded after (or loaded by) our library, not linked first.
ASAN_OPTIONS = ("detect_leaks=0:verify_asan_link_order=0:exitcode=%d" %
                ASAN_EXITCODE)
UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1:exitcode=%d" % \
    UBSAN_EXITCODE

# Text every report carries (AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer, with or without halting).
MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
         "ERROR: UndefinedBehaviorSanitizer", "runtime error:",
         "SUMMARY: AddressSanitizer", "SUMMARY: LeakSanitizer",
         "SUMMARY: UndefinedBehaviorSanitizer")


def enabled():
    """True when the tests run against a SANITIZE=1 build."""
    return os.environ.get("SANITIZE") == "1"


def report_lines(*texts):
    """The lines of texts that belong to a sanitizer report ([] if none)."""
    out = []
    for text in texts:
        for line in (text or "").splitlines():
            if any(m in line for m in MARKS):
                out.append(line)
    return out


def check(rc, stdout, stderr, what):
    """Raises AssertionError (with WHAT, the whole run's description) when
    a run printed a sanitizer report, or, under SANITIZE=1, ended with a
    sanitizer's exit status."""
    lines = report_lines(stderr, stdout)
    if lines:
        raise AssertionError("sanitizer report:\n  %s\n%s" % (
            "\n  ".join(lines[:10]), what))
    if enabled() and rc in EXITCODES:
        raise AssertionError("exit %d is a sanitizer's (%s), although no "
                             "report was seen:\n%s" % (
                                 rc, "ASan" if rc == ASAN_EXITCODE
                                 else "UBSan", what))
