"""Fixtures of the SDK tests: one local stack for the package (started only when an e2e test asks for it),
the e2e suite's page server and webhook receiver, and a scriptable fake API for the retry tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import API_KEY, PAGES, Stack, pages, quick_stack, receiver
from tests.support import PageServer, serving

__all__ = ["API_KEY", "FakeApi", "pages", "receiver"]

# A page whose PNG is over the 4 MB an inline answer may carry: random pixels do not compress.
NOISE_PAGE = (
    "<html><body style='margin:0'><canvas id=c width=1600 height=1200></canvas><script>"
    "const c=document.getElementById('c').getContext('2d');const d=c.createImageData(1600,1200);"
    "for(let i=0;i<d.data.length;i++){d.data[i]=(Math.random()*256)|0}"
    "for(let i=3;i<d.data.length;i+=4){d.data[i]=255}c.putImageData(d,0,0);</script></body></html>"
)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`python -m devstack` as `make dev` runs it, for the SDK tests only (torn down after them)."""
    with quick_stack(tmp_path_factory, "sdk-devstack") as running:
        yield running


@pytest.fixture(scope="package")
def sdk_pages() -> Iterator[str]:
    """The e2e pages plus a large one (its PNG is over 4 MB)."""
    with PageServer({**PAGES, "/noise": NOISE_PAGE}).running() as base_url:
        yield base_url


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lowercased names
    body: bytes
    at: float


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON, or bytes as they are
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeApi:
    """A real HTTP server on 127.0.0.1 that answers each `METHOD /path` with a scripted sequence of answers
    (the last one repeats) and records every request."""

    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, route: str, *answers: Answer) -> None:
        self.scripts[route] = list(answers)

    def requests(self, route: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if route is None or f"{s.method} {s.path}" == route]

    def _answer(self, route: str) -> Answer:
        with self.lock:
            answers = self.scripts.get(route)
            if not answers:
                return Answer(404, {"error": {"code": "not_found", "message": f"no script for {route}"}})
            return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            with api.lock:
                api.seen.append(
                    Seen(
                        self.command,
                        parts.path,
                        parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        time.monotonic(),
                    )
                )
            answer = api._answer(f"{self.command} {parts.path}")
            if isinstance(answer.body, bytes):
                data, content_type = answer.body, "application/octet-stream"
            elif answer.body is None:
                data, content_type = b"", "application/json"
            else:
                data, content_type = json.dumps(answer.body).encode(), "application/json"
            self.send_response(answer.status)
            headers = {"Content-Type": content_type, **answer.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            return

    with serving(Handler) as server:
        api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        yield api
