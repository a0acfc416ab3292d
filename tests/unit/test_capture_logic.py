"""Capture logic with fakes: outcomes, redelivery after a crash, and giving up loudly."""

from __future__ import annotations

import time

import pytest

from shotwire_core.adapters.browser import OUT_OF_TIME, CaptureError
from shotwire_core.capture import abandon_capture, run_capture
from shotwire_core.config import DETAIL_TYPE_COMPLETED, DETAIL_TYPE_FAILED
from shotwire_core.models import CaptureMessage, CaptureOptions, ErrorCode, Job, JobStatus
from tests.unit.fakes import FakeBus, FakeCapturer, FakeImages, FakeJobs

MESSAGE = CaptureMessage(tenant_id="t1", job_id="job_1")


def _queued() -> Job:
    return Job(
        tenant_id="t1",
        job_id="job_1",
        status=JobStatus.QUEUED,
        options=CaptureOptions(url="https://example.com", width=800, height=600, format="jpeg"),
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
    )


def _run(
    jobs: FakeJobs,
    capturer: FakeCapturer,
    bus: FakeBus,
    images: FakeImages | None = None,
    not_after: float | None = None,
) -> Job | None:
    return run_capture(
        MESSAGE,
        jobs=jobs,
        capturer=capturer,
        images=images or FakeImages(),
        bus=bus,
        allow_private=False,
        not_after=not_after,
    )


def test_success_stores_the_image_and_announces_it() -> None:
    jobs, bus, images = FakeJobs(), FakeBus(), FakeImages()
    jobs.create(_queued())
    job = _run(jobs, FakeCapturer(), bus, images)
    assert job is not None and job.status is JobStatus.COMPLETED
    assert images.stored == {"t1/job_1.jpg": b"\xff\xd8jpeg"}
    ((detail_type, detail),) = bus.published
    assert detail_type == DETAIL_TYPE_COMPLETED
    assert detail == {
        "tenantId": "t1",
        "jobId": "job_1",
        "status": "completed",
        "imageKey": "t1/job_1.jpg",
        "width": 800,
        "height": 1234,
        "format": "jpeg",
    }


def test_page_failure_fails_the_job_without_raising() -> None:
    jobs, bus = FakeJobs(), FakeBus()
    jobs.create(_queued())
    error = CaptureError(ErrorCode.DNS_ERROR, "could not resolve the host of https://example.com")
    job = _run(jobs, FakeCapturer(error), bus)
    assert job is not None and job.status is JobStatus.FAILED and job.error == error.message
    assert job.error_code is ErrorCode.DNS_ERROR
    assert bus.published[0][0] == DETAIL_TYPE_FAILED
    assert bus.published[0][1]["errorCode"] == "dns_error"


def test_transient_failure_raises_for_a_retry() -> None:
    jobs, bus = FakeJobs(), FakeBus()
    jobs.create(_queued())
    with pytest.raises(CaptureError):
        _run(jobs, FakeCapturer(CaptureError(ErrorCode.BROWSER_CRASH, "crashed")), bus)
    job = jobs.get("t1", "job_1")
    assert job is not None and job.status is JobStatus.PROCESSING and bus.published == []


def test_redelivered_message_for_a_finished_job_reannounces_instead_of_recapturing() -> None:
    # The previous run stored the outcome and died before publishing it.
    jobs, bus, capturer = FakeJobs(), FakeBus(), FakeCapturer()
    jobs.create(_queued())
    _run(jobs, capturer, FakeBus())
    _run(jobs, capturer, bus)
    assert capturer.calls == 1
    assert [d for d, _ in bus.published] == [DETAIL_TYPE_COMPLETED]


def test_abandoning_a_job_fails_it_and_announces_it() -> None:
    jobs, bus = FakeJobs(), FakeBus()
    jobs.create(_queued())
    job = abandon_capture(
        MESSAGE, "internal error: capture failed 3 times", ErrorCode.INTERNAL_ERROR, jobs=jobs, bus=bus
    )
    assert job is not None and job.status is JobStatus.FAILED
    assert bus.published[0][1]["error"] == "internal error: capture failed 3 times"


def test_the_invocation_deadline_reaches_the_capturer() -> None:
    jobs, capturer = FakeJobs(), FakeCapturer()
    jobs.create(_queued())
    not_after = time.monotonic() + 30
    _run(jobs, capturer, FakeBus(), not_after=not_after)
    assert capturer.deadlines == [not_after]


def test_a_capture_cut_short_by_the_invocation_is_retried_not_failed() -> None:
    # Given a capture the engine ended because the invocation ran out of time (not the page's fault)
    jobs, bus = FakeJobs(), FakeBus()
    jobs.create(_queued())
    error = CaptureError(ErrorCode.INTERNAL_ERROR, OUT_OF_TIME)
    # When it is run, Then it raises for SQS to deliver it again, and the job waits for that
    with pytest.raises(CaptureError):
        _run(jobs, FakeCapturer(error), bus, not_after=time.monotonic() + 1)
    job = jobs.get("t1", "job_1")
    assert job is not None and job.status is JobStatus.PROCESSING and bus.published == []


def test_options_the_browser_refuses_fail_the_job_for_good() -> None:
    jobs, bus = FakeJobs(), FakeBus()
    jobs.create(_queued())
    error = CaptureError(ErrorCode.INVALID_OPTIONS, "cookies: Invalid cookie fields")
    job = _run(jobs, FakeCapturer(error), bus)
    assert job is not None and job.status is JobStatus.FAILED and job.error_code is ErrorCode.INVALID_OPTIONS
    assert bus.published[0][1]["error"] == "cookies: Invalid cookie fields"
