"""Dispatcher Lambda: capture outcomes (EventBridge) and due retries (SQS) -> signed webhook POSTs."""

from __future__ import annotations

import asyncio
from typing import Any

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from shotwire_core.batches import settle_member
from shotwire_core.delivery import deliver, handle_retry, open_delivery
from shotwire_core.models import DeliveryRecord, JobStatus, OutcomeDetail, RetryMessage, WebhookStatus
from shotwire_core.observability import correlate, logger, metrics, tracer
from shotwire_core.services import get_services
from shotwire_core.settings import DispatcherSettings
from shotwire_core.signing import signature_headers


class OutcomeEvent(EventBridgeModel):
    detail: OutcomeDetail


def deliver_attempt(
    tenant_id: str, job_id: str, attempt: int, delivery: int = 1, opened: DeliveryRecord | None = None
) -> WebhookStatus | None:
    services = get_services()
    correlate(job_id)
    return deliver(
        tenant_id,
        job_id,
        attempt,
        jobs=services.jobs,
        tenants=services.keys,
        links=services.webhook_links,
        retry_queue=services.webhook_retry_queue,
        dead_letters=services.webhook_dlq,
        send=services.send_webhook,
        sign=signature_headers,
        retry_schedule=services.settings_as(DispatcherSettings).webhook_retry_schedule,
        link_ttl_seconds=services.settings_as(DispatcherSettings).download_url_ttl_seconds,
        delivery=delivery,
        hosts=services.hosts,
        rule=services.destination_rule,
        opened=opened,
    )


def deliver_first_attempt(tenant_id: str, subject_id: str) -> WebhookStatus | None:
    """Open the finished job's (or batch's) current delivery, then make its first attempt: both once, however
    many times its outcome event arrives."""
    record = open_delivery(tenant_id, subject_id, jobs=get_services().jobs)
    return None if record is None else deliver_attempt(tenant_id, subject_id, 1, record.number, record)


@tracer.capture_method
async def retry_record_handler(record: SQSRecord) -> None:
    """Runs in a worker thread, so one slow destination in a batch does not hold up the other records."""
    message = RetryMessage.model_validate_json(record.body)
    await asyncio.to_thread(
        handle_retry, message, retry_queue=get_services().webhook_retry_queue, deliver_attempt=deliver_attempt
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse | None:
    if "Records" in event:  # the retry queue's event source
        # A processor per invocation: it keeps the batch's state, and the local stack may run invocations
        # side by side in one process.
        return async_process_partial_response(
            event=event,
            record_handler=retry_record_handler,
            processor=AsyncBatchProcessor(event_type=EventType.SQS),
            context=context,
        )
    outcome = parse(event=event, model=OutcomeEvent)  # the bus rule: first attempt
    detail = outcome.detail
    deliver_first_attempt(detail.tenant_id, detail.job_id)
    if detail.batch_id is not None:
        settle_member(
            detail.tenant_id,
            detail.job_id,
            detail.batch_id,
            detail.status is JobStatus.COMPLETED,
            jobs=get_services().jobs,
            deliver_batch_webhook=deliver_first_attempt,
        )
    return None
