"""Webhook delivery in three stages, each testable alone: prepare (is the attempt due, is there room at the
destination), send (sign and POST once), record (store the attempt, then schedule a retry or park the delivery
in the DLQ). A delivery is a record of its own (models.DeliveryRecord) holding the body it sends."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shotwire_core.circuit import (
    DEFAULT_RULE,
    SLOTS_FULL_WAIT_SECONDS,
    DestinationRule,
    HostHealth,
    HostStates,
    SlotLease,
    destination,
)
from shotwire_core.circuit import claim_slot as circuit_claim_slot
from shotwire_core.circuit import hold_until as circuit_hold
from shotwire_core.circuit import record as circuit_record
from shotwire_core.clock import iso_from_epoch, now_iso
from shotwire_core.config import SQS_MAX_DELAY_SECONDS
from shotwire_core.errors import StaleJobError
from shotwire_core.ids import is_batch_id, webhook_message_id
from shotwire_core.jobs import LinkSigner, MessageSender, batch_completed_body, webhook_body
from shotwire_core.models import (
    BatchRecord,
    DeliveryRecord,
    Job,
    JobStatus,
    RetryMessage,
    Tenant,
    WebhookAttempt,
    WebhookStatus,
)
from shotwire_core.observability import logger, metrics
from shotwire_core.sending import DeliveryResult, WebhookSender


class DeliveryOpener(Protocol):
    def get(self, tenant_id: str, job_id: str) -> Job | None: ...
    def get_batch(self, tenant_id: str, batch_id: str) -> BatchRecord | None: ...
    def open_delivery(self, record: DeliveryRecord) -> DeliveryRecord: ...
    def get_delivery(self, tenant_id: str, subject_id: str, number: int) -> DeliveryRecord | None: ...


class DeliveryStore(DeliveryOpener, Protocol):
    def record_delivery_attempt(
        self, record: DeliveryRecord, attempt: WebhookAttempt, status: WebhookStatus, now: str
    ) -> None: ...


class TenantReader(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...


# (url, body, headers) -> result; the adapter owns DNS checks, connecting and timeouts.
Signer = Callable[[Sequence[str], str, int, bytes], dict[str, str]]

# Errors that another attempt cannot fix.
PERMANENT_ERRORS = frozenset({"ssrf_blocked"})
# 410 Gone: the receiver says this endpoint is gone for good; retrying would only knock on a closed door.
GONE = 410
# Each scheduled wait is spread by up to ±20% so a recovering endpoint is not hit by a synchronized wave.
JITTER_FRACTION = 0.2
# A receiver's Retry-After is honoured up to a day.
MAX_RETRY_AFTER_SECONDS = 86_400


def jittered(wait: float, fraction: float = JITTER_FRACTION, rng: Callable[[], float] = random.random) -> float:
    return wait * (1 - fraction + 2 * fraction * rng())


def next_wait(scheduled: float, retry_after: int | None, jitter: Callable[[float], float] = jittered) -> float:
    """The wait before the next attempt: the schedule's, jittered, and never shorter than Retry-After."""
    wait = jitter(scheduled)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return wait


def encode_body(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, byte-identical to JavaScript's JSON.stringify of the parsed body."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def new_delivery(subject: Job | BatchRecord, number: int, now: str) -> DeliveryRecord:
    """Delivery `number` of a finished job's (or completed batch's) outcome, its body fixed now; only the
    download link is signed afresh at each attempt."""
    assert subject.webhook_url is not None
    link_field = image_key = None
    if isinstance(subject, BatchRecord):
        payload = batch_completed_body(subject)
    else:
        if subject.image_key and subject.status is JobStatus.COMPLETED:
            link_field = "image" if subject.face == "capture" else "screenshotUrl"
            image_key = subject.image_key
        payload = webhook_body(subject, LINK_PLACEHOLDER if link_field else None)
    return DeliveryRecord(
        tenant_id=subject.tenant_id,
        subject_id=subject.job_id,
        number=number,
        webhook_id=webhook_message_id(subject.job_id, number),
        url=subject.webhook_url,
        payload=encode_body(payload).decode("utf-8"),
        link_field=link_field,
        image_key=image_key,
        created_at=now,
        updated_at=now,
        expires_at=subject.expires_at,
    )


# Holds the link's place in a stored payload, so the signed link takes the field's position in the body.
LINK_PLACEHOLDER = ""


def subject_of(jobs: DeliveryOpener, tenant_id: str, subject_id: str) -> Job | BatchRecord | None:
    """The job or batch a delivery is of, by its id."""
    return jobs.get_batch(tenant_id, subject_id) if is_batch_id(subject_id) else jobs.get(tenant_id, subject_id)


def open_delivery(tenant_id: str, subject_id: str, *, jobs: DeliveryOpener) -> DeliveryRecord | None:
    """The current delivery of a finished job or completed batch, opened if it is not yet (an outcome event
    seen twice opens it once); None when there is nothing to deliver."""
    subject = subject_of(jobs, tenant_id, subject_id)
    if subject is None or not subject.webhook_url or not subject.status.is_terminal:
        return None
    return jobs.open_delivery(new_delivery(subject, subject.delivery_number, now_iso()))


@dataclass(frozen=True)
class Prepared:
    """An attempt ready to send: the delivery, who signs it, and the destination slot it holds."""

    record: DeliveryRecord
    tenant: Tenant
    target: str
    health: HostHealth
    slot: SlotLease | None


def prepare(
    tenant_id: str,
    subject_id: str,
    attempt: int,
    delivery: int,
    *,
    jobs: DeliveryStore,
    tenants: TenantReader,
    retry_queue: MessageSender,
    clock: Callable[[], float],
    jitter: Callable[[float], float],
    hosts: HostStates | None,
    rule: DestinationRule,
    opened: DeliveryRecord | None = None,
) -> Prepared | WebhookStatus | None:
    """Stage 1: whether this attempt is due at all (its delivery current and open), and a place in the
    destination's in-flight limit; the status (or None) when it is not made now. `opened`: the delivery as
    just read or written, saving a read."""
    record = opened if opened is not None else jobs.get_delivery(tenant_id, subject_id, delivery)
    if record is None:
        # A retry of a delivery never recorded as one (made before deliveries were records of their own, or
        # whose opening died): opened now from its job, if it is still the job's current delivery.
        record = open_delivery(tenant_id, subject_id, jobs=jobs)
        if record is not None and record.number != delivery:
            record = None
    if record is None or record.superseded:
        # A redelivery superseded this one (or the job is gone); its pending retries end here.
        logger.info("delivery superseded or gone", extra={"job_id": subject_id, "delivery": delivery})
        return None
    if record.status in (WebhookStatus.DELIVERED, WebhookStatus.FAILED) or (
        attempt == 1 and record.status is not WebhookStatus.PENDING
    ):
        # A duplicate outcome event (at-least-once upstream): this delivery already ended, or its first attempt
        # was made (a redrive sets it pending again, so its first attempt is made anew).
        logger.info("delivery already under way", extra={"job_id": subject_id, "status": record.status})
        return record.status
    tenant = tenants.get_tenant(tenant_id)
    if tenant is None:
        raise LookupError(f"tenant {tenant_id} not found")
    target = destination(record.url)
    health = hosts.get_host(target) if hosts is not None else HostHealth()
    slot: SlotLease | None = None
    if hosts is not None:
        now = clock()
        wait_until = circuit_hold(hosts, target, now, health, rule)
        reason = "destination circuit open; delivery held"
        if wait_until is None:
            slot = circuit_claim_slot(hosts, target, now, health, rule)
            if slot is None:
                wait_until = now + jitter(SLOTS_FULL_WAIT_SECONDS)
                reason = "destination at its in-flight limit; delivery held"
        if wait_until is not None:
            # Wait for the destination without spending this attempt.
            held = RetryMessage(
                tenant_id=tenant_id, job_id=subject_id, attempt=attempt, due_at=wait_until, delivery=delivery
            )
            delay = min(max(1, math.ceil(wait_until - clock())), SQS_MAX_DELAY_SECONDS)
            retry_queue.send(held.model_dump(), delay_seconds=delay)
            metrics.add_metric(name="WebhooksHeld", unit="Count", value=1)
            logger.info(reason, extra={"job_id": subject_id, "destination": target})
            return WebhookStatus.RETRYING
    return Prepared(record, tenant, target, health, slot)


def signed_body(record: DeliveryRecord, links: LinkSigner, link_ttl_seconds: int) -> bytes:
    """The delivery's body with a download link signed now (a retry a day later still gets a live one)."""
    if record.link_field is None or record.image_key is None:
        return record.payload.encode("utf-8")
    body = json.loads(record.payload)
    body[record.link_field] = links.download_url(record.image_key, link_ttl_seconds)
    return encode_body(body)


def send_attempt(
    prepared: Prepared,
    body: bytes,
    *,
    send: WebhookSender,
    sign: Signer,
    clock: Callable[[], float],
    hosts: HostStates | None,
    rule: DestinationRule,
) -> tuple[DeliveryResult, float]:
    """Stage 2: sign and POST once; the destination's slot is given back and its health recorded."""
    sent_at = clock()
    record = prepared.record
    headers = sign(prepared.tenant.signing_secrets(sent_at), record.webhook_id, int(sent_at), body)
    try:
        result = send(record.url, body, headers)
    finally:
        if hosts is not None and prepared.slot is not None:
            hosts.release_slot(prepared.target, prepared.slot)
    if hosts is not None:
        circuit_record(hosts, prepared.target, result, clock(), prepared.health, rule)
    return result, sent_at


def judge(
    result: DeliveryResult,
    attempt: int,
    sent_at: float,
    retry_schedule: tuple[int, ...],
    jitter: Callable[[float], float],
) -> tuple[WebhookStatus, WebhookAttempt, float | None]:
    """What an attempt's result means: the delivery's new status, the attempt as recorded, and the wait before
    the next one (None: no next one)."""
    max_attempts = len(retry_schedule) + 1
    wait: float | None = None
    error = f"{result.error_class}: {result.error}" if result.error_class else None
    if result.delivered:
        status = WebhookStatus.DELIVERED
    elif result.status_code == GONE:
        status = WebhookStatus.FAILED
        error = "http_status: receiver answered 410 Gone; retries stopped"
    elif result.error_class in PERMANENT_ERRORS or attempt >= max_attempts:
        status = WebhookStatus.FAILED
    else:
        status = WebhookStatus.RETRYING
        wait = next_wait(retry_schedule[attempt - 1], result.retry_after_seconds, jitter)
    recorded = WebhookAttempt(
        attempt=attempt,
        at=iso_from_epoch(sent_at),
        status_code=result.status_code,
        error_class=result.error_class,
        error=error,
        duration_ms=result.duration_ms,
        response_body=result.response_excerpt or None,
        next_attempt_at=iso_from_epoch(sent_at + wait) if wait is not None else None,
    )
    return status, recorded, wait


def record_outcome(
    record: DeliveryRecord,
    result: DeliveryResult,
    attempt: int,
    sent_at: float,
    *,
    jobs: DeliveryStore,
    retry_queue: MessageSender,
    dead_letters: MessageSender,
    retry_schedule: tuple[int, ...],
    jitter: Callable[[float], float],
) -> WebhookStatus | None:
    """Stage 3: record the attempt, then schedule the next one, or park the delivery in the DLQ."""
    status, recorded, wait = judge(result, attempt, sent_at, retry_schedule, jitter)
    try:
        jobs.record_delivery_attempt(record, recorded, status, now_iso())
    except StaleJobError:
        logger.info("delivery superseded while sending", extra={"job_id": record.subject_id, "delivery": record.number})
        return None
    log = {
        "job_id": record.subject_id,
        "attempt": attempt,
        "status_code": result.status_code,
        "error": result.error_class,
    }
    if status is WebhookStatus.DELIVERED:
        metrics.add_metric(name="WebhooksDelivered", unit="Count", value=1)
        logger.info("webhook delivered", extra=log)
    elif status is WebhookStatus.RETRYING:
        assert wait is not None
        message = RetryMessage(
            tenant_id=record.tenant_id,
            job_id=record.subject_id,
            attempt=attempt + 1,
            due_at=sent_at + wait,
            delivery=record.number,
        )
        retry_queue.send(message.model_dump(), delay_seconds=min(math.ceil(wait), SQS_MAX_DELAY_SECONDS))
        metrics.add_metric(name="WebhookRetriesScheduled", unit="Count", value=1)
        logger.info("webhook attempt failed; retry scheduled", extra={**log, "retry_in_seconds": wait})
    elif result.status_code == GONE or result.error_class in PERMANENT_ERRORS:
        # Not parked for redrive: the receiver or the SSRF guard refused it, and a redrive would be refused too.
        metrics.add_metric(name="WebhooksRefused", unit="Count", value=1)
        logger.warning("webhook delivery refused for good", extra=log)
    else:
        dead_letters.send(
            {
                "tenantId": record.tenant_id,
                "jobId": record.subject_id,
                "webhookId": record.webhook_id,
                "delivery": record.number,
                "attempts": attempt,
                "lastError": recorded.error,
                "lastStatusCode": result.status_code,
                "failedAt": now_iso(),
            }
        )
        metrics.add_metric(name="WebhooksExhausted", unit="Count", value=1)
        logger.warning("webhook delivery failed for good; parked in the DLQ", extra=log)
    return status


def deliver(
    tenant_id: str,
    job_id: str,
    attempt: int,
    *,
    jobs: DeliveryStore,
    tenants: TenantReader,
    links: LinkSigner,
    retry_queue: MessageSender,
    dead_letters: MessageSender,
    send: WebhookSender,
    sign: Signer,
    retry_schedule: tuple[int, ...],
    link_ttl_seconds: int,
    clock: Callable[[], float] = time.time,
    jitter: Callable[[float], float] = jittered,
    delivery: int = 1,
    hosts: HostStates | None = None,
    rule: DestinationRule = DEFAULT_RULE,
    opened: DeliveryRecord | None = None,
) -> WebhookStatus | None:
    """Make attempt number `attempt` (1-based) of delivery number `delivery` of a job's (or batch's) outcome:
    prepare, send, record."""
    prepared = prepare(
        tenant_id,
        job_id,
        attempt,
        delivery,
        jobs=jobs,
        tenants=tenants,
        retry_queue=retry_queue,
        clock=clock,
        jitter=jitter,
        hosts=hosts,
        rule=rule,
        opened=opened,
    )
    if not isinstance(prepared, Prepared):
        return prepared
    body = signed_body(prepared.record, links, link_ttl_seconds)
    result, sent_at = send_attempt(prepared, body, send=send, sign=sign, clock=clock, hosts=hosts, rule=rule)
    return record_outcome(
        prepared.record,
        result,
        attempt,
        sent_at,
        jobs=jobs,
        retry_queue=retry_queue,
        dead_letters=dead_letters,
        retry_schedule=retry_schedule,
        jitter=jitter,
    )


def handle_retry(
    message: RetryMessage,
    *,
    retry_queue: MessageSender,
    clock: Callable[[], float] = time.time,
    deliver_attempt: Callable[[str, str, int, int], WebhookStatus | None],
) -> WebhookStatus | None:
    """A retry message arrived. Waits longer than SQS's 15-minute delay limit hop through the queue."""
    remaining = message.due_at - clock()
    if remaining > 0.5:  # SQS delays are whole seconds: rounding up never delivers early
        retry_queue.send(message.model_dump(), delay_seconds=min(math.ceil(remaining), SQS_MAX_DELAY_SECONDS))
        return None
    return deliver_attempt(message.tenant_id, message.job_id, message.attempt, message.delivery)
