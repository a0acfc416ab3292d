"""Outgoing webhook POSTs: resolve, vet every address, then connect only to the vetted address.

Connecting to the checked IP (with Host and TLS server name set to the hostname) means a DNS answer
that changes between the check and the connect (DNS rebinding) cannot reach an internal service.

`total_timeout` is one wall-clock deadline for the whole attempt: DNS, connect, TLS, sending, the
status line, the headers and every read of the body. Each step gets only the time left (every socket
read and write is given it as its timeout), so a receiver that drips its answer a byte at a time
cannot hold an attempt (and the worker running it) past the deadline; the attempt then ends as a
`timeout` failure.
"""

from __future__ import annotations

import functools
import http.client
import io
import socket
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from shotwire_core.netguard import BlockedDestinationError, check_destination
from shotwire_core.sending import DeliveryResult

RESPONSE_EXCERPT_BYTES = 2048
USER_AGENT = "shotwire-webhooks/1.0"


class DeadlineExceeded(Exception):
    """The attempt's deadline passed before a step (DNS lookup) finished."""


def _time_left(deadline: float) -> float:
    """Seconds until `deadline` (time.monotonic); a socket timeout once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("webhook attempt deadline passed")  # what socket.timeout is
    return left


class _DeadlineSocketReader(io.RawIOBase):
    """The response's view of the socket: every read may wait only for the time left before the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # counted as an open file of the socket, as http.client's is
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(_time_left(self._deadline))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response reading the status line, headers and body through a _DeadlineSocketReader."""

    def __init__(self, sock: socket.socket, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp.close()  # the plain socket file http.client opened; nothing has been read from it yet
        self.fp = io.BufferedReader(_DeadlineSocketReader(sock, deadline))


def _arm(connection: HTTPConnection, deadline: float) -> None:
    connection.response_class = functools.partial(_DeadlineResponse, deadline=deadline)  # type: ignore[assignment]


def _before_send(connection: HTTPConnection, deadline: float) -> None:
    left = _time_left(deadline)
    if connection.sock is not None:
        connection.sock.settimeout(left)


class _DeadlineHTTPConnection(HTTPConnection):
    """Sends with the time left as the socket timeout and reads the answer through a _DeadlineResponse.

    Connecting (and the TLS handshake, which Python bounds as a whole by the socket timeout) is bounded by
    the pool's connect timeout, which post_webhook caps at the time left.
    """

    def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        _arm(self, deadline)

    def send(self, data: Any) -> None:
        _before_send(self, self.deadline)
        super().send(data)


class _DeadlineHTTPSConnection(_DeadlineHTTPConnection, HTTPSConnection):
    """_DeadlineHTTPConnection over TLS (its methods first, then HTTPSConnection's)."""


def _resolver(deadline: float) -> Any:
    """A getaddrinfo that gives up (DeadlineExceeded) when the deadline passes; the lookup itself runs on in a
    daemon thread until the system resolver answers, and its answer is dropped."""

    def lookup(*args: Any, **kwargs: Any) -> Any:
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["infos"] = socket.getaddrinfo(*args, **kwargs)  # looked up at call time so tests can patch it
            except BaseException as error:  # handed to the caller's thread
                box["error"] = error

        thread = threading.Thread(target=run, name="webhook-dns", daemon=True)
        thread.start()
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            raise DeadlineExceeded("DNS lookup")
        if "error" in box:
            raise box["error"]
        return box["infos"]

    return lookup


def parse_retry_after(value: str | None, now: float | None = None) -> int | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0, int(when.timestamp() - (time.time() if now is None else now)))


def post_webhook(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    connect_timeout: float,
    total_timeout: float,
    allowed_hosts: frozenset[str] = frozenset(),
) -> DeliveryResult:
    """POST once; `total_timeout` bounds the whole attempt (see the module docstring), `connect_timeout`
    the TCP connect and TLS handshake within it."""
    started = time.monotonic()
    deadline = started + total_timeout

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    def timed_out() -> DeliveryResult:
        return DeliveryResult(None, "timeout", f"timed out after {total_timeout:g} s", elapsed())

    try:
        addresses = check_destination(
            url, allow_private=allow_private, allowed_hosts=allowed_hosts, resolver=_resolver(deadline)
        )
    except BlockedDestinationError as error:
        error_class = "dns" if error.code == "dns" else "ssrf_blocked"
        return DeliveryResult(None, error_class, error.reason, elapsed())
    except DeadlineExceeded:
        return timed_out()

    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    address = str(addresses[0])
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = port == (443 if https else 80)
    request_headers = {
        **headers,
        "Host": host if default_port else f"{host}:{port}",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    left = deadline - time.monotonic()
    if left <= 0:
        return timed_out()
    # Every read and send sets its own timeout to the time left; these only bound connecting and the first read.
    timeout = urllib3.Timeout(connect=min(connect_timeout, left), read=left)
    pool: urllib3.HTTPConnectionPool
    if https:
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            timeout=timeout,
            deadline=deadline,
        )
        pool.ConnectionCls = _DeadlineHTTPSConnection
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, deadline=deadline)
        pool.ConnectionCls = _DeadlineHTTPConnection
    try:
        response = pool.urlopen(
            "POST",
            target,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            excerpt = response.read(RESPONSE_EXCERPT_BYTES, decode_content=True) or b""
        finally:
            response.release_conn()
        text = excerpt.decode("utf-8", errors="replace")
        ok = 200 <= response.status < 300
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if response.status in (429, 503) else None
        return DeliveryResult(
            response.status,
            None if ok else "http_status",
            None if ok else f"receiver answered HTTP {response.status}",
            elapsed(),
            text,
            retry_after,
        )
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2, so it must be caught first.
    except (NewConnectionError, ProtocolError) as error:
        if _caused_by_timeout(error):  # a send that ran out of time surfaces as "Connection aborted."
            return timed_out()
        return DeliveryResult(None, "connect", f"could not connect: {error}", elapsed())
    except (ConnectTimeoutError, ReadTimeoutError):
        return timed_out()
    except SSLError as error:
        return DeliveryResult(None, "tls", f"TLS error: {error}", elapsed())
    except HTTPError as error:
        return DeliveryResult(None, "connect", f"HTTP error: {error}", elapsed())
    finally:
        pool.close()


def _caused_by_timeout(error: BaseException) -> bool:
    """True when a socket timeout is `error`'s argument, cause or context (urllib3 wraps them)."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, TimeoutError):  # socket.timeout
            return True
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False
