"""The SDK's Client against the local stack (python -m devstack), over real HTTP on 127.0.0.1."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

import shotwire
from shotwire.webhooks import verify
from tests.e2e.conftest import API_KEY, SECRET, Stack
from tests.support import WebhookReceiver

pytestmark = pytest.mark.e2e


class RecordingTransport(httpx.HTTPTransport):
    """The real transport, noting each request: how many round trips a call took, and where to."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def client(stack: Stack, transport: RecordingTransport) -> Iterator[shotwire.Client]:
    with shotwire.Client(api_key=API_KEY, base_url=stack.api_url, transport=transport) as client:
        yield client


def image_of(data: bytes) -> tuple[str | None, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size


def test_submit_then_wait_gives_a_completed_job(client: shotwire.Client, pages: str) -> None:
    job = client.submit(f"{pages}/simple", width=640, height=400, external_id="sdk-1", metadata={"k": [1, 2]})
    assert job.status == "queued" and job.job_id.startswith("job_") and not job.is_terminal
    assert job.url == f"{pages}/simple" and job.created_at is not None and job.created_at.tzinfo is not None

    done = client.wait(job.job_id, timeout=60)
    assert done.status == "completed" and done.is_terminal and done.error is None
    assert (done.width, done.height, done.format) == (640, 400, "png")
    assert done.external_id == "sdk-1" and done.metadata == {"k": [1, 2]}
    assert done.title == "Simple" and done.http_status == 200 and done.image_bytes and done.download_url
    assert done.request is not None and done.request["width"] == 640
    assert done.model_extra is not None and done.model_extra["bytes"] == done.image_bytes  # unknown fields kept
    assert image_of(client.download(done)) == ("PNG", (640, 400))


def test_capture_returns_the_png_in_one_round_trip(
    client: shotwire.Client, transport: RecordingTransport, pages: str
) -> None:
    data = client.capture(f"{pages}/simple", width=320, height=200, timeout=60)
    assert image_of(data) == ("PNG", (320, 200))
    (request,) = transport.requests  # the waiting POST answered with the image itself
    assert request.method == "POST" and request.url.params["wait"] == "25"
    assert request.headers["accept"].startswith("image/png") and request.headers["idempotency-key"]


def test_a_capture_over_4_mb_comes_through_the_303(
    client: shotwire.Client, transport: RecordingTransport, sdk_pages: str, stack: Stack
) -> None:
    data = client.capture(f"{sdk_pages}/noise", width=1600, height=1200, timeout=90)
    assert len(data) > 4 * 1024 * 1024 and image_of(data) == ("PNG", (1600, 1200))
    post, download = transport.requests
    assert post.method == "POST" and str(download.url).startswith(stack.moto_url)
    assert "authorization" not in download.headers  # a presigned link carries its own signature


def test_capture_to_writes_the_file_and_returns_the_job(client: shotwire.Client, pages: str, tmp_path: Path) -> None:
    target = tmp_path / "shot.jpg"
    job = client.capture_to(target, f"{pages}/simple", format="jpeg", quality=70, width=300, height=200)
    assert job.status == "completed" and job.format == "jpeg" and job.job_id.startswith("job_")
    assert image_of(target.read_bytes()) == ("JPEG", (300, 200))
    assert [p.name for p in tmp_path.iterdir()] == ["shot.jpg"]  # no partial file left behind


def test_a_failed_capture_raises_capture_failed_with_the_job(client: shotwire.Client, pages: str) -> None:
    with pytest.raises(shotwire.CaptureFailed) as caught:
        client.capture(f"{pages}/missing", fail_on_http_error=True, timeout=60)
    job = caught.value.job
    assert job.status == "failed" and job.error is not None and job.error.code == "http_error"
    assert "http_error" in str(caught.value)


def test_capture_gives_up_after_its_timeout(client: shotwire.Client, pages: str) -> None:
    started = time.monotonic()
    with pytest.raises(shotwire.WaitTimeout) as caught:
        client.capture(f"{pages}/simple", delay_ms=6000, timeout=1.5)
    assert time.monotonic() - started < 5
    assert caught.value.job is not None and not caught.value.job.is_terminal
    assert client.wait(caught.value.job_id, timeout=60).status == "completed"  # it finishes anyway
    with pytest.raises(shotwire.WaitTimeout):
        client.wait(client.submit(f"{pages}/simple", delay_ms=5000).job_id, timeout=1)


def test_list_and_iter_jobs(client: shotwire.Client, pages: str) -> None:
    marker = uuid.uuid4().hex
    submitted = [client.submit(f"{pages}/simple", external_id=f"{marker}-{i}", width=200 + i) for i in range(3)]
    for job in submitted:
        client.wait(job.job_id, timeout=60)

    page = client.list(limit=2)
    assert len(page.data) == 2 and page.next_cursor
    assert [j.job_id for j in page.data] == [submitted[2].job_id, submitted[1].job_id]  # newest first
    following = client.list(limit=2, cursor=page.next_cursor)
    assert following.data[0].job_id == submitted[0].job_id

    seen = [job for job in client.iter_jobs() if (job.external_id or "").startswith(marker)]
    assert [j.job_id for j in seen] == [j.job_id for j in reversed(submitted)]
    assert all(job.status == "completed" for job in client.iter_jobs(status="completed"))


def test_delete(client: shotwire.Client, pages: str) -> None:
    running = client.submit(f"{pages}/simple", delay_ms=3000)
    with pytest.raises(shotwire.ConflictError) as busy:
        client.delete(running.job_id)
    assert busy.value.status == 409 and busy.value.code == "conflict"
    client.wait(running.job_id, timeout=60)
    client.delete(running.job_id)
    with pytest.raises(shotwire.NotFoundError):
        client.get(running.job_id)


def test_webhook_deliveries_and_redeliver(client: shotwire.Client, pages: str, receiver: WebhookReceiver) -> None:
    hook = receiver.script("/sdk-hook", [200])
    job = client.submit(f"{pages}/simple", webhook_url=hook)
    client.wait(job.job_id, timeout=60)
    (first,) = receiver.wait_for("/sdk-hook", 1)
    event = verify(first.body, first.headers, SECRET)
    assert event["jobId"] == job.job_id and event["status"] == "completed"

    deliveries = client.deliveries(job.job_id)
    deadline = time.monotonic() + 20
    while (deliveries.current is None or deliveries.current.status != "delivered") and time.monotonic() < deadline:
        time.sleep(0.2)
        deliveries = client.deliveries(job.job_id)
    assert deliveries.job_id == job.job_id and deliveries.current is not None
    assert deliveries.current.status == "delivered" and deliveries.current.attempts[0].status_code == 200

    started = client.redeliver(job.job_id)
    assert started["status"] == "pending" and started["webhookId"].endswith("_2")
    _, second = receiver.wait_for("/sdk-hook", 2)
    assert second.headers["webhook-id"] == started["webhookId"]
    assert verify(second.body, second.headers, SECRET)["jobId"] == job.job_id
    after = client.deliveries(job.job_id)
    assert [d.superseded for d in after.deliveries] == [True, False]


def test_redeliver_without_a_webhook_is_a_conflict(client: shotwire.Client, pages: str) -> None:
    job = client.wait(client.submit(f"{pages}/simple").job_id, timeout=60)
    with pytest.raises(shotwire.ConflictError):
        client.redeliver(job.job_id)


def test_batch_and_get_batch(client: shotwire.Client, pages: str) -> None:
    batch = client.batch([f"{pages}/simple", {"url": f"{pages}/tall", "width": 300}], width=200, height=150)
    assert batch.batch_id.startswith("bat_") and len(batch.job_ids) == 2 and batch.status == "processing"
    deadline = time.monotonic() + 60
    current = client.get_batch(batch.batch_id)
    while not current.is_terminal and time.monotonic() < deadline:
        time.sleep(0.5)
        current = client.get_batch(batch.batch_id)
    assert current.status == "completed" and current.total == 2 and current.counts["completed"] == 2
    assert current.job_ids == batch.job_ids and {j.status for j in current.jobs} == {"completed"}
    first, second = (client.get(job_id) for job_id in batch.job_ids)
    assert (first.width, first.height, second.width, second.batch_id) == (200, 150, 300, batch.batch_id)


def test_send_test_webhook_to_a_local_receiver(client: shotwire.Client, receiver: WebhookReceiver) -> None:
    hook = receiver.script("/sdk-test", [200])
    report = client.send_test_webhook(hook)
    assert report["delivered"] is True and report["statusCode"] == 200 and report["url"] == hook
    (delivery,) = receiver.wait_for("/sdk-test", 1)
    event = verify(delivery.body, delivery.headers, SECRET)
    assert event["type"] == "webhook.test" and event["webhookId"] == report["webhookId"]


def test_an_explicit_idempotency_key_never_creates_twice(client: shotwire.Client, pages: str) -> None:
    key = f"sdk-{uuid.uuid4()}"
    first = client.submit(f"{pages}/simple", idempotency_key=key)
    again = client.submit(f"{pages}/simple", idempotency_key=key)
    assert again.job_id == first.job_id
    with pytest.raises(shotwire.InvalidRequestError) as reused:  # the same key with another body
        client.submit(f"{pages}/tall", idempotency_key=key)
    assert reused.value.details[0]["rule"] == "idempotency_key_reused"


def test_api_errors_carry_status_code_and_field(stack: Stack, client: shotwire.Client, pages: str) -> None:
    stranger = shotwire.Client(api_key="sw_wrong_key_0000000000", base_url=stack.api_url)
    with stranger, pytest.raises(shotwire.AuthenticationError) as unauthorized:
        stranger.get("job_01hzzzzzzzzzzzzzzzzzzzzzzz")
    assert unauthorized.value.status == 401 and unauthorized.value.code == "unauthorized"

    with pytest.raises(shotwire.NotFoundError) as missing:
        client.get("job_01hzzzzzzzzzzzzzzzzzzzzzzz")
    assert missing.value.status == 404 and missing.value.code == "not_found"
    with pytest.raises(shotwire.NotFoundError):
        client.get_batch("bat_nope")

    # What only the server can judge: a cursor it never issued, a malformed Idempotency-Key.
    with pytest.raises(shotwire.InvalidRequestError) as cursor:
        client.list(cursor="bm90LWEtam9iLWlk")
    assert cursor.value.status == 422 and cursor.value.fields == ["cursor"] and not cursor.value.client_side
    with pytest.raises(shotwire.InvalidRequestError) as key:
        client.submit(f"{pages}/simple", idempotency_key="k" * 300)
    assert key.value.fields == ["Idempotency-Key"] and key.value.code == "validation_error"


def test_the_servers_openapi_limits_are_the_sdks(stack: Stack) -> None:
    from tests.sdk.test_limits import constraints, request_constraints

    document = httpx.get(f"{stack.api_url}/openapi.json", timeout=10).json()
    schemas = document["components"]["schemas"]
    served = constraints(schemas["ScreenshotRequest"], schemas)
    assert served == request_constraints(shotwire.ScreenshotOptions)
