"""The Chromium adapter against real pages on 127.0.0.1."""

from __future__ import annotations

import io
import ipaddress
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image

from devstack.options import find_chromium
from shotwire_core.adapters.browser import BrowserEngine, CaptureError
from shotwire_core.models import CaptureOptions
from tests.support import PageServer, closed_port, descendant_processes, serving, slow_site

LOOPBACK = ipaddress.ip_address("127.0.0.1")


@pytest.fixture(scope="module")
def capturer() -> Iterator[BrowserEngine]:
    instance = BrowserEngine(find_chromium(), concurrency=2)
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def other_server() -> Iterator[tuple[str, list[str]]]:
    """A second origin, to check the guard sees subresource requests."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/svg+xml")
            data = b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>"
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    with serving(Handler) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen


@pytest.fixture(scope="module")
def site(other_server: tuple[str, list[str]]) -> Iterator[str]:
    other, _ = other_server
    pages = {
        "/plain": "<html><head><title>Plain</title></head><body style='background:#0a0'>x</body></html>",
        "/with-image": f"<html><body><img src='{other}/pixel.svg'><script>fetch('{other}/api')</script></body></html>",
    }
    with PageServer(pages).running() as base:
        yield base


def _options(url: str, **changes: Any) -> CaptureOptions:
    changes.setdefault("timeout_ms", 10_000)
    return CaptureOptions(url=url, width=changes.pop("width", 500), height=changes.pop("height", 300), **changes)


def test_png_has_the_viewport_size_and_metadata(capturer: BrowserEngine, site: str) -> None:
    result = capturer.capture(_options(f"{site}/plain", timeout_ms=10_000), guard=None)
    with Image.open(io.BytesIO(result.image)) as image:
        assert image.format == "PNG" and image.size == (500, 300)
        assert image.getpixel((250, 150))[:3] == (0, 170, 0)
    assert (result.width, result.height, result.http_status, result.title) == (500, 300, 200, "Plain")


def test_unreachable_page_is_a_page_error(capturer: BrowserEngine) -> None:
    with pytest.raises(CaptureError, match="ERR_CONNECTION_REFUSED"):
        capturer.capture(_options(f"http://127.0.0.1:{closed_port()}/", timeout_ms=10_000), guard=None)


def test_a_page_that_never_loads_times_out(capturer: BrowserEngine) -> None:
    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(5)

        def log_message(self, *args: Any) -> None:
            return

    with serving(Slow) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with pytest.raises(CaptureError, match="did not answer within 1 s") as caught:
            capturer.capture(_options(url, timeout_ms=1000), guard=None)
        assert caught.value.code == "navigation_timeout"


def test_the_guard_sees_subresources_and_blocks_them(
    capturer: BrowserEngine, site: str, other_server: tuple[str, list[str]]
) -> None:
    other, seen = other_server
    checked: list[str] = []

    def guard(url: str) -> list[Any]:
        checked.append(url)
        if url.startswith(other):
            raise ValueError("address is private")
        return [LOOPBACK]

    result = capturer.capture(_options(f"{site}/with-image", timeout_ms=10_000), guard=guard)
    assert result.http_status == 200
    assert f"{site}/with-image" in checked
    assert any(url.startswith(other) for url in checked)  # checked once per origin
    assert seen == []  # the blocked origin was never contacted


def test_a_blocked_main_page_fails_with_the_reason(capturer: BrowserEngine, site: str) -> None:
    def guard(url: str) -> list[Any]:
        raise ValueError("address 127.0.0.1 is loopback")

    with pytest.raises(CaptureError, match=r"blocked: address 127\.0\.0\.1 is loopback"):
        capturer.capture(_options(f"{site}/plain", timeout_ms=10_000), guard=guard)


def test_contexts_are_closed_after_success_and_failure(capturer: BrowserEngine, site: str) -> None:
    capturer.capture(_options(f"{site}/plain", timeout_ms=10_000), guard=None)
    with pytest.raises(CaptureError):
        capturer.capture(_options(f"http://127.0.0.1:{closed_port()}/", timeout_ms=10_000), guard=None)
    assert capturer._browser is not None and capturer._browser.contexts == []


def test_a_crashed_browser_is_relaunched(capturer: BrowserEngine, site: str) -> None:
    capturer.capture(_options(f"{site}/plain", timeout_ms=10_000), guard=None)
    launches = capturer.launches
    pids = [pid for pid, (program, _, _) in descendant_processes().items() if "chrom" in program.lower()]
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    result = capturer.capture(_options(f"{site}/plain", timeout_ms=10_000), guard=None)
    assert result.http_status == 200
    assert capturer.launches == launches + 1


def test_websockets_pass_through_the_guard(capturer: BrowserEngine, other_server: tuple[str, list[str]]) -> None:
    other, seen = other_server
    ws_url = other.replace("http://", "ws://") + "/socket"

    class SlowImage(BaseHTTPRequestHandler):
        """Holds the load event for a moment so the socket is attempted before the capture ends."""

        def do_GET(self) -> None:
            if self.path == "/":
                page = f"<html><body><script>new WebSocket('{ws_url}')</script><img src='/slow.svg'></body></html>"
                data, kind = page.encode(), "text/html"
            else:
                time.sleep(0.7)
                data, kind = b"<svg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/>", "image/svg+xml"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    checked: list[str] = []
    other_netloc = urlsplit(other).netloc

    def guard(url: str) -> list[Any]:
        """Chromium tunnels even plain WebSockets through the proxy with CONNECT: vetted by host and port."""
        checked.append(url)
        if urlsplit(url).netloc == other_netloc:
            raise ValueError("address is private")
        return [LOOPBACK]

    seen.clear()
    with serving(SlowImage) as server:
        capturer.capture(_options(f"http://127.0.0.1:{server.server_address[1]}/", timeout_ms=10_000), guard=guard)
    assert any(urlsplit(url).netloc == other_netloc for url in checked), checked
    assert seen == []


def test_the_browser_connects_only_to_the_vetted_address(capturer: BrowserEngine, site: str) -> None:
    """Chromium never resolves names itself: a name only the guard knows still loads, via the address it vetted."""
    port = site.rsplit(":", 1)[1]

    def guard(url: str) -> list[Any]:
        if "only-the-guard-knows.test" in url or url.startswith(site):
            return [LOOPBACK]
        raise ValueError("unknown host")

    result = capturer.capture(_options(f"http://only-the-guard-knows.test:{port}/plain"), guard=guard)
    assert result.http_status == 200 and result.title == "Plain"


def test_a_job_waiting_behind_slow_pages_still_gets_its_whole_timeout(capturer: BrowserEngine) -> None:
    """8 jobs, 2 render slots, pages answering after 2 s, a 6 s budget each: the last pair waits ~7 s for a
    slot. Timed from the slot, every job fits with seconds to spare (a loaded machine included); timed from
    the queue, the last ones fail."""

    with slow_site(2.0) as (url, _), ThreadPoolExecutor(max_workers=8) as pool:
        started = time.monotonic()
        futures = [
            pool.submit(capturer.capture, _options(f"{url}?n={n}", timeout_ms=6000), guard=None) for n in range(8)
        ]
        results = [future.result() for future in futures]
        elapsed = time.monotonic() - started

    assert [Image.open(io.BytesIO(result.image)).size for result in results] == [(500, 300)] * 8
    assert elapsed > 7, f"the jobs did queue for the 2 slots ({elapsed:.1f} s)"
