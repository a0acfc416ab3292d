"""Webhook delivery: sign, POST, record the attempt, then schedule a retry or give up to the DLQ."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from shotwire_core.adapters.webhook_http import DeliveryResult
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
from shotwire_core.ids import webhook_message_id
from shotwire_core.jobs import LinkSigner, MessageSender, webhook_body
from shotwire_core.models import Job, RetryMessage, Tenant, WebhookAttempt, WebhookStatus
from shotwire_core.observability import logger, metrics


class DeliveryJobs(Protocol):
    def get(self, tenant_id: str, job_id: str) -> Job | None: ...
    def record_webhook_attempt(
        self,
        tenant_id: str,
        job_id: str,
        attempt: WebhookAttempt,
        status: WebhookStatus,
        now: str,
        delivery: int = 1,
    ) -> Job: ...


class TenantReader(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...


# (url, body, headers) -> result; the adapter owns DNS checks, connecting and timeouts.
WebhookSender = Callable[[str, bytes, dict[str, str]], DeliveryResult]
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


def deliver(
    tenant_id: str,
    job_id: str,
    attempt: int,
    *,
    jobs: DeliveryJobs,
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
) -> WebhookStatus | None:
    """Make attempt number `attempt` (1-based) of delivery number `delivery` for a finished job."""
    job = jobs.get(tenant_id, job_id)
    if job is None or not job.webhook_url or not job.status.is_terminal:
        return None
    if job.delivery_number != delivery:
        # A redelivery superseded this one; its pending retries end here.
        logger.info("delivery superseded", extra={"job_id": job_id, "delivery": delivery})
        return None
    if job.webhook_status in (WebhookStatus.DELIVERED, WebhookStatus.FAILED):
        # A duplicate outcome event (at-least-once upstream): this delivery already ended.
        logger.info("delivery already finished", extra={"job_id": job_id, "status": job.webhook_status})
        return job.webhook_status
    tenant = tenants.get_tenant(tenant_id)
    if tenant is None:
        raise LookupError(f"tenant {tenant_id} not found")

    target = destination(job.webhook_url)
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
                tenant_id=tenant_id, job_id=job_id, attempt=attempt, due_at=wait_until, delivery=delivery
            )
            delay = min(max(1, math.ceil(wait_until - clock())), SQS_MAX_DELAY_SECONDS)
            retry_queue.send(held.model_dump(), delay_seconds=delay)
            metrics.add_metric(name="WebhooksHeld", unit="Count", value=1)
            logger.info(reason, extra={"job_id": job_id, "destination": target})
            return WebhookStatus.RETRYING

    screenshot_url = links.download_url(job.image_key, link_ttl_seconds) if job.image_key else None
    body = encode_body(webhook_body(job, screenshot_url))
    sent_at = clock()
    message_id = webhook_message_id(job.job_id, delivery)
    headers = sign(tenant.signing_secrets(sent_at), message_id, int(sent_at), body)
    try:
        result = send(job.webhook_url, body, headers)
    finally:
        if hosts is not None and slot is not None:
            hosts.release_slot(target, slot)
    if hosts is not None:
        circuit_record(hosts, target, result, clock(), health, rule)

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
    record = WebhookAttempt(
        attempt=attempt,
        at=iso_from_epoch(sent_at),
        status_code=result.status_code,
        error_class=result.error_class,
        error=error,
        duration_ms=result.duration_ms,
        response_body=result.response_excerpt or None,
        next_attempt_at=iso_from_epoch(sent_at + wait) if wait is not None else None,
    )
    try:
        jobs.record_webhook_attempt(tenant_id, job_id, record, status, now_iso(), delivery)
    except StaleJobError:
        logger.info("delivery superseded while sending", extra={"job_id": job_id, "delivery": delivery})
        return None
    log = {"job_id": job_id, "attempt": attempt, "status_code": result.status_code, "error": result.error_class}

    if status is WebhookStatus.DELIVERED:
        metrics.add_metric(name="WebhooksDelivered", unit="Count", value=1)
        logger.info("webhook delivered", extra=log)
    elif status is WebhookStatus.RETRYING:
        assert wait is not None
        message = RetryMessage(
            tenant_id=tenant_id, job_id=job_id, attempt=attempt + 1, due_at=sent_at + wait, delivery=delivery
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
                "tenantId": tenant_id,
                "jobId": job_id,
                "webhookId": message_id,
                "delivery": delivery,
                "attempts": attempt,
                "lastError": record.error,
                "lastStatusCode": result.status_code,
                "failedAt": now_iso(),
            }
        )
        metrics.add_metric(name="WebhooksExhausted", unit="Count", value=1)
        logger.warning("webhook delivery failed for good; parked in the DLQ", extra=log)
    return status


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
