"""A loopback HTTP server that turns each request into an API Gateway REST proxy event for the API handler."""

from __future__ import annotations

import base64
import io
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.apigw import gateway_body
from devstack.lambdas import InvocationError, InvocationTimeout
from shotwire_core import gateway_errors
from shotwire_core.gateway_errors import GatewayError

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit

# What the gateway allows a client that never finishes its request (API Gateway's front door does this for the
# function in the cloud: a slow or broken client there never holds anything of ours). Module constants so tests can
# shrink them; ApiGateway reads them when it is built.
# - READ_TIMEOUT: the longest one read waits for the next bytes (a stalled client, an idle kept-alive connection), and
#   the longest one answer may take to write. A per-connection socket timeout (BaseHTTPRequestHandler.timeout).
# - HEADERS_TIMEOUT: the request line and all headers must be in within it, however steadily they trickle in
#   (a slowloris client sending a byte a second is cut off with a 408). It starts when the gateway begins to wait
#   for the request, so it also ends an idle kept-alive connection.
# - BODY_TIMEOUT: the whole body (up to MAX_BODY_BYTES) must be in within it once the headers are. A body shorter
#   than its Content-Length is answered 400 when it runs out (API Gateway answers such a request 400 or not at all).
READ_TIMEOUT = 10.0
HEADERS_TIMEOUT = 10.0
BODY_TIMEOUT = 10.0
# http.server refuses a request line over 64 KB (414), a header line over 64 KB or over 100 headers (431); the
# gateway also refuses headers over 64 KB in all (431). (API Gateway's own quota is 10 KB for the request line and
# header values together; the local gateway is kinder, so no local client trips over it first.)
MAX_HEADER_BYTES = 64 * 1024
# After a refusal the gateway closes the connection, but first reads (and drops) what the client is still sending,
# within these bounds: closing with unread bytes resets the connection, and the client can lose the answer.
LINGER_SECONDS = 2.0
LINGER_BYTES = MAX_BODY_BYTES + 1024 * 1024

_DECIMAL = re.compile(r"[0-9]+")


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


class _DeadlineReader(io.RawIOBase):
    """A connection's reads, each waiting at most `idle` seconds and none past `deadline` (time.monotonic);
    a read that would is a TimeoutError."""

    def __init__(self, connection: socket.socket, idle: float | None) -> None:
        super().__init__()
        self.connection = connection
        self.idle = idle
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wait = self.idle
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request did not arrive in time")
            wait = left if wait is None else min(wait, left)
        self.connection.settimeout(wait)
        try:
            return self.connection.recv_into(buffer)
        finally:
            self.connection.settimeout(self.idle)  # what writes wait for


class ApiGateway:
    """Serves the API on loopback: each request becomes a proxy event for `invoke` (devstack.lambdas runs it
    in a free execution environment of the API function)."""

    def __init__(self, host: str, port: int, invoke: Callable[[dict[str, Any]], Any]) -> None:
        self.invoke = invoke
        gateway = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "shotwire-local"

            timeout = READ_TIMEOUT
            reader: _DeadlineReader

            def setup(self) -> None:
                super().setup()
                # Reads through a deadline (see HEADERS_TIMEOUT and BODY_TIMEOUT), not straight off the socket.
                self.rfile.close()
                self.reader = _DeadlineReader(self.connection, self.timeout)
                self.rfile = io.BufferedReader(self.reader)

            def handle_one_request(self) -> None:
                self.reader.deadline = time.monotonic() + HEADERS_TIMEOUT
                super().handle_one_request()

            def parse_request(self) -> bool:
                try:
                    if not super().parse_request():
                        return False
                except TimeoutError:
                    # The request line came, the headers did not (in time): a slow client gets an answer and is let go.
                    self._refuse(gateway_errors.REQUEST_TIMEOUT, "Request timed out")
                    return False
                if sum(len(name) + len(value) + 4 for name, value in self.headers.items()) > MAX_HEADER_BYTES:
                    self._refuse(gateway_errors.HEADERS_TOO_LARGE, "Request header fields too large")
                    return False
                return True

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # http.server's own refusals (414, 431, 400 …): JSON like API Gateway's, not its HTML page.
                text = message or self.responses.get(code, ("Error",))[0]
                self._refuse(gateway_errors.for_status(code), text if len(text) <= 200 else text[:200] + "…")

            def _refuse(self, error: GatewayError, message: str) -> None:
                """Answers the error envelope and closes the connection (what is left of the request is dropped)."""
                self.close_connection = True
                if self.request_version == "HTTP/0.9":  # the request line never parsed: answer in HTTP/1.1 anyway
                    self.request_version = self.protocol_version
                data = gateway_errors.envelope(error.code, message)
                self.send_response(error.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                self._linger()

            def _linger(self) -> None:
                """Reads and drops what the client still sends (within LINGER_SECONDS and LINGER_BYTES), so that
                closing with unread bytes does not reset the connection before the client has read the answer."""
                try:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_WR)
                    deadline = time.monotonic() + LINGER_SECONDS
                    left = LINGER_BYTES
                    while left > 0:
                        wait = deadline - time.monotonic()
                        if wait <= 0:
                            break
                        self.connection.settimeout(wait)
                        chunk = self.connection.recv(min(65536, left))
                        if not chunk:
                            break
                        left -= len(chunk)
                except OSError:  # TimeoutError included: the client goes on sending or has gone
                    pass

            def _content_length(self) -> int | None:
                """The body's length in bytes; None for a missing, malformed or ambiguous Content-Length."""
                values = self.headers.get_all("Content-Length") or ["0"]
                if len(set(values)) != 1 or not _DECIMAL.fullmatch(values[0].strip()):
                    return None
                return int(values[0].strip())

            def _serve(self) -> None:
                length = self._content_length()
                if length is None:
                    self._refuse(gateway_errors.BAD_REQUEST, "Invalid Content-Length header")
                    return
                if length > MAX_BODY_BYTES:
                    self.close_connection = True  # the body is not read: the connection cannot serve another request
                    too_large = gateway_errors.PAYLOAD_TOO_LARGE
                    data = gateway_errors.envelope(too_large.code, "Request body over 10 MB")
                    self._reply(too_large.status, {"Content-Type": "application/json"}, data)
                    self._linger()
                    return
                self.reader.deadline = time.monotonic() + BODY_TIMEOUT
                try:
                    body = self.rfile.read(length) if length else b""
                except TimeoutError:
                    body = None
                if body is None or len(body) < length:
                    self._refuse(gateway_errors.BAD_REQUEST, "Request body shorter than its Content-Length")
                    return
                event = proxy_event(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
                try:
                    result = gateway.invoke(event)
                except InvocationError as error:
                    if isinstance(error, InvocationTimeout):
                        failure, message = gateway_errors.FUNCTION_TIMED_OUT, "Endpoint request timed out"
                    else:
                        failure, message = gateway_errors.FUNCTION_FAILED, "Internal server error"
                    data = gateway_errors.envelope(failure.code, message)
                    self._reply(failure.status, {"Content-Type": "application/json"}, data)
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
                if self.close_connection:
                    self.send_header("Connection", "close")
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
