"""The batch's API calls, one at a time through the SDK's client, and which API errors stop the whole batch."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from shotwire import APIError, ConfigurationError, ShotwireError, TransportError
from shotwire._http import Call
from shotwire.cli.batch.model import Task

__all__ = ["ImageUnavailable", "SerialApi", "Shared", "Stopped", "is_fatal"]


class Stopped(Exception):
    """The batch is stopping: a worker leaves its row as it is."""


class ImageUnavailable(Exception):
    """The image of a finished job could not be fetched through its download link (after the SDK signed a
    fresh one): `status` is the storage's HTTP status, if it answered. Not about the key: the batch goes on."""

    def __init__(self, job_id: str, error: ShotwireError) -> None:
        self.status = error.status if isinstance(error, APIError) else None
        super().__init__(f"the image of job {job_id} could not be downloaded: {error}")


def is_fatal(error: BaseException) -> bool:
    """Errors about the API or the key, not about a row: the whole batch stops (and can be resumed)."""
    if isinstance(error, ConfigurationError):
        return True
    if isinstance(error, APIError):
        return error.status in (401, 403, 429)
    return isinstance(error, TransportError)


@dataclass
class Shared:
    """What the workers and the watcher share: the stop signal and the error that stopped the batch."""

    stop: threading.Event = field(default_factory=threading.Event)
    fatal: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, error: BaseException) -> None:
        """An error about the API or the key, not a row: stop everything (the batch can be resumed)."""
        with self.lock:
            self.fatal = self.fatal or error
        self.stop.set()


class SerialApi:
    """The batch's API calls, one at a time. Each takes milliseconds; what runs in parallel is the captures
    on the service and the image downloads (signed links, which no tenant rate counts). One at a time is
    gentle on the tenant's request rate, and it lets the final report wait for the call in flight (`quiet`), so it sees
    the id of every job submitted. So `download` takes the lock only for the API calls the SDK makes on its
    way (`GET /v1/screenshots/{id}` for a job without a link, or to sign a fresh one when the link has
    expired), not for the bytes."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lock = threading.Lock()

    def submit(self, task: Task, shared: Shared) -> Any:
        """Submit a row's job and note its id on the task before anyone else may call: after a stop, whoever
        holds the lock next sees every job that exists."""
        with self.lock:
            if shared.stop.is_set():
                raise Stopped
            job = self.client.submit(task.row.url, idempotency_key=task.idempotency_key, **task.row.options)
            task.job_id = job.job_id
            return job

    @contextmanager
    def quiet(self, timeout: float) -> Iterator[None]:
        """Wait (a little) for a call in flight to return and start no other meanwhile: for the final report,
        which then sees the id of every job that was submitted."""
        acquired = self.lock.acquire(timeout=timeout)
        try:
            yield
        finally:
            if acquired:
                self.lock.release()

    def get(self, job_id: str) -> Any:
        with self.lock:
            return self.client.get(job_id)

    def recent(self, limit: int) -> list[Any]:
        with self.lock:
            return list(self.client.list(limit=limit).data)

    def download(self, job: Any) -> bytes:
        """The image of a completed job: the SDK's own `download` steps, with each API call made under the
        lock and each download-link fetch outside it. ImageUnavailable when the fetch itself fails."""
        core, run = getattr(self.client, "_core", None), getattr(self.client, "_run", None)
        if core is None or run is None:  # not the SDK's Client (a stand-in): one call at a time, all of it
            with self.lock:
                data: bytes = self.client.download(job)
                return data
        fetch_errors: list[ShotwireError] = []

        def send(call: Call) -> Any:
            if call.authenticated:
                with self.lock:
                    return self.client._send(call)
            try:
                return self.client._send(call)
            except ShotwireError as error:
                fetch_errors.append(error)
                raise

        try:
            result: bytes = run(core.download(job), send=send)
            return result
        except ShotwireError as error:
            if fetch_errors and error is fetch_errors[-1]:
                raise ImageUnavailable(job.job_id, error) from error
            raise
