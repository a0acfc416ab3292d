"""Batches: up to 1,000 captures in one request, each an ordinary job, and one `batch.completed` webhook.

The batch itself is a record of its own in the jobs table (a BatchRecord, id `bat_…`): when the last member
ends, it is marked completed and its webhook is a delivery like any job's, signed, retried and parked the
same way. Members are counted into two sets on the
record, so an outcome event seen twice (at-least-once) is counted once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from shotwire_contract.answers import BatchAnswer, BatchMember, WebhookInfo
from shotwire_core.clock import iso, now_iso, utc_now
from shotwire_core.errors import FieldProblem, InvalidRequestError, JobNotFoundError, problem_from_pydantic
from shotwire_core.ids import is_batch_id, new_batch_id, new_job_id
from shotwire_core.jobs import SubmissionRules, check_webhook_url, destination_problems, queued_job
from shotwire_core.models import (
    BatchRecord,
    BatchRequest,
    CaptureMessage,
    Job,
    JobStatus,
    ScreenshotRequest,
    WebhookStatus,
)
from shotwire_core.observability import logger, metrics

# A body naming 1,000 bad items helps nobody: the first ones show the pattern.
MAX_PROBLEMS_REPORTED = 50


@dataclass(frozen=True)
class BatchProgress:
    total: int
    completed: int
    failed: int

    @property
    def finished(self) -> bool:
        return self.completed + self.failed >= self.total


class BatchStore(Protocol):
    def create_batch(self, record: BatchRecord) -> None: ...
    def get_batch(self, tenant_id: str, batch_id: str) -> BatchRecord | None: ...
    def create_many(self, jobs: list[Job]) -> None: ...
    def count_batch_member(self, tenant_id: str, batch_id: str, job_id: str, completed: bool) -> BatchProgress: ...
    def finish_batch(self, tenant_id: str, batch_id: str, now: str, counts: dict[str, int]) -> bool: ...
    def statuses(self, tenant_id: str, job_ids: list[str]) -> dict[str, str]: ...
    def member_ids(self, tenant_id: str, batch_id: str, id_range: tuple[str, str]) -> list[str]: ...


class BulkSender(Protocol):
    def send_many(self, bodies: list[dict[str, Any]]) -> None: ...


def expand(request: BatchRequest) -> list[ScreenshotRequest]:
    """Each item merged over the defaults and validated as a screenshot request; every problem named by
    where it is (`defaults.format`, `items[3].url`)."""
    return _members(request, lambda defaults: None, lambda index, item, defaults: None)


def _members(
    request: BatchRequest,
    check_defaults: Callable[[ScreenshotRequest], None],
    check_item: Callable[[int, ScreenshotRequest, ScreenshotRequest], None],
) -> list[ScreenshotRequest]:
    """As `expand`, the validated defaults also put to `check_defaults` and each valid item to `check_item`
    (with the validated defaults; both raise InvalidRequestError): every invalid item's problems are reported
    together, in item order; a bad default once, alone."""
    problems: list[FieldProblem] = []
    try:  # the defaults alone, so a bad default is reported once rather than once per item
        defaults = ScreenshotRequest.model_validate({"url": "https://example.com/", **request.defaults})
        check_defaults(defaults)
    except ValidationError as error:
        problems += [problem_from_pydantic(dict(e), "defaults.") for e in error.errors()]
    if problems:
        raise InvalidRequestError(problems[:MAX_PROBLEMS_REPORTED])
    expanded: list[ScreenshotRequest] = []
    for index, item in enumerate(request.items):
        fields = {"url": item} if isinstance(item, str) else item
        try:
            expanded.append(ScreenshotRequest.model_validate({**request.defaults, **fields}))
            check_item(index, expanded[-1], defaults)
        except ValidationError as error:
            problems += [problem_from_pydantic(dict(e), f"items[{index}].") for e in error.errors()]
        except InvalidRequestError as error:
            problems += error.problems
        if len(problems) >= MAX_PROBLEMS_REPORTED:
            break
    if problems:
        raise InvalidRequestError(problems[:MAX_PROBLEMS_REPORTED])
    return expanded


def submit_batch(
    tenant_id: str,
    request: BatchRequest,
    *,
    jobs: BatchStore,
    capture_queue: BulkSender,
    rules: SubmissionRules,
) -> tuple[BatchRecord, list[Job]]:
    """Record the batch, then its jobs, then queue them (bulk writes and sends: a 1,000-item batch is a few
    dozen calls)."""

    def check_defaults(defaults: ScreenshotRequest) -> None:
        if defaults.webhook_url is not None:
            check_webhook_url(defaults.webhook_url, "defaults.webhookUrl", rules.allow_private, rules.allowed_hosts)

    def check_item(index: int, item: ScreenshotRequest, defaults: ScreenshotRequest) -> None:
        # A webhook URL the defaults gave was checked (and would be named) as defaults.webhookUrl.
        checked = defaults.webhook_url
        problems = destination_problems(item, rules, field_prefix=f"items[{index}].", checked_webhook=checked)
        if problems:
            raise InvalidRequestError(problems)

    requests = _members(request, check_defaults, check_item)
    webhook_url = request.defaults.get("webhookUrl")
    now = utc_now()
    batch_id = new_batch_id(int(now.timestamp() * 1000))
    # Ids made in the same millisecond sort by their random part; handing them out sorted makes id order
    # item order, which is how GET /v1/batches/{id} lists the jobs (a range query over the ids).
    ordered_ids = sorted(new_job_id(int(now.timestamp() * 1000)) for _ in requests)
    members = [
        queued_job(tenant_id, item, rules, batch_id=batch_id, job_id=job_id)  # every item checked by _members
        for item, job_id in zip(requests, ordered_ids, strict=True)
    ]
    record = BatchRecord(
        tenant_id=tenant_id,
        batch_id=batch_id,
        total=len(members),
        member_range=(members[0].job_id, members[-1].job_id),
        webhook_url=webhook_url,
        webhook_status=WebhookStatus.PENDING if webhook_url else None,
        created_at=iso(now),
        updated_at=iso(now),
        expires_at=members[0].expires_at,
    )
    jobs.create_batch(record)
    jobs.create_many(members)
    capture_queue.send_many([CaptureMessage(tenant_id=tenant_id, job_id=job.job_id).model_dump() for job in members])
    metrics.add_metric(name="ScreenshotsSubmitted", unit="Count", value=len(members))
    logger.info("batch queued", extra={"batch_id": batch_id, "jobs": len(members), "tenant_id": tenant_id})
    return record, members


def batch_view(record: BatchRecord, statuses: dict[str, str], member_ids: list[str]) -> BatchAnswer:
    """`GET /v1/batches/{id}`: counts by status and each job's status."""
    member_statuses = [(job_id, statuses.get(job_id, JobStatus.QUEUED.value)) for job_id in member_ids]
    counts = {status.value: 0 for status in JobStatus}
    for _, status in member_statuses:
        counts[status] += 1
    return BatchAnswer(
        batch_id=record.job_id,
        status="completed" if record.status is JobStatus.COMPLETED else "processing",
        total=record.total,
        counts=counts,
        created_at=record.created_at,
        completed_at=record.completed_at,
        jobs=[BatchMember(job_id=job_id, status=JobStatus(status)) for job_id, status in member_statuses],
        webhook=WebhookInfo(url=record.webhook_url, status=record.webhook_status) if record.webhook_url else None,
    )


def get_batch(tenant_id: str, batch_id: str, jobs: BatchStore) -> BatchRecord:
    record = jobs.get_batch(tenant_id, batch_id) if is_batch_id(batch_id) else None
    if record is None:
        raise JobNotFoundError(batch_id[:64])
    return record


def read_batch(tenant_id: str, batch_id: str, *, jobs: BatchStore) -> BatchAnswer:
    """`GET /v1/batches/{id}`: the batch and each member's status, in item order."""
    record = get_batch(tenant_id, batch_id, jobs)
    members = jobs.member_ids(tenant_id, record.batch_id, record.member_range)
    return batch_view(record, jobs.statuses(tenant_id, members), members)


def settle_member(
    tenant_id: str,
    job_id: str,
    batch_id: str,
    completed: bool,
    *,
    jobs: BatchStore,
    deliver_batch_webhook: Callable[[str, str], object],
    now: Callable[[], str] = now_iso,
) -> bool:
    """Count a finished member (as its outcome event says) into its batch; when it was the last, complete the
    batch and send its webhook. True when this call completed the batch."""
    progress = jobs.count_batch_member(tenant_id, batch_id, job_id, completed)
    if not progress.finished:
        return False
    counts = {"completed": progress.completed, "failed": progress.failed}
    completed_now = jobs.finish_batch(tenant_id, batch_id, now(), counts)
    record = jobs.get_batch(tenant_id, batch_id)
    # Also when another event completed it but died before its first attempt: the delivery is opened once and
    # its first attempt made once, however many events get here.
    if record is not None and record.webhook_url and record.status.is_terminal:
        deliver_batch_webhook(tenant_id, batch_id)
    if completed_now:
        metrics.add_metric(name="BatchesCompleted", unit="Count", value=1)
        logger.info("batch completed", extra={"batch_id": batch_id, **counts})
    return completed_now
