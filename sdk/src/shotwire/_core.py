"""What each SDK method does, written once for both clients.

Every operation is a generator (a "flow") that yields `Call`s and `Sleep`s and receives the responses;
`Client` drives flows with blocking I/O and `AsyncClient` with `await`. So the sync and async clients
cannot drift apart: they share every request, every check and every loop.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Generator, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from shotwire._http import Call, RetryPolicy, Sleep, Step, encode_json, invalid_response, response_json
from shotwire._version import __version__
from shotwire.errors import (
    APIError,
    CaptureFailed,
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    ShotwireError,
    WaitTimeout,
)
from shotwire.models import (
    CONTENT_TYPES,
    JOB_STATUSES,
    MAX_BATCH_ITEMS,
    MAX_WAIT_SECONDS,
    Batch,
    Deliveries,
    Job,
    JobPage,
    _names,
    invalid,
    screenshot_body,
)
from shotwire_contract.limits import MAX_BODY_BYTES
from shotwire_contract.requests import http_url

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Flow = Generator[Step, Any, T]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
USER_AGENT = f"shotwire-python/{__version__} httpx/{httpx.__version__}"
POLL_FIRST_DELAY, POLL_MAX_DELAY = 0.5, 5.0
_PLACEHOLDER_URL = "https://example.com/"  # lets the defaults of a batch be checked on their own, as the server does


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def _key_or_new(idempotency_key: str | None) -> str:
    return idempotency_key if idempotency_key is not None else new_idempotency_key()


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid([{"field": what, "rule": "missing", "message": f"{what} must be a non-empty string"}])
    return quote(value.strip(), safe="")


def _parse(model: type[M], response: httpx.Response, data: Any = None) -> M:
    """The answer as `model` (from `data`, else the response's JSON); an APIError, not pydantic's
    ValidationError, when it does not fit (the models accept unknown fields and statuses, so this means
    a broken answer, e.g. a proxy's)."""
    answer = response_json(response) if data is None else data
    try:
        return model.model_validate(answer)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise invalid_response(response, f"{where}: {first['msg']}") from error


def _object(response: httpx.Response) -> dict[str, Any]:
    answer = response_json(response)
    if not isinstance(answer, dict):
        raise invalid_response(response, f"expected a JSON object, got {type(answer).__name__}")
    return answer


def _check_size(body: Any) -> None:
    size = len(encode_json(body))
    if size > MAX_BODY_BYTES:
        raise invalid(
            [
                {
                    "field": "body",
                    "rule": "max_bytes",
                    "message": f"body must be at most {MAX_BODY_BYTES} bytes, is {size}",
                }
            ]
        )


def _screenshot_body(url: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The checked body of `POST /v1/screenshots` for `url` and `options` (either spelling)."""
    body = screenshot_body(_names({**options, "url": url}))
    _check_size(body)
    return body


def _pause(delay: float, remaining: float) -> Flow[float]:
    """Sleep `delay` seconds, no longer than the `remaining` seconds; the next delay: double, at most
    POLL_MAX_DELAY (0.5 s, 1 s, 2 s, 4 s, 5 s, 5 s...)."""
    yield Sleep(min(delay, max(0.0, remaining)))
    return min(delay * 2, POLL_MAX_DELAY)


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower() == "application/json"


class ClientCore:
    """Configuration and flows shared by Client and AsyncClient."""

    def __init__(self, api_key: str | None, base_url: str | None, timeout: float, max_retries: int) -> None:
        key = api_key if api_key is not None else os.environ.get("SHOTWIRE_API_KEY")
        if not key or not key.strip():
            raise ConfigurationError("no API key: pass api_key=... or set SHOTWIRE_API_KEY")
        url = (base_url or os.environ.get("SHOTWIRE_API_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"base_url must be an http:// or https:// URL, got {url!r}")
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be positive, got {timeout!r}")
        if max_retries < 0:
            raise ConfigurationError(f"max_retries must be 0 or more, got {max_retries!r}")
        self.base_url = url
        self.timeout = float(timeout)
        self.policy = RetryPolicy(max_retries=max_retries)
        self.auth_headers = {"Authorization": f"Bearer {key.strip()}"}

    def httpx_options(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "timeout": httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)),
            "headers": {"User-Agent": USER_AGENT},
        }

    # --- jobs -----------------------------------------------------------------------------------------

    def submit(self, url: str, idempotency_key: str | None, options: Mapping[str, Any]) -> Flow[Job]:
        body = _screenshot_body(url, options)
        response = yield Call("POST", "/v1/screenshots", body=body, idempotency_key=_key_or_new(idempotency_key))
        return _parse(Job, response, {"url": body["url"], **_object(response)})

    def get(self, job_id: str) -> Flow[Job]:
        response = yield Call("GET", f"/v1/screenshots/{_segment(job_id, 'job_id')}")
        return _parse(Job, response)

    def wait(self, job_id: str, timeout: float) -> Flow[Job]:
        """GET the job until it is terminal: 0.5 s between looks, doubling to 5 s. (Only the POST that
        creates a job can wait on the server side; capture() uses that.)"""
        deadline = time.monotonic() + timeout
        job = yield from self.get(job_id)
        delay = POLL_FIRST_DELAY
        while not job.is_terminal:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(job_id, timeout, job)
            delay = yield from _pause(delay, remaining)
            job = yield from self.get(job_id)
        return job

    def capture(
        self, url: str, timeout: float, options: Mapping[str, Any], *, want_job: bool
    ) -> Flow[tuple[Job | None, bytes]]:
        """Submit and wait on the server (`?wait=`, at most 25 s a request), then download.

        Asking again with the same Idempotency-Key and body creates nothing (the API answers the first
        202 again) but waits again: so a long capture costs one request per 25 s, not a poll every few.
        Without `want_job` the image comes in the waiting answer itself (`Accept: image/...`), or as a
        303 to its download link when it is over 4 MB.
        """
        deadline = time.monotonic() + timeout
        body = _screenshot_body(url, options)
        media = CONTENT_TYPES[str(body.get("format", "png"))]
        accept = "application/json" if want_job else f"{media}, application/json;q=0.5"
        key = new_idempotency_key()
        pause = POLL_FIRST_DELAY
        while True:
            wait = int(min(MAX_WAIT_SECONDS, max(0.0, deadline - time.monotonic())))
            asked = time.monotonic()
            response = yield Call(
                "POST",
                "/v1/screenshots",
                params={"wait": wait},
                body=body,
                headers={"Accept": accept},
                idempotency_key=key,
                timeout=self.timeout + wait,
            )
            if response.status_code == 303:  # finished, but too large to come inline
                location = response.headers.get("location")
                if not location:
                    raise invalid_response(response, "a 303 without a Location header")
                return None, (yield from self._fetch(location))
            if response.status_code == 200 and not _is_json(response):
                return None, response.content
            accepted = _parse(Job, response)
            if response.status_code == 200:
                job = accepted
                break
            if wait < 1 or deadline - time.monotonic() < 1:
                job = yield from self.get(accepted.job_id)
                if not job.is_terminal:
                    raise WaitTimeout(job.job_id, timeout, job)
                break
            if time.monotonic() - asked < wait - 1:
                # The answer came before the wait was up (a proxy that drops ?wait=, a server that cuts it
                # short): back off as a poll would instead of asking again at once.
                pause = yield from _pause(pause, deadline - time.monotonic())
        return job, (yield from self.download(job))  # raises CaptureFailed if the job failed

    def download(self, job: Job) -> Flow[bytes]:
        """The image of a completed job, through its signed download link (a fresh one if it has none or it expired)."""
        if job.status == "failed":
            raise CaptureFailed(job)
        if job.status != "completed":
            raise ShotwireError(f"job {job.job_id} is still {job.status}: wait() for it before downloading")
        link = job.download_url or (yield from self._fresh_link(job.job_id))
        try:
            return (yield from self._fetch(link))
        except APIError as error:
            if error.status not in (400, 403):
                raise
        link = yield from self._fresh_link(job.job_id)  # the link has expired: sign a new one
        return (yield from self._fetch(link))

    def _fresh_link(self, job_id: str) -> Flow[str]:
        """A newly signed download link for the job's image (GET signs one)."""
        job = yield from self.get(job_id)
        if not job.download_url:
            raise ShotwireError(f"job {job_id} has no image to download")
        return job.download_url

    def _fetch(self, link: str) -> Flow[bytes]:
        response = yield Call("GET", link, headers={"Accept": "*/*"}, authenticated=False)
        return bytes(response.content)

    def list(self, status: str | None, limit: int | None, cursor: str | None) -> Flow[JobPage]:
        problems = []
        if status is not None and status not in JOB_STATUSES:
            problems.append(
                {"field": "status", "rule": "enum", "message": f"status must be one of {', '.join(JOB_STATUSES)}"}
            )
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100):
            problems.append({"field": "limit", "rule": "range", "message": "limit must be an integer from 1 to 100"})
        if cursor is not None and len(cursor) > 200:
            problems.append({"field": "cursor", "rule": "string_too_long", "message": "cursor must be a nextCursor"})
        if problems:
            raise invalid(problems)
        params = {name: value for name, value in (("status", status), ("limit", limit), ("cursor", cursor)) if value}
        response = yield Call("GET", "/v1/screenshots", params=params)
        return _parse(JobPage, response)

    def delete(self, job_id: str) -> Flow[None]:
        try:
            yield Call("DELETE", f"/v1/screenshots/{_segment(job_id, 'job_id')}")
        except NotFoundError as error:
            # A 404 is success only when an earlier attempt may have deleted the job and lost the answer
            # (read timeout, dropped connection, 500/502/504); not after a 429 or a connect failure.
            if not error.earlier_attempt_may_have_run:
                raise

    # --- webhooks -------------------------------------------------------------------------------------

    def deliveries(self, job_id: str) -> Flow[Deliveries]:
        response = yield Call("GET", f"/v1/screenshots/{_segment(job_id, 'job_id')}/deliveries")
        return _parse(Deliveries, response)

    def redeliver(self, job_id: str, idempotency_key: str | None) -> Flow[dict[str, Any]]:
        response = yield Call(
            "POST",
            f"/v1/screenshots/{_segment(job_id, 'job_id')}/redeliver",
            idempotency_key=_key_or_new(idempotency_key),
        )
        return _object(response)

    def send_test_webhook(self, url: str) -> Flow[dict[str, Any]]:
        try:
            checked = http_url(url, "url")
        except ValueError as error:  # PydanticCustomError is a ValueError
            raise invalid([{"field": "url", "rule": getattr(error, "type", "url"), "message": str(error)}]) from None
        response = yield Call("POST", "/v1/webhooks/test", body={"url": checked})
        return _object(response)

    # --- batches --------------------------------------------------------------------------------------

    def batch(
        self, items: Iterable[str | Mapping[str, Any]], defaults: Mapping[str, Any], idempotency_key: str | None
    ) -> Flow[Batch]:
        """One batch of 1-1,000 items. More items are refused rather than split: a batch is one id and one
        `batch.completed` webhook, which several batches would not be."""
        if isinstance(items, str | bytes | Mapping):
            raise InvalidRequestError(
                422, "validation_error", "items must be a list of URLs or option mappings", client_side=True
            )
        entries = list(items)
        if not 1 <= len(entries) <= MAX_BATCH_ITEMS:
            raise invalid(
                [
                    {
                        "field": "items",
                        "rule": "too_short" if not entries else "too_long",
                        "message": f"items must hold 1 to {MAX_BATCH_ITEMS} entries, got {len(entries)}"
                        + (" (split them into several batches)" if entries else ""),
                    }
                ]
            )
        named_defaults = _names(defaults)
        body_defaults = (
            screenshot_body({"url": _PLACEHOLDER_URL, **named_defaults}, "defaults.", keep=named_defaults)
            if named_defaults
            else {}
        )
        body_items: list[str | dict[str, Any]] = []
        problems: list[dict[str, str]] = []
        for index, item in enumerate(entries):
            prefix = f"items[{index}]."
            if isinstance(item, str):
                fields: dict[str, Any] = {"url": item}
            elif isinstance(item, Mapping):
                fields = _names(item)
            else:
                problems.append(
                    {"field": prefix.rstrip("."), "rule": "type", "message": "each item must be a URL or a mapping"}
                )
                continue
            try:
                sent = screenshot_body({**named_defaults, **fields}, prefix, keep=fields)
            except InvalidRequestError as error:
                problems += error.details
                continue
            body_items.append(item if isinstance(item, str) else sent)
        if problems:
            raise invalid(problems)
        body: dict[str, Any] = {"items": body_items}
        if body_defaults:
            body["defaults"] = body_defaults
        _check_size(body)
        response = yield Call("POST", "/v1/batches", body=body, idempotency_key=_key_or_new(idempotency_key))
        return _parse(Batch, response)

    def get_batch(self, batch_id: str) -> Flow[Batch]:
        response = yield Call("GET", f"/v1/batches/{_segment(batch_id, 'batch_id')}")
        return _parse(Batch, response)
