"""At-least-once, proven by killing processes: a capture that dies after storing its image but before
publishing, and a dispatcher that dies after the receiver got the POST but before recording it, both
still end in a delivery; the duplicate carries the same `webhook-id`.

Each invocation runs in a process of its own against a real moto server (tests/crash_worker.py) and is
killed with `os._exit` at the chosen point; the SQS message it held comes back after its visibility
timeout and a fresh process finishes the work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from devstack.options import find_chromium
from devstack.resources import LocalResources, provision
from shotwire_core.adapters import aws
from shotwire_core.adapters.dynamo import JobTable, KeyTable
from shotwire_core.adapters.messaging import Queue
from shotwire_core.config import load_stack_config
from shotwire_core.jobs import SubmissionRules, submit_screenshot
from shotwire_core.models import ScreenshotRequest, Tenant
from shotwire_core.settings import function_environment
from tests.crash_worker import KILLED, VISIBILITY_SECONDS
from tests.e2e.conftest import PAGES, SECRET
from tests.support import PageServer, WebhookReceiver, free_ports

pytestmark = pytest.mark.e2e

TENANT = "crash-tenant"


@dataclass
class Bed:
    env: dict[str, str]
    resources: LocalResources
    jobs: JobTable
    pages: str
    receiver: WebhookReceiver

    def submit(self, hook: str) -> str:
        request = ScreenshotRequest.model_validate({"url": f"{self.pages}/simple", "webhookUrl": hook})
        job = submit_screenshot(
            TENANT,
            request,
            jobs=self.jobs,
            capture_queue=Queue(self.resources.capture_queue_url),
            rules=SubmissionRules(allow_private=True, retention_days=1),
        )
        return job.job_id

    def run(self, function: str, fault: str = "none") -> int:
        queue = self.resources.capture_queue_url if function == "capture" else self.resources.outcome_tap_url
        done = subprocess.run(
            [sys.executable, "-m", "tests.crash_worker", function, queue, fault],
            env=self.env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        return done.returncode

    def tap_depth(self) -> int:
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=self.resources.outcome_tap_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture(scope="module")
def bed() -> Iterator[Bed]:
    (port,) = free_ports(1)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    aws.reset_clients()
    try:
        config = load_stack_config()
        resources = provision(config, "us-east-1", "123456789012")
        KeyTable(config.keys_table).put_tenant(Tenant(tenant_id=TENANT, name="crash", webhook_secret=SECRET))
        env = {
            **os.environ,
            **function_environment(
                config,
                images_bucket=resources.bucket,
                allow_private_networks=True,
                queue_urls=resources.queue_urls(),
                api_url="http://127.0.0.1:8000",  # the dispatcher links webhooks to images through the API
            ),
            "SHOTWIRE_CHROMIUM_PATH": find_chromium() or "",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        with PageServer(PAGES).running() as pages, WebhookReceiver().running() as receiver:
            yield Bed(env, resources, JobTable(config.jobs_table), pages, receiver)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        aws.reset_clients()
        server.stop()


def _job(bed: Bed, job_id: str) -> Any:
    job = bed.jobs.get(TENANT, job_id)
    assert job is not None
    return job


def _attempts(bed: Bed, job_id: str) -> list[Any]:
    """Every attempt recorded for the job's deliveries (none before its delivery is opened)."""
    return [attempt for _, attempts in bed.jobs.deliveries(TENANT, job_id) for attempt in attempts]


def test_a_capture_killed_after_storing_its_image_still_ends_in_a_delivery(bed: Bed) -> None:
    hook = bed.receiver.script("/after-store", [200])
    job_id = bed.submit(hook)

    assert bed.run("capture", "after-store") == KILLED
    stored = boto3.client("s3").list_objects_v2(Bucket=bed.resources.bucket, Prefix=f"{TENANT}/{job_id}")
    assert stored.get("KeyCount") == 1  # the image was stored...
    assert bed.tap_depth() == 0  # ...but no outcome was published

    time.sleep(VISIBILITY_SECONDS + 0.5)  # the message comes back, as to a new Lambda sandbox
    assert bed.run("capture") == 0
    assert bed.run("dispatcher") == 0
    (delivery,) = bed.receiver.received("/after-store")
    assert delivery.json["jobId"] == job_id and delivery.json["status"] == "completed"
    assert _job(bed, job_id).webhook_status.value == "delivered"


def test_a_dispatcher_killed_mid_delivery_delivers_again_with_the_same_webhook_id(bed: Bed) -> None:
    hook = bed.receiver.script("/mid-delivery", [200])
    job_id = bed.submit(hook)
    assert bed.run("capture") == 0

    assert bed.run("dispatcher", "mid-delivery") == KILLED
    assert len(bed.receiver.received("/mid-delivery")) == 1  # the receiver got it; nothing was recorded
    assert _attempts(bed, job_id) == []

    time.sleep(VISIBILITY_SECONDS + 0.5)
    assert bed.run("dispatcher") == 0
    first, second = bed.receiver.received("/mid-delivery")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # the receiver can drop the duplicate
    job = _job(bed, job_id)
    assert job.webhook_status.value == "delivered" and len(_attempts(bed, job_id)) == 1
