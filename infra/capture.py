"""The capture worker: queue, dead-letter queue and the Chromium container function that drains them."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.defaults import REPO_ROOT, function_props, secure_queue
from infra.egress import StaticEgress
from infra.environment import settings_environment
from infra.permissions import allow_items, allow_objects
from infra.storage import Storage
from shotwire_core.config import StackConfig

DOCKERFILE = "functions/capture/Dockerfile"

# The build context is the repo root (the image needs layers/shared too). The root .dockerignore lets in
# only what the Dockerfile copies; this list is the backstop if someone loosens it, so that local clutter
# never reaches the asset hash or the staged copy in cdk.out.
IMAGE_EXCLUDE = [
    ".git",
    ".venv",
    "**/.venv",
    "cdk.out",
    "node_modules",
    "build",
    "dist",
    "docs",
    "tests",
    ".dev",
    "devstack",
    "**/__pycache__",
    "**/*.pyc",
    "**/.pytest_cache",
    "**/.mypy_cache",
    "**/.ruff_cache",
]


class CaptureWorker(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        storage: Storage,
        event_bus: events.IEventBus,
        egress: StaticEgress | None = None,
    ) -> None:
        super().__init__(scope, construct_id)

        self.dlq = secure_queue(
            self,
            "DeadLetterQueue",
            queue_name=config.capture_dlq,
            retention_period=Duration.days(config.dlq_retention_days),
        )
        self.queue = secure_queue(
            self,
            "Queue",
            queue_name=config.capture_queue,
            visibility_timeout=Duration.seconds(config.capture_visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=config.capture_max_receive_count),
        )

        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            description="Renders one page in Chromium and stores the screenshot",
            # Only hashed at synth; `cdk deploy` builds and pushes it (Docker needed there, not here).
            code=lambda_.DockerImageCode.from_image_asset(
                str(REPO_ROOT),
                file=DOCKERFILE,
                exclude=IMAGE_EXCLUDE,
                platform=ecr_assets.Platform.LINUX_AMD64,
            ),
            reserved_concurrent_executions=config.capture_reserved_concurrency,
            **function_props(
                self,
                service="capture",
                memory_mb=config.capture_memory_mb,
                timeout_seconds=config.capture_timeout_seconds,
                # Given egress (egress_capture_in_vpc), pages are fetched from the static IPs too (infra/egress.py).
                vpc_placement=egress.function_placement() if egress else None,
                environment=settings_environment(
                    config,
                    function="capture",
                    images_bucket=storage.bucket.bucket_name,
                    # A failed capture's redelivery is shortened on this queue (ChangeMessageVisibility).
                    queue_urls={"SHOTWIRE_CAPTURE_QUEUE_URL": self.queue.queue_url},
                ),
            ),
        )
        self.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=config.capture_batch_size,
                # One bad page must not send the rest of the batch back to the queue.
                report_batch_item_failures=True,
                max_concurrency=config.capture_max_concurrency,
            )
        )

        # Read the job, then mark it processing / completed / failed (conditional updates).
        allow_items(self.function, storage.jobs_table, "GetItem", "UpdateItem")
        allow_objects(
            self.function,
            storage.bucket,
            "PutObject",
            why="The capture function writes each job's image under <tenant>/<job>.<ext>, a key made per job.",
        )
        event_bus.grant_put_events_to(self.function)
