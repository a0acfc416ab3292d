"""Redriving the webhook DLQ: every kind of parked message is understood; what cannot be redriven stays."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from admin.__main__ import main as admin_main
from devstack.resources import LocalResources
from shotwire_core.adapters.dynamo import JobTable
from shotwire_core.adapters.messaging import EventBus
from shotwire_core.capture import outcome_event
from shotwire_core.config import StackConfig, load_stack_config
from shotwire_core.models import CaptureOptions, DeliveryRecord, Job, JobStatus, WebhookStatus
from shotwire_core.redrive import lambda_failure, list_parked, parked_delivery, redrive
from tests.support import provisioned_moto


class FakeDlq:
    def __init__(self, bodies: list[str]) -> None:
        self.messages = {f"m{i}": body for i, body in enumerate(bodies)}
        self.hidden: set[str] = set()
        self.deleted: list[str] = []

    def receive(self, max_messages: int = 10, visibility_timeout: int = 60) -> list[tuple[str, str, str]]:
        visible = [(mid, mid, body) for mid, body in self.messages.items() if mid not in self.hidden]
        batch = visible[:max_messages]
        self.hidden.update(mid for mid, _, _ in batch)
        return batch

    def release(self, receipt_handle: str) -> None:
        self.hidden.discard(receipt_handle)

    def delete(self, receipt_handle: str) -> None:
        self.deleted.append(receipt_handle)
        del self.messages[receipt_handle]
        self.hidden.discard(receipt_handle)


class FakeJobs:
    """Jobs whose current delivery was opened and parked (`reopenable`); any other job is gone."""

    def __init__(self, reopenable: set[str]) -> None:
        self.reopenable = reopenable

    def get(self, tenant_id: str, job_id: str) -> Job | None:
        return SimpleNamespace(delivery_number=1) if job_id in self.reopenable else None  # type: ignore[return-value]

    def get_delivery(self, tenant_id: str, subject_id: str, number: int) -> DeliveryRecord | None:
        return SimpleNamespace(number=number)  # type: ignore[return-value]

    def open_delivery(self, record: DeliveryRecord) -> DeliveryRecord:
        raise AssertionError("every delivery here was opened")

    def reopen_delivery(self, tenant_id: str, subject_id: str, number: int, now: str) -> DeliveryRecord:
        return SimpleNamespace(number=number)  # type: ignore[return-value]


class Sent:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        self.sent.append(body)


OURS = json.dumps({"tenantId": "t", "jobId": "job_a", "attempts": 10})
RETRY = json.dumps({"tenantId": "t", "jobId": "job_b", "attempt": 4, "dueAt": 1.0})
EVENT = json.dumps({"detail-type": "screenshot.completed", "detail": {"tenantId": "t", "jobId": "job_c"}})


def test_each_kind_of_parked_message_names_its_job() -> None:
    assert parked_delivery(OURS) == ("t", "job_a")
    assert parked_delivery(RETRY) == ("t", "job_b")
    assert parked_delivery(EVENT) == ("t", "job_c")
    assert parked_delivery("not json") is None and parked_delivery("[1]") is None and parked_delivery("{}") is None


def test_redrive_queues_a_fresh_attempt_and_removes_only_what_it_redrove() -> None:
    dlq = FakeDlq([OURS, RETRY, EVENT, "garbage", json.dumps({"tenantId": "t", "jobId": "job_gone"})])
    retries = Sent()
    report = redrive(dlq=dlq, jobs=FakeJobs({"job_a", "job_b", "job_c"}), retry_queue=retries, clock=lambda: 50.0)
    assert report.redriven == ["job_a", "job_b", "job_c"]
    assert [why for _, why in report.skipped] == [
        "names no job",
        "job_gone: the job is gone (expired or deleted)",
    ]
    assert retries.sent == [
        {"tenantId": "t", "jobId": job, "attempt": 1, "dueAt": 50.0, "delivery": 1}
        for job in ("job_a", "job_b", "job_c")
    ]
    assert sorted(dlq.messages.values()) == sorted(["garbage", json.dumps({"tenantId": "t", "jobId": "job_gone"})])
    assert dlq.hidden == set()  # what stays is visible again at once


def test_listing_leaves_everything_in_place_and_visible() -> None:
    dlq = FakeDlq([OURS] * 25)
    entries = list_parked(dlq)
    assert len(entries) == 25 and entries[0]["jobId"] == "job_a"
    assert len(dlq.messages) == 25 and dlq.hidden == set()


# --- Lambda's on-failure destination record, on moto --------------------------------------------------

DISPATCHER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:shotwire-dispatcher"


def invocation_record(event: dict[str, Any], count: int = 3) -> dict[str, Any]:
    """What Lambda sends the dispatcher's on-failure destination once every try of an asynchronous invoke
    (EventBridge's) has failed, as the Lambda developer guide shows it."""
    request_id = str(uuid.uuid4())
    return {
        "version": "1.0",
        "timestamp": "2026-12-01T18:16:05.568Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{DISPATCHER_ARN}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": count,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorMessage": "the jobs table is throttling",
            "errorType": "RuntimeError",
            "requestId": request_id,
            "stackTrace": ['  File "/var/task/handler.py", line 70, in lambda_handler\n'],
        },
    }


def test_a_lambda_invocation_record_names_the_job_of_the_event_inside() -> None:
    record = invocation_record(json.loads(EVENT))
    assert parked_delivery(json.dumps(record)) == ("t", "job_c")
    assert lambda_failure(record) == (
        "RetriesExhausted after 3 attempts: Unhandled: RuntimeError: the jobs table is throttling"
    )
    assert lambda_failure(json.loads(EVENT)) is None
    # A record of an event that names no job names none either.
    assert parked_delivery(json.dumps(invocation_record({"detail": {"other": 1}}))) is None
    assert parked_delivery(json.dumps({**invocation_record({}), "requestPayload": "not json"})) is None


@dataclass
class Stack:
    config: StackConfig
    resources: LocalResources
    jobs: JobTable


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """moto in-process, with the queues, rule and tables the local stack and the CDK app define."""
    config = load_stack_config()
    with provisioned_moto(monkeypatch, config) as resources:
        yield Stack(config, resources, JobTable(config.jobs_table))


def finished_job(stack: Stack, job_id: str) -> Job:
    """A completed job whose webhook the dispatcher never got to deliver, announced on the bus."""
    job = Job(
        tenant_id="tenant-a",
        job_id=job_id,
        status=JobStatus.COMPLETED,
        options=CaptureOptions(url="https://example.com/"),
        webhook_url="https://hooks.example.com/in",
        webhook_status=WebhookStatus.PENDING,
        created_at="2026-12-01T18:15:00Z",
        updated_at="2026-12-01T18:15:04Z",
    )
    stack.jobs.create(job)
    EventBus(stack.config.event_bus).publish(*outcome_event(job))
    return job


def bodies(queue_url: str) -> list[str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    found = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_dlq_commands_redrive_the_aws_record_and_the_local_bare_event(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    tap, dlq = stack.resources.outcome_tap_url, stack.resources.webhook_dlq_url
    # Given the local stack's shape: the outcome event itself, moved to the DLQ by the tap queue's redrive
    # once the dispatcher has failed on it 1 + 2 times (what `make dev` does)
    finished_job(stack, "job_local")
    for _ in range(1 + stack.config.dispatcher_async_retry_attempts):
        assert sqs.receive_message(QueueUrl=tap, VisibilityTimeout=0)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=tap)  # this receive moved it to the DLQ
    # And AWS's shape: Lambda's on-failure record wrapping the same kind of event (as SqsDestination sends it)
    finished_job(stack, "job_aws")
    (event,) = bodies(tap)
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(invocation_record(json.loads(event))))
    # And a record of an event for a job that has expired since
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody=json.dumps(
            invocation_record({**json.loads(event), "detail": {"tenantId": "t", "jobId": "job_gone"}})
        ),
    )

    # When the DLQ is listed
    assert admin_main(["dlq", "list"]) == 0
    listed = {entry["jobId"]: entry for entry in map(json.loads, capsys.readouterr().out.splitlines())}
    # Then every message names its job up front, and Lambda's says why Lambda gave up
    assert set(listed) == {"job_local", "job_aws", "job_gone"}
    assert listed["job_local"]["detail"]["jobId"] == "job_local" and "lambdaFailure" not in listed["job_local"]
    assert listed["job_aws"]["tenantId"] == "tenant-a"
    assert listed["job_aws"]["lambdaFailure"].startswith("RetriesExhausted after 3 attempts: Unhandled: RuntimeError")
    assert listed["job_aws"]["requestPayload"]["detail"]["jobId"] == "job_aws"

    # When it is redriven
    assert admin_main(["dlq", "redrive"]) == 0
    out = capsys.readouterr().out.splitlines()
    # Then both shapes are back in delivery: reopened, a first attempt queued, gone from the DLQ
    assert sorted(line for line in out if line.startswith("redriven")) == ["redriven job_aws", "redriven job_local"]
    left_parked = [line for line in out if line.startswith("left parked")]
    assert len(left_parked) == 1 and "job_gone" in left_parked[0]
    retries = sorted(map(json.loads, bodies(stack.resources.webhook_retry_queue_url)), key=lambda r: r["jobId"])
    assert [(r["tenantId"], r["jobId"], r["attempt"], r["delivery"]) for r in retries] == [
        ("tenant-a", "job_aws", 1, 1),
        ("tenant-a", "job_local", 1, 1),
    ]
    for job_id in ("job_aws", "job_local"):
        # The dispatcher never opened their deliveries: the redrive did, each waiting for its first attempt.
        delivery = stack.jobs.get_delivery("tenant-a", job_id, 1)
        assert delivery is not None and delivery.status is WebhookStatus.PENDING and delivery.attempt_count == 0
    # And only the record naming an expired job is left, visible for the next look
    (left,) = bodies(dlq)
    assert parked_delivery(left) == ("t", "job_gone")
