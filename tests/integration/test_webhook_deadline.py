"""The webhook attempt timeout is one wall-clock deadline for the whole attempt.

A receiver that drips its answer (a byte now and then) must not hold an attempt past the deadline, whether
it drips the status line, the headers or the body; nor may a slow DNS answer. Each receiver here is a real
server on 127.0.0.1. Every call runs under a watchdog, so a regression fails in seconds instead of hanging.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from types import ModuleType
from typing import Any, TypeVar

import pytest

from shotwire_core.adapters.webhook_http import post_webhook
from shotwire_core.sending import DeliveryResult
from shotwire_core.services import get_services
from shotwire_core.settings import get_settings
from tests.integration.conftest import Aws
from tests.integration.test_api import call
from tests.support import serving

T = TypeVar("T")
DEADLINE = 2.0  # total_timeout given to post_webhook
SLACK = 1.0  # how much later than the deadline the attempt may end
WATCHDOG = 15.0  # a call still running after this long has failed the test (and is left behind)

stop = threading.Event()  # set after each test: every dripping handler then ends


@pytest.fixture(autouse=True)
def _stop_dripping() -> Iterator[None]:
    stop.clear()
    yield
    stop.set()


def _drip(handler: BaseHTTPRequestHandler, data: bytes | None, then: bytes = b"") -> None:
    """Send `data` one byte a second, then `then` one byte a second forever (until the test ends)."""
    handler.close_connection = True
    chunks = list(data or b"")
    try:
        while not stop.is_set():
            byte = chunks.pop(0) if chunks else (then[0] if then else None)
            if byte is not None:
                handler.wfile.write(bytes([byte]))
            if stop.wait(1.0):
                return
    except OSError:  # the client gave up and closed the connection
        return


class DrippingReceiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/drip-body"):  # status line and headers at once, then a byte a second
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
            _drip(self, None, then=b"x")
        elif self.path.startswith("/drip-head"):  # the status line and a header, a byte a second, never ending
            _drip(self, b"HTTP/1.1 200 OK\r\nX-Drip: ", then=b"a")
        elif self.path.startswith("/silent"):  # reads the request, never answers
            _drip(self, None)
        elif self.path.startswith("/big"):  # a fast answer with a body far larger than what is read of it
            data = b"y" * 1_000_000
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(data)
        else:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(DrippingReceiver) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    stop.set()


def watched(fn: Callable[[], T], limit: float = WATCHDOG) -> tuple[T, float]:
    """Run `fn` in a daemon thread; its result and wall-clock seconds, or fail after `limit` seconds."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as error:  # re-raised in the test's thread
            box["error"] = error

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    took = time.monotonic() - started
    if thread.is_alive():
        pytest.fail(f"still running after {took:.1f} s (the attempt has no overall deadline)")
    if "error" in box:
        raise box["error"]
    return box["result"], took


def _post(url: str, total: float = DEADLINE, connect: float = 5.0) -> tuple[DeliveryResult, float]:
    return watched(
        lambda: post_webhook(
            url,
            b'{"type":"webhook.test"}',
            {"webhook-id": "msg_deadline"},
            allow_private=True,
            connect_timeout=connect,
            total_timeout=total,
        )
    )


def _assert_timed_out(result: DeliveryResult, took: float) -> None:
    assert took < DEADLINE + SLACK, f"the attempt took {took:.1f} s with a {DEADLINE:g} s deadline"
    assert not result.delivered and result.status_code is None
    assert result.error_class == "timeout", result
    assert result.duration_ms < (DEADLINE + SLACK) * 1000


def test_a_body_dripped_a_byte_a_second_ends_at_the_deadline(base_url: str) -> None:
    _assert_timed_out(*_post(f"{base_url}/drip-body"))


def test_a_status_line_and_headers_dripped_a_byte_a_second_end_at_the_deadline(base_url: str) -> None:
    _assert_timed_out(*_post(f"{base_url}/drip-head"))


def test_a_receiver_that_never_answers_ends_at_the_deadline(base_url: str) -> None:
    _assert_timed_out(*_post(f"{base_url}/silent"))


def test_the_deadline_covers_a_slow_dns_answer(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    real_getaddrinfo = socket.getaddrinfo

    def slow_getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "slow-dns.test":
            time.sleep(5)
            host = "127.0.0.1"
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    _assert_timed_out(*_post(f"http://slow-dns.test:{port}/ok"))


def test_a_fast_receiver_is_still_delivered(base_url: str) -> None:
    result, took = _post(f"{base_url}/ok")
    assert result.delivered and result.status_code == 200 and result.error_class is None
    assert result.response_excerpt == "ok" and took < 1.5

    result, took = _post(f"{base_url}/big")  # only the start of a large answer is read
    assert result.delivered and len(result.response_excerpt) == 2048 and took < 1.5


def test_the_test_endpoint_answers_within_the_webhook_timeout(
    aws_stack: Aws, api_module: ModuleType, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOTWIRE_WEBHOOK_TIMEOUT_SECONDS", str(DEADLINE))
    get_settings.cache_clear()
    get_services.cache_clear()
    assert get_services().settings.webhook_timeout_seconds == DEADLINE

    (status, report, _), took = watched(
        lambda: call(api_module, "POST", "/v1/webhooks/test", {"url": f"{base_url}/drip-body"})
    )
    assert status == 200, report
    assert took < DEADLINE + SLACK + 0.5, f"POST /v1/webhooks/test took {took:.1f} s"
    assert report["delivered"] is False and report["statusCode"] is None
    assert report["errorClass"] == "timeout" and report["durationMs"] < (DEADLINE + SLACK) * 1000
