"""`AsyncClient`: the same methods as `Client`, awaitable (asyncio or trio, through httpx)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import anyio
import httpx

from shotwire._core import ClientCore
from shotwire._http import HTTPX_ERRORS, Attempts, Call, Sleep, Step, build_request
from shotwire.client import write_atomically
from shotwire.errors import ShotwireError
from shotwire.models import Batch, Deliveries, Job, JobPage

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """The shotwire API for async code: every method of `Client`, as a coroutine.

    `async with AsyncClient() as client: png = await client.capture("https://example.com")`
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._core = ClientCore(api_key, base_url, timeout, max_retries)
        self._http = httpx.AsyncClient(transport=transport, **self._core.httpx_options())
        self._sleep: Callable[[float], Awaitable[object]] = anyio.sleep

    @property
    def base_url(self) -> str:
        return self._core.base_url

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self._core.base_url!r})"

    # --- plumbing -------------------------------------------------------------------------------------

    async def _send(self, call: Call) -> httpx.Response:
        attempts = Attempts(self._core.policy, call)
        while True:
            try:
                request = build_request(self._http, call, self._core.auth_headers)
                response = await self._http.send(request, follow_redirects=not call.authenticated)
            except HTTPX_ERRORS as error:
                await self._sleep(attempts.after_error(error))
                continue
            delay = attempts.after_response(response)
            if delay is None:
                break
            await response.aclose()
            await self._sleep(delay)
        if response.status_code >= 400:
            raise attempts.error_for(response)
        return response

    async def _run(self, flow: Generator[Step, Any, T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    await self._sleep(step.seconds)
                    step = flow.send(None)
                    continue
                try:
                    response = await self._send(step)
                except ShotwireError as error:
                    step = flow.throw(error)
                else:
                    step = flow.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- jobs (see Client for each method's documentation) ----------------------------------------------

    async def submit(self, url: str, *, idempotency_key: str | None = None, **options: Any) -> Job:
        return await self._run(self._core.submit(url, idempotency_key, options))

    async def get(self, job_id: str) -> Job:
        return await self._run(self._core.get(job_id))

    async def wait(self, job_id: str, timeout: float = 120.0) -> Job:
        return await self._run(self._core.wait(job_id, timeout))

    async def capture(self, url: str, *, timeout: float = 120.0, **options: Any) -> bytes:
        data: bytes
        _, data = await self._run(self._core.capture(url, timeout, options, want_job=False))
        return data

    async def capture_to(
        self, path: str | os.PathLike[str], url: str, *, timeout: float = 120.0, **options: Any
    ) -> Job:
        job: Job | None
        data: bytes
        job, data = await self._run(self._core.capture(url, timeout, options, want_job=True))
        await anyio.to_thread.run_sync(write_atomically, path, data)
        assert job is not None
        return job

    async def download(self, job: Job) -> bytes:
        return await self._run(self._core.download(job))

    async def list(self, *, status: str | None = None, limit: int | None = None, cursor: str | None = None) -> JobPage:
        return await self._run(self._core.list(status, limit, cursor))

    async def iter_jobs(self, *, status: str | None = None) -> AsyncIterator[Job]:
        cursor: str | None = None
        while True:
            page = await self.list(status=status, limit=100, cursor=cursor)
            for job in page.data:
                yield job
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def delete(self, job_id: str) -> None:
        await self._run(self._core.delete(job_id))

    # --- webhooks -------------------------------------------------------------------------------------

    async def deliveries(self, job_id: str) -> Deliveries:
        return await self._run(self._core.deliveries(job_id))

    async def redeliver(self, job_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        return await self._run(self._core.redeliver(job_id, idempotency_key))

    async def send_test_webhook(self, url: str) -> dict[str, Any]:
        return await self._run(self._core.send_test_webhook(url))

    # --- batches --------------------------------------------------------------------------------------

    async def batch(
        self,
        items: Iterable[str | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
        **defaults: Any,
    ) -> Batch:
        return await self._run(self._core.batch(items, defaults, idempotency_key))

    async def get_batch(self, batch_id: str) -> Batch:
        return await self._run(self._core.get_batch(batch_id))
