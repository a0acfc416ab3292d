"""AsyncClient against the local stack: the main flow."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from PIL import Image

import shotwire
from shotwire.webhooks import verify
from tests.e2e.conftest import API_KEY, SECRET, Stack
from tests.support import WebhookReceiver

pytestmark = pytest.mark.e2e


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_the_async_client_main_flow(stack: Stack, pages: str, receiver: WebhookReceiver, tmp_path: Path) -> None:
    hook = receiver.script("/sdk-async", [200])

    async def main() -> None:
        async with shotwire.AsyncClient(api_key=API_KEY, base_url=stack.api_url) as client:
            # submit + wait, captures and capture_to. One at a time: the local stack's concurrent API
            # environments share Powertools' BaseRouter.current_event (a class attribute), so two requests
            # in flight at once can read each other's headers there (not on Lambda, one request per environment).
            job = await client.submit(f"{pages}/simple", width=500, height=300, webhook_url=hook)
            assert job.status == "queued"
            done = await client.wait(job.job_id, timeout=60)
            png = await client.capture(f"{pages}/simple", width=320, height=200)
            other = await client.capture(f"{pages}/tall", width=200, height=100)
            saved = await client.capture_to(tmp_path / "async.png", f"{pages}/simple", width=250, height=150)
            assert done.status == "completed" and (done.width, done.height) == (500, 300)
            assert size_of(png) == (320, 200) and size_of(other) == (200, 100)
            assert saved.status == "completed" and size_of((tmp_path / "async.png").read_bytes()) == (250, 150)
            assert size_of(await client.download(done)) == (500, 300)

            # the webhook, its deliveries and a redelivery
            (delivery,) = receiver.wait_for("/sdk-async", 1)
            assert verify(delivery.body, delivery.headers, SECRET)["jobId"] == job.job_id
            deadline = time.monotonic() + 20
            deliveries = await client.deliveries(job.job_id)
            while (deliveries.current is None or deliveries.current.status != "delivered") and (
                time.monotonic() < deadline
            ):
                await asyncio.sleep(0.2)
                deliveries = await client.deliveries(job.job_id)
            assert deliveries.current is not None and deliveries.current.status == "delivered"
            assert (await client.redeliver(job.job_id))["webhookId"].endswith("_2")
            receiver.wait_for("/sdk-async", 2)

            # list, iter_jobs, batch, delete
            page = await client.list(limit=3, status="completed")
            assert len(page.data) == 3 and all(j.status == "completed" for j in page.data)
            ids = [j.job_id async for j in client.iter_jobs(status="completed")]
            assert job.job_id in ids and saved.job_id in ids
            batch = await client.batch([f"{pages}/simple"] * 3, width=100, height=100)
            while not (current := await client.get_batch(batch.batch_id)).is_terminal:
                await asyncio.sleep(0.5)
            assert current.counts["completed"] == 3
            await client.delete(saved.job_id)
            with pytest.raises(shotwire.NotFoundError):
                await client.get(saved.job_id)

            # errors and the test webhook
            with pytest.raises(shotwire.CaptureFailed):
                await client.capture(f"{pages}/missing", fail_on_http_error=True)
            with pytest.raises(shotwire.InvalidRequestError):
                await client.submit(f"{pages}/simple", quality=50)
            report = await client.send_test_webhook(receiver.script("/sdk-async-test", [200]))
            assert report["delivered"] is True

        async with shotwire.AsyncClient(api_key="sw_wrong_key_0000000000", base_url=stack.api_url) as stranger:
            with pytest.raises(shotwire.AuthenticationError):
                await stranger.list()

    asyncio.run(asyncio.wait_for(main(), timeout=180))
