"""Batches and deliveries in the jobs table (moto): the records the dispatcher reads and writes, through the real
adapter, and the batch's path to its webhook with no retry needed (a write that returned the wrong model once
failed the first invocation of every batch's last member)."""

from __future__ import annotations

import pytest

from shotwire_core.adapters.dynamo import JobTable
from shotwire_core.batches import settle_member
from shotwire_core.delivery import new_delivery, open_delivery
from shotwire_core.errors import StaleJobError
from shotwire_core.ids import new_batch_id, new_job_id
from shotwire_core.models import (
    BatchRecord,
    CaptureOptions,
    Job,
    JobStatus,
    WebhookAttempt,
    WebhookStatus,
)

NOW = "2026-12-03T10:00:00.000Z"


@pytest.fixture
def jobs(jobs_table_name: str) -> JobTable:
    return JobTable(jobs_table_name)


def finished_job(jobs: JobTable, webhook: str | None = "https://hooks.test/in") -> Job:
    job = Job(
        tenant_id="t",
        job_id=new_job_id(),
        status=JobStatus.COMPLETED,
        options=CaptureOptions(url="https://example.com/"),
        webhook_url=webhook,
        webhook_status=WebhookStatus.PENDING if webhook else None,
        created_at=NOW,
        updated_at=NOW,
        image_key="t/x.png",
        expires_at=2_000_000_000,
    )
    jobs.create(job)
    return job


def test_the_last_member_completes_its_batch_and_opens_its_delivery_at_once(jobs: JobTable) -> None:
    batch = BatchRecord(
        tenant_id="t",
        batch_id=new_batch_id(),
        total=2,
        member_range=("job_a", "job_b"),
        webhook_url="https://hooks.test/batch",
        webhook_status=WebhookStatus.PENDING,
        created_at=NOW,
        updated_at=NOW,
    )
    jobs.create_batch(batch)
    delivered: list[str] = []

    def deliver(tenant: str, subject: str) -> None:
        record = open_delivery(tenant, subject, jobs=jobs)
        assert record is not None
        delivered.append(record.payload)

    assert not settle_member("t", "job_a", batch.batch_id, True, jobs=jobs, deliver_batch_webhook=deliver)
    assert settle_member("t", "job_b", batch.batch_id, False, jobs=jobs, deliver_batch_webhook=deliver)
    finished = jobs.get_batch("t", batch.batch_id)
    assert finished is not None and finished.status is JobStatus.COMPLETED
    assert finished.counts == {"completed": 1, "failed": 1}
    (payload,) = delivered
    assert (
        payload.startswith('{"type":"batch.completed","batchId":"bat_')
        and '"counts":{"completed":1,"failed":1}' in payload
    )
    # The same event again (at-least-once): the batch is not completed twice, its delivery opened once.
    assert not settle_member("t", "job_b", batch.batch_id, False, jobs=jobs, deliver_batch_webhook=deliver)
    assert len(jobs.deliveries("t", batch.batch_id)) == 1


def test_a_delivery_records_its_attempts_beside_it_and_a_superseded_one_records_nothing(jobs: JobTable) -> None:
    job = finished_job(jobs)
    record = open_delivery("t", job.job_id, jobs=jobs)
    assert record is not None and jobs.open_delivery(record) == record  # opening again changes nothing
    attempt = WebhookAttempt(attempt=1, at=NOW, status_code=500, error_class="http_status", duration_ms=3)
    jobs.record_delivery_attempt(record, attempt, WebhookStatus.RETRYING, NOW)
    with pytest.raises(StaleJobError):  # a second writer that read the same count loses
        jobs.record_delivery_attempt(record, attempt, WebhookStatus.RETRYING, NOW)
    stored = jobs.get("t", job.job_id)
    assert stored is not None and stored.webhook_status is WebhookStatus.RETRYING

    moved_on = jobs.start_redelivery(stored, NOW)
    jobs.supersede_delivery("t", job.job_id, 1, NOW)
    second = jobs.open_delivery(new_delivery(moved_on, moved_on.delivery_number, NOW))
    current = jobs.get_delivery("t", job.job_id, 1)
    assert current is not None
    with pytest.raises(StaleJobError):
        jobs.record_delivery_attempt(current, attempt, WebhookStatus.DELIVERED, NOW)
    history = jobs.deliveries("t", job.job_id)
    assert [(r.number, r.superseded, [a.status_code for a in tried]) for r, tried in history] == [
        (1, True, [500]),
        (2, False, []),
    ]
    assert second.webhook_id.endswith("_2") and all(r.expires_at == 2_000_000_000 for r, _ in history)

    jobs.delete("t", job.job_id)  # the job's deliveries and attempts go with it
    assert jobs.deliveries("t", job.job_id) == [] and jobs.get("t", job.job_id) is None


def test_a_redrive_sets_a_parked_delivery_pending_once(jobs: JobTable) -> None:
    job = finished_job(jobs)
    record = open_delivery("t", job.job_id, jobs=jobs)
    assert record is not None
    attempt = WebhookAttempt(attempt=10, at=NOW, status_code=503, error_class="http_status", duration_ms=3)
    jobs.record_delivery_attempt(record, attempt, WebhookStatus.FAILED, NOW)
    reopened = jobs.reopen_delivery("t", job.job_id, 1, NOW)
    assert reopened.status is WebhookStatus.PENDING and reopened.attempt_count == 1
    stored = jobs.get("t", job.job_id)
    assert stored is not None and stored.webhook_status is WebhookStatus.PENDING
    jobs.record_delivery_attempt(reopened, attempt, WebhookStatus.DELIVERED, NOW)
    with pytest.raises(StaleJobError):  # delivered: nothing to redrive
        jobs.reopen_delivery("t", job.job_id, 1, NOW)
