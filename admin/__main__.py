"""`python -m admin dlq list|redrive`: the webhook DLQ after an endpoint outage.

Resource names come from the stack config, as for the deployed stack and the local one. Against the
local stack (`make dev`), pass `--local` (moto on SHOTWIRE_MOTO_PORT, default 8001); against AWS, the
usual credentials and region.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from shotwire_core.adapters.aws import client
from shotwire_core.adapters.dynamo import JobTable
from shotwire_core.adapters.messaging import Queue
from shotwire_core.config import load_stack_config
from shotwire_core.redrive import list_parked, redrive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m admin", description=__doc__)
    parser.add_argument("--local", action="store_true", help="talk to the local stack's moto server")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    commands = parser.add_subparsers(dest="area", required=True)
    dlq = commands.add_parser("dlq", help="the webhook dead-letter queue")
    dlq.add_argument("action", choices=["list", "redrive"])
    args = parser.parse_args(argv)

    os.environ.setdefault("AWS_DEFAULT_REGION", args.region)
    if args.local:
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{os.environ.get('SHOTWIRE_MOTO_PORT', '8001')}"
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    config = load_stack_config()
    sqs = client("sqs")
    dead_letters = Queue(sqs.get_queue_url(QueueName=config.webhook_dlq)["QueueUrl"])

    if args.action == "list":
        parked = list_parked(dead_letters)
        for entry in parked:
            print(json.dumps(entry))
        print(f"{len(parked)} parked in {config.webhook_dlq}", file=sys.stderr)
        return 0

    report = redrive(
        dlq=dead_letters,
        jobs=JobTable(config.jobs_table),
        retry_queue=Queue(sqs.get_queue_url(QueueName=config.webhook_retry_queue)["QueueUrl"]),
    )
    for job_id in report.redriven:
        print(f"redriven {job_id}")
    for message_id, why in report.skipped:
        print(f"left parked {message_id}: {why}")
    print(f"{len(report.redriven)} redriven, {len(report.skipped)} left in {config.webhook_dlq}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
