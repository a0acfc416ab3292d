"""In-memory fakes of our own ports, for logic tests without I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shotwire_core.errors import StaleJobError
from shotwire_core.models import (
    DELIVERY_PREFIX,
    BatchRecord,
    CaptureOptions,
    DeliveryHistory,
    DeliveryRecord,
    ErrorCode,
    Job,
    JobStatus,
    Tenant,
    WebhookAttempt,
    WebhookStatus,
    delivery_key,
)
from shotwire_core.rendering import CaptureResult, DestinationGuard


@dataclass
class FakeJobs:
    items: dict[tuple[str, str], Job] = field(default_factory=dict)
    batches: dict[tuple[str, str], BatchRecord] = field(default_factory=dict)
    delivery_records: dict[tuple[str, str], DeliveryRecord] = field(default_factory=dict)
    attempts: dict[tuple[str, str], list[WebhookAttempt]] = field(default_factory=dict)

    def create(self, job: Job) -> None:
        self.items[(job.tenant_id, job.job_id)] = job

    def get(self, tenant_id: str, job_id: str) -> Job | None:
        return self.items.get((tenant_id, job_id))

    def get_batch(self, tenant_id: str, batch_id: str) -> BatchRecord | None:
        return self.batches.get((tenant_id, batch_id))

    def _set(self, tenant_id: str, job_id: str, **changes: Any) -> Job:
        job = self.items[(tenant_id, job_id)].model_copy(update=changes)
        self.items[(tenant_id, job_id)] = job
        return job

    def mark_processing(self, tenant_id: str, job_id: str, now: str) -> Job:
        if self.items[(tenant_id, job_id)].status.is_terminal:
            raise StaleJobError(job_id)
        return self._set(tenant_id, job_id, status=JobStatus.PROCESSING, started_at=now, updated_at=now)

    def mark_completed(self, tenant_id: str, job_id: str, now: str, result: dict[str, Any]) -> Job:
        fields = {
            "image_key": result["imageKey"],
            "image_width": result["imageWidth"],
            "image_height": result["imageHeight"],
            "image_bytes": result["imageBytes"],
        }
        return self._set(tenant_id, job_id, status=JobStatus.COMPLETED, completed_at=now, updated_at=now, **fields)

    def mark_failed(self, tenant_id: str, job_id: str, now: str, error: str, code: str = "internal_error") -> Job:
        return self._set(
            tenant_id,
            job_id,
            status=JobStatus.FAILED,
            completed_at=now,
            updated_at=now,
            error=error,
            error_code=ErrorCode(code),
        )

    # --- deliveries, as records of their own (adapters/dynamo.py) -----------------------------------------

    def open_delivery(self, record: DeliveryRecord) -> DeliveryRecord:
        return self.delivery_records.setdefault((record.tenant_id, record.key), record)

    def get_delivery(self, tenant_id: str, subject_id: str, number: int) -> DeliveryRecord | None:
        return self.delivery_records.get((tenant_id, delivery_key(subject_id, number)))

    def deliveries(self, tenant_id: str, subject_id: str) -> DeliveryHistory:
        prefix = f"{DELIVERY_PREFIX}{subject_id}#"
        return [
            (record, list(self.attempts.get((tenant, key), [])))
            for (tenant, key), record in sorted(self.delivery_records.items())
            if tenant == tenant_id and key.startswith(prefix)
        ]

    def record_delivery_attempt(
        self, record: DeliveryRecord, attempt: WebhookAttempt, status: WebhookStatus, now: str
    ) -> None:
        stored = self.delivery_records[(record.tenant_id, record.key)]
        if stored.superseded or stored.attempt_count != record.attempt_count:
            raise StaleJobError(f"delivery {record.webhook_id} moved on")
        self.delivery_records[(record.tenant_id, record.key)] = stored.model_copy(
            update={"status": status, "attempt_count": stored.attempt_count + 1, "updated_at": now}
        )
        self.attempts.setdefault((record.tenant_id, record.key), []).append(attempt)
        job = self.items.get((record.tenant_id, record.subject_id))
        if job is not None and job.delivery_number == record.number:
            self._set(record.tenant_id, record.subject_id, webhook_status=status)

    def attempts_of(self, tenant_id: str, subject_id: str, number: int = 1) -> list[WebhookAttempt]:
        """The attempts of one delivery (a test's view)."""
        return self.attempts.get((tenant_id, delivery_key(subject_id, number)), [])


@dataclass
class FakeTenants:
    tenants: dict[str, Tenant] = field(default_factory=dict)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)


@dataclass
class FakeQueue:
    sent: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        self.sent.append((body, delay_seconds))


@dataclass
class FakeBus:
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.published.append((detail_type, detail))


@dataclass
class FakeImages:
    stored: dict[str, bytes] = field(default_factory=dict)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.stored[key] = data

    def download_url(self, key: str, ttl_seconds: int) -> str:
        return f"https://images.test/{key}?ttl={ttl_seconds}"


@dataclass
class FakeCapturer:
    """Answers every capture with a small JPEG, or raises `error`; remembers each call's deadline."""

    error: Exception | None = None
    deadlines: list[float | None] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.deadlines)

    def capture(
        self, options: CaptureOptions, *, guard: DestinationGuard | None, not_after: float | None = None
    ) -> CaptureResult:
        self.deadlines.append(not_after)
        if self.error:
            raise self.error
        return CaptureResult(b"\xff\xd8jpeg", options.width, 1234, options.url, 200, "Example")
