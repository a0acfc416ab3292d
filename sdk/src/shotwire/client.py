"""`Client`: the blocking shotwire client."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from shotwire._core import ClientCore
from shotwire._http import HTTPX_ERRORS, Attempts, Call, Sleep, Step, build_request
from shotwire.errors import ShotwireError
from shotwire.models import Batch, Deliveries, Job, JobPage

__all__ = ["Client"]

T = TypeVar("T")


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


_UMASK = _umask()


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` through a temporary file beside it (`.{name}.{random}.part`, synced) renamed into
    place: a file that exists is always complete, so a reader never sees half an image (`shotwire batch`
    resume relies on it)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; an ordinary file is what users expect
            os.fchmod(descriptor, 0o666 & ~_UMASK)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Client:
    """The shotwire API, blocking.

    `api_key` defaults to `SHOTWIRE_API_KEY`, `base_url` to `SHOTWIRE_API_URL` (else
    `http://127.0.0.1:8000`, the local stack). `timeout` is each HTTP request's timeout in seconds;
    `max_retries` how many times a transient failure (connection error, 429, 502-504) is retried.
    Use it as a context manager, or call `close()`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._core = ClientCore(api_key, base_url, timeout, max_retries)
        self._http = httpx.Client(transport=transport, **self._core.httpx_options())
        self._sleep: Callable[[float], object] = time.sleep

    @property
    def base_url(self) -> str:
        return self._core.base_url

    def __repr__(self) -> str:
        return f"Client(base_url={self._core.base_url!r})"

    # --- plumbing -------------------------------------------------------------------------------------

    def _send(self, call: Call) -> httpx.Response:
        attempts = Attempts(self._core.policy, call)
        while True:
            try:
                request = build_request(self._http, call, self._core.auth_headers)
                response = self._http.send(request, follow_redirects=not call.authenticated)
            except HTTPX_ERRORS as error:
                self._sleep(attempts.after_error(error))
                continue
            delay = attempts.after_response(response)
            if delay is None:
                break
            response.close()
            self._sleep(delay)
        if response.status_code >= 400:
            raise attempts.error_for(response)
        return response

    def _run(self, flow: Generator[Step, Any, T], send: Callable[[Call], httpx.Response] | None = None) -> T:
        """Drive an operation's flow: its calls go through `send` (default: `_send`, with the retry policy)."""
        send = send or self._send
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    self._sleep(step.seconds)
                    step = flow.send(None)
                    continue
                try:
                    response = send(step)
                except ShotwireError as error:
                    step = flow.throw(error)
                else:
                    step = flow.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # --- jobs -----------------------------------------------------------------------------------------

    def submit(self, url: str, *, idempotency_key: str | None = None, **options: Any) -> Job:
        """Queue a capture of `url`; returns the queued job at once.

        `options` are the API's request fields, in snake_case (`full_page=True`) or camelCase
        (`fullPage=True`), checked before sending. An Idempotency-Key is generated (or pass your own) and
        reused on retries, so a retried submit never creates a second job.
        """
        return self._run(self._core.submit(url, idempotency_key, options))

    def get(self, job_id: str) -> Job:
        """The job as it stands now (a completed job gets a freshly signed `download_url`)."""
        return self._run(self._core.get(job_id))

    def wait(self, job_id: str, timeout: float = 120.0) -> Job:
        """Poll the job until it is completed or failed (0.5 s, doubling to 5 s); raises WaitTimeout."""
        return self._run(self._core.wait(job_id, timeout))

    def capture(self, url: str, *, timeout: float = 120.0, **options: Any) -> bytes:
        """Submit, wait for the result on the server, and return the image bytes.

        Raises CaptureFailed (with `.job`) if the capture failed, WaitTimeout after `timeout` seconds.
        """
        data: bytes
        _, data = self._run(self._core.capture(url, timeout, options, want_job=False))
        return data

    def capture_to(self, path: str | os.PathLike[str], url: str, *, timeout: float = 120.0, **options: Any) -> Job:
        """`capture()` into the file `path` (written whole or not at all); returns the completed job."""
        job: Job | None
        data: bytes
        job, data = self._run(self._core.capture(url, timeout, options, want_job=True))
        write_atomically(path, data)
        assert job is not None
        return job

    def download(self, job: Job) -> bytes:
        """The image of a completed job, through its signed `download_url` (re-signed if expired)."""
        return self._run(self._core.download(job))

    def list(self, *, status: str | None = None, limit: int | None = None, cursor: str | None = None) -> JobPage:
        """One page of your jobs, newest first (`limit` 1-100, default 20); pass `page.next_cursor` as `cursor`."""
        return self._run(self._core.list(status, limit, cursor))

    def iter_jobs(self, *, status: str | None = None) -> Iterator[Job]:
        """Every job, newest first, fetching pages of 100 as you go."""
        cursor: str | None = None
        while True:
            page = self.list(status=status, limit=100, cursor=cursor)
            yield from page.data
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def delete(self, job_id: str) -> None:
        """Delete a finished job and its image. ConflictError while it is still queued or rendering."""
        self._run(self._core.delete(job_id))

    # --- webhooks -------------------------------------------------------------------------------------

    def deliveries(self, job_id: str) -> Deliveries:
        """The job's webhook deliveries and every attempt (superseded ones first)."""
        return self._run(self._core.deliveries(job_id))

    def redeliver(self, job_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Send a finished job's outcome to its webhook again now, as a new delivery (new webhook-id)."""
        return self._run(self._core.redeliver(job_id, idempotency_key))

    def send_test_webhook(self, url: str) -> dict[str, Any]:
        """POST a signed `webhook.test` event to `url` now; returns what the receiver answered
        (`delivered`, `statusCode`, `durationMs`, `errorClass`, `responseBody`)."""
        return self._run(self._core.send_test_webhook(url))

    # --- batches --------------------------------------------------------------------------------------

    def batch(
        self,
        items: Iterable[str | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
        **defaults: Any,
    ) -> Batch:
        """Queue 1-1,000 captures at once: each item a URL or an options mapping over `defaults`.

        A `webhook_url` in the defaults also receives `batch.completed`. Over 1,000 items raise
        InvalidRequestError before sending (split them yourself: each batch has its own id and webhook).
        """
        return self._run(self._core.batch(items, defaults, idempotency_key))

    def get_batch(self, batch_id: str) -> Batch:
        """The batch's status, counts by status and each job's status."""
        return self._run(self._core.get_batch(batch_id))
