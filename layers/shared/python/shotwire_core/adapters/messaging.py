"""SQS queues and the EventBridge bus."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shotwire_core.adapters.aws import BULK_WORKERS, client
from shotwire_core.config import EVENT_SOURCE


class Queue:
    """An SQS queue by URL. `variable` names the setting the URL came from: a function whose template gives
    it no such URL fails on first use with that name, instead of calling SQS with an empty URL."""

    def __init__(self, url: str, variable: str = "the queue URL") -> None:
        self._url = url
        self._variable = variable

    @property
    def url(self) -> str:
        if not self._url:
            raise RuntimeError(f"{self._variable} is not set: this function's template gives it no such queue")
        return self._url

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        client("sqs").send_message(
            QueueUrl=self.url, MessageBody=json.dumps(body, separators=(",", ":")), DelaySeconds=delay_seconds
        )

    def send_many(self, bodies: list[dict[str, Any]]) -> None:
        """Send 10 to a request (SendMessageBatch), several requests at once, resending failed entries."""
        chunks = [bodies[start : start + 10] for start in range(0, len(bodies), 10)]
        with ThreadPoolExecutor(max_workers=BULK_WORKERS) as pool:
            list(pool.map(self._send_chunk, chunks))

    def _send_chunk(self, bodies: list[dict[str, Any]]) -> None:
        entries = [
            {"Id": str(index), "MessageBody": json.dumps(body, separators=(",", ":"))}
            for index, body in enumerate(bodies)
        ]
        for _ in range(5):
            failed = client("sqs").send_message_batch(QueueUrl=self.url, Entries=entries).get("Failed") or []
            if not failed:
                return
            retry_ids = {entry["Id"] for entry in failed if not entry.get("SenderFault")}
            if len(retry_ids) < len(failed):
                raise RuntimeError(f"SQS refused batch entries: {failed}")
            entries = [entry for entry in entries if entry["Id"] in retry_ids]
        raise RuntimeError(f"SQS kept failing {len(entries)} batch entries")

    def receive(self, max_messages: int = 10, visibility_timeout: int = 60) -> list[tuple[str, str, str]]:
        """Up to `max_messages` visible messages as (message id, receipt handle, body), without waiting."""
        response = client("sqs").receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=0,
        )
        return [(m["MessageId"], m["ReceiptHandle"], m["Body"]) for m in response.get("Messages", [])]

    def release(self, receipt_handle: str, after_seconds: int = 0) -> None:
        """Make a received message visible again: at once, or after `after_seconds` instead of its visibility
        timeout."""
        client("sqs").change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=after_seconds
        )

    def delete(self, receipt_handle: str) -> None:
        client("sqs").delete_message(QueueUrl=self.url, ReceiptHandle=receipt_handle)


class EventBus:
    def __init__(self, name: str) -> None:
        self.name = name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Publish one event; PutEvents reports per-entry failures in a 200 answer, so check them."""
        response = client("events").put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, separators=(",", ":")),
                    "EventBusName": self.name,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            failure = response["Entries"][0]
            raise RuntimeError(f"PutEvents failed: {failure.get('ErrorCode')}: {failure.get('ErrorMessage')}")
