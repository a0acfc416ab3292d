"""Tests that interrupt a child with SIGINT pass however the suite is launched: a background job (`make test &`,
a CI runner without a terminal) ignores SIGINT, and its children inherit that unless they restore it."""

from __future__ import annotations

import signal
import subprocess
import sys

from tests.support import restore_sigint

SLEEPER = [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(30)"]


def test_a_child_of_a_background_job_still_stops_on_sigint() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a job started with `&`
    try:
        child = subprocess.Popen(SLEEPER, stdout=subprocess.PIPE, text=True, preexec_fn=restore_sigint)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) != 0  # KeyboardInterrupt, not 30 s of sleep
    finally:
        child.kill()
        child.wait()
