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
from infra.firewall import ApiFirewall
from infra.layers import Layers
from infra.links import DownloadLinkSecret
from infra.nag import acknowledge
from infra.permissions import allow_items, allow_objects
from infra.storage import Storage
from shotwire_core import gateway_errors
from shotwire_core.binary_media import BINARY_MEDIA_TYPES
from shotwire_core.config import StackConfig

# Stage-wide ceiling in front of the per-key checks in the handler: caps the bill if a key leaks.
THROTTLING_RATE_LIMIT = 50  # requests per second, steady state
THROTTLING_BURST_LIMIT = 100


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


def acknowledge_api_findings(rest_api: apigw.RestApi, *, waf: bool, api_logs: bool) -> None:
    """The API's accepted cdk-nag findings, each on the resource it concerns (one proxy carries every route)."""
    assert rest_api.node.default_child is not None
    acknowledge(
        rest_api.node.default_child,
        "AwsSolutions-APIG2",
        "Requests are validated in the function against the same pydantic models that generate the OpenAPI "
        "document, so a 422 names the field and rule; schemathesis checks the two agree in make test.",
    )
    for method in rest_api.methods:
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(
                method,
                rule,
                "Clients are programs holding shotwire API keys (X-API-Key or Bearer), checked by the function "
                "against SHA-256 hashes in DynamoDB on every request; there are no user pools. Only /health, "
                "/docs, /openapi.json and /v1/meta/egress-ips are public.",
            )
    logging_role = rest_api.node.try_find_child("CloudWatchRole")
    if logging_role is not None:
        acknowledge(
            logging_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level logging role (needed for access and execution logs) uses the policy "
            "AWS documents for it.",
        )
    if not api_logs:
        for rule in ("AwsSolutions-APIG1", "AwsSolutions-APIG6"):
            acknowledge(
                rest_api.deployment_stage,
                rule,
                "API logging is off by choice (StackConfig.api_access_logs false): it needs the account-wide "
                "API Gateway CloudWatch role, which some organisations manage centrally; the function's own "
                "logs still record every request.",
            )
    if not waf:
        acknowledge(
            rest_api.deployment_stage,
            "AwsSolutions-APIG3",
            "The WAF web ACL is optional (StackConfig.api_waf; $9/month before requests: $5 for the ACL, $1 "
            "for each of its 4 rules); without it the stage throttle and per-tenant limits and quotas apply.",
        )


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
        links: DownloadLinkSecret,
        # The static egress IPs, comma-separated (StaticEgress.joined_ips); "": none. GET /v1/meta/egress-ips.
        egress_ips: str = "",
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
                    function="api",
                    images_bucket=storage.bucket.bucket_name,
                    queue_urls={
                        "SHOTWIRE_CAPTURE_QUEUE_URL": capture_queue.queue_url,
                        # `redeliver` queues the new delivery's first attempt there.
                        "SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL": webhook_retry_queue.queue_url,
                    },
                    egress_ips=egress_ips,
                ),
            ),
        )

        self.rest_api = apigw.LambdaRestApi(
            self,
            "RestApi",
            rest_api_name=f"{config.prefix}-api",
            handler=self.function,
            proxy=True,
            # A synchronous capture with `Accept: image/*` answers the image itself (base64 from Lambda); the
            # same list the handler and the local gateway apply (shotwire_core.binary_media).
            binary_media_types=list(BINARY_MEDIA_TYPES),
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=config.api_access_logs,
            deploy_options=apigw.StageOptions(
                throttling_rate_limit=THROTTLING_RATE_LIMIT,
                throttling_burst_limit=THROTTLING_BURST_LIMIT,
                tracing_enabled=True,
                # Execution logs for errors only, and never request or response data (they hold API keys).
                logging_level=apigw.MethodLoggingLevel.ERROR if config.api_access_logs else None,
                data_trace_enabled=False,
                **(access_logging(self) if config.api_access_logs else {}),
            ),
        )
        # What API Gateway answers itself (throttled, too large, malformed, the function failed or timed out)
        # is the same error envelope as the function's answers.
        for response_type, code in gateway_errors.DEPLOYED.items():
            self.rest_api.add_gateway_response(
                f"Gateway{response_type.title().replace('_', '')}",
                type=apigw.ResponseType.of(response_type),
                response_headers={"Content-Type": "'application/json'"},
                templates={"application/json": gateway_errors.response_template(code)},
            )
        if config.api_access_logs:
            # API Gateway writes execution logs to a group it names and creates itself, kept forever; made here
            # first, it gets the stack's retention and goes with the stack.
            logs.LogGroup(
                self,
                "ExecutionLogs",
                log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/"
                f"{self.rest_api.deployment_stage.stage_name}",
                retention=LOG_RETENTION,
            )
        self.firewall = (
            ApiFirewall(self, "Firewall", config=config, stage=self.rest_api.deployment_stage)
            if config.api_waf
            else None
        )
        acknowledge_api_findings(self.rest_api, waf=config.api_waf, api_logs=config.api_access_logs)

        # Jobs: create one or a batch, read, list (Query), batch views (BatchGetItem), redeliver, delete.
        allow_items(
            self.function,
            storage.jobs_table,
            "GetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "Query",
            "BatchGetItem",
            "BatchWriteItem",
        )
        # Keys table: key lookup, tenant read, secret rotation (conditional put), rate and quota counters.
        allow_items(self.function, storage.keys_table, "GetItem", "PutItem", "UpdateItem")
        # Powertools idempotency's persistence layer.
        allow_items(self.function, storage.idempotency_table, "GetItem", "PutItem", "UpdateItem", "DeleteItem")
        capture_queue.grant_send_messages(self.function)
        webhook_retry_queue.grant_send_messages(self.function)
        # Signs download links and checks them when they are followed.
        links.grant_signing(self.function)
        # Never PutObject and never an event: the API reads images (presigned links, ?wait with Accept: image/*)
        # and deletes them (DELETE /v1/screenshots/{id}).
        allow_objects(
            self.function,
            storage.bucket,
            "GetObject",
            "DeleteObject",
            why="The API presigns GET links to (behind a checked download link), returns, and deletes images of "
            "any tenant's job; keys are <tenant>/<job>.<ext>, and tenancy is enforced by the job lookup (or the "
            "link's signature) before any call.",
        )
