"""Tenant-facing webhook operations: rotate the signing secret, and send a signed test event."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from shotwire_contract.answers import RedeliveryStarted, SecretRotated, WebhookTestAnswer
from shotwire_core.circuit import HostStates
from shotwire_core.clock import iso_from_epoch, now_iso
from shotwire_core.delivery import encode_body, new_delivery
from shotwire_core.errors import ConflictError, RotationConflictError, StaleJobError
from shotwire_core.held_calls import HELD_CALLS_PER_TENANT, RETRY_AFTER_SECONDS, held_call
from shotwire_core.ids import new_job_id, webhook_message_id
from shotwire_core.limits import RateLimitedError
from shotwire_core.models import DeliveryRecord, Job, RetryMessage, Tenant
from shotwire_core.sending import WebhookSender
from shotwire_core.signing import generate_webhook_secret


class SecretStore(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def replace_webhook_secret(self, rotated: Tenant, expected_secret: str) -> bool: ...


class Redeliverer(Protocol):
    def start_redelivery(self, job: Job, now: str) -> Job: ...
    def supersede_delivery(self, tenant_id: str, subject_id: str, number: int, now: str) -> None: ...
    def open_delivery(self, record: DeliveryRecord) -> DeliveryRecord: ...


class MessageSender(Protocol):
    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None: ...


class TenantReader(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...


def _tenant(tenants: TenantReader, tenant_id: str) -> Tenant:
    tenant = tenants.get_tenant(tenant_id)
    if tenant is None:
        raise LookupError(f"tenant {tenant_id} not found")
    return tenant


def rotate_webhook_secret(
    tenant_id: str,
    *,
    tenants: SecretStore,
    overlap_seconds: int,
    clock: Callable[[], float] = time.time,
    generate: Callable[[], str] = generate_webhook_secret,
) -> SecretRotated:
    """Issue a new secret; the one it replaces keeps signing deliveries (beside it) for `overlap_seconds`.

    Rotating again during an overlap drops the oldest secret: only the last two are ever valid.
    """
    tenant = _tenant(tenants, tenant_id)
    now = clock()
    new_secret = generate()
    expires_at = now + overlap_seconds if overlap_seconds > 0 else None
    rotated = tenant.model_copy(
        update={
            "webhook_secret": new_secret,
            "previous_webhook_secret": tenant.webhook_secret if expires_at else None,
            "previous_secret_expires_at": expires_at,
        }
    )
    if not tenants.replace_webhook_secret(rotated, expected_secret=tenant.webhook_secret):
        raise RotationConflictError("the secret was rotated concurrently; fetch the new one or rotate again")
    return SecretRotated(
        webhook_secret=new_secret,
        rotated_at=iso_from_epoch(now),
        previous_secret_valid_until=iso_from_epoch(expires_at) if expires_at else None,
    )


def send_test_event(
    tenant_id: str,
    url: str,
    *,
    tenants: TenantReader,
    holds: HostStates,
    send: WebhookSender,
    sign: Callable[[Sequence[str], str, int, bytes], dict[str, str]],
    clock: Callable[[], float] = time.time,
) -> WebhookTestAnswer:
    """POST a signed `webhook.test` event to `url` once, now, and report what the receiver answered. It holds
    the API function until the receiver answers, so a tenant has only its share of held calls for it."""
    tenant = _tenant(tenants, tenant_id)
    with held_call(tenant_id, holds, clock=clock) as may_send:
        if not may_send:
            raise RateLimitedError(
                "too_many_held_calls",
                f"{HELD_CALLS_PER_TENANT} webhook tests or synchronous waits of this tenant are already running; "
                "try again when one has ended",
                RETRY_AFTER_SECONDS,
            )
        return _send_test_event(tenant, tenant_id, url, send, sign, clock)


def _send_test_event(
    tenant: Tenant,
    tenant_id: str,
    url: str,
    send: WebhookSender,
    sign: Callable[[Sequence[str], str, int, bytes], dict[str, str]],
    clock: Callable[[], float],
) -> WebhookTestAnswer:
    message_id = "msg_test_" + new_job_id().removeprefix("job_")
    sent_at = clock()
    body = encode_body({"type": "webhook.test", "tenantId": tenant_id, "sentAt": now_iso(), "webhookId": message_id})
    result = send(url, body, sign(tenant.signing_secrets(sent_at), message_id, int(sent_at), body))
    return WebhookTestAnswer(
        webhook_id=message_id,
        url=url,
        delivered=result.delivered,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        error_class=result.error_class or None,
        error=result.error if result.error_class else None,
        response_body=result.response_excerpt or None,
    )


def redeliver(
    job: Job, *, jobs: Redeliverer, retry_queue: MessageSender, clock: Callable[[], float] = time.time
) -> RedeliveryStarted:
    """Send a finished job's outcome again now, as a new delivery with a new `webhook-id`.

    The current delivery (delivered, failed or still retrying) is superseded: it is kept, with its attempts,
    among the job's deliveries, and its pending retries stop.
    """
    if not job.webhook_url:
        raise ConflictError(f"job {job.job_id} has no webhookUrl to deliver to")
    if not job.status.is_terminal:
        raise ConflictError(f"job {job.job_id} has not finished; its outcome is delivered when it does")
    now = now_iso()
    try:
        started = jobs.start_redelivery(job, now)
    except StaleJobError as error:
        raise ConflictError(f"another redelivery of job {job.job_id} started at the same time") from error
    jobs.supersede_delivery(job.tenant_id, job.job_id, job.delivery_number, now)
    jobs.open_delivery(new_delivery(started, started.delivery_number, now))
    retry = RetryMessage(
        tenant_id=job.tenant_id, job_id=job.job_id, attempt=1, due_at=clock(), delivery=started.delivery_number
    )
    retry_queue.send(retry.model_dump())
    return RedeliveryStarted(
        job_id=job.job_id,
        webhook_id=webhook_message_id(job.job_id, started.delivery_number),
        delivery=started.delivery_number,
        status="pending",
    )
