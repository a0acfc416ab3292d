"""A loopback HTTP server that turns each request into an API Gateway REST proxy event for the API handler."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from abc import ABCMeta
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from devstack.runtime import Handler, LocalContext

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


def proxy_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The event API Gateway's Lambda proxy integration sends for a `{proxy+}` resource."""
    parts = urlsplit(target)
    path = parts.path or "/"
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    query = parse_qs(parts.query, keep_blank_values=True)
    try:
        text: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode("ascii"), True
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/local{path}",
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": source_ip, "userAgent": single.get("User-Agent", "")},
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


class _PerThread:
    """A class attribute holding one value per thread (see keep_router_state_per_thread)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values = threading.local()

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        try:
            return self.values.value
        except AttributeError:
            raise AttributeError(self.name) from None

    def __set__(self, instance: object, value: Any) -> None:
        self.values.value = value


class _RouterMeta(ABCMeta):
    def __setattr__(cls, name: str, value: Any) -> None:
        slot = BaseRouter.__dict__.get(name)
        if isinstance(slot, _PerThread):
            slot.__set__(None, value)
        else:
            super().__setattr__(name, value)


def keep_router_state_per_thread() -> None:
    """Powertools keeps the request being handled on a class (`BaseRouter.current_event`, `.lambda_context`),
    which is right in Lambda, where an environment serves one request at a time. Several local environments
    share one Python process, so their requests would read each other's events: give each thread its own.
    Local only; the handler code is untouched."""
    if isinstance(BaseRouter.__dict__.get("current_event"), _PerThread):
        return
    for name in ("current_event", "lambda_context"):
        type.__setattr__(BaseRouter, name, _PerThread(name))
    BaseRouter.__class__ = _RouterMeta  # type: ignore[method-assign,assignment]


class ExecutionEnvironments:
    """Handlers that each serve one invocation at a time, as Lambda execution environments do. `spawn` makes
    another (a fresh import of the handler module) when every one is busy, up to `limit`: a synchronous
    capture waiting 25 s then holds one environment, not the whole API."""

    def __init__(self, first: Handler, spawn: Callable[[], Handler] | None = None, limit: int = 10) -> None:
        self._idle = [first]
        self._count = 1
        self._spawn = spawn
        self._limit = limit if spawn is not None else 1
        if self._limit > 1:
            keep_router_state_per_thread()
        self._changed = threading.Condition()

    def invoke(self, event: dict[str, Any], context: LocalContext) -> Any:
        handler = self._acquire()
        try:
            return handler(event, context)
        finally:
            with self._changed:
                self._idle.append(handler)
                self._changed.notify()

    def _acquire(self) -> Handler:
        with self._changed:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._count < self._limit and self._spawn is not None:
                    self._count += 1
                    break
                self._changed.wait()
        return self._spawn()  # outside the lock: importing takes a moment


class ApiGateway:
    """Serves the API on loopback, each request in a free execution environment."""

    def __init__(
        self,
        host: str,
        port: int,
        handler: Handler,
        context: Callable[[], LocalContext],
        spawn: Callable[[], Handler] | None = None,
    ) -> None:
        self.environments = ExecutionEnvironments(handler, spawn)
        gateway = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "shotwire-local"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self._reply(
                        413,
                        {"Content-Type": "application/json"},
                        b'{"error":{"code":"payload_too_large","message":"request body over 10 MB"}}',
                    )
                    return
                body = self.rfile.read(length) if length else b""
                event = proxy_event(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
                result = gateway.environments.invoke(event, context())
                headers = dict(result.get("headers") or {})
                for name, values in (result.get("multiValueHeaders") or {}).items():
                    headers[name] = ", ".join(values)
                payload = result.get("body") or ""
                data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode("utf-8")
                self._reply(int(result["statusCode"]), headers, data)

            def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

            def __getattr__(self, name: str) -> Any:
                # Any other method (TRACE, QUERY, …) reaches the function too, which answers it in JSON.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), RequestHandler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="api-gateway", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
