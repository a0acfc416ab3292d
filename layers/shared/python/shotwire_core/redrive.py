"""The webhook DLQ after an endpoint outage: list what is parked, and move it back into delivery.

The DLQ holds four kinds of message, all naming a tenant and a job: the dispatcher's own record of a
delivery whose schedule ran out, a retry message the retry queue gave up on, an outcome event EventBridge
could not hand to the dispatcher, and Lambda's record of an outcome event the dispatcher failed on every
try (its on-failure destination; the local stack parks the bare event instead). Each is redriven the same
way: the job's delivery is reopened and a first attempt is queued at once, starting the schedule again;
earlier attempts stay in its history (a delivery the dispatcher never opened is opened). What names no
job (or a job that has expired) stays in the DLQ and is reported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from shotwire_core.clock import now_iso
from shotwire_core.delivery import DeliveryOpener, open_delivery, subject_of
from shotwire_core.models import DeliveryRecord, RetryMessage


class ParkedQueue(Protocol):
    def receive(self, max_messages: int = 10, visibility_timeout: int = 60) -> list[tuple[str, str, str]]: ...
    def release(self, receipt_handle: str) -> None: ...
    def delete(self, receipt_handle: str) -> None: ...


class Reopener(DeliveryOpener, Protocol):
    def reopen_delivery(self, tenant_id: str, subject_id: str, number: int, now: str) -> DeliveryRecord: ...


def reopen(jobs: Reopener, tenant_id: str, job_id: str, now: str) -> int:
    """Make the job's current delivery deliverable again, opening it if the dispatcher never did (an outcome
    event it failed on); its number. Raises when there is nothing to redrive."""
    job = subject_of(jobs, tenant_id, job_id)
    if job is None:
        raise LookupError("the job is gone (expired or deleted)")
    if jobs.get_delivery(tenant_id, job_id, job.delivery_number) is None:
        opened = open_delivery(tenant_id, job_id, jobs=jobs)
        if opened is None:
            raise LookupError("the job has no outcome to deliver")
        return opened.number
    return jobs.reopen_delivery(tenant_id, job_id, job.delivery_number, now).number


class Sender(Protocol):
    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None: ...


@dataclass
class RedriveReport:
    redriven: list[str] = field(default_factory=list)  # job ids
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (message id, why)


def _object(body: Any) -> dict[str, Any] | None:
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    return body if isinstance(body, dict) else None


def _is_invocation_record(data: dict[str, Any]) -> bool:
    """Lambda's record of an asynchronous invocation it gave up on (its on-failure destination):
    {"version", "timestamp", "requestContext": {"requestId", "functionArn", "condition",
    "approximateInvokeCount"}, "requestPayload": <the event>, "responseContext", "responsePayload"}."""
    return "requestPayload" in data and isinstance(data.get("requestContext"), dict)


def _named(data: dict[str, Any]) -> tuple[str, str] | None:
    if _is_invocation_record(data):
        payload = _object(data["requestPayload"])  # the EventBridge event the dispatcher failed on
        return None if payload is None else _named(payload)
    detail = data.get("detail")
    source: dict[str, Any] = detail if isinstance(detail, dict) else data  # an EventBridge event, or ours
    tenant_id, job_id = source.get("tenantId"), source.get("jobId")
    if isinstance(tenant_id, str) and isinstance(job_id, str):
        return tenant_id, job_id
    return None


def parked_delivery(body: str) -> tuple[str, str] | None:
    """(tenant id, job id) named by a DLQ message body, whichever kind it is; None if it names none."""
    data = _object(body)
    return None if data is None else _named(data)


def lambda_failure(data: dict[str, Any]) -> str | None:
    """Why Lambda gave up on the invocation a record describes (None if `data` is not such a record), e.g.
    "RetriesExhausted after 3 attempts: Unhandled: RuntimeError: boom"."""
    if not _is_invocation_record(data):
        return None
    context = data["requestContext"]
    response = _object(data.get("responsePayload")) or {}
    error = ": ".join(
        str(part)
        for part in (
            (_object(data.get("responseContext")) or {}).get("functionError"),
            response.get("errorType"),
            response.get("errorMessage"),
        )
        if part
    )
    why = f"{context.get('condition', 'failed')} after {context.get('approximateInvokeCount', '?')} attempts"
    return f"{why}: {error}" if error else why


def parked_messages(dlq: ParkedQueue, visibility_timeout: int) -> Iterator[tuple[str, str, str]]:
    """Every message visible in the DLQ once: each is hidden for `visibility_timeout` as it is read."""
    seen: set[str] = set()
    while batch := [m for m in dlq.receive(10, visibility_timeout) if m[0] not in seen]:
        for message in batch:
            seen.add(message[0])
            yield message


def list_parked(dlq: ParkedQueue) -> list[dict[str, Any]]:
    """What the DLQ holds. Each message is hidden while the listing reads on, then released at once."""
    entries = []
    receipts = []
    for message_id, receipt, body in parked_messages(dlq, visibility_timeout=60):
        receipts.append(receipt)
        data = _object(body)
        if data is None:
            entries.append({"messageId": message_id, "body": body})
            continue
        entry: dict[str, Any] = {"messageId": message_id}
        # Lambda's record keeps the job deep in its event: named up front, as every other kind names it.
        if (named := _named(data)) is not None:
            entry["tenantId"], entry["jobId"] = named
        if (why := lambda_failure(data)) is not None:
            entry["lambdaFailure"] = why
        entries.append({**entry, **data})
    for receipt in receipts:
        dlq.release(receipt)
    return entries


def redrive(
    *,
    dlq: ParkedQueue,
    jobs: Reopener,
    retry_queue: Sender,
    now: Callable[[], str] = now_iso,
    clock: Callable[[], float] = time.time,
) -> RedriveReport:
    """Reopen and queue every parked delivery; each message is deleted once its retry is queued."""
    report = RedriveReport()
    left: list[str] = []  # released only at the end: released earlier, the loop would read them again
    for message_id, receipt, body in parked_messages(dlq, visibility_timeout=300):
        named = parked_delivery(body)
        if named is None:
            left.append(receipt)
            report.skipped.append((message_id, "names no job"))
            continue
        tenant_id, job_id = named
        try:
            number = reopen(jobs, tenant_id, job_id, now())
        except Exception as error:  # expired, never failed, or already redriven: leave it parked
            left.append(receipt)
            report.skipped.append((message_id, f"{job_id}: {error}"))
            continue
        retry = RetryMessage(tenant_id=tenant_id, job_id=job_id, attempt=1, due_at=clock(), delivery=number)
        retry_queue.send(retry.model_dump())
        dlq.delete(receipt)
        report.redriven.append(job_id)
    for receipt in left:
        dlq.release(receipt)
    return report
