"""`make bench-webhooks`: how fast the dispatcher delivers, against a plain loop, and event-to-delivery latency.

1. Dispatcher throughput: the dispatcher Lambda handler invoked once per outcome event (as the bus
   rule invokes it), DynamoDB and S3 on moto in-process, POSTing to a loopback receiver; beside it the
   floor: a loop that signs the same bodies and POSTs them with the same HTTP client (no job lookup,
   no attempt recorded, no presigning). Deliveries per second and the ratio.
2. Event-to-delivery latency through the local stack (`python -m devstack`): from the job's
   `completedAt` (the moment its outcome is published) to the receiver getting the POST; p50/p95.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import urllib.request
from datetime import datetime
from typing import Any

from tests.support import PageServer, WebhookReceiver, devstack_process

KEY = "sw_bench_hooks_key_000001"
PAGE = "<html><body style='margin:0;background:#e76f51'><h1>hooks</h1></body></html>"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class AwsCallMeter:
    """Counts and times every AWS API call botocore makes (here: answered by moto in-process)."""

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0

    def install(self) -> None:
        from botocore.endpoint import Endpoint

        original = Endpoint.make_request
        meter = self

        def timed(endpoint: Any, operation_model: Any, request_dict: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(endpoint, operation_model, request_dict)
            finally:
                meter.calls += 1
                meter.seconds += time.perf_counter() - started

        Endpoint.make_request = timed


def dispatcher_throughput(deliveries: int, rounds: int) -> tuple[list[float], list[float], list[float], float]:
    """Per round: dispatcher deliveries/s, the same without the time spent in AWS calls, and the floor's
    deliveries/s (interleaved round by round); and the AWS calls one delivery makes."""
    from moto import mock_aws

    meter = AwsCallMeter()
    meter.install()

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws(), WebhookReceiver().running() as receiver:
        from devstack.resources import provision
        from devstack.runtime import LocalContext, load_function
        from shotwire_core.adapters.dynamo import JobTable, KeyTable
        from shotwire_core.config import load_stack_config
        from shotwire_core.delivery import encode_body
        from shotwire_core.ids import new_job_id, webhook_message_id
        from shotwire_core.jobs import webhook_body
        from shotwire_core.models import CaptureOptions, Job, JobStatus, Tenant, WebhookStatus
        from shotwire_core.services import get_services
        from shotwire_core.settings import function_environment
        from shotwire_core.signing import generate_webhook_secret, signature_headers

        config = load_stack_config()
        resources = provision(config, "us-east-1", "123456789012")
        os.environ.update(
            function_environment(
                config,
                images_bucket=resources.bucket,
                allow_private_networks=True,
                queue_urls=resources.queue_urls(),
                api_url="http://127.0.0.1:8000",  # links in the payloads are made, not followed
            )
        )
        secret = generate_webhook_secret()
        KeyTable(config.keys_table).put_tenant(Tenant(tenant_id="bench", name="bench", webhook_secret=secret))
        jobs = JobTable(config.jobs_table)
        handler = load_function(
            __import__("pathlib").Path(__file__).resolve().parents[1] / "functions" / "dispatcher" / "handler.py",
            "bench_dispatcher",
        )
        services = get_services()
        hook = receiver.script("/hook", [200])

        def make_jobs(count: int) -> list[Job]:
            made = []
            for _ in range(count):
                job = Job(
                    tenant_id="bench",
                    job_id=new_job_id(),
                    status=JobStatus.COMPLETED,
                    options=CaptureOptions(url="https://example.com/", width=1280, height=800),
                    webhook_url=hook,
                    webhook_status=WebhookStatus.PENDING,
                    created_at="2026-01-01T00:00:00.000Z",
                    updated_at="2026-01-01T00:00:01.000Z",
                    completed_at="2026-01-01T00:00:01.000Z",
                    image_key=f"bench/{new_job_id()}.png",
                    image_width=1280,
                    image_height=800,
                )
                jobs.create(job)
                made.append(job)
            return made

        def event(job: Job) -> dict[str, Any]:
            return {
                "version": "0",
                "id": "e",
                "detail-type": "screenshot.completed",
                "source": "shotwire",
                "account": "123456789012",
                "time": "2026-01-01T00:00:01Z",
                "region": "us-east-1",
                "resources": [],
                "detail": {"tenantId": "bench", "jobId": job.job_id, "status": "completed"},
            }

        dispatched, without_aws, floor = [], [], []
        calls_per_delivery = 0.0
        for _ in range(rounds + 1):  # the first round warms up
            batch = make_jobs(deliveries)
            calls, in_aws = meter.calls, meter.seconds
            started = time.perf_counter()
            for job in batch:
                handler.lambda_handler(event(job), LocalContext("bench-dispatcher"))
            elapsed = time.perf_counter() - started
            dispatched.append(deliveries / elapsed)
            without_aws.append(deliveries / (elapsed - (meter.seconds - in_aws)))
            calls_per_delivery = (meter.calls - calls) / deliveries

            bodies = [encode_body(webhook_body(job, "https://example.com/image.png")) for job in batch]
            started = time.perf_counter()
            for job, body in zip(batch, bodies, strict=True):
                headers = signature_headers(secret, webhook_message_id(job.job_id), int(time.time()), body)
                result = services.send_webhook(hook, body, headers)
                assert result.delivered
            floor.append(deliveries / (time.perf_counter() - started))
        assert all(jobs.get("bench", job.job_id).webhook_status is WebhookStatus.DELIVERED for job in batch)  # type: ignore[union-attr]
    return dispatched[1:], without_aws[1:], floor[1:], calls_per_delivery


def event_to_delivery(jobs: int) -> list[float]:
    """Seconds from each job's completedAt to its webhook arriving, through the local stack."""
    env = {"SHOTWIRE_DEV_API_KEY": KEY, "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "1", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    latencies = []
    with (
        PageServer({"/": PAGE}).running() as pages,
        tempfile.TemporaryFile() as log,
        devstack_process(env, log) as running,
        WebhookReceiver().running() as receiver,
    ):
        for index in range(jobs + 2):
            path = f"/e2d-{index}"
            hook = receiver.script(path, [200])
            request = urllib.request.Request(
                running.api_url + "/v1/screenshots",
                data=json.dumps({"url": f"{pages}/", "webhookUrl": hook}).encode(),
                method="POST",
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                job_id = json.loads(response.read())["jobId"]
            (delivery,) = receiver.wait_for(path, 1, timeout=60)
            view = urllib.request.Request(
                running.api_url + f"/v1/screenshots/{job_id}", headers={"Authorization": f"Bearer {KEY}"}
            )
            with urllib.request.urlopen(view, timeout=30) as response:
                completed_at = json.loads(response.read())["completedAt"]
            completed = datetime.fromisoformat(completed_at.replace("Z", "+00:00")).timestamp()
            if index >= 2:  # the first jobs launch Chromium
                latencies.append(delivery.received_at - completed)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=200, help="deliveries per throughput round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=20, help="jobs for the event-to-delivery latency")
    args = parser.parse_args()

    dispatched, without_aws, floor, calls = dispatcher_throughput(args.deliveries, args.rounds)
    latencies = event_to_delivery(args.jobs)
    ratios = [d / f for d, f in zip(dispatched, floor, strict=True)]
    net_ratios = [d / f for d, f in zip(without_aws, floor, strict=True)]
    print(f"\nwebhook benchmark ({os.cpu_count()} cores), loopback receiver answering 200")
    print(f"  floor: sign + POST loop, same client     {statistics.median(floor):7.1f} deliveries/s")
    print(f"  dispatcher handler, moto in-process      {statistics.median(dispatched):7.1f} deliveries/s")
    print(f"  dispatcher, time in AWS calls taken out  {statistics.median(without_aws):7.1f} deliveries/s")
    print(f"  AWS calls per delivery                   {calls:7.1f}")
    print(
        f"  ratio dispatcher/floor                   {statistics.median(ratios):7.2f}"
        f"   (rounds: {', '.join(f'{r:.2f}' for r in ratios)}; {args.deliveries} deliveries each)"
    )
    print(
        f"  ratio without AWS calls / floor          {statistics.median(net_ratios):7.2f}"
        f"   (rounds: {', '.join(f'{r:.2f}' for r in net_ratios)})"
    )
    print(
        f"  event -> delivery, local stack         p50 {statistics.median(latencies) * 1000:5.0f} ms"
        f"   p95 {_percentile(latencies, 0.95) * 1000:5.0f} ms   (n={len(latencies)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
