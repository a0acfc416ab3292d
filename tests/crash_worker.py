"""One Lambda invocation in a process of its own, optionally killed at a chosen point (`os._exit`).

Used by tests/e2e/test_crash_recovery.py: the process really dies there, as a Lambda sandbox would,
and a fresh process gets the same SQS message again once its visibility timeout runs out.

    python -m tests.crash_worker capture|dispatcher <queue url> <fault>

Faults: `none`; `after-store` (the capture function dies once the image is stored and the job marked,
before the outcome is published); `mid-delivery` (the dispatcher dies after the receiver got the POST,
before the attempt is recorded).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3

from devstack.runtime import LocalContext, eventbridge_event, load_function, sqs_record

ROOT = Path(__file__).resolve().parents[1]
KILLED = 137
VISIBILITY_SECONDS = 2


def _die(*args: object, **kwargs: object) -> None:
    os._exit(KILLED)


def main() -> int:
    function, queue_url, fault = sys.argv[1:4]
    if fault == "after-store":
        from shotwire_core.adapters.messaging import EventBus

        EventBus.publish = _die  # type: ignore[method-assign]
    elif fault == "mid-delivery":
        from shotwire_core.adapters.dynamo import JobTable

        JobTable.record_delivery_attempt = _die  # type: ignore[method-assign]

    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=1,
        VisibilityTimeout=VISIBILITY_SECONDS,
        WaitTimeSeconds=5,
        AttributeNames=["All"],
    ).get("Messages", [])
    if not messages:
        print("no message", file=sys.stderr)
        return 3
    (message,) = messages
    handler = load_function(ROOT / "functions" / function / "handler.py", f"crash_{function}")
    region = os.environ["AWS_DEFAULT_REGION"]
    if function == "capture":
        event = {"Records": [sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:capture", region)]}
        result = handler.lambda_handler(event, LocalContext(function))
        if result and result.get("batchItemFailures"):
            return 4
    else:  # the dispatcher, as the bus rule invokes it (the tap queue holds the rule's events)
        handler.lambda_handler(eventbridge_event(message["Body"], region), LocalContext(function))
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    if function == "capture":
        handler.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
