"""Outgoing webhook POSTs: resolve, vet every address, then connect only to the vetted address.

Connecting to the checked IP (with Host and TLS server name set to the hostname) means a DNS answer
that changes between the check and the connect (DNS rebinding) cannot reach an internal service.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from shotwire_core.netguard import BlockedDestinationError, check_destination

RESPONSE_EXCERPT_BYTES = 2048
USER_AGENT = "shotwire-webhooks/1.0"


@dataclass(frozen=True)
class DeliveryResult:
    status_code: int | None
    error_class: str | None  # dns, connect, tls, timeout, ssrf_blocked, http_status
    error: str | None
    duration_ms: int
    response_excerpt: str = ""
    retry_after_seconds: int | None = None  # from a 429/503's Retry-After header

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


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
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        addresses = check_destination(url, allow_private=allow_private, allowed_hosts=allowed_hosts)
    except BlockedDestinationError as error:
        error_class = "dns" if error.code == "dns" else "ssrf_blocked"
        return DeliveryResult(None, error_class, error.reason, elapsed())

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
    timeout = urllib3.Timeout(connect=connect_timeout, read=total_timeout, total=total_timeout)
    pool: urllib3.HTTPConnectionPool
    if https:
        pool = urllib3.HTTPSConnectionPool(
            address, port, server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED", timeout=timeout
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout)
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
        return DeliveryResult(None, "connect", f"could not connect: {error}", elapsed())
    except (ConnectTimeoutError, ReadTimeoutError):
        return DeliveryResult(None, "timeout", f"timed out after {total_timeout:g} s", elapsed())
    except SSLError as error:
        return DeliveryResult(None, "tls", f"TLS error: {error}", elapsed())
    except HTTPError as error:
        return DeliveryResult(None, "connect", f"HTTP error: {error}", elapsed())
    finally:
        pool.close()
