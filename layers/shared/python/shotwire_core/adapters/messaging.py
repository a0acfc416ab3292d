"""SQS queues and the EventBridge bus."""

from __future__ import annotations

import json
from typing import Any

from shotwire_core.adapters.aws import client
from shotwire_core.config import EVENT_SOURCE


class Queue:
    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        client("sqs").send_message(
            QueueUrl=self.url, MessageBody=json.dumps(body, separators=(",", ":")), DelaySeconds=delay_seconds
        )


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
