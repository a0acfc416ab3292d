"""The webhook DLQ after an endpoint outage: list what is parked, and move it back into delivery.

The DLQ holds three kinds of message, all naming a tenant and a job: the dispatcher's own record of a
delivery whose schedule ran out, a retry message the retry queue gave up on, and an outcome event
EventBridge could not hand to the dispatcher. Each is redriven the same way: the job's delivery is
reopened and a first attempt is queued at once, starting the schedule again; earlier attempts stay in
its history. What names no job (or a job that has expired) stays in the DLQ and is reported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from shotwire_core.clock import now_iso
from shotwire_core.models import Job, RetryMessage


class ParkedQueue(Protocol):
    def receive(self, max_messages: int = 10, visibility_timeout: int = 60) -> list[tuple[str, str, str]]: ...
    def release(self, receipt_handle: str) -> None: ...
    def delete(self, receipt_handle: str) -> None: ...


class Reopener(Protocol):
    def reopen_webhook(self, tenant_id: str, job_id: str, now: str) -> Job: ...


class Sender(Protocol):
    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None: ...


@dataclass
class RedriveReport:
    redriven: list[str] = field(default_factory=list)  # job ids
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (message id, why)


def parked_delivery(body: str) -> tuple[str, str] | None:
    """(tenant id, job id) named by a DLQ message body, whichever kind it is; None if it names none."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    detail = data.get("detail")
    source: dict[str, Any] = detail if isinstance(detail, dict) else data  # an EventBridge event, or ours
    tenant_id, job_id = source.get("tenantId"), source.get("jobId")
    if isinstance(tenant_id, str) and isinstance(job_id, str):
        return tenant_id, job_id
    return None


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
        try:
            entries.append({"messageId": message_id, **json.loads(body)})
        except ValueError:
            entries.append({"messageId": message_id, "body": body})
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
            job = jobs.reopen_webhook(tenant_id, job_id, now())
        except Exception as error:  # expired, never failed, or already redriven: leave it parked
            left.append(receipt)
            report.skipped.append((message_id, f"{job_id}: {error}"))
            continue
        retry = RetryMessage(
            tenant_id=tenant_id, job_id=job_id, attempt=1, due_at=clock(), delivery=job.delivery_number
        )
        retry_queue.send(retry.model_dump())
        dlq.delete(receipt)
        report.redriven.append(job_id)
    for receipt in left:
        dlq.release(receipt)
    return report
