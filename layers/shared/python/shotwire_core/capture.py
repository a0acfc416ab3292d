"""Running one capture job: claim it, capture, store, record the outcome and announce it on the bus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from shotwire_core.clock import now_iso
from shotwire_core.config import DETAIL_TYPE_COMPLETED, DETAIL_TYPE_FAILED
from shotwire_core.jobs import image_key
from shotwire_core.models import CONTENT_TYPES, CaptureMessage, CaptureOptions, ErrorCode, Job, JobStatus, OutcomeDetail
from shotwire_core.netguard import check_destination
from shotwire_core.observability import logger, metrics
from shotwire_core.rendering import CaptureError, CaptureResult, DestinationGuard


class JobUpdater(Protocol):
    def get(self, tenant_id: str, job_id: str) -> Job | None: ...
    def mark_processing(self, tenant_id: str, job_id: str, now: str) -> Job: ...
    def mark_completed(self, tenant_id: str, job_id: str, now: str, result: dict[str, Any]) -> Job: ...
    def mark_failed(self, tenant_id: str, job_id: str, now: str, error: str, code: str = ...) -> Job: ...


class Capturer(Protocol):
    """Captures a page, answering by `not_after` (a time.monotonic() instant; None: no deadline). A capture
    it had to cut short raises a transient CaptureError: the job is tried again rather than failed."""

    def capture(
        self, options: CaptureOptions, *, guard: DestinationGuard | None, not_after: float | None = None
    ) -> CaptureResult: ...


class ImageWriter(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


def outcome_event(job: Job) -> tuple[str, dict[str, Any]]:
    detail_type = DETAIL_TYPE_COMPLETED if job.status is JobStatus.COMPLETED else DETAIL_TYPE_FAILED
    detail = OutcomeDetail(
        tenant_id=job.tenant_id,
        job_id=job.job_id,
        status=job.status,
        error=job.error,
        error_code=job.error_code,
        image_key=job.image_key,
        width=job.result_width,
        height=job.result_height,
        format=job.options.format,
        batch_id=job.batch_id,
    )
    return detail_type, detail.model_dump(mode="json", exclude_none=True)


def destination_guard(allow_private: bool, allowed_hosts: frozenset[str] = frozenset()) -> DestinationGuard | None:
    """The check applied to the page and every request it makes; none when private networks are allowed."""
    if allow_private:
        return None

    def guard(url: str) -> list[Any]:
        return check_destination(url, allow_private=False, allowed_hosts=allowed_hosts)

    return guard


def _millis_between(start_iso: str, end_iso: str) -> int:
    from datetime import datetime

    start = datetime.fromisoformat(start_iso.replace("Z", "+00:00"))
    end = datetime.fromisoformat(end_iso.replace("Z", "+00:00"))
    return max(0, int((end - start).total_seconds() * 1000))


def run_capture(
    message: CaptureMessage,
    *,
    jobs: JobUpdater,
    capturer: Capturer,
    images: ImageWriter,
    bus: EventPublisher,
    allow_private: bool,
    allowed_hosts: frozenset[str] = frozenset(),
    not_after: float | None = None,
) -> Job | None:
    """Capture one job. Permanent failures end the job as `failed`; transient ones raise for an SQS retry.

    `not_after` (a time.monotonic() instant) is when the capture must have given up, leaving the caller the
    time to record and announce the outcome.

    A job that is already finished is announced again instead of captured again: the message was
    redelivered, possibly because the previous run died between storing the outcome and publishing it.
    """
    job = jobs.get(message.tenant_id, message.job_id)
    if job is None:
        logger.warning("capture message for a job that does not exist", extra={"job_id": message.job_id})
        return None
    if job.status.is_terminal:
        bus.publish(*outcome_event(job))
        return job

    job = jobs.mark_processing(job.tenant_id, job.job_id, now_iso())
    try:
        guard = destination_guard(allow_private, allowed_hosts)
        result = capturer.capture(job.options, guard=guard, not_after=not_after)
    except CaptureError as error:
        if error.code.transient:
            raise  # SQS delivers the message again; the last delivery fails the job (abandon_capture)
        return fail_job(job, error.message, error.code, jobs=jobs, bus=bus)

    key = image_key(job.tenant_id, job.job_id, job.options.format)
    images.put(key, result.image, CONTENT_TYPES[job.options.format])
    finished = now_iso()
    job = jobs.mark_completed(job.tenant_id, job.job_id, finished, _result_fields(job, key, result, finished))
    bus.publish(*outcome_event(job))
    metrics.add_metric(name="CapturesCompleted", unit="Count", value=1)
    metrics.add_metric(name="CaptureDuration", unit="Milliseconds", value=result.navigation_ms + result.capture_ms)
    logger.info("capture completed", extra={"job_id": job.job_id, "bytes": len(result.image)})
    return job


def _result_fields(job: Job, key: str, result: CaptureResult, finished: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "imageKey": key,
        "imageWidth": result.width,
        "imageHeight": result.height,
        "imageBytes": len(result.image),
        "finalUrl": result.final_url,
        "title": result.title[:500],
        "truncated": result.truncated,
        "warnings": list(result.warnings),
        "timings": {
            "queuedMs": _millis_between(job.created_at, job.started_at or finished),
            "navigationMs": result.navigation_ms,
            "captureMs": result.capture_ms,
            "totalMs": _millis_between(job.created_at, finished),
        },
    }
    if result.http_status is not None:
        fields["httpStatus"] = result.http_status
    return fields


def fail_job(job: Job, reason: str, code: ErrorCode, *, jobs: JobUpdater, bus: EventPublisher) -> Job:
    """End a job as failed and announce it, so its owner hears about it rather than nothing."""
    failed = jobs.mark_failed(job.tenant_id, job.job_id, now_iso(), reason, code.value)
    bus.publish(*outcome_event(failed))
    metrics.add_metric(name="CapturesFailed", unit="Count", value=1)
    logger.info("capture failed", extra={"job_id": job.job_id, "reason": reason, "code": code.value})
    return failed


def abandon_capture(
    message: CaptureMessage, reason: str, code: ErrorCode, *, jobs: JobUpdater, bus: EventPublisher
) -> Job | None:
    """The last delivery of a capture message failed too: end the job as failed instead of going silent."""
    job = jobs.get(message.tenant_id, message.job_id)
    if job is None:
        return None
    if job.status.is_terminal:
        bus.publish(*outcome_event(job))
        return job
    return fail_job(job, reason, code, jobs=jobs, bus=bus)


# A failed capture is tried again after 30 s, then 60 s (capture_max_receive_count tries in all).
RETRY_BACKOFF_SECONDS = 30


def after_failed_attempt(
    message: CaptureMessage,
    error: Exception,
    receives: int,
    *,
    max_receives: int,
    jobs: JobUpdater,
    bus: EventPublisher,
    redeliver_after: Callable[[int], None],
) -> bool:
    """A capture attempt raised (a transient failure). True: the message should come back, after a backoff that
    grows with each try rather than the queue's visibility timeout (6 x the function's, 45 min, which is there
    for throttled batches). False: that was its last try, and the job has been failed with the reason."""
    if receives < max_receives:
        try:
            redeliver_after(RETRY_BACKOFF_SECONDS * receives)
        except Exception:
            # Not fatal: the message still comes back, only after the visibility timeout instead.
            logger.warning("could not shorten the redelivery backoff", exc_info=True)
        return True
    logger.error("capture failed on its last delivery", exc_info=error, extra={"receives": receives})
    if isinstance(error, CaptureError):
        code, reason = error.code, f"{error.message} (after {receives} attempts)"
    else:
        code = ErrorCode.INTERNAL_ERROR
        reason = f"internal error: capture failed {receives} times ({type(error).__name__})"
    abandon_capture(message, reason, code, jobs=jobs, bus=bus)
    return False
