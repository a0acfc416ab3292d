"""Headless Chromium through Playwright: one browser per process, a fresh context per job.

Launching Chromium costs about a second, so a warm Lambda (or the local worker) keeps one browser and
gives each job its own context: no cookies, storage or cache cross from one tenant's job to the next.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image
from playwright.sync_api import Browser, Playwright, Route, WebSocketRoute, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from shotwire_core.models import CaptureOptions
from shotwire_core.observability import logger

# Chromium phones home at start-up (component updates, safe browsing...). Those calls are slow or
# refused on a closed network and are never wanted for a capture.
BASE_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--dns-prefetch-disable",  # prefetching would resolve hosts the guard never saw
    "--hide-scrollbars",
    "--mute-audio",
)

# Request URL check: raises with a reason when the destination is not allowed.
DestinationGuard = Callable[[str], None]


class PageCaptureError(Exception):
    """The page itself could not be captured (unreachable, timed out, blocked): fail the job, do not retry."""


class BrowserCrashedError(Exception):
    """The browser died under us; the next capture relaunches it."""


@dataclass(frozen=True)
class CaptureResult:
    image: bytes
    width: int
    height: int
    final_url: str
    http_status: int | None
    title: str


def _readable(error: Exception) -> str:
    """Playwright errors carry a call log after the first line; users need the first line only."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return re.sub(r"^(Page|Frame|BrowserContext|Locator)\.\w+:\s*", "", first)


def _is_crash(error: Exception) -> bool:
    text = str(error)
    return any(
        marker in text
        for marker in (
            "Target page, context or browser has been closed",
            "Browser has been closed",
            "Target closed",
            "browser has disconnected",
        )
    )


class ChromiumCapturer:
    """Owns the Playwright driver and browser for this process; relaunches a crashed browser."""

    def __init__(self, executable_path: str | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self._executable_path = executable_path
        self._args = (*BASE_ARGS, *extra_args)
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._owner: int | None = None
        self.launches = 0

    def _ensure_browser(self) -> Browser:
        # Playwright's sync API is bound to the thread that started it.
        current = threading.get_ident()
        if self._owner is not None and self._owner != current:
            raise RuntimeError("ChromiumCapturer used from a second thread")
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        self._close_browser()
        if self._playwright is None:
            self._playwright = sync_playwright().start()
            self._owner = current
        self._browser = self._playwright.chromium.launch(
            executable_path=self._executable_path, args=list(self._args), headless=True
        )
        self.launches += 1
        logger.info("chromium launched", extra={"version": self._browser.version, "launches": self.launches})
        return self._browser

    def capture(self, options: CaptureOptions, *, timeout_ms: int, guard: DestinationGuard | None) -> CaptureResult:
        """Capture once; if the browser crashed mid-job, relaunch and try once more."""
        try:
            return self._capture_once(options, timeout_ms=timeout_ms, guard=guard)
        except BrowserCrashedError:
            logger.warning("browser crashed during capture; relaunching", extra={"url": options.url})
            self._close_browser()
            return self._capture_once(options, timeout_ms=timeout_ms, guard=guard)

    def _capture_once(
        self, options: CaptureOptions, *, timeout_ms: int, guard: DestinationGuard | None
    ) -> CaptureResult:
        browser = self._ensure_browser()
        try:
            context = browser.new_context(
                viewport={"width": options.width, "height": options.height},
                device_scale_factor=1,
                service_workers="block",  # a service worker's fetches would bypass request interception
                accept_downloads=False,
            )
        except PlaywrightError as error:
            raise BrowserCrashedError(_readable(error)) from error
        blocked: list[str] = []
        try:
            if guard is not None:
                context.route("**/*", lambda route: _guarded(route, guard, blocked))
                # WebSockets do not pass through context.route; without this a page could open one to
                # an internal address.
                context.route_web_socket(re.compile(".*"), lambda socket: _guarded_socket(socket, guard, blocked))
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            try:
                response = page.goto(options.url, wait_until="load", timeout=timeout_ms)
            except PlaywrightTimeoutError as error:
                raise PageCaptureError(f"page did not load within {timeout_ms / 1000:g} s: {options.url}") from error
            except PlaywrightError as error:
                if _is_crash(error):
                    raise BrowserCrashedError(_readable(error)) from error
                if blocked:
                    raise PageCaptureError(f"blocked: {blocked[0]}") from error
                raise PageCaptureError(f"could not load {options.url}: {_readable(error)}") from error
            try:
                screenshot_args: dict[str, Any] = {"type": options.format, "full_page": options.full_page}
                if options.format == "jpeg":
                    screenshot_args["quality"] = 90
                image = page.screenshot(timeout=timeout_ms, animations="disabled", **screenshot_args)
                title = page.title()
            except PlaywrightTimeoutError as error:
                raise PageCaptureError(f"screenshot did not finish within {timeout_ms / 1000:g} s") from error
            except PlaywrightError as error:
                if _is_crash(error):
                    raise BrowserCrashedError(_readable(error)) from error
                raise PageCaptureError(f"screenshot failed: {_readable(error)}") from error
            with Image.open(io.BytesIO(image)) as decoded:
                width, height = decoded.size
            return CaptureResult(
                image=image,
                width=width,
                height=height,
                final_url=page.url,
                http_status=response.status if response is not None else None,
                title=title,
            )
        finally:
            # Always close the context, even on failure, or pages pile up in a warm browser.
            with contextlib.suppress(PlaywrightError):
                context.close()

    def _close_browser(self) -> None:
        if self._browser is not None:
            with contextlib.suppress(PlaywrightError):
                self._browser.close()
            self._browser = None

    def close(self) -> None:
        """Close the browser and stop the Playwright driver (local shutdown; Lambda just freezes)."""
        self._close_browser()
        if self._playwright is not None:
            with contextlib.suppress(PlaywrightError):
                self._playwright.stop()
            self._playwright = None
            self._owner = None


def _guarded_socket(socket: WebSocketRoute, guard: DestinationGuard, blocked: list[str]) -> None:
    http_url = "http" + socket.url.removeprefix("ws") if socket.url.startswith("ws") else socket.url
    try:
        guard(http_url)
    except Exception as error:
        blocked.append(str(error))
        socket.close(code=1008, reason="blocked")
        return
    socket.connect_to_server()


def _guarded(route: Route, guard: DestinationGuard, blocked: list[str]) -> None:
    """Check every request the page makes (navigation, redirects, subresources, frames, fetch)."""
    url = route.request.url
    if url.startswith(("data:", "blob:", "about:")):
        route.continue_()
        return
    try:
        guard(url)
    except Exception as error:
        blocked.append(str(error))
        logger.info("blocked request", extra={"reason": str(error)})
        route.abort("blockedbyclient")
        return
    route.continue_()
