"""The capture Lambda handler with SQS events on moto: retries for infrastructure errors, then a loud failure."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from devstack.runtime import LocalContext, load_function
from shotwire_core import capture as capture_logic
from shotwire_core.adapters.browser import BrowserEngine
from shotwire_core.models import ErrorCode, JobStatus, ScreenshotRequest
from shotwire_core.services import get_services
from tests.integration.conftest import Aws
from tests.support import PageServer, freezing_chromium, serving

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def capture_module() -> Iterator[ModuleType]:
    module = load_function(ROOT / "functions" / "capture" / "handler.py", "shotwire_fn_capture_test")
    yield module
    module.shutdown()


@pytest.fixture(scope="module")
def page() -> Iterator[str]:
    with PageServer({"/": "<html><body>hi</body></html>"}).running() as base:
        yield base + "/"


def _sqs_event(tenant_id: str, job_id: str, receive_count: int) -> dict[str, object]:
    return _sqs_batch(tenant_id, [(job_id, receive_count)])


def _sqs_batch(tenant_id: str, jobs: list[tuple[str, int]]) -> dict[str, Any]:
    """One record per (job id, receive count), message ids m-1, m-2..."""
    return {
        "Records": [
            {
                "messageId": f"m-{n}",
                "receiptHandle": f"r-{n}",
                "body": json.dumps({"tenantId": tenant_id, "jobId": job_id}),
                "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:shotwire-capture",
                "awsRegion": "us-east-1",
            }
            for n, (job_id, receive_count) in enumerate(jobs, start=1)
        ]
    }


def _submit(url: str, **request: Any) -> str:
    from shotwire_core.jobs import SubmissionRules, submit_screenshot

    services = get_services()
    job = submit_screenshot(
        "tenant-a",
        ScreenshotRequest.model_validate({"url": url, **request}),
        jobs=services.jobs,
        capture_queue=services.capture_queue,
        rules=SubmissionRules(allow_private=True, retention_days=7),
    )
    return job.job_id


def test_capture_handler_completes_a_job(aws_stack: Aws, capture_module: ModuleType, page: str) -> None:
    job_id = _submit(page)
    result = capture_module.lambda_handler(_sqs_event("tenant-a", job_id, 1), LocalContext("shotwire-capture"))
    assert result == {"batchItemFailures": []}
    job = get_services().jobs.get("tenant-a", job_id)
    assert job is not None and job.status is JobStatus.COMPLETED and job.image_key == f"tenant-a/{job_id}.png"
    stored = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=aws_stack.resources.bucket, Key=job.image_key
    )
    assert stored["ContentType"] == "image/png"
    tap = boto3.client("sqs", region_name="us-east-1").receive_message(QueueUrl=aws_stack.resources.outcome_tap_url)
    (message,) = tap["Messages"]
    event = json.loads(message["Body"])
    assert event["detail-type"] == "Screenshot Completed" and event["detail"]["jobId"] == job_id


def test_infrastructure_errors_are_retried_then_fail_the_job_on_the_last_delivery(
    aws_stack: Aws, capture_module: ModuleType, page: str
) -> None:
    job_id = _submit(page)
    # S3 goes away: an infrastructure failure, not the page's fault.
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.delete_bucket(Bucket=aws_stack.resources.bucket)

    # A batch whose every record failed is raised, so Lambda returns the whole batch to the queue.
    with pytest.raises(BatchProcessingError, match="NoSuchBucket"):
        capture_module.lambda_handler(_sqs_event("tenant-a", job_id, 1), LocalContext("shotwire-capture"))
    job = get_services().jobs.get("tenant-a", job_id)
    assert job is not None and job.status is JobStatus.PROCESSING

    last = capture_module.lambda_handler(_sqs_event("tenant-a", job_id, 3), LocalContext("shotwire-capture"))
    assert last == {"batchItemFailures": []}
    job = get_services().jobs.get("tenant-a", job_id)
    assert job is not None and job.status is JobStatus.FAILED
    assert job.error == "internal error: capture failed 3 times (NoSuchBucket)"


def test_a_failed_capture_comes_back_after_a_short_backoff_not_the_visibility_timeout(
    aws_stack: Aws, capture_module: ModuleType, page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture_logic, "RETRY_BACKOFF_SECONDS", 1)
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = aws_stack.resources.capture_queue_url
    sqs.purge_queue(QueueUrl=queue)
    job_id = _submit(page)  # queues its capture message
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = _sqs_event("tenant-a", job_id, 1)
    event["Records"][0]["receiptHandle"] = message["ReceiptHandle"]  # type: ignore[index]
    boto3.client("s3", region_name="us-east-1").delete_bucket(Bucket=aws_stack.resources.bucket)

    with pytest.raises(BatchProcessingError):
        capture_module.lambda_handler(event, LocalContext("shotwire-capture"))

    assert "Messages" not in sqs.receive_message(QueueUrl=queue)  # hidden for the backoff...
    time.sleep(1.5)
    again = sqs.receive_message(QueueUrl=queue, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    # ...and back long before the queue's own visibility timeout (6 x the function's).
    assert [json.loads(m["Body"])["jobId"] for m in again] == [job_id]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


@pytest.mark.parametrize(
    ("timeout_seconds", "code"),
    [
        # Time for each job to be tried in two browsers, each found hung and killed.
        (60, ErrorCode.BROWSER_CRASH),
        # Not enough for a 10 s page once the margin for recording outcomes is kept: cut short, retried.
        (30, ErrorCode.INTERNAL_ERROR),
    ],
)
def test_a_batch_whose_browser_always_hangs_ends_within_the_invocation(
    aws_stack: Aws,
    capture_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    timeout_seconds: int,
    code: ErrorCode,
) -> None:
    """Every browser freezes 3 s after it starts, under pages that never answer. The invocation still
    returns before Lambda would stop it, every job accounted for: failed (and announced) on its last
    delivery, handed back to SQS as a batch item failure otherwise."""

    class Silent(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(60)

        def log_message(self, *args: Any) -> None:
            return

    engine = BrowserEngine(freezing_chromium(tmp_path, 3), concurrency=4)
    monkeypatch.setattr(capture_module, "engine", engine)
    try:
        with serving(Silent) as server:
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            last, first, second = (_submit(f"{url}?n={n}", timeoutMs=10_000) for n in range(3))
            event = _sqs_batch("tenant-a", [(last, 3), (first, 1), (second, 1)])
            started = time.monotonic()
            context = LocalContext("shotwire-capture", timeout_seconds=timeout_seconds)
            result = capture_module.lambda_handler(event, context)
            elapsed = time.monotonic() - started
    finally:
        engine.close()

    assert elapsed < timeout_seconds, f"the invocation would have been stopped ({elapsed:.0f} s)"
    assert sorted(item["itemIdentifier"] for item in result["batchItemFailures"]) == ["m-2", "m-3"]
    jobs = get_services().jobs
    failed = jobs.get("tenant-a", last)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.error_code is code, failed.error
    assert failed.error is not None and failed.error.endswith("(after 3 attempts)")
    for job_id in (first, second):
        retried = jobs.get("tenant-a", job_id)
        assert retried is not None and retried.status is JobStatus.PROCESSING
    tap = boto3.client("sqs", region_name="us-east-1").receive_message(
        QueueUrl=aws_stack.resources.outcome_tap_url, MaxNumberOfMessages=10
    )
    announced = [json.loads(message["Body"]) for message in tap.get("Messages", [])]
    assert [(event["detail-type"], event["detail"]["jobId"]) for event in announced] == [("Screenshot Failed", last)]
