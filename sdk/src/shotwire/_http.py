"""The one retry policy of both clients, and what an HTTP exchange turns into (a response or an error).

Nothing here does I/O: `Client` and `AsyncClient` each drive the same `Attempts` with their own
transport and sleep.

- Retried: connection failures (the request never reached the server), 429, 502, 503 and 504; and
  for idempotent requests (GET, DELETE, or a POST carrying an `Idempotency-Key`) also 500 and failures
  after the request was sent (read timeouts, dropped connections).
- Waits: exponential backoff with full jitter (a random time up to 0.5 s x 2^retry, at most 30 s), or
  exactly the server's `Retry-After` (seconds or an HTTP date). A `Retry-After` over 60 s is not waited
  out: the error is raised at once (a `quota_exceeded` 429 names next month).
- `max_retries` retries at most, after the first attempt.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from shotwire.errors import APIError, TransportError, error_class_for, parse_retry_after

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
REQUEST_ID_HEADERS = ("x-request-id", "x-amzn-requestid", "apigw-requestid")
# Errors raised before the request could have reached the server: always safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 60.0
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, retry: int) -> float:
        """Full jitter: uniform between 0 and min(cap, base x 2^retry)."""
        return self.jitter() * min(self.max_delay, self.base_delay * (2**retry))


@dataclass
class Call:
    """One logical API request (retried as a whole; the Idempotency-Key stays the same on every attempt)."""

    method: str
    url: str  # a path on the API ("/v1/...") or, for downloads, an absolute URL
    params: Mapping[str, Any] | None = None
    body: Any = None  # JSON
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    timeout: float | None = None  # read timeout for this call (a synchronous wait needs more)
    authenticated: bool = True  # False for presigned download links: they carry their own signature

    @property
    def idempotent(self) -> bool:
        return self.method.upper() in IDEMPOTENT_METHODS or self.idempotency_key is not None


@dataclass
class Sleep:
    seconds: float


Step = Call | Sleep


def encode_json(body: Any) -> bytes:
    """Compact UTF-8 JSON: the same bytes on every attempt (an Idempotency-Key is bound to its body)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Attempts:
    """The retry state of one Call."""

    def __init__(self, policy: RetryPolicy, call: Call) -> None:
        self.policy = policy
        self.call = call
        self.retries = 0

    def _next(self, retry_after: float | None = None) -> float | None:
        if self.retries >= self.policy.max_retries:
            return None
        delay = retry_after if retry_after is not None else self.policy.backoff(self.retries)
        self.retries += 1
        return delay

    def after_response(self, response: httpx.Response) -> float | None:
        """Seconds to wait before sending again, or None: this response is the answer."""
        status = response.status_code
        if not (status in RETRYABLE_STATUSES or (status == 500 and self.call.idempotent)):
            return None
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None and retry_after > self.policy.max_retry_after:
            return None  # not worth blocking for: let the caller see the error and its retry_after
        if status == 429 and error_code(response) == "quota_exceeded":
            return None  # the quota comes back next month, not in a few seconds
        return self._next(retry_after)

    def after_error(self, error: httpx.TransportError) -> float:
        """Seconds to wait before sending again; raises TransportError when the failure is final."""
        if isinstance(error, httpx.UnsupportedProtocol):
            pass  # a wrong URL does not get better
        elif isinstance(error, _NOT_SENT) or self.call.idempotent:
            delay = self._next()
            if delay is not None:
                return delay
        attempts = self.retries + 1
        raise TransportError(
            f"{self.call.method} {self.call.url} failed after {attempts} attempt(s): {type(error).__name__}: {error}"
        ) from error


def build_request(
    client: httpx.Client | httpx.AsyncClient, call: Call, auth_headers: Mapping[str, str]
) -> httpx.Request:
    headers = {"Accept": "application/json", **call.headers}
    if call.authenticated:
        headers.update(auth_headers)
    if call.idempotency_key is not None:
        headers["Idempotency-Key"] = call.idempotency_key
    content = None
    if call.body is not None:
        content = encode_json(call.body)
        headers["Content-Type"] = "application/json"
    extensions = {}
    if call.timeout is not None:
        timeout = client.timeout
        extensions["timeout"] = httpx.Timeout(
            connect=timeout.connect, read=call.timeout, write=timeout.write, pool=timeout.pool
        ).as_dict()
    return client.build_request(
        call.method, call.url, params=call.params, content=content, headers=headers, extensions=extensions
    )


def error_code(response: httpx.Response) -> str | None:
    try:
        envelope = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    error = envelope.get("error") if isinstance(envelope, dict) else None
    return str(error.get("code")) if isinstance(error, dict) and error.get("code") else None


def api_error(response: httpx.Response, retries: int = 0) -> APIError:
    """The exception for an error answer: the API's envelope `{"error": {code, message, details}}`, or, from
    something else on the way (a proxy's 502 page, S3), `http_<status>` and the start of the body."""
    status = response.status_code
    code, message, details = f"http_{status}", response.reason_phrase or "error", None
    try:
        envelope = response.json()
    except (ValueError, UnicodeDecodeError):
        envelope = None
    error = envelope.get("error") if isinstance(envelope, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
        raw_details = error.get("details")
        details = [d for d in raw_details if isinstance(d, dict)] if isinstance(raw_details, list) else None
    elif response.content:
        message = f"{message}: {response.text[:300]}"
    request_id = next((response.headers[name] for name in REQUEST_ID_HEADERS if name in response.headers), None)
    exception = error_class_for(status)(status, code, message, details, request_id, dict(response.headers.items()))
    exception.retried = retries > 0
    return exception


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError) as error:
        raise APIError(
            response.status_code,
            "invalid_response",
            f"expected JSON from {response.request.method} {response.request.url.path}, got "
            f"{response.headers.get('content-type', 'no content type')}",
        ) from error
