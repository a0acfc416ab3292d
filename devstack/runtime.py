"""A small local Lambda runtime: load a handler from its file, and feed it SQS batches as Lambda would."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from aws_lambda_powertools import Logger

# The stack's own log lines (pollers, environments) are no function's: each function's process logs under the
# service name its environment gives it (POWERTOOLS_SERVICE_NAME), as in Lambda.
logger = Logger(service="shotwire-local")


@dataclass
class LocalContext:
    """The attributes of Lambda's context object that Powertools and the handlers read.

    `deadline_epoch` (seconds since the epoch) is when the invocation is stopped; without it, the
    function's timeout from now."""

    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_seconds: int = 60
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline_epoch: float | None = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        left = self.timeout_seconds if self.deadline_epoch is None else self.deadline_epoch - time.time()
        self._deadline = time.monotonic() + left

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_function(path: Path, module_name: str) -> ModuleType:
    """Import functions/<name>/handler.py under a unique name: three files are all called handler.py."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pydantic resolves postponed annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event Lambda's SQS event source sends."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def eventbridge_event(body: str, region: str, account: str = "123456789012") -> dict[str, Any]:
    """The event a rule hands its Lambda target. moto's copy to an SQS target omits some envelope
    fields (account, region, resources, version) that EventBridge always sends; fill them in."""
    event: dict[str, Any] = json.loads(body)
    event.setdefault("version", "0")
    event.setdefault("account", account)
    event.setdefault("region", region)
    event.setdefault("resources", [])
    return event


class QueuePoller(threading.Thread):
    """Polls one queue and invokes a function with each batch, like a Lambda event source mapping.

    `as_sqs_event=True`: the function gets {"Records": [...]} and may answer batchItemFailures; successful
    records are deleted. A failed invocation (an error, a crash, a timeout) deletes nothing: the whole batch
    comes back after the queue's visibility timeout and counts toward its DLQ, as with Lambda.
    `as_sqs_event=False`: each message body is itself the event (an EventBridge event a rule delivered),
    invoked on its own as soon as one of `concurrency` slots is free, as Lambda hands asynchronous events to
    free concurrency: a slow invocation delays no other event. A failed invocation leaves the message to be
    retried, as Lambda's asynchronous invoke would.
    `workers`: batches in flight at once (Lambda's event source polls with several), one loop each.
    """

    def __init__(
        self,
        name: str,
        queue_url: str,
        queue_arn: str,
        invoke: Callable[[dict[str, Any]], Any],
        *,
        batch_size: int,
        region: str,
        as_sqs_event: bool = True,
        workers: int = 1,
        concurrency: int = 10,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.batch_size = batch_size
        self.region = region
        self.as_sqs_event = as_sqs_event
        self.workers = workers
        self.concurrency = concurrency
        self.stopping = threading.Event()
        self.invocations = 0

    def run(self) -> None:
        extra = [
            threading.Thread(target=self._poll, name=f"{self.name}-{n}", daemon=True) for n in range(1, self.workers)
        ]
        for thread in extra:
            thread.start()
        self._poll()
        for thread in extra:
            thread.join()

    def _poll(self) -> None:
        sqs = boto3.session.Session().client("sqs", region_name=self.region)
        if not self.as_sqs_event:
            self._poll_events(sqs)
            return
        while not self.stopping.is_set():
            messages = self._receive(sqs, self.batch_size)
            if messages:
                self._invoke_batch(sqs, messages)

    def _receive(self, sqs: Any, count: int) -> list[dict[str, Any]]:
        try:
            response = sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except Exception:
            self.stopping.wait(0.5)
            return []
        return list(response.get("Messages", []))

    def _invoke_batch(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        """One invocation with the whole batch; what it did not report as failed is deleted."""
        self.invocations += 1
        event = {"Records": [sqs_record(m, self.queue_arn, self.region) for m in messages]}
        try:
            result = self.invoke(event) or {}
        except Exception as error:
            logger.error(
                "invocation failed; the batch returns after the visibility timeout",
                extra={"function": self.name, "error": str(error)},
            )
            return
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _poll_events(self, sqs: Any) -> None:
        """Receives only as many events as there are free slots, and starts each alone."""
        slots = threading.Semaphore(self.concurrency)
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=self.name) as invocations:
            while not self.stopping.is_set():
                if not slots.acquire(timeout=0.5):
                    continue
                free = 1
                while free < self.batch_size and slots.acquire(blocking=False):
                    free += 1
                messages = self._receive(sqs, free)
                for _ in range(free - len(messages)):
                    slots.release()
                for message in messages:
                    self.invocations += 1
                    invocations.submit(self._invoke_event, sqs, message, slots)

    def _invoke_event(self, sqs: Any, message: dict[str, Any], slots: threading.Semaphore) -> None:
        try:
            self.invoke(eventbridge_event(message["Body"], self.region))
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as error:
            logger.error("asynchronous invocation failed", extra={"function": self.name, "error": str(error)})
        finally:
            slots.release()

    def stop(self) -> None:
        self.stopping.set()
