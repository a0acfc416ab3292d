"""The public REST API: API Gateway (v1) proxying every route to one Lambda function."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.defaults import ASSET_EXCLUDE, LOG_RETENTION, REPO_ROOT, RUNTIME, ZIP_HANDLER, function_props
from infra.environment import settings_environment
from infra.layers import Layers
from infra.storage import Storage
from shotwire_core.config import StackConfig

# Stage-wide ceiling in front of the per-key checks in the handler: caps the bill if a key leaks.
THROTTLING_RATE_LIMIT = 50  # requests per second, steady state
THROTTLING_BURST_LIMIT = 100


BINARY_MEDIA_TYPES = ["image/*", "application/pdf"]


def access_logging(scope: Construct) -> dict[str, Any]:
    """One JSON line per request (no headers or bodies, so no keys), kept as long as the function logs."""
    return {
        "access_log_destination": apigw.LogGroupLogDestination(
            logs.LogGroup(scope, "AccessLogs", retention=LOG_RETENTION)
        ),
        "access_log_format": apigw.AccessLogFormat.json_with_standard_fields(
            caller=False,
            http_method=True,
            ip=True,
            protocol=True,
            request_time=True,
            resource_path=True,
            response_length=True,
            status=True,
            user=False,
        ),
    }


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        storage: Storage,
        layers: Layers,
        capture_queue: sqs.IQueue,
        webhook_retry_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)

        self.function = lambda_.Function(
            self,
            "Function",
            description="shotwire REST API: submit screenshot jobs, read their status and download links",
            runtime=RUNTIME,
            handler=ZIP_HANDLER,
            code=lambda_.Code.from_asset(str(REPO_ROOT / "functions" / "api"), exclude=ASSET_EXCLUDE),
            layers=layers.all,
            **function_props(
                self,
                service="api",
                memory_mb=config.api_memory_mb,
                timeout_seconds=config.api_timeout_seconds,
                environment=settings_environment(
                    config,
                    images_bucket=storage.bucket.bucket_name,
                    queue_urls={
                        "SHOTWIRE_CAPTURE_QUEUE_URL": capture_queue.queue_url,
                        # `redeliver` queues the new delivery's first attempt there.
                        "SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL": webhook_retry_queue.queue_url,
                    },
                ),
            ),
        )

        self.rest_api = apigw.LambdaRestApi(
            self,
            "RestApi",
            rest_api_name=f"{config.prefix}-api",
            handler=self.function,
            proxy=True,
            # A synchronous capture with `Accept: image/*` answers the image itself (base64 from Lambda).
            binary_media_types=BINARY_MEDIA_TYPES,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=config.api_access_logs,
            deploy_options=apigw.StageOptions(
                throttling_rate_limit=THROTTLING_RATE_LIMIT,
                throttling_burst_limit=THROTTLING_BURST_LIMIT,
                tracing_enabled=True,
                **(access_logging(self) if config.api_access_logs else {}),
            ),
        )

        storage.jobs_table.grant_read_write_data(self.function)
        # Read and write: rotating the webhook secret updates the tenant.
        storage.keys_table.grant_read_write_data(self.function)
        capture_queue.grant_send_messages(self.function)
        webhook_retry_queue.grant_send_messages(self.function)
        storage.idempotency_table.grant_read_write_data(self.function)
        # Read, to presign GET links, and delete (DELETE /v1/screenshots/{id}); the API never writes images
        # or publishes outcomes.
        storage.bucket.grant_read(self.function)
        storage.bucket.grant_delete(self.function)
