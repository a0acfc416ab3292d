"""The port capture logic renders through: what a capture returns, how it fails, and the check every address
a page reaches must pass. adapters/browser.py (Playwright) implements it; the logic and its tests' fakes know
only this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shotwire_core.models import ErrorCode

# Called with each URL the page (or a redirect, or a subresource) reaches; raises to refuse it.
DestinationGuard = Callable[[str], Any]


class CaptureError(Exception):
    """A capture failed for a reason the job should carry: `code` classifies it, the message explains it.

    `timed_out`: a browser step ran out of time; the engine then asks whether the browser itself is hung."""

    def __init__(self, code: ErrorCode, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.timed_out = timed_out


@dataclass(frozen=True)
class CaptureResult:
    image: bytes
    width: int
    height: int
    final_url: str
    http_status: int | None
    title: str
    truncated: bool = False
    warnings: tuple[str, ...] = ()
    navigation_ms: int = 0
    capture_ms: int = 0
