"""Submitting screenshot jobs, authenticating callers and shaping a job for its readers."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from shotwire_contract.answers import (
    CaptureAnswer,
    DeliveriesAnswer,
    Delivery,
    JobAnswer,
    JobPage,
    WebhookInfo,
)
from shotwire_contract.limits import MAX_WAIT_SECONDS
from shotwire_core.clock import iso, utc_now
from shotwire_core.errors import (
    AuthenticationError,
    ConflictError,
    FieldProblem,
    InvalidRequestError,
    JobNotFoundError,
)
from shotwire_core.ids import hash_api_key, is_job_id, new_job_id, webhook_message_id
from shotwire_core.models import (
    FILE_EXTENSIONS,
    BatchRecord,
    CaptureMessage,
    DeliveryHistory,
    ErrorCode,
    Job,
    JobFace,
    JobStatus,
    ScreenshotRequest,
    WebhookStatus,
    capture_options,
)
from shotwire_core.netguard import BlockedDestinationError, check_submitted_url
from shotwire_core.observability import logger, metrics


class JobWriter(Protocol):
    def create(self, job: Job) -> None: ...
    def get(self, tenant_id: str, job_id: str) -> Job | None: ...
    def mark_failed(self, tenant_id: str, job_id: str, now: str, error: str) -> Job: ...


class KeyReader(Protocol):
    def tenant_for_key(self, key_hash: str) -> str | None: ...


class MessageSender(Protocol):
    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None: ...


class LinkSigner(Protocol):
    def download_url(self, key: str, ttl_seconds: int) -> str: ...


def authenticate(api_key: str | None, keys: KeyReader) -> str:
    """The tenant that owns this key; only the key's hash is ever looked up."""
    if not api_key:
        raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
    tenant_id = keys.tenant_for_key(hash_api_key(api_key))
    if tenant_id is None:
        raise AuthenticationError("invalid or revoked API key")
    return tenant_id


class JobReader(Protocol):
    def get(self, tenant_id: str, job_id: str) -> Job | None: ...


class JobLister(Protocol):
    def list_recent(
        self, tenant_id: str, limit: int, before_job_id: str | None = None, status: str | None = None
    ) -> tuple[list[Job], bool]: ...


class JobRemover(Protocol):
    def get(self, tenant_id: str, job_id: str) -> Job | None: ...
    def delete(self, tenant_id: str, job_id: str) -> None: ...


class ImageRemover(Protocol):
    def delete(self, key: str) -> None: ...


WAIT_POLL_SECONDS = 0.2
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d{1,6})(?:$|[,;\s])", re.IGNORECASE)


def requested_wait(query_wait: int | None, prefer_header: str | None) -> tuple[int, bool]:
    """Seconds to wait for the result, and whether it came from `Prefer: wait=N` (RFC 7240). An explicit
    `?wait=` is validated by the route (0-25); a preference above the limit is honoured up to it."""
    if query_wait is not None:
        return query_wait, False
    match = _PREFER_WAIT.search(prefer_header or "")
    if match is None:
        return 0, False
    return min(int(match.group(1)), MAX_WAIT_SECONDS), True


def wait_for_job(
    tenant_id: str,
    job_id: str,
    jobs: JobReader,
    seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Job:
    """The job once it has finished, or as it stands when `seconds` have passed. The capture runs where it
    always does (the queue and the capture function); this only watches the job record."""
    deadline = clock() + seconds
    while True:
        job = get_job(tenant_id, job_id, jobs)
        if job.status.is_terminal or clock() + WAIT_POLL_SECONDS > deadline:
            return job
        sleep(WAIT_POLL_SECONDS)


def encode_cursor(job_id: str) -> str:
    """An opaque page cursor: where the next page starts (it holds no tenant, so it cannot cross tenants)."""
    return base64.urlsafe_b64encode(job_id.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        job_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        job_id = ""
    if not is_job_id(job_id):
        raise InvalidRequestError(
            [FieldProblem("cursor", "invalid_cursor", "cursor must be a nextCursor value from an earlier page")]
        )
    return job_id


def list_jobs(
    tenant_id: str,
    *,
    jobs: JobLister,
    links: LinkSigner,
    ttl_seconds: int,
    limit: int,
    cursor: str | None = None,
    status: JobStatus | None = None,
) -> JobPage:
    """`GET /v1/screenshots`: the tenant's jobs newest first, a page at a time."""
    before = decode_cursor(cursor) if cursor else None
    found, more = jobs.list_recent(tenant_id, limit, before, status.value if status else None)
    return JobPage(
        data=[job_view(job, links, ttl_seconds, None) for job in found],
        next_cursor=encode_cursor(found[-1].job_id) if more and found else None,
    )


def delete_job(tenant_id: str, job_id: str, *, jobs: JobRemover, images: ImageRemover) -> None:
    """Delete a finished job and its image. A job still queued or rendering cannot be deleted (its capture
    would store an image nobody owns); wait for it to finish."""
    job = get_job(tenant_id, job_id, jobs)
    if not job.status.is_terminal:
        raise ConflictError(f"job {job_id} is still {job.status.value}; delete it once it has finished")
    if job.image_key:
        images.delete(job.image_key)
    jobs.delete(tenant_id, job_id)
    logger.info("job deleted", extra={"job_id": job_id, "tenant_id": tenant_id})


def image_key(tenant_id: str, job_id: str, image_format: str) -> str:
    return f"{tenant_id}/{job_id}.{FILE_EXTENSIONS[image_format]}"


def _check_destination(url: str, field: str, allow_private: bool, allowed_hosts: frozenset[str]) -> None:
    """Refuse on sight what could never be fetched: other schemes, userinfo, internal addresses and names."""
    try:
        check_submitted_url(url, allow_private=allow_private, allowed_hosts=allowed_hosts)
    except BlockedDestinationError as error:
        rule = "blocked_url" if error.code in ("blocked_address", "host") else error.code
        raise InvalidRequestError([FieldProblem(field, rule, f"{field} is not allowed: {error.reason}")]) from error


def check_webhook_url(url: str, field: str, allow_private: bool, allowed_hosts: frozenset[str]) -> None:
    """A webhook target: as any destination, and `https` unless private networks or this host are allowed.

    Plain `http` would carry the signed body and the image link in the clear; locally (or to a host
    named in SHOTWIRE_ALLOWED_HOSTS) it is fine.
    """
    _check_destination(url, field, allow_private, allowed_hosts)
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" and not allow_private:
        port = parts.port or 80
        if f"{(parts.hostname or '').lower().rstrip('.')}:{port}" not in allowed_hosts:
            raise InvalidRequestError([FieldProblem(field, "https_required", f"{field} must use https")])


@dataclass(frozen=True)
class SubmissionRules:
    """What the service allows and assumes for new jobs (read from the settings)."""

    allow_private: bool
    retention_days: int
    allowed_hosts: frozenset[str] = frozenset()
    default_timeout_ms: int = 30_000


def submit_screenshot(
    tenant_id: str,
    request: ScreenshotRequest,
    *,
    jobs: JobWriter,
    capture_queue: MessageSender,
    rules: SubmissionRules,
    face: JobFace = "screenshots",
) -> Job:
    """Record the job as queued, then hand it to the capture queue."""
    job = new_job(tenant_id, request, rules, face=face)
    jobs.create(job)
    try:
        capture_queue.send(CaptureMessage(tenant_id=tenant_id, job_id=job.job_id).model_dump())
    except Exception:
        # Never leave a job that claims to be queued when nothing will ever capture it.
        jobs.mark_failed(tenant_id, job.job_id, iso(utc_now()), "internal error: the job could not be queued")
        raise
    metrics.add_metric(name="ScreenshotsSubmitted", unit="Count", value=1)
    logger.info("job queued", extra={"job_id": job.job_id, "tenant_id": tenant_id})
    return job


def destination_problems(
    request: ScreenshotRequest,
    rules: SubmissionRules,
    *,
    field_prefix: str = "",
    face: JobFace = "screenshots",
    checked_webhook: str | None = None,
) -> list[FieldProblem]:
    """What is wrong with a request's page and webhook URL, both checked; a webhook URL equal to
    `checked_webhook` (a batch's default, already named as `defaults.webhookUrl`) is not checked again."""
    problems: list[FieldProblem] = []
    try:
        _check_destination(request.url, f"{field_prefix}url", rules.allow_private, rules.allowed_hosts)
    except InvalidRequestError as error:
        problems += error.problems
    if request.webhook_url is not None and request.webhook_url != checked_webhook:
        field = f"{field_prefix}{'callback_url' if face == 'capture' else 'webhookUrl'}"
        try:
            check_webhook_url(request.webhook_url, field, rules.allow_private, rules.allowed_hosts)
        except InvalidRequestError as error:
            problems += error.problems
    return problems


def new_job(
    tenant_id: str,
    request: ScreenshotRequest,
    rules: SubmissionRules,
    *,
    face: JobFace = "screenshots",
) -> Job:
    """A queued job for a request, after the checks the model alone cannot make (SSRF, https)."""
    problems = destination_problems(request, rules, face=face)
    if problems:
        raise InvalidRequestError(problems)
    return queued_job(tenant_id, request, rules, face=face)


def queued_job(
    tenant_id: str,
    request: ScreenshotRequest,
    rules: SubmissionRules,
    *,
    face: JobFace = "screenshots",
    batch_id: str | None = None,
    job_id: str | None = None,
) -> Job:
    """The job record of a request whose destinations were checked already (new_job, or a batch's members,
    checked all together). `job_id`: one made beforehand (a batch hands out its ids in item order), else a
    new one."""
    now = utc_now()
    return Job(
        tenant_id=tenant_id,
        job_id=job_id or new_job_id(int(now.timestamp() * 1000)),
        status=JobStatus.QUEUED,
        options=capture_options(request, rules.default_timeout_ms),
        webhook_url=request.webhook_url,
        metadata=request.metadata,
        external_id=request.external_id,
        face=face,
        batch_id=batch_id,
        webhook_status=WebhookStatus.PENDING if request.webhook_url else None,
        created_at=iso(now),
        updated_at=iso(now),
        expires_at=int((now + timedelta(days=rules.retention_days)).timestamp()),
    )


def get_job(tenant_id: str, job_id: str, jobs: JobReader) -> Job:
    # Anything not shaped like our ids cannot exist; refusing it early also keeps oversized keys away
    # from DynamoDB, which would answer them with a validation error rather than "not found".
    if not is_job_id(job_id):
        raise JobNotFoundError(job_id[:64])
    job = jobs.get(tenant_id, job_id)
    if job is None:
        raise JobNotFoundError(job_id)
    return job


def _result_metadata(job: Job) -> dict[str, Any]:
    """What the capture found out, shared by the job view and the webhook."""
    metadata: dict[str, Any] = {
        "finalUrl": job.final_url,
        "httpStatus": job.http_status,
        "title": job.title,
        "bytes": job.image_bytes,
        "truncated": job.truncated,
        "warnings": job.warnings or None,
        "timings": job.timings or None,
    }
    return {key: value for key, value in metadata.items() if value is not None}


def job_view(job: Job, links: LinkSigner, ttl_seconds: int, deliveries: DeliveryHistory | None) -> JobAnswer:
    """The job as the API returns it; a completed job gets a freshly signed download link each time. With its
    `deliveries` (GET of one job), its webhook shows the current delivery's attempts; a list leaves them out."""
    view: dict[str, Any] = {
        "jobId": job.job_id,
        "status": job.status,
        "url": job.options.url,
        "width": job.result_width,
        "height": job.result_height,
        "format": job.options.format,
        "fullPage": job.options.full_page,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
        "startedAt": job.started_at,
        "completedAt": job.completed_at,
        "request": job.options.echo(),
        "batchId": job.batch_id,
        **_caller_fields(job),
    }
    if job.status is JobStatus.COMPLETED and job.image_key:
        view["screenshotUrl"] = links.download_url(job.image_key, ttl_seconds)
        view["imageBytes"] = job.image_bytes
        view.update(_result_metadata(job))
    if job.status is JobStatus.FAILED:
        view["error"] = job.error
        view["errorCode"] = job.error_code or ErrorCode.INTERNAL_ERROR
    if job.webhook_url:
        attempts = None
        if deliveries is not None:
            current = [tried for record, tried in deliveries if record.number == job.delivery_number]
            attempts = current[0] if current else []
        view["webhook"] = WebhookInfo(url=job.webhook_url, status=job.webhook_status, attempts=attempts)
    return JobAnswer.model_validate(view)


def webhook_body(job: Job, screenshot_url: str | None) -> dict[str, Any]:
    """The webhook contract, in the field order receivers of the existing services see, then metadata."""
    if job.face == "capture":
        return capture_view(job, screenshot_url).to_json()
    body: dict[str, Any] = {"jobId": job.job_id, "status": job.status.value}
    if job.status is JobStatus.COMPLETED:
        body["screenshotUrl"] = screenshot_url
    else:
        body["error"] = job.error or "capture failed"
    body.update(
        {
            "url": job.options.url,
            "width": job.result_width,
            "height": job.result_height,
            "format": job.options.format,
            "capturedAt": job.completed_at or job.updated_at,
        }
    )
    if job.status is JobStatus.COMPLETED:
        body.update(_result_metadata(job))
    else:
        body["errorCode"] = (job.error_code or ErrorCode.INTERNAL_ERROR).value
    body.update(_caller_fields(job))
    return body


def batch_completed_body(record: BatchRecord) -> dict[str, Any]:
    """The `batch.completed` webhook of a batch (see shotwire_core.batches)."""
    return {
        "type": "batch.completed",
        "batchId": record.batch_id,
        "status": "completed",
        "total": record.total,
        "counts": record.counts or {},
        "createdAt": record.created_at,
        "completedAt": record.completed_at,
    }


CAPTURE_ID_PREFIX = "cap_"
_CAPTURE_STATUS = {
    JobStatus.QUEUED: "accepted",
    JobStatus.PROCESSING: "processing",
    JobStatus.COMPLETED: "success",
    JobStatus.FAILED: "failed",
}


def capture_id(job_id: str) -> str:
    return CAPTURE_ID_PREFIX + job_id.removeprefix("job_")


def job_id_of_capture(capture: str) -> str:
    """The job behind a capture id; anything else maps to an id that cannot exist (a 404, not a 500)."""
    return "job_" + capture.removeprefix(CAPTURE_ID_PREFIX) if capture.startswith(CAPTURE_ID_PREFIX) else capture[:64]


def capture_view(job: Job, image_url: str | None) -> CaptureAnswer:
    """The capture-style face of a job: the webhook body of `POST /v1/capture` jobs and `GET /v1/capture/{id}`."""
    return CaptureAnswer(
        capture_id=capture_id(job.job_id),
        status=_CAPTURE_STATUS[job.status],
        image=image_url if job.status is JobStatus.COMPLETED else None,
        width=job.result_width,
        height=job.result_height,
        format=job.options.format,
        captured_at=(job.completed_at or job.updated_at) if job.status.is_terminal else None,
        error=(job.error or "capture failed") if job.status is JobStatus.FAILED else None,
    )


def _caller_fields(job: Job) -> dict[str, Any]:
    """What the caller attached to the job, handed back wherever the job is shown."""
    fields: dict[str, Any] = {}
    if job.external_id is not None:
        fields["externalId"] = job.external_id
    if job.metadata is not None:
        fields["metadata"] = job.metadata
    return fields


def delivery_view(job: Job, deliveries: DeliveryHistory) -> DeliveriesAnswer:
    """`GET /v1/screenshots/{id}/deliveries`: every delivery of the job's outcome, oldest first, with each
    attempt made. A finished job whose first attempt has not been made yet shows its delivery as pending."""
    shown = [
        Delivery(
            webhook_id=record.webhook_id,
            url=record.url,
            status=record.status,
            attempts=attempts,
            superseded=record.superseded,
        )
        for record, attempts in deliveries
    ]
    if job.webhook_url and not any(record.number == job.delivery_number for record, _ in deliveries):
        shown.append(
            Delivery(
                webhook_id=webhook_message_id(job.job_id, job.delivery_number),
                url=job.webhook_url,
                status=job.webhook_status or WebhookStatus.PENDING,
                attempts=[],
            )
        )
    return DeliveriesAnswer(job_id=job.job_id, deliveries=shown)
