"""Signals while the report is written: a second Ctrl-C must not leave report.jsonl half done."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["no_interrupts"]


@contextmanager
def no_interrupts() -> Iterator[None]:
    """While the report is written, a second Ctrl-C waits instead of leaving it half done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
