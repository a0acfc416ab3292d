"""In-memory fakes of our own ports, for logic tests without I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shotwire_core.adapters.browser import CaptureResult, DestinationGuard
from shotwire_core.errors import StaleJobError
from shotwire_core.models import CaptureOptions, ErrorCode, Job, JobStatus, Tenant, WebhookAttempt, WebhookStatus


@dataclass
class FakeJobs:
    items: dict[tuple[str, str], Job] = field(default_factory=dict)

    def create(self, job: Job) -> None:
        self.items[(job.tenant_id, job.job_id)] = job

    def get(self, tenant_id: str, job_id: str) -> Job | None:
        return self.items.get((tenant_id, job_id))

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

    def record_webhook_attempt(
        self,
        tenant_id: str,
        job_id: str,
        attempt: WebhookAttempt,
        status: WebhookStatus,
        now: str,
        delivery: int = 1,
    ) -> Job:
        job = self.items[(tenant_id, job_id)]
        if job.delivery_number != delivery:
            raise StaleJobError(f"job {job_id} was not in the expected state")
        return self._set(tenant_id, job_id, webhook_status=status, webhook_attempts=[*job.webhook_attempts, attempt])


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
