"""Headless Chromium through Playwright: one warm browser per process, a fresh context per job.

Launching Chromium costs about a second, so a warm Lambda (or the local worker) keeps one browser and
gives each job its own context: no cookies, storage or cache cross from one tenant's job to the next.
The browser lives on an engine thread with its own event loop, so several jobs render at once in it
while the callers (one thread per SQS record) stay ordinary synchronous code. A loop of its own also
survives between invocations, which a per-invocation `asyncio.run` would not.

No browser step waits without a deadline: the job's own budget, and the caller's `not_after` (what is left
of the invocation). A browser that disconnects fails the steps in flight at once; one that stops answering
is found by a probe when a step runs out of time, and killed. Either way its jobs are tried once more in a
fresh browser. Options Chromium refuses (a cookie, a header, a user agent) fail their own job only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import os
import re
import signal
import threading
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from PIL import Image
from playwright.async_api import (
    Browser,
    BrowserContext,
    CDPSession,
    Page,
    Playwright,
    Request,
    Response,
    Route,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from shotwire_core.adapters.egress_proxy import BLOCKED_HEADER, EgressProxy
from shotwire_core.blocklists import cookie_banner_css, is_ad_host
from shotwire_core.config import CAPTURE_CLEANUP_SECONDS, CAPTURE_HANG_GRACE_SECONDS, LAMBDA_MAX_TIMEOUT_SECONDS
from shotwire_core.models import MAX_CAPTURE_HEIGHT, CaptureOptions, ErrorCode
from shotwire_core.observability import logger
from shotwire_core.rendering import CaptureError as CaptureError
from shotwire_core.rendering import CaptureResult as CaptureResult
from shotwire_core.rendering import DestinationGuard as DestinationGuard

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
# The longest a capture call may take when its caller gives no deadline (`not_after`): no shorter than any
# batch may take. StackConfig lets capture_batch_worst_case_seconds reach Lambda's longest timeout (e.g. 10
# jobs rendering 2 at once: 730 s). A caller with a deadline (the capture function: its invocation's
# remaining time) gets the shorter of the two, so a call never outlives the invocation that made it.
ENGINE_STALL_SECONDS = LAMBDA_MAX_TIMEOUT_SECONDS
CLOSE_TIMEOUT_SECONDS = 5
# A job cut short by its caller's deadline still closes its context (CLOSE_TIMEOUT_SECONDS at most) and its
# proxy: it is cut this long before the deadline.
CLEANUP_SECONDS = CAPTURE_CLEANUP_SECONDS
assert CLEANUP_SECONDS >= CLOSE_TIMEOUT_SECONDS + 2
# Opening a context or a page, adding cookies or routes: well under a second on a healthy browser, a few
# seconds on a loaded 2-vCPU Lambda. Past this the browser is probed: hung, it is killed; answering, the
# job is retried later.
PREPARE_STEP_SECONDS = 10
# The probe (one CDP round trip to the browser process, answered in milliseconds) tells a hung browser
# from a slow page: a browser process that cannot answer it in this long is not coming back.
PROBE_SECONDS = 3
# Chromium starts in 1-3 s; well inside CAPTURE_LAUNCH_SECONDS, the launch-and-upload allowance of a batch.
LAUNCH_SECONDS = 20

RESOURCE_TYPES = {
    "images": "image",
    "fonts": "font",
    "media": "media",
    "stylesheets": "stylesheet",
    "scripts": "script",
}

# Request URL check: returns the vetted addresses, or raises with a reason when the destination is not allowed.


class _BrowserCrashed(Exception):
    """The browser died (or hung and was killed) under a capture; relaunch and try once more."""


class _StepTimedOut(Exception):
    """Preparing a page took longer than any healthy browser does: the browser may be hung."""

    def __init__(self, step: str) -> None:
        super().__init__(f"{step} took over {PREPARE_STEP_SECONDS} s")
        self.step = step


# Said of a job the capture function has no time left for: not the page's fault, so the job is transient
# (INTERNAL_ERROR) and SQS delivers it again, to an invocation with time for it.
OUT_OF_TIME = "the capture function ran out of time before this capture could finish"


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


# The browser call Chromium names in a refusal, and the request option that fed it.
_REFUSING_OPTION = {
    "Storage.setCookies": "cookies",
    "Network.setCookies": "cookies",
    "Network.setExtraHTTPHeaders": "headers",
    "Emulation.setUserAgentOverride": "userAgent",
}


def _preparation_error(error: PlaywrightError, browser: Browser, option: str) -> Exception:
    """A connected browser that refuses a step refuses the job's options (a cookie named `a;b`, a header
    value with CR/LF): that job fails alone. Only a browser that is gone is a crash for every job in it."""
    text = str(error)
    if not browser.is_connected() or any(marker in text for marker in _CRASH_MARKERS):
        return _BrowserCrashed(_first_line(error))
    message, named = _first_line(error), option
    refused = re.match(r"Protocol error \(([\w.]+)\):\s*(.*)", message)
    if refused:
        named, message = _REFUSING_OPTION.get(refused.group(1), option), refused.group(2)
    return CaptureError(ErrorCode.INVALID_OPTIONS, f"{named}: {message}")


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
    # Why the page's top frame went somewhere blocked after it loaded (a meta refresh, a script, a form):
    # set once, it fails the job. None until the page is watched (no guard: nothing is blocked).
    navigated_away: asyncio.Future[str] | None = None
    vetting: set[asyncio.Task[None]] = field(default_factory=set)

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

    def watch_navigations(self, page: Page) -> None:
        """Vet every top-frame navigation of the page, not only the first: the proxy turns a blocked one into
        a block notice, which must fail the job rather than be captured as the page."""
        self.navigated_away = asyncio.get_running_loop().create_future()
        page.on("request", self._on_request)
        page.on("response", self._on_response)

    def _on_request(self, request: Request) -> None:
        url = request.url
        if not _is_top_navigation(request) or url.startswith(("data:", "blob:", "about:")):
            return
        task = asyncio.ensure_future(self._vet_navigation(url))
        self.vetting.add(task)
        task.add_done_callback(self.vetting.discard)

    def _on_response(self, response: Response) -> None:
        """The proxy's own verdict on a top-frame navigation (or a redirect hop of one)."""
        if _is_top_navigation(response.request):
            reason = response.headers.get(BLOCKED_HEADER.lower())
            if reason is not None:
                self._navigated_to_blocked(response.url, reason)

    async def _vet_navigation(self, url: str) -> None:
        reason = await self.refusal(url)
        if reason is not None:
            self._navigated_to_blocked(url, reason)

    def _navigated_to_blocked(self, url: str, reason: str) -> None:
        if self.navigated_away is not None and not self.navigated_away.done():
            logger.info("blocked navigation", extra={"url": url, "reason": reason})
            self.navigated_away.set_result(f"blocked: the page navigated to {url}: {reason}")

    async def check_navigations(self, deadline: _Deadline) -> None:
        """Fail the job if its page went somewhere blocked: every navigation seen so far is vetted first."""
        if self.navigated_away is None:
            return
        if self.vetting:
            await asyncio.wait(set(self.vetting), timeout=max(1.0, deadline.remaining_ms() / 1000))
        if self.navigated_away.done():
            raise CaptureError(ErrorCode.BLOCKED_URL, self.navigated_away.result())

    async def unless_navigated_away(self, work: Awaitable[_T]) -> _T:
        """A step of the job, cut short as soon as the page navigates somewhere blocked."""
        watch = self.navigated_away
        if watch is None:
            return await work
        task = asyncio.ensure_future(work)
        either: set[asyncio.Future[Any]] = {task, watch}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        if not watch.done():
            return task.result()
        if task.done():
            if not task.cancelled():
                task.exception()  # superseded by the blocked navigation
        else:
            task.cancel()
        raise CaptureError(ErrorCode.BLOCKED_URL, watch.result())


def _is_top_navigation(request: Request) -> bool:
    try:
        return request.is_navigation_request() and request.frame.parent_frame is None
    except PlaywrightError:  # a request without a frame (a service worker's)
        return False


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

# Add a <style> and wait for its @imports; answers null when all loaded, else the imports that may have failed.
# page.add_style_tag rejects with the bare error Event instead. A failed import's rules cannot be read, nor can
# a cross-origin one's, so those are the candidates named.
_ADD_STYLE = """async (css) => {
  const style = document.createElement('style');
  style.appendChild(document.createTextNode(css));
  const loaded = new Promise((resolve) => {
    style.onload = () => resolve(true);
    style.onerror = () => resolve(false);
  });
  (document.head || document.documentElement).appendChild(style);
  if (await loaded) return null;
  return [...(style.sheet ? style.sheet.cssRules : [])]
    .filter((rule) => rule instanceof CSSImportRule)
    .filter((rule) => { try { return !rule.styleSheet || !rule.styleSheet.cssRules; } catch { return true; } })
    .map((rule) => rule.href);
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


_T = TypeVar("_T")


async def _step(awaitable: Awaitable[_T], step: str) -> _T:
    """A preparation step with a deadline: Playwright gives these none, and a hung browser never answers."""
    try:
        return await asyncio.wait_for(awaitable, PREPARE_STEP_SECONDS)
    except TimeoutError:
        raise _StepTimedOut(step) from None


async def _bounded(awaitable: Awaitable[_T], deadline: _Deadline, what: str) -> _T:
    """A page step Playwright sets no timeout on (evaluate, pdf...): it gets what is left of the job's budget,
    and a second at least, as these are quick on a page that answers."""
    try:
        return await asyncio.wait_for(awaitable, max(1.0, deadline.remaining_ms() / 1000))
    except TimeoutError:
        raise CaptureError(ErrorCode.RENDER_ERROR, f"{what} did not finish in time", timed_out=True) from None


async def prepare_page(browser: Browser, options: CaptureOptions, guard: DestinationGuard | None) -> _Prepared:
    """Open the job's own context (its proxy, routes, cookies) and page. The caller must close it."""
    deadline = _Deadline(options.timeout_ms)
    state = _JobState(guard=guard, options=options)
    proxy_url = None
    if guard is not None:
        state.proxy = EgressProxy(guard)
        proxy_url = await state.proxy.start()
    option = "options"  # the request option a refusal is blamed on, when Chromium does not say
    try:
        context = await _step(_new_context(browser, options, proxy_url), "opening a browser context")
    except BaseException as error:
        if state.proxy is not None:
            await state.proxy.close()
        if isinstance(error, PlaywrightError):
            raise _preparation_error(error, browser, option) from error
        raise
    prepared = None
    try:
        if options.cookies:
            option = "cookies"
            cookies = [_cookie(cookie, options.url) for cookie in options.cookies]
            await _step(context.add_cookies(cookies), "adding cookies")  # type: ignore[arg-type]
        # The egress proxy vets every request, WebSockets included; routing each request through the
        # driver as well would cost a round trip per request, so it is only set up to block by kind.
        if options.block_resources or options.block_ads:
            option = "blockResources" if options.block_resources else "blockAds"
            await _step(context.route("**/*", lambda route: _route_request(route, state)), "routing requests")
        # Chromium applies the user agent and extra headers to a page as it opens, so it refuses bad ones here.
        option = "options"
        page = await _step(context.new_page(), "opening a page")
        if guard is not None:
            state.watch_navigations(page)
        prepared = _Prepared(context, page, state, deadline)
        return prepared
    except PlaywrightError as error:
        raise _preparation_error(error, browser, option) from error
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
    """The `add_cookies` entry for a job's cookie; one without a domain is host-only for the captured page.

    Not `url=page_url`: Playwright takes the path from the URL (cut after its last '/') and `secure` from its
    scheme, so a cookie for https://host/deep/page.html would get Path=/deep/ whatever `path` says, and a
    `__Host-` cookie (Path=/ only) would be refused. A domain without a leading '.' is host-only to Chromium.
    """
    entry: dict[str, Any] = {
        "name": cookie.name,
        "value": cookie.value,
        "secure": cookie.secure,
        "httpOnly": cookie.http_only,
        "sameSite": cookie.same_site,
        "path": cookie.path,
    }
    if cookie.domain:
        entry["domain"] = cookie.domain
        return entry
    try:
        # Browsers read '\\' as '/' in an http(s) URL; Chromium canonicalizes the rest (case, IDN, IPv4 forms).
        host = urlsplit(page_url.replace("\\", "/")).hostname
    except ValueError:
        host = None
    if not host:
        raise CaptureError(ErrorCode.INVALID_OPTIONS, f"cookies: no host in {page_url} to set a host-only cookie for")
    entry["domain"] = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    return entry


async def _capture_in(page: Page, options: CaptureOptions, deadline: _Deadline, state: _JobState) -> CaptureResult:
    warnings: list[str] = []
    navigation_started = time.monotonic()
    try:
        response = await page.goto(options.url, wait_until="commit", timeout=deadline.remaining_ms(RENDER_RESERVE_MS))
    except PlaywrightTimeoutError as error:
        raise CaptureError(
            ErrorCode.NAVIGATION_TIMEOUT,
            f"{options.url} did not answer within {options.timeout_ms / 1000:g} s",
            timed_out=True,
        ) from error
    except PlaywrightError as error:
        raise _navigation_error(error, options.url, state.refusals) from error
    if (
        state.proxy is not None
        and response is not None
        and BLOCKED_HEADER.lower() in await _bounded(response.all_headers(), deadline, "reading the response")
    ):
        # The page, or a redirect hop on the way to it, was refused by the egress proxy.
        raise CaptureError(ErrorCode.BLOCKED_URL, f"blocked: {(state.refusals or [response.url])[-1]}")
    if options.wait_until != "commit":
        # A page that never gets there (a tracker that keeps the network busy, a stalled image) is captured
        # anyway when the wait runs out; the job says so.
        try:
            await state.unless_navigated_away(
                page.wait_for_load_state(options.wait_until, timeout=deadline.remaining_ms(RENDER_RESERVE_MS))
            )
        except PlaywrightTimeoutError:
            warnings.append(f"the page did not reach '{options.wait_until}' within the timeout; captured anyway")
        except PlaywrightError as error:
            raise _navigation_error(error, options.url, state.refusals) from error
    navigation_ms = int((time.monotonic() - navigation_started) * 1000)
    status = response.status if response is not None else None
    if options.fail_on_http_error and status is not None and status >= 400:
        raise CaptureError(ErrorCode.HTTP_ERROR, f"{options.url} answered HTTP {status}")

    capture_started = time.monotonic()
    # The page may still navigate itself (a meta refresh, a script, a form): somewhere blocked, the job fails
    # rather than capturing the proxy's block notice as the page.
    await state.unless_navigated_away(_prepare(page, options, deadline, warnings))
    image, width, height, truncated = await state.unless_navigated_away(_render(page, options, deadline))
    await state.check_navigations(deadline)
    if truncated:
        warnings.append(f"the page is taller than maxHeight ({options.max_height} px); the image is cut there")
    try:
        # The image is made; a title that does not come quickly is left out rather than failing the job.
        title = await asyncio.wait_for(page.title(), PROBE_SECONDS)
    except (PlaywrightError, TimeoutError):
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


async def _prepare(page: Page, options: CaptureOptions, deadline: _Deadline, warnings: list[str]) -> None:
    """Wait for what the caller asked, then apply styles and scripts, then wake lazy content."""
    if options.wait_for_selector:
        try:
            await page.wait_for_selector(
                options.wait_for_selector, state="visible", timeout=deadline.remaining_ms(RENDER_RESERVE_MS)
            )
        except PlaywrightTimeoutError as error:
            raise CaptureError(
                ErrorCode.RENDER_ERROR,
                f"waitForSelector {options.wait_for_selector!r} did not appear in time",
                timed_out=True,
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
            unloaded = await _bounded(page.evaluate(_ADD_STYLE, css), deadline, "injecting CSS")
        except PlaywrightError as error:
            raise _render_error(error, "could not inject CSS") from error
        if unloaded is not None:
            # An @import that fails (refused, unreachable, not CSS) leaves the rest of the style applied.
            listed = f" ({', '.join(str(href) for href in unloaded)})" if unloaded else ""
            warnings.append(f"css: an @import could not be loaded{listed}; the rest of the CSS was applied")
    if options.javascript:
        try:
            await asyncio.wait_for(
                page.evaluate("async () => {\n" + options.javascript + "\n}"),
                deadline.remaining_ms(RENDER_RESERVE_MS) / 1000,
            )
        except TimeoutError as error:
            raise CaptureError(ErrorCode.RENDER_ERROR, "javascript did not finish in time", timed_out=True) from error
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
                page_height = int(await _bounded(page.evaluate(_PAGE_HEIGHT), deadline, "measuring the page"))
                truncated = page_height > height_limit
                height = min(page_height, height_limit)
            pdf = page.pdf(width=f"{options.width}px", height=f"{height}px", print_background=True)
            data = await _bounded(pdf, deadline, "the PDF")
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
                page_height = int(await _bounded(page.evaluate(_PAGE_HEIGHT), deadline, "measuring the page"))
                if page_height > height_limit:
                    shot["clip"] = {"x": 0, "y": 0, "width": options.width, "height": height_limit}
                    truncated = True
            elif options.clip is not None:
                shot["clip"] = options.clip.model_dump(by_alias=False)
            data = await _page_screenshot(page, shot, deadline)
    except PlaywrightTimeoutError as error:
        if options.selector:
            message = f"selector {options.selector!r} matched nothing in time"
            raise CaptureError(ErrorCode.RENDER_ERROR, message, timed_out=True) from error
        raise CaptureError(ErrorCode.RENDER_ERROR, "the screenshot did not finish in time", timed_out=True) from error
    except PlaywrightError as error:
        raise _render_error(error, "selector" if options.selector else "screenshot failed") from error
    if options.format == "webp":
        data = await asyncio.to_thread(png_to_webp, data, options.effective_quality or 80)
    width, height = await asyncio.to_thread(image_size, data)
    return data, width, height, truncated


@dataclass(eq=False)
class _Launched:
    """One launched Chromium: the CDP session that probes it, its process id (to kill it when hung) and
    `gone`, done once it disconnected or was killed, which every step of every job in it races against."""

    playwright: Playwright
    browser: Browser
    session: CDPSession
    pid: int | None
    gone: asyncio.Future[None]

    def mark_gone(self) -> None:
        if not self.gone.done():
            self.gone.set_result(None)

    @property
    def alive(self) -> bool:
        return not self.gone.done() and self.browser.is_connected()


class BrowserEngine:
    """Owns the Playwright driver and one browser for this process; runs captures concurrently in it.

    `capture` is thread-safe and blocking: each caller (an SQS record's thread) waits for its own job, never
    past its `not_after`. A browser that disconnects fails its jobs' steps at once; one that stops answering
    is killed. Either way it is relaunched and each of its jobs is tried once more in the fresh one.
    """

    def __init__(self, executable_path: str | None = None, extra_args: tuple[str, ...] = (), concurrency: int = 4):
        self._executable_path = executable_path
        self._args = (*BASE_ARGS, *extra_args)
        self._concurrency = concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._playwright: Playwright | None = None
        self._current: _Launched | None = None
        self._browser_lock: asyncio.Lock | None = None
        self._slots: asyncio.Semaphore | None = None
        self._preparing: asyncio.Semaphore | None = None
        self.launches = 0

    @property
    def _browser(self) -> Browser | None:
        return self._current.browser if self._current is not None else None

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
    async def _ready_browser(self, end: float) -> _Launched:
        assert self._browser_lock is not None
        async with self._browser_lock:
            current = self._current
            if current is not None and current.alive:
                return current
            if current is not None:
                await self._retire(current)
            self._current = await self._launch(end)
            return self._current

    async def _launch(self, end: float) -> _Launched:
        seconds = max(1.0, min(LAUNCH_SECONDS, end - time.monotonic()))
        try:
            if self._playwright is None:
                self._playwright = await asyncio.wait_for(async_playwright().start(), seconds)
            playwright = self._playwright
            # Playwright's own launch timeout lets the driver kill a Chromium that never came up; the outer
            # one is for a driver that stopped answering.
            launching = playwright.chromium.launch(
                executable_path=self._executable_path, args=list(self._args), headless=True, timeout=seconds * 1000
            )
            browser = await asyncio.wait_for(launching, seconds + CLOSE_TIMEOUT_SECONDS)
        except (PlaywrightError, TimeoutError) as error:
            await self._drop_driver(self._playwright)
            raise CaptureError(ErrorCode.BROWSER_CRASH, f"could not launch the browser: {_first_line(error)}") from None
        gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            session = await asyncio.wait_for(browser.new_browser_cdp_session(), PROBE_SECONDS)
            info = await asyncio.wait_for(session.send("SystemInfo.getProcessInfo"), PROBE_SECONDS)
        except (PlaywrightError, TimeoutError):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), CLOSE_TIMEOUT_SECONDS)
            await self._drop_driver(playwright)
            raise CaptureError(ErrorCode.BROWSER_CRASH, "the browser did not answer after its launch") from None
        # Playwright starts Chromium as the leader of its own process group: its pid kills it with every child.
        pid = next((int(entry["id"]) for entry in info["processInfo"] if entry["type"] == "browser"), None)
        launched = _Launched(playwright, browser, session, pid, gone)
        browser.on("disconnected", lambda _: launched.mark_gone())
        self.launches += 1
        logger.info("chromium launched", extra={"version": browser.version, "launches": self.launches, "pid": pid})
        return launched

    async def _responsive(self, launched: _Launched) -> bool:
        """Does the browser process still answer? A hung page does not stop it; a hung browser does."""
        if not launched.alive:
            return False
        try:
            await asyncio.wait_for(launched.session.send("Browser.getVersion"), PROBE_SECONDS)
            return True
        except (PlaywrightError, TimeoutError):
            return False

    async def _retire(self, launched: _Launched) -> None:
        """Take a browser out of use: close it, or kill it if it will not close."""
        if self._current is launched:
            self._current = None
        if launched.gone.done():
            return
        try:
            await asyncio.wait_for(launched.browser.close(), CLOSE_TIMEOUT_SECONDS)
            launched.mark_gone()
        except (PlaywrightError, TimeoutError):
            await self._kill(launched)

    async def _kill(self, launched: _Launched | None = None) -> None:
        """A hung browser: SIGKILL its process group, the one signal a stopped or wedged Chromium cannot
        ignore (closing it needs its answer). The driver then reports it gone and every job in it fails over
        to a fresh browser. If the driver does not notice, it is the one stuck: it is stopped too."""
        launched = launched or self._current
        if launched is None:
            await self._drop_driver(self._playwright)
            return
        if self._current is launched:
            self._current = None
        if launched.gone.done():
            return
        if launched.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(launched.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(launched.gone), PROBE_SECONDS)
        if not launched.gone.done():
            launched.mark_gone()
            await self._drop_driver(launched.playwright)

    async def _drop_driver(self, playwright: Playwright | None) -> None:
        """Stop a driver that failed (it kills the browsers it launched); the next launch starts a new one."""
        if playwright is None:
            return
        if self._playwright is playwright:
            self._playwright = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(playwright.stop(), CLOSE_TIMEOUT_SECONDS)

    # -- one job -------------------------------------------------------------------------------------
    async def _capture_until(
        self, options: CaptureOptions, guard: DestinationGuard | None, end: float
    ) -> CaptureResult:
        """The job, ended by `end` (a time.monotonic() instant) wherever it is: launching, preparing, waiting
        for a slot or rendering. Its context is closed on the way out."""
        loop = asyncio.get_running_loop()
        limit = asyncio.timeout_at(loop.time() + end - time.monotonic())
        try:
            async with limit:
                return await self._capture(options, guard, end)
        except TimeoutError:
            if not limit.expired():
                raise
            logger.error("capture ran out of the invocation's time", extra={"url": options.url})
            raise CaptureError(ErrorCode.INTERNAL_ERROR, OUT_OF_TIME) from None

    async def _capture(self, options: CaptureOptions, guard: DestinationGuard | None, end: float) -> CaptureResult:
        for attempt in (1, 2):
            launched = await self._ready_browser(end)
            try:
                return await self._while_alive(launched, self._attempt(launched, options, guard, end))
            except _BrowserCrashed as error:
                logger.warning("browser crashed during capture", extra={"attempt": attempt, "error": str(error)})
                # A page's renderer can crash alone ("Target closed"); a browser that still answers is kept.
                if not await self._responsive(launched):
                    await self._kill(launched)
        raise CaptureError(ErrorCode.BROWSER_CRASH, "the browser crashed or hung twice while capturing this page")

    async def _while_alive(self, launched: _Launched, job: Awaitable[CaptureResult]) -> CaptureResult:
        """Run the job's steps while the browser lives: a browser that disconnects or is killed fails the step
        in flight at once, whatever it is waiting on."""
        task = asyncio.ensure_future(job)
        try:
            await asyncio.wait((task, launched.gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait((task,))  # its own cleanup closes the job's context
        if not task.cancelled():
            return task.result()
        raise _BrowserCrashed("the browser disconnected")

    async def _attempt(
        self, launched: _Launched, options: CaptureOptions, guard: DestinationGuard | None, end: float
    ) -> CaptureResult:
        """Prepare the job's context and page ahead of a render slot, so opening them (the slow part on a
        small machine) overlaps with other jobs' rendering; then render inside the slot."""
        assert self._slots is not None and self._preparing is not None
        async with self._preparing:
            prepared = await self._prepare(launched, options, guard)
        try:
            async with self._slots:
                prepared.deadline.restart()
                if prepared.deadline.end > end:
                    # Started now, the page could be cut short by the invocation and blamed for it; it is
                    # left whole for a later delivery instead.
                    left = max(0.0, end - time.monotonic())
                    message = f"{OUT_OF_TIME} ({options.timeout_ms / 1000:g} s needed, {left:.0f} s left)"
                    raise CaptureError(ErrorCode.INTERNAL_ERROR, message)
                return await self._render(launched, prepared)
        finally:
            await prepared.close()

    async def _prepare(self, launched: _Launched, options: CaptureOptions, guard: DestinationGuard | None) -> _Prepared:
        try:
            return await prepare_page(launched.browser, options, guard)
        except _StepTimedOut as error:
            if await self._responsive(launched):
                message = f"the browser was too slow opening this page ({error})"
                raise CaptureError(ErrorCode.BROWSER_CRASH, message) from None
            logger.error("browser stopped answering while opening a page; killing it", extra={"step": error.step})
            await self._kill(launched)
            raise _BrowserCrashed(f"the browser stopped answering ({error})") from None

    async def _render(self, launched: _Launched, prepared: _Prepared) -> CaptureResult:
        """Render within the job's timeout plus a grace. A step that runs out of time on a browser that still
        answers is the page's fault; on one that does not, the browser is hung: it is killed, and this job and
        the others in it are tried again in a fresh one. Timed from the render slot, so a job that waited
        behind slow pages is neither short of time nor mistaken for a hang."""
        options = prepared.state.options
        limit = options.timeout_ms / 1000 + CAPTURE_HANG_GRACE_SECONDS
        try:
            return await asyncio.wait_for(render_prepared(prepared), limit)
        except TimeoutError:
            failure = CaptureError(ErrorCode.RENDER_ERROR, f"the page stopped responding for {limit:g} s")
        except CaptureError as error:
            if not error.timed_out:
                raise
            failure = error
        if await self._responsive(launched):
            raise failure
        logger.error("browser stopped answering; killing it", extra={"url": options.url})
        await self._kill(launched)
        raise _BrowserCrashed("the browser stopped answering") from failure

    # -- public, thread-safe -------------------------------------------------------------------------
    def capture(
        self, options: CaptureOptions, *, guard: DestinationGuard | None, not_after: float | None = None
    ) -> CaptureResult:
        """Capture a page. `not_after` (a time.monotonic() instant) is when the caller must have its answer:
        the job ends by then, as CaptureError(INTERNAL_ERROR) if it had to be cut short."""
        started = time.monotonic()
        stall = ENGINE_STALL_SECONDS if not_after is None else min(ENGINE_STALL_SECONDS, not_after - started)
        if stall <= CLEANUP_SECONDS:
            raise CaptureError(ErrorCode.INTERNAL_ERROR, OUT_OF_TIME)
        end = started + stall - CLEANUP_SECONDS
        future = asyncio.run_coroutine_threadsafe(self._capture_until(options, guard, end), self._ensure_loop())
        try:
            result: CaptureResult = future.result(timeout=stall)
            return result
        except concurrent.futures.TimeoutError:
            # Only if the engine's event loop itself stopped answering: the job did not end itself.
            future.cancel()
            logger.error("the browser engine stopped answering; killing the browser", extra={"url": options.url})
            with contextlib.suppress(Exception):
                self._run(self._kill(), timeout=CLOSE_TIMEOUT_SECONDS)
            raise CaptureError(ErrorCode.BROWSER_CRASH, "the browser hung; it was killed and restarted") from None

    def crash_for_test(self) -> None:
        """Close the browser underneath any user, as a crash would (used by tests)."""
        self._run(self._close_current(), timeout=CLOSE_TIMEOUT_SECONDS * 2)

    async def _close_current(self) -> None:
        if self._current is not None:
            await self._retire(self._current)

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
        await self._close_current()
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            with contextlib.suppress(Exception):
                await playwright.stop()
