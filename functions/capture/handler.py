"""Capture Lambda (container image with Chromium): SQS batch of jobs -> screenshots in S3 -> outcome events."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shotwire_core.adapters.browser import ChromiumCapturer
from shotwire_core.capture import abandon_capture, run_capture
from shotwire_core.models import CaptureMessage
from shotwire_core.observability import logger, metrics, tracer
from shotwire_core.services import get_services
from shotwire_core.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS)
# One browser per execution environment, launched on first use and reused while the Lambda stays warm.
capturer = ChromiumCapturer(get_settings().chromium_path, get_settings().chromium_args)


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    services = get_services()
    settings = services.settings
    message = CaptureMessage.model_validate_json(record.body)
    logger.set_correlation_id(message.job_id)
    try:
        run_capture(
            message,
            jobs=services.jobs,
            capturer=capturer,
            images=services.images,
            bus=services.bus,
            allow_private=settings.allow_private_networks,
            timeout_ms=settings.capture_timeout_ms,
        )
    except Exception as error:
        receives = int(record.attributes.approximate_receive_count)
        if receives < settings.capture_max_receive_count:
            raise  # reported as a batch item failure; SQS delivers it again
        logger.exception("capture failed on its last delivery", extra={"receives": receives})
        reason = f"internal error: capture failed {receives} times ({type(error).__name__})"
        abandon_capture(message, reason, jobs=services.jobs, bus=services.bus)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def shutdown() -> None:
    """Close Chromium (the local stack calls this on exit; Lambda simply freezes the process)."""
    capturer.close()
