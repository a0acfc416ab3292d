"""Headless Chromium through Playwright: one warm browser per process, a fresh context per job.

Launching Chromium costs about a second, so a warm Lambda (or the local worker) keeps one browser and
gives each job its own context: no cookies, storage or cache cross from one tenant's job to the next.
The browser lives on an engine thread with its own event loop, so several jobs render at once in it
while the callers (one thread per SQS record) stay ordinary synchronous code. A loop of its own also
survives between invocations, which a per-invocation `asyncio.run` would not.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page, Playwright, Route, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from shotwire_core.adapters.egress_proxy import BLOCKED_HEADER, EgressProxy
from shotwire_core.blocklists import cookie_banner_css, is_ad_host
from shotwire_core.config import CAPTURE_HANG_GRACE_SECONDS, LAMBDA_MAX_TIMEOUT_SECONDS
from shotwire_core.models import MAX_CAPTURE_HEIGHT, CaptureOptions, ErrorCode
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
    # WebRTC may only use the proxy: no UDP (STUN/TURN) to addresses the egress proxy never vetted.
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
)

# Time kept back from the job's timeout for styling, scripts and the screenshot itself.
RENDER_RESERVE_MS = 3000
# How long a full-page capture may spend scrolling to wake lazy content.
SCROLL_BUDGET_MS = 5000
# Only if the engine's own event loop stops answering (hung pages are caught inside it): no shorter than
# any batch may take. StackConfig lets capture_batch_worst_case_seconds reach Lambda's longest timeout
# (e.g. 10 jobs rendering 2 at once: 730 s), so that is the limit; locally, with no Lambda timeout, it is
# what frees a stuck engine.
ENGINE_STALL_SECONDS = LAMBDA_MAX_TIMEOUT_SECONDS
CLOSE_TIMEOUT_SECONDS = 5

RESOURCE_TYPES = {
    "images": "image",
    "fonts": "font",
    "media": "media",
    "stylesheets": "stylesheet",
    "scripts": "script",
}

# Request URL check: returns the vetted addresses, or raises with a reason when the destination is not allowed.
DestinationGuard = Callable[[str], Any]


class CaptureError(Exception):
    """A capture failed for a reason the job should carry: `code` classifies it, the message explains it."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _BrowserCrashed(Exception):
    """The browser died under a capture; relaunch and try once more."""


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


def _first_line(error: BaseException) -> str:
    """Playwright errors carry a call log after the first line; users need the first line only."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return re.sub(r"^(Page|Frame|BrowserContext|Locator|ElementHandle)\.\w+:\s*", "", first)


_CRASH_MARKERS = (
    "Target page, context or browser has been closed",
    "Browser has been closed",
    "Target closed",
    "browser has disconnected",
    "Connection closed",
)
_DNS_ERRORS = ("ERR_NAME_NOT_RESOLVED", "ERR_NAME_RESOLUTION_FAILED")
_CONNECTION_ERRORS = (
    "ERR_CONNECTION",
    "ERR_ADDRESS",
    "ERR_SSL",
    "ERR_CERT",
    "ERR_TIMED_OUT",
    "ERR_EMPTY_RESPONSE",
    "ERR_NETWORK",
    "ERR_TUNNEL",
    "ERR_INTERNET_DISCONNECTED",
    "ERR_INVALID_RESPONSE",
    "ERR_HTTP2",
    "ERR_QUIC",
    "ERR_PROXY",
)


def _navigation_error(error: PlaywrightError, url: str, blocked: list[str]) -> Exception:
    text = str(error)
    if any(marker in text for marker in _CRASH_MARKERS):
        return _BrowserCrashed(_first_line(error))
    if blocked or "ERR_BLOCKED_BY_CLIENT" in text:
        return CaptureError(ErrorCode.BLOCKED_URL, f"blocked: {blocked[0] if blocked else url}")
    code = re.search(r"net::(ERR_[A-Z0-9_]+)", text)
    name = code.group(1) if code else ""
    if name in _DNS_ERRORS:
        return CaptureError(ErrorCode.DNS_ERROR, f"could not resolve the host of {url} ({name})")
    if name.startswith(_CONNECTION_ERRORS):
        return CaptureError(ErrorCode.CONNECTION_ERROR, f"could not load {url} ({name})")
    if name == "ERR_HTTP_RESPONSE_CODE_FAILURE":  # an error status with an empty body: Chromium has no page
        return CaptureError(ErrorCode.HTTP_ERROR, f"{url} answered an HTTP error status with an empty body")
    if "Download is starting" in text or name == "ERR_ABORTED":
        return CaptureError(ErrorCode.RENDER_ERROR, f"{url} did not load as a page (a download or an aborted load)")
    return CaptureError(ErrorCode.RENDER_ERROR, f"could not load {url}: {_first_line(error)}")


def _render_error(error: PlaywrightError, what: str) -> Exception:
    if any(marker in str(error) for marker in _CRASH_MARKERS):
        return _BrowserCrashed(_first_line(error))
    if "is not a valid selector" in str(error) or ("Unexpected token" in str(error) and "selector" in what):
        return CaptureError(ErrorCode.INVALID_OPTIONS, f"{what}: {_first_line(error)}")
    return CaptureError(ErrorCode.RENDER_ERROR, f"{what}: {_first_line(error)}")


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as decoded:
        return decoded.size


def png_to_webp(data: bytes, quality: int) -> bytes:
    with Image.open(io.BytesIO(data)) as decoded:
        output = io.BytesIO()
        decoded.save(output, format="WEBP", quality=quality, method=4)
        return output.getvalue()


@dataclass
class _JobState:
    """Per-capture bookkeeping shared with the request interceptors and the egress proxy."""

    guard: DestinationGuard | None
    options: CaptureOptions
    blocked: list[str] = field(default_factory=list)
    checked_hosts: dict[str, str | None] = field(default_factory=dict)
    proxy: EgressProxy | None = None

    @property
    def refusals(self) -> list[str]:
        return self.blocked + (self.proxy.blocked if self.proxy is not None else [])

    async def refusal(self, url: str) -> str | None:
        """Why this URL may not be fetched (None: it may). DNS runs off the event loop, once per origin."""
        if self.guard is None:
            return None
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.checked_hosts:
            try:
                await asyncio.to_thread(self.guard, url)
                self.checked_hosts[origin] = None
            except Exception as error:  # any refusal blocks the request
                self.checked_hosts[origin] = str(error)
        return self.checked_hosts[origin]


async def _route_request(route: Route, state: _JobState) -> None:
    """Every request the page makes passes here: navigation, redirects, subresources, frames, fetch/XHR."""
    request = route.request
    url = request.url
    if url.startswith(("data:", "blob:", "about:")):
        await route.continue_()
        return
    reason = await state.refusal(url)
    if reason is not None:
        state.blocked.append(reason)
        logger.info("blocked request", extra={"reason": reason})
        await route.abort("blockedbyclient")
        return
    is_page = request.resource_type == "document" and request.frame.parent_frame is None
    options = state.options
    if not is_page and request.resource_type in {RESOURCE_TYPES[kind] for kind in options.block_resources}:
        await route.abort("blockedbyclient")
        return
    if not is_page and options.block_ads and is_ad_host(urlsplit(url).hostname or ""):
        await route.abort("blockedbyclient")
        return
    await route.continue_()


_SCROLL_THROUGH = """async (budgetMs) => {
  const started = performance.now();
  let y = 0;
  while (performance.now() - started < budgetMs) {
    const bottom = Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)
      - window.innerHeight;
    if (y >= bottom) break;
    y = Math.min(y + window.innerHeight, bottom);
    window.scrollTo(0, y);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  window.scrollTo(0, 0);
  const pending = [...document.images].filter((image) => !image.complete);
  await Promise.race([
    Promise.all(pending.map((image) => new Promise((resolve) => { image.onload = image.onerror = resolve; }))),
    new Promise((resolve) => setTimeout(resolve, 2000)),
  ]);
}"""

_PAGE_HEIGHT = "Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)"


class _Deadline:
    """The job's time budget. Waits leave a reserve for rendering: at most a quarter of a short budget."""

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self.reserve_cap_ms = timeout_ms // 4
        self.restart()

    def restart(self) -> None:
        """The whole budget again: a job's time runs from its render slot, not from its wait for one."""
        self.end = time.monotonic() + self.timeout_ms / 1000

    def remaining_ms(self, reserve_ms: int = 0) -> int:
        reserve = min(reserve_ms, self.reserve_cap_ms)
        return max(1, int((self.end - time.monotonic()) * 1000) - reserve)


async def _new_context(browser: Browser, options: CaptureOptions, proxy_url: str | None) -> BrowserContext:
    styling = bool(options.css or options.javascript or options.hide_selectors or options.block_cookie_banners)
    return await browser.new_context(
        proxy={"server": proxy_url} if proxy_url else None,
        viewport={"width": options.width, "height": options.height},
        device_scale_factor=options.device_scale_factor,
        is_mobile=options.is_mobile,
        has_touch=options.has_touch,
        user_agent=options.user_agent,
        color_scheme="dark" if options.dark_mode else "light",
        reduced_motion="reduce" if options.reduced_motion else "no-preference",
        extra_http_headers=options.headers or None,
        service_workers="block",  # a service worker's fetches would bypass request interception
        accept_downloads=False,
        bypass_csp=styling,  # the caller's CSS and JavaScript must apply whatever the page's CSP says
    )


@dataclass
class _Prepared:
    """A context and page made ready for one job, ahead of a free render slot."""

    context: BrowserContext
    page: Page
    state: _JobState
    deadline: _Deadline

    async def close(self) -> None:
        await _close_context(self.context, self.state)


async def _close_context(context: BrowserContext, state: _JobState) -> None:
    """Close a job's context and then its proxy; a context that will not close is left to the hang guard."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(context.close(), CLOSE_TIMEOUT_SECONDS)
    if state.proxy is not None:
        await state.proxy.close()


async def prepare_page(browser: Browser, options: CaptureOptions, guard: DestinationGuard | None) -> _Prepared:
    """Open the job's own context (its proxy, routes, cookies) and page. The caller must close it."""
    deadline = _Deadline(options.timeout_ms)
    state = _JobState(guard=guard, options=options)
    proxy_url = None
    if guard is not None:
        state.proxy = EgressProxy(guard)
        proxy_url = await state.proxy.start()
    try:
        context = await _new_context(browser, options, proxy_url)
    except PlaywrightError as error:
        if state.proxy is not None:
            await state.proxy.close()
        raise _BrowserCrashed(_first_line(error)) from error
    prepared = None
    try:
        if options.cookies:
            await context.add_cookies([_cookie(cookie, options.url) for cookie in options.cookies])  # type: ignore[misc]
        # The egress proxy vets every request, WebSockets included; routing each request through the
        # driver as well would cost a round trip per request, so it is only set up to block by kind.
        if options.block_resources or options.block_ads:
            await context.route("**/*", lambda route: _route_request(route, state))
        page = await context.new_page()
        prepared = _Prepared(context, page, state, deadline)
        return prepared
    except PlaywrightError as error:
        raise _BrowserCrashed(_first_line(error)) from error
    finally:
        if prepared is None:
            await _close_context(context, state)


NO_FRAME_YET = "Unable to capture screenshot"


async def _page_screenshot(page: Page, shot: dict[str, Any], deadline: _Deadline) -> bytes:
    """Screenshot the page; right after `commit` it may have no frame to capture yet, so try again briefly."""
    for attempt in range(1, 6):
        try:
            return await page.screenshot(**{**shot, "timeout": deadline.remaining_ms()})
        except PlaywrightError as error:
            if NO_FRAME_YET not in str(error) or attempt == 5 or deadline.remaining_ms() < 500:
                raise
            await asyncio.sleep(0.1 * attempt)
    raise AssertionError("unreachable")


async def render_prepared(prepared: _Prepared) -> CaptureResult:
    prepared.page.set_default_timeout(prepared.deadline.remaining_ms())
    return await _capture_in(prepared.page, prepared.state.options, prepared.deadline, prepared.state)


def _cookie(cookie: Any, page_url: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": cookie.name,
        "value": cookie.value,
        "secure": cookie.secure,
        "httpOnly": cookie.http_only,
        "sameSite": cookie.same_site,
    }
    if cookie.domain:
        entry.update(domain=cookie.domain, path=cookie.path)
    else:
        entry["url"] = page_url  # a host-only cookie for the captured page
    return entry


async def _capture_in(page: Page, options: CaptureOptions, deadline: _Deadline, state: _JobState) -> CaptureResult:
    warnings: list[str] = []
    navigation_started = time.monotonic()
    try:
        response = await page.goto(options.url, wait_until="commit", timeout=deadline.remaining_ms(RENDER_RESERVE_MS))
    except PlaywrightTimeoutError as error:
        raise CaptureError(
            ErrorCode.NAVIGATION_TIMEOUT, f"{options.url} did not answer within {options.timeout_ms / 1000:g} s"
        ) from error
    except PlaywrightError as error:
        raise _navigation_error(error, options.url, state.refusals) from error
    if state.proxy is not None and response is not None and BLOCKED_HEADER.lower() in await response.all_headers():
        # The page, or a redirect hop on the way to it, was refused by the egress proxy.
        raise CaptureError(ErrorCode.BLOCKED_URL, f"blocked: {(state.refusals or [response.url])[-1]}")
    if options.wait_until != "commit":
        # A page that never gets there (a tracker that keeps the network busy, a stalled image) is captured
        # anyway when the wait runs out; the job says so.
        try:
            await page.wait_for_load_state(options.wait_until, timeout=deadline.remaining_ms(RENDER_RESERVE_MS))
        except PlaywrightTimeoutError:
            warnings.append(f"the page did not reach '{options.wait_until}' within the timeout; captured anyway")
        except PlaywrightError as error:
            raise _navigation_error(error, options.url, state.refusals) from error
    navigation_ms = int((time.monotonic() - navigation_started) * 1000)
    status = response.status if response is not None else None
    if options.fail_on_http_error and status is not None and status >= 400:
        raise CaptureError(ErrorCode.HTTP_ERROR, f"{options.url} answered HTTP {status}")

    capture_started = time.monotonic()
    await _prepare(page, options, deadline)
    image, width, height, truncated = await _render(page, options, deadline)
    if truncated:
        warnings.append(f"the page is taller than maxHeight ({options.max_height} px); the image is cut there")
    try:
        title = await page.title()
    except PlaywrightError:
        title = ""
    return CaptureResult(
        image=image,
        width=width,
        height=height,
        final_url=page.url,
        http_status=status,
        title=title,
        truncated=truncated,
        warnings=tuple(warnings),
        navigation_ms=navigation_ms,
        capture_ms=int((time.monotonic() - capture_started) * 1000),
    )


async def _prepare(page: Page, options: CaptureOptions, deadline: _Deadline) -> None:
    """Wait for what the caller asked, then apply styles and scripts, then wake lazy content."""
    if options.wait_for_selector:
        try:
            await page.wait_for_selector(
                options.wait_for_selector, state="visible", timeout=deadline.remaining_ms(RENDER_RESERVE_MS)
            )
        except PlaywrightTimeoutError as error:
            raise CaptureError(
                ErrorCode.RENDER_ERROR, f"waitForSelector {options.wait_for_selector!r} did not appear in time"
            ) from error
        except PlaywrightError as error:
            raise _render_error(error, "waitForSelector selector") from error
    styles = [f"{selector} {{ visibility: hidden !important; }}" for selector in options.hide_selectors]
    if options.block_cookie_banners:
        styles.append(cookie_banner_css())
    if options.css:
        styles.append(options.css)
    for css in styles:  # one tag each: an invalid selector must not void the others
        try:
            await page.add_style_tag(content=css)
        except PlaywrightError as error:
            raise _render_error(error, "could not inject CSS") from error
    if options.javascript:
        try:
            await asyncio.wait_for(
                page.evaluate("async () => {\n" + options.javascript + "\n}"),
                deadline.remaining_ms(RENDER_RESERVE_MS) / 1000,
            )
        except TimeoutError as error:
            raise CaptureError(ErrorCode.RENDER_ERROR, "javascript did not finish in time") from error
        except PlaywrightError as error:
            raise _render_error(error, "javascript failed") from error
    if options.full_page:
        with contextlib.suppress(PlaywrightError, TimeoutError):
            budget = min(SCROLL_BUDGET_MS, deadline.remaining_ms(RENDER_RESERVE_MS))
            await asyncio.wait_for(page.evaluate(_SCROLL_THROUGH, budget), budget / 1000 + 3)
    if options.delay_ms:
        await page.wait_for_timeout(min(options.delay_ms, deadline.remaining_ms(RENDER_RESERVE_MS // 2)))


async def _render(page: Page, options: CaptureOptions, deadline: _Deadline) -> tuple[bytes, int, int, bool]:
    """The image (or PDF) and its real size in pixels; True when a full page was cut at maxHeight."""
    # Chromium paints at most MAX_CAPTURE_HEIGHT device pixels in one capture.
    height_limit = min(options.max_height, int(MAX_CAPTURE_HEIGHT / options.device_scale_factor))
    try:
        if options.format == "pdf":
            height = options.height
            truncated = False
            if options.full_page:
                page_height = int(await page.evaluate(_PAGE_HEIGHT))
                truncated = page_height > height_limit
                height = min(page_height, height_limit)
            data = await page.pdf(width=f"{options.width}px", height=f"{height}px", print_background=True)
            return data, options.width, height, truncated

        shot: dict[str, Any] = {
            "type": "jpeg" if options.format == "jpeg" else "png",
            "timeout": deadline.remaining_ms(),
            "animations": "disabled" if options.freeze_animations else "allow",
            "caret": "hide",
            "omit_background": options.omit_background,
        }
        if options.format == "jpeg":
            shot["quality"] = options.effective_quality
        truncated = False
        if options.selector:
            data = await page.locator(options.selector).first.screenshot(**shot)
        else:
            if options.full_page:
                shot["full_page"] = True
                page_height = int(await page.evaluate(_PAGE_HEIGHT))
                if page_height > height_limit:
                    shot["clip"] = {"x": 0, "y": 0, "width": options.width, "height": height_limit}
                    truncated = True
            elif options.clip is not None:
                shot["clip"] = options.clip.model_dump(by_alias=False)
            data = await _page_screenshot(page, shot, deadline)
    except PlaywrightTimeoutError as error:
        if options.selector:
            message = f"selector {options.selector!r} matched nothing in time"
            raise CaptureError(ErrorCode.RENDER_ERROR, message) from error
        raise CaptureError(ErrorCode.RENDER_ERROR, "the screenshot did not finish in time") from error
    except PlaywrightError as error:
        raise _render_error(error, "selector" if options.selector else "screenshot failed") from error
    if options.format == "webp":
        data = await asyncio.to_thread(png_to_webp, data, options.effective_quality or 80)
    width, height = await asyncio.to_thread(image_size, data)
    return data, width, height, truncated


class BrowserEngine:
    """Owns the Playwright driver and one browser for this process; runs captures concurrently in it.

    `capture` is thread-safe and blocking: each caller (an SQS record's thread) waits for its own job.
    A browser that crashed is relaunched; one that hangs past the job's timeout is killed and relaunched.
    """

    def __init__(self, executable_path: str | None = None, extra_args: tuple[str, ...] = (), concurrency: int = 4):
        self._executable_path = executable_path
        self._args = (*BASE_ARGS, *extra_args)
        self._concurrency = concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._browser_lock: asyncio.Lock | None = None
        self._slots: asyncio.Semaphore | None = None
        self._preparing: asyncio.Semaphore | None = None
        self.launches = 0

    # -- engine thread -------------------------------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    self._browser_lock = asyncio.Lock()
                    self._slots = asyncio.Semaphore(self._concurrency)
                    self._preparing = asyncio.Semaphore(self._concurrency)
                    ready.set()
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name="browser-engine", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def _run(self, coroutine: Any, timeout: float | None) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._ensure_loop()).result(timeout)

    # -- browser -------------------------------------------------------------------------------------
    async def _ready_browser(self) -> Browser:
        assert self._browser_lock is not None
        async with self._browser_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            await self._discard_browser()
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=self._executable_path, args=list(self._args), headless=True
            )
            self.launches += 1
            logger.info("chromium launched", extra={"version": self._browser.version, "launches": self.launches})
            return self._browser

    async def _discard_browser(self) -> None:
        browser, self._browser = self._browser, None
        if browser is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), CLOSE_TIMEOUT_SECONDS)

    async def _kill(self) -> None:
        """A hung browser: stopping the driver kills Chromium with it; both start afresh on next use."""
        self._browser = None
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(playwright.stop(), CLOSE_TIMEOUT_SECONDS)

    async def _capture(self, options: CaptureOptions, guard: DestinationGuard | None) -> CaptureResult:
        """Prepare the job's context and page ahead of a render slot, so opening them (the slow part on a
        small machine) overlaps with other jobs' rendering; then render inside the slot."""
        assert self._slots is not None and self._preparing is not None
        for attempt in (1, 2):
            browser = await self._ready_browser()
            try:
                async with self._preparing:
                    prepared = await prepare_page(browser, options, guard)
                try:
                    async with self._slots:
                        prepared.deadline.restart()
                        return await self._render_or_kill(prepared)
                finally:
                    await prepared.close()
            except _BrowserCrashed as error:
                logger.warning("browser crashed during capture", extra={"attempt": attempt, "error": str(error)})
                await self._discard_browser()
        raise CaptureError(ErrorCode.BROWSER_CRASH, "the browser crashed twice while capturing this page")

    async def _render_or_kill(self, prepared: _Prepared) -> CaptureResult:
        """Render within the job's timeout plus a grace; past that the browser is hung: kill it (the other
        jobs in it see a crash and retry once in a fresh one). Timed from the render slot, so a job that
        waited behind slow pages is neither short of time nor mistaken for a hang."""
        options = prepared.state.options
        try:
            limit = options.timeout_ms / 1000 + CAPTURE_HANG_GRACE_SECONDS
            return await asyncio.wait_for(render_prepared(prepared), limit)
        except TimeoutError:
            logger.error("browser hung past the job's timeout; killing it", extra={"url": options.url})
            await self._kill()
            raise CaptureError(ErrorCode.BROWSER_CRASH, "the browser hung; it was killed and restarted") from None

    # -- public, thread-safe -------------------------------------------------------------------------
    def capture(self, options: CaptureOptions, *, guard: DestinationGuard | None) -> CaptureResult:
        future = asyncio.run_coroutine_threadsafe(self._capture(options, guard), self._ensure_loop())
        try:
            result: CaptureResult = future.result(timeout=ENGINE_STALL_SECONDS)
            return result
        except concurrent.futures.TimeoutError:
            future.cancel()
            logger.error("the browser engine stopped answering; killing the browser", extra={"url": options.url})
            self._run(self._kill(), timeout=CLOSE_TIMEOUT_SECONDS * 3)
            raise CaptureError(ErrorCode.BROWSER_CRASH, "the browser hung; it was killed and restarted") from None

    def crash_for_test(self) -> None:
        """Close the browser underneath any user, as a crash would (used by tests)."""
        self._run(self._discard_browser(), timeout=CLOSE_TIMEOUT_SECONDS * 2)

    def close(self) -> None:
        """Close the browser and stop the driver and the engine thread (local shutdown; Lambda just freezes)."""
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._run(self._shutdown(), timeout=CLOSE_TIMEOUT_SECONDS * 3)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    async def _shutdown(self) -> None:
        await self._discard_browser()
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
            self._playwright = None
