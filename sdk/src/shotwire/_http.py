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
- A `409` saying that the first request with this `Idempotency-Key` is still being processed (a retry
  that overtook it, e.g. after a read timeout) is retried with backoff, within the same budget: the
  caller gets the first request's answer. Every other `409` is the answer.
- Other httpx failures (an undecodable body, too many redirects, an invalid URL) are not retried: they
  become `TransportError` (the answer could not be read) or `ShotwireError` (the request could not be made).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from shotwire.errors import APIError, ShotwireError, TransportError, error_class_for, parse_retry_after

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
REQUEST_ID_HEADERS = ("x-request-id", "x-amzn-requestid", "apigw-requestid")
# Errors raised before the request could have reached the server: always safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Every exception httpx raises while building or sending a request and reading its answer.
HTTPX_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError)
# The server's idempotency layer (shotwire_core.idempotency, Powertools' IdempotencyAlreadyInProgressError)
# answers `409 conflict` "a request with Idempotency-Key '...' is still being processed; retry shortly": only
# the message tells it from the other 409s (deleting a running job, redelivering an unfinished one).
IN_PROGRESS_MESSAGE = "still being processed"


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 60.0
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def cap(self, retry: int) -> float:
        """The longest backoff before retry number `retry` (from 0): base x 2^retry, at most max_delay."""
        return min(self.max_delay, self.base_delay * (2**retry))

    def backoff(self, retry: int) -> float:
        """Full jitter: uniform between 0 and cap(retry)."""
        return self.jitter() * self.cap(retry)


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
    authenticated: bool = True  # False for download links: they carry their own signature

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
        # An earlier attempt may have been carried out on the server although its answer was lost.
        self.may_have_run = False
        self._parsed: tuple[httpx.Response, dict[str, Any] | None] | None = None

    def _envelope(self, response: httpx.Response) -> dict[str, Any] | None:
        """The `error` object of `response`'s body, parsed once however many checks read it."""
        if self._parsed is None or self._parsed[0] is not response:
            self._parsed = (response, error_envelope(response))
        return self._parsed[1]

    def _next(self, retry_after: float | None = None) -> float | None:
        if self.retries >= self.policy.max_retries:
            return None
        delay = retry_after if retry_after is not None else self.policy.backoff(self.retries)
        self.retries += 1
        return delay

    def after_response(self, response: httpx.Response) -> float | None:
        """Seconds to wait before sending again, or None: this response is the answer."""
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        conflict = status == 409 and self.call.idempotency_key is not None and in_progress(self._envelope(response))
        if not (conflict or status in RETRYABLE_STATUSES or (status == 500 and self.call.idempotent)):
            return None
        if retry_after is not None and retry_after > self.policy.max_retry_after:
            return None  # not worth blocking for: let the caller see the error and its retry_after
        if conflict:
            if retry_after is None:  # the first request needs time to finish: wait at least half the backoff
                retry_after = self.policy.cap(self.retries) / 2 + self.policy.backoff(self.retries) / 2
            return self._next(retry_after)
        if status == 429 and error_code(self._envelope(response)) == "quota_exceeded":
            return None  # the quota comes back next month, not in a few seconds
        delay = self._next(retry_after)
        if delay is not None and status != 429 and not (status == 503 and retry_after is not None):
            # A 500 or a gateway's 502-504 may come after the API did the work; a 429, or a 503 with
            # Retry-After, is load shedding: the request was refused before it ran.
            self.may_have_run = True
        return delay

    def after_error(self, error: Exception) -> float:
        """Seconds to wait before sending again, after an httpx exception; raises a ShotwireError when the
        failure is final (always, for anything but a transport failure)."""
        attempts = self.retries + 1
        where = f"{self.call.method} {self.call.url}"
        if isinstance(error, httpx.InvalidURL | httpx.CookieConflict | httpx.StreamError):
            raise ShotwireError(f"{where}: cannot make the request: {type(error).__name__}: {error}") from error
        if not isinstance(error, httpx.TransportError):  # DecodingError, TooManyRedirects: retrying won't help
            raise TransportError(
                f"{where} failed after {attempts} attempt(s): the answer could not be read: "
                f"{type(error).__name__}: {error}"
            ) from error
        if isinstance(error, httpx.UnsupportedProtocol):
            pass  # a wrong URL does not get better
        elif isinstance(error, _NOT_SENT) or self.call.idempotent:
            delay = self._next()
            if delay is not None:
                if not isinstance(error, _NOT_SENT):
                    self.may_have_run = True  # sent, then the connection failed: it may have run
                return delay
        raise TransportError(f"{where} failed after {attempts} attempt(s): {type(error).__name__}: {error}") from error

    def error_for(self, response: httpx.Response) -> APIError:
        """The exception for the final, error answer of this call."""
        return api_error(response, self._envelope(response), self.retries, may_have_run=self.may_have_run)


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


def error_envelope(response: httpx.Response) -> dict[str, Any] | None:
    """The `error` object of the API's envelope `{"error": {code, message, details}}`, or None when the body
    is not one (a proxy's 502 page, S3's XML)."""
    try:
        envelope = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    error = envelope.get("error") if isinstance(envelope, dict) else None
    return error if isinstance(error, dict) else None


def error_code(error: dict[str, Any] | None) -> str | None:
    code = (error or {}).get("code")
    return str(code) if code else None


def in_progress(error: dict[str, Any] | None) -> bool:
    """A 409 of the server's idempotency layer: the first request with this Idempotency-Key is still running."""
    error = error or {}
    return error.get("code") == "conflict" and IN_PROGRESS_MESSAGE in str(error.get("message", ""))


def request_id(response: httpx.Response) -> str | None:
    return next((response.headers[name] for name in REQUEST_ID_HEADERS if name in response.headers), None)


def api_error(
    response: httpx.Response, error: dict[str, Any] | None, retries: int = 0, *, may_have_run: bool = False
) -> APIError:
    """The exception for an error answer: its `error` envelope (see `error_envelope`), or, from something
    else on the way (a proxy's 502 page, S3), `http_<status>` and the start of the body."""
    status = response.status_code
    code, message, details = f"http_{status}", response.reason_phrase or "error", None
    if error is not None:
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
        raw_details = error.get("details")
        details = [d for d in raw_details if isinstance(d, dict)] if isinstance(raw_details, list) else None
    elif response.content:
        message = f"{message}: {response.text[:300]}"
    headers = dict(response.headers.items())
    exception = error_class_for(status)(status, code, message, details, request_id(response), headers)
    exception.retried = retries > 0
    exception.earlier_attempt_may_have_run = may_have_run
    return exception


def invalid_response(response: httpx.Response, problem: str | None = None) -> APIError:
    """The error for an answer that is not what the API sends (code `invalid_response`): `problem` says what
    is wrong with it; without one, it is not JSON."""
    request = response.request
    where = f"{request.method} {request.url.path}"
    if problem is None:
        message = f"expected JSON from {where}, got {response.headers.get('content-type', 'no content type')}"
    else:
        message = f"unexpected answer to {where}: {problem}"
    return APIError(
        response.status_code,
        "invalid_response",
        message,
        request_id=request_id(response),
        headers=dict(response.headers.items()),
    )


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError) as error:
        raise invalid_response(response) from error
