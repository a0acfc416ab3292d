"""Right after `commit` a page may have no frame yet; the screenshot is tried again briefly, not failed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Error as PlaywrightError

from shotwire_core.adapters.browser import NO_FRAME_YET, _Deadline, _page_screenshot


class FlakyPage:
    def __init__(self, failures: int, message: str = f"Protocol error (Page.captureScreenshot): {NO_FRAME_YET}"):
        self.failures = failures
        self.message = message
        self.calls = 0

    async def screenshot(self, **shot: Any) -> bytes:
        self.calls += 1
        if self.calls <= self.failures:
            raise PlaywrightError(self.message)
        return b"png"


def test_a_page_without_a_frame_yet_is_tried_again() -> None:
    page = FlakyPage(failures=2)
    assert asyncio.run(_page_screenshot(page, {"type": "png"}, _Deadline(10_000))) == b"png"  # type: ignore[arg-type]
    assert page.calls == 3


def test_it_gives_up_after_five_attempts() -> None:
    page = FlakyPage(failures=10)
    with pytest.raises(PlaywrightError):
        asyncio.run(_page_screenshot(page, {"type": "png"}, _Deadline(10_000)))  # type: ignore[arg-type]
    assert page.calls == 5


def test_other_errors_are_not_retried() -> None:
    page = FlakyPage(failures=1, message="Target page, context or browser has been closed")
    with pytest.raises(PlaywrightError):
        asyncio.run(_page_screenshot(page, {"type": "png"}, _Deadline(10_000)))  # type: ignore[arg-type]
    assert page.calls == 1
