"""Capture Lambda (container image with Chromium): SQS batch of jobs -> screenshots in S3 -> outcome events.

The records of a batch run concurrently, each on a worker thread, all rendering in the one warm browser.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shotwire_core.adapters.browser import BrowserEngine
from shotwire_core.capture import after_failed_attempt, run_capture
from shotwire_core.config import CAPTURE_INVOCATION_MARGIN_SECONDS
from shotwire_core.models import CaptureMessage
from shotwire_core.observability import correlate, logger, metrics, tracer
from shotwire_core.services import get_services
from shotwire_core.settings import CaptureSettings, settings_as

processor = AsyncBatchProcessor(event_type=EventType.SQS)
# Captures give up this long before Lambda stops the invocation, to leave time for what follows them:
# recording each outcome (DynamoDB), announcing it (EventBridge) and shortening its redelivery (SQS), a call
# or two each with the SDK's retries. A capture still running when Lambda stops the invocation leaves its
# job without an outcome and its owner without a webhook, and takes the batch's other records with it.
INVOCATION_MARGIN_SECONDS = CAPTURE_INVOCATION_MARGIN_SECONDS

# One browser per execution environment, launched on first use and reused while the Lambda stays warm.
_browser = settings_as(CaptureSettings)
engine = BrowserEngine(_browser.chromium_path, _browser.chromium_args, concurrency=_browser.capture_concurrency)


def process_record(record: SQSRecord, not_after: float | None = None) -> None:
    services = get_services()
    settings = services.settings_as(CaptureSettings)
    message = CaptureMessage.model_validate_json(record.body)
    correlate(message.job_id)
    try:
        run_capture(
            message,
            jobs=services.jobs,
            capturer=engine,
            images=services.images,
            bus=services.bus,
            allow_private=settings.allow_private_networks,
            allowed_hosts=settings.allowed_hosts,
            not_after=not_after,
        )
    except Exception as error:
        retry = after_failed_attempt(
            message,
            error,
            int(record.attributes.approximate_receive_count),
            max_receives=settings.capture_max_receive_count,
            jobs=services.jobs,
            bus=services.bus,
            redeliver_after=lambda seconds: services.capture_queue.release(
                record.receipt_handle, after_seconds=seconds
            ),
        )
        if retry:
            raise  # a batch item failure: SQS delivers it again


async def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    not_after = None
    if lambda_context is not None:
        remaining = lambda_context.get_remaining_time_in_millis() / 1000
        not_after = time.monotonic() + remaining - INVOCATION_MARGIN_SECONDS
    await asyncio.to_thread(process_record, record, not_after)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return async_process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


def shutdown() -> None:
    """Close Chromium (the local stack calls this on exit; Lambda simply freezes the process)."""
    engine.close()
