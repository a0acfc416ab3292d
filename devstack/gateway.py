"""A loopback HTTP server that turns each request into an API Gateway REST proxy event for the API handler."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.apigw import gateway_body
from devstack.lambdas import InvocationError, InvocationTimeout

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


def proxy_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The event API Gateway's Lambda proxy integration sends for a `{proxy+}` resource."""
    parts = urlsplit(target)
    path = parts.path or "/"
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    # API Gateway tells the function how it was reached (X-Forwarded-Proto is always https there).
    headers = [(name, value) for name, value in headers if name.lower() != "x-forwarded-proto"]
    headers.append(("X-Forwarded-Proto", "http"))
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
            # The path as the client sent it: the local gateway has no stage in its URLs (like a custom domain).
            "path": path,
            "stage": "local",
            "domainName": single.get("Host", ""),
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


# What API Gateway answers when the function fails or outlives the integration's 29 s.
FUNCTION_FAILED = (502, b'{"message": "Internal server error"}')
FUNCTION_TIMED_OUT = (504, b'{"message": "Endpoint request timed out"}')


class ApiGateway:
    """Serves the API on loopback: each request becomes a proxy event for `invoke` (devstack.lambdas runs it
    in a free execution environment of the API function)."""

    def __init__(self, host: str, port: int, invoke: Callable[[dict[str, Any]], Any]) -> None:
        self.invoke = invoke
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
                try:
                    result = gateway.invoke(event)
                except InvocationError as error:
                    status, message = FUNCTION_TIMED_OUT if isinstance(error, InvocationTimeout) else FUNCTION_FAILED
                    self._reply(status, {"Content-Type": "application/json"}, message)
                    return
                headers = dict(result.get("headers") or {})
                for name, values in (result.get("multiValueHeaders") or {}).items():
                    headers[name] = ", ".join(values)
                # API Gateway's rule: base64 becomes bytes only for a binary first Accept type.
                data = gateway_body(result, self.headers.get("Accept"))
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
