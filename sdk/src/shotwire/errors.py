"""Every exception the SDK raises derives from `ShotwireError`.

`APIError` and its subclasses carry what the API answered: the HTTP `status`, the error `code`
(`unauthorized`, `not_found`, `validation_error`, `rate_limited`, ...), its `message` and `details`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shotwire.models import Job

__all__ = [
    "APIError",
    "AuthenticationError",
    "CaptureFailed",
    "ConfigurationError",
    "ConflictError",
    "InvalidRequestError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "ShotwireError",
    "TransportError",
    "WaitTimeout",
]


class ShotwireError(Exception):
    """Base class of every error raised by the SDK."""


class ConfigurationError(ShotwireError):
    """The client cannot be used as configured (e.g. no API key given and SHOTWIRE_API_KEY unset)."""


class APIError(ShotwireError):
    """The API answered with an error: `{"error": {"code", "message", "details"?}}`."""

    # True when the answer came after the SDK had sent the request more than once.
    retried: bool = False
    # True when an earlier attempt may have been carried out although its answer was lost (a read timeout,
    # a dropped connection, a 500/502/504): what this answer says may be the effect of that attempt. False
    # when every earlier attempt was refused unheard (429, 503 with Retry-After, a connect failure).
    earlier_attempt_may_have_run: bool = False

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details: list[dict[str, Any]] = list(details or [])
        self.request_id = request_id
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.status} {self.code}: {self.message}"
        return f"{text} (request id {self.request_id})" if self.request_id else text

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status, self.code, self.message, self.details, self.request_id, self.headers))


class AuthenticationError(APIError):
    """401: the API key is missing, unknown or revoked."""


class NotFoundError(APIError):
    """404: no such job or batch for this API key (or no such endpoint)."""


class ConflictError(APIError):
    """409: the request conflicts with the resource's state (e.g. deleting a job that is still running,
    redelivering a job without a webhookUrl, or an Idempotency-Key whose first request is still running)."""


class InvalidRequestError(APIError):
    """422: a field breaks a rule. `details` lists each `{"field", "rule", "message"}`.

    Raised before any request is sent when the SDK's own check (the same limits as the server's) fails;
    `client_side` is then True.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        client_side: bool = False,
    ) -> None:
        self.client_side = client_side
        super().__init__(status, code, message, details, request_id, headers)

    @property
    def fields(self) -> list[str]:
        """The fields named in `details`, e.g. `["width"]` or `["items[3].url"]`."""
        return [str(problem.get("field", "")) for problem in self.details]

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.status, self.code, self.message, self.details, self.request_id, self.headers)
        return (_rebuild_invalid, (*args, self.client_side))


def _rebuild_invalid(*args: Any) -> InvalidRequestError:
    *positional, client_side = args
    return InvalidRequestError(*positional, client_side=client_side)


class RateLimitError(APIError):
    """429: over the request rate (`rate_limited`), the monthly quota (`quota_exceeded`), or the tenant's
    2 held calls (`too_many_held_calls`: webhook tests and synchronous waits running at once).

    `retry_after` is the server's `Retry-After` in seconds (None if it sent none).
    """

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


class ServerError(APIError):
    """5xx: the API failed (after the SDK's retries, where the request could be retried)."""


class TransportError(ShotwireError):
    """The API could not be reached (connection refused, DNS, timeout, TLS), after the SDK's retries, or
    its answer could not be read (a broken content encoding, too many redirects: not retried).

    The underlying `httpx` exception is `__cause__`.
    """


class WaitTimeout(ShotwireError):
    """The job did not finish within the wait's timeout. `job` is the job as last seen (not terminal)."""

    def __init__(self, job_id: str, timeout: float, job: Job | None = None) -> None:
        self.job_id = job_id
        self.timeout = timeout
        self.job = job
        status = f" (still {job.status})" if job is not None else ""
        super().__init__(f"job {job_id} did not finish within {timeout:g} s{status}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.job_id, self.timeout, self.job))


class CaptureFailed(ShotwireError):
    """`capture()` / `capture_to()`: the job finished as failed. `job.error` says why (`code`, `message`)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        reason = f"{job.error.code}: {job.error.message}" if job.error is not None else "no reason given"
        super().__init__(f"capture of {job.url or 'the page'} failed (job {job.job_id}) - {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.job,))


def error_class_for(status: int) -> type[APIError]:
    """The exception type of an error answer with this HTTP status."""
    if status == 401:
        return AuthenticationError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status == 422:
        return InvalidRequestError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return APIError


_DECIMAL_CHARS = frozenset("0123456789.")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` in seconds from now: delay-seconds (RFC 9110; decimals such as `1.5` are accepted too)
    or an HTTP date; None if absent, negative or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if set(text) <= _DECIMAL_CHARS:  # no sign, exponent, "inf" or "nan"
        try:
            return float(text)
        except ValueError:  # "", ".", "1.2.3"
            return None
    import datetime
    import email.utils  # only here: it costs more to import than the rest of the package

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT ("-0000" parses as naive)
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
