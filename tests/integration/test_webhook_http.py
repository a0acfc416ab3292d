"""The webhook sender against real servers on 127.0.0.1: answers, redirects, refusals, timeouts, SSRF."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from shotwire_core.adapters.webhook_http import post_webhook
from tests.support import closed_port, serving

seen: list[dict[str, Any]] = []


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith(("/busy", "/down")):
            self.send_response(429 if self.path.startswith("/busy") else 503)
            self.send_header("Retry-After", "42")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/slow"):
            time.sleep(3)
        elif self.path.startswith("/big"):
            data = b"x" * 10_000
            self.send_response(500)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serving(Receiver) as server:
        yield int(server.server_address[1])


def _post(url: str, allow_private: bool = True, total: float = 10) -> Any:
    return post_webhook(
        url, b'{"a":1}', {"webhook-id": "msg_1"}, allow_private=allow_private, connect_timeout=2, total_timeout=total
    )


def test_2xx_is_delivered_and_headers_arrive(port: int) -> None:
    seen.clear()
    result = _post(f"http://localhost:{port}/ok?x=1")
    assert result.delivered and result.status_code == 204 and result.error_class is None
    (request,) = seen
    assert request["path"] == "/ok?x=1"
    assert request["headers"]["Host"] == f"localhost:{port}"  # the name, though we connected to the address
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body"] == b'{"a":1}'


def test_redirects_are_failures_and_never_followed(port: int) -> None:
    seen.clear()
    result = _post(f"http://127.0.0.1:{port}/redirect")
    assert not result.delivered and result.status_code == 302 and result.error_class == "http_status"
    assert [r["path"] for r in seen] == ["/redirect"]


@pytest.mark.parametrize("path", ["/busy", "/down"])
def test_retry_after_is_read_from_429_and_503(port: int, path: str) -> None:
    result = _post(f"http://127.0.0.1:{port}{path}")
    assert not result.delivered and result.error_class == "http_status" and result.retry_after_seconds == 42


def test_refused_connection(port: int) -> None:
    result = _post(f"http://127.0.0.1:{closed_port()}/")
    assert not result.delivered and result.status_code is None and result.error_class == "connect"


def test_timeout(port: int) -> None:
    result = _post(f"http://127.0.0.1:{port}/slow", total=1)
    assert result.error_class == "timeout" and result.duration_ms < 2500


def test_response_excerpt_is_bounded(port: int) -> None:
    result = _post(f"http://127.0.0.1:{port}/big")
    assert result.status_code == 500 and len(result.response_excerpt) == 2048


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433"])
def test_private_destinations_are_blocked_without_connecting(port: int, host: str) -> None:
    seen.clear()
    result = _post(f"http://{host}:{port}/ok", allow_private=False)
    assert result.error_class == "ssrf_blocked" and not result.delivered
    assert seen == []
