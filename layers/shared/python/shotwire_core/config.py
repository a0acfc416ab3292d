"""Resource names and operational limits: the one source both the CDK app and the local stack read.

The CDK app builds a `StackConfig` (optionally overridden from CDK context) and passes the
resulting names to each function as environment variables; the local stack builds the same
`StackConfig` and creates identically named resources on moto, then sets the same variables.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from shotwire_contract.limits import MAX_SECRET_OVERLAP_SECONDS, MAX_TIMEOUT_MS

EVENT_SOURCE = "shotwire.capture"
DETAIL_TYPE_COMPLETED = "Screenshot Completed"
DETAIL_TYPE_FAILED = "Screenshot Failed"

# Waits in seconds before each webhook retry: ~5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
DEFAULT_WEBHOOK_RETRY_SCHEDULE: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)

# SQS refuses DelaySeconds above 15 minutes; longer waits hop through the queue several times.
SQS_MAX_DELAY_SECONDS = 900

# The CloudWatch namespace of the handlers' metrics (shotwire_core.observability, infra/monitoring.py).
METRICS_NAMESPACE = "Shotwire"


# The longest a single capture may run (timeoutMs, at most 120 s) and the grace past it before the render is
# given up and its browser probed, killed if it no longer answers (shotwire_core.adapters.browser); a browser
# launch plus uploads.
CAPTURE_JOB_TIMEOUT_MAX_SECONDS = MAX_TIMEOUT_MS // 1000
CAPTURE_HANG_GRACE_SECONDS = 20
# Time the capture function keeps back at the end of an invocation to record and announce outcomes: no job
# is started or kept running past it (functions/capture/handler.py).
CAPTURE_INVOCATION_MARGIN_SECONDS = 15
# Time a job keeps back at its own end to close its browser context (adapters/browser.py).
CAPTURE_CLEANUP_SECONDS = 7
CAPTURE_LAUNCH_SECONDS = 30
# Lambda's longest timeout: the capture function's may not exceed it, so neither may a batch's worst case.
LAMBDA_MAX_TIMEOUT_SECONDS = 900


def _waits_are_not_negative(value: tuple[int, ...]) -> tuple[int, ...]:
    if any(wait < 0 for wait in value):
        raise ValueError("retry waits must be >= 0 seconds")
    return value


# The bounds of the limits a function also reads at run time, stated once: `StackConfig` refuses at synth (or
# when `make dev` starts) what the function's settings (shotwire_core.settings) would refuse at cold start.
CaptureJobTimeoutMs = Annotated[int, Field(ge=1000, le=CAPTURE_JOB_TIMEOUT_MAX_SECONDS * 1000)]
CaptureConcurrency = Annotated[int, Field(ge=1, le=16)]
ReceiveCount = Annotated[int, Field(ge=1)]
RetentionDays = Annotated[int, Field(ge=1)]
RetrySchedule = Annotated[tuple[int, ...], AfterValidator(_waits_are_not_negative)]
WebhookTimeoutSeconds = Annotated[float, Field(gt=0)]
MaxInFlightPerDestination = Annotated[int, Field(ge=1, le=100)]
CircuitFailureThreshold = Annotated[int, Field(ge=1, le=1000)]
CircuitHoldSeconds = Annotated[int, Field(ge=1, le=3600)]
# The contract promises a link lives at least an hour; past a week it would outlive the images it points at.
DownloadUrlTtlSeconds = Annotated[int, Field(ge=3600, le=7 * 24 * 3600)]
SecretOverlapSeconds = Annotated[int, Field(ge=0, le=MAX_SECRET_OVERLAP_SECONDS)]


class StackConfig(BaseModel):
    """Every name and limit that must agree between the deployed stack and the local one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prefix: str = Field(default="shotwire", pattern=r"^[a-z][a-z0-9-]{1,30}$")

    # Capture
    capture_memory_mb: int = 2048
    # Long enough for the worst batch: see capture_batch_worst_case_seconds. Lambda bills the time used,
    # not the timeout, so the headroom costs nothing unless pages really hang.
    capture_timeout_seconds: int = 480
    # A batch's records render concurrently in one warm browser (a context each).
    capture_batch_size: int = Field(default=10, ge=1, le=10)
    capture_concurrency: CaptureConcurrency = 4
    capture_max_receive_count: ReceiveCount = 3
    capture_reserved_concurrency: int | None = None
    # Concurrent batches the capture queue's event source may run (SQS event source maximum concurrency, 2-1000).
    capture_max_concurrency: int = Field(default=10, ge=2, le=1000)
    capture_job_timeout_ms: CaptureJobTimeoutMs = 30_000

    # Webhooks
    dispatcher_memory_mb: int = 512
    # A retry batch's records are sent concurrently, so a batch takes about one attempt (15 s at most)
    # plus its bookkeeping; the rest is headroom.
    dispatcher_timeout_seconds: int = 120
    webhook_retry_schedule: RetrySchedule = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    webhook_retry_batch_size: int = 10
    # The dispatcher's own bound: reserved concurrency (None: the account pool) and the retry queue's
    # event source maximum concurrency.
    dispatcher_reserved_concurrency: int | None = None
    dispatcher_retry_max_concurrency: int = Field(default=20, ge=2, le=1000)
    webhook_retry_max_receive_count: int = 5
    # The retry queue keeps a message for this long; each hop of the schedule (at most 15 min) is far inside it.
    webhook_retry_retention_days: int = Field(default=14, ge=1, le=14)
    # Lambda's own retries of a crashed dispatcher invoke from the outcome rule, before the webhook DLQ.
    dispatcher_async_retry_attempts: int = Field(default=2, ge=0, le=2)
    webhook_connect_timeout_seconds: WebhookTimeoutSeconds = 5.0
    webhook_timeout_seconds: WebhookTimeoutSeconds = 15.0
    # Per destination (host:port), see shotwire_core.circuit: attempts out at once; consecutive
    # failures that open its circuit; the first hold (it doubles per failed probe, up to an hour).
    webhook_max_in_flight_per_destination: MaxInFlightPerDestination = 10
    webhook_circuit_failure_threshold: CircuitFailureThreshold = 10
    webhook_circuit_hold_seconds: CircuitHoldSeconds = 60
    # host:port targets captures and webhooks may reach even though private networks are blocked.
    allowed_hosts: tuple[str, ...] = ()

    # API
    api_memory_mb: int = 512
    api_timeout_seconds: int = 29
    # Access logs need API Gateway's account-level CloudWatch role, which the stack then creates.
    api_access_logs: bool = True
    # An AWS WAF web ACL on the stage (AWS managed rule groups plus a per-IP rate rule); off by default,
    # it costs $9/month before requests: $5 for the web ACL, $1 for each of its 4 rules (docs/cost.md).
    api_waf: bool = False
    api_waf_requests_per_ip_per_5_minutes: int = Field(default=3000, ge=100, le=2_000_000_000)

    # Storage
    download_url_ttl_seconds: DownloadUrlTtlSeconds = 24 * 3600
    # After a webhook secret is rotated, deliveries are signed with the old one as well for this long.
    webhook_secret_overlap_seconds: SecretOverlapSeconds = 24 * 3600
    image_retention_days: RetentionDays = 7
    dlq_retention_days: int = 14

    # Monitoring (infra/monitoring.py)
    alarm_email: str | None = None  # subscribed to the alarm topic when given
    alarm_capture_failure_percent: float = 20.0
    alarm_backlog_seconds: int = 300
    alarm_api_5xx_percent: float = 5.0
    alarm_function_errors: int = 5
    event_archive_days: int = 14

    # Egress (infra/egress.py): off by default, a NAT gateway and its Elastic IP cost ~$36.50/month per AZ.
    # On: the dispatcher (and, if asked, the capture function) runs in a VPC whose NAT gateways use Elastic
    # IPs, published as the EgressIps output and by GET /v1/meta/egress-ips for receivers to allow-list.
    egress_static_ips: bool = False
    # One NAT gateway and Elastic IP per AZ: 1 is cheaper, 2 survives an AZ outage.
    egress_nat_gateways: int = Field(default=2, ge=1, le=3)
    # Pages are then fetched from the same IPs too, and their traffic pays NAT data processing.
    egress_capture_in_vpc: bool = False

    @property
    def capture_batch_worst_case_seconds(self) -> int:
        """A batch's render waves, each as long as the slowest job may take (its timeout, at most 120 s, plus
        the grace before a hung browser is killed), plus launching Chromium and uploading. A function timeout
        below this lets slow pages time out the whole invocation, failing every job in the batch with them,
        other tenants' included."""
        waves = -(-self.capture_batch_size // self.capture_concurrency)
        per_wave = CAPTURE_JOB_TIMEOUT_MAX_SECONDS + CAPTURE_HANG_GRACE_SECONDS
        # The capture function stops starting work CAPTURE_INVOCATION_MARGIN_SECONDS before its end (to record
        # and announce outcomes) and gives a job CAPTURE_CLEANUP_SECONDS to close its context.
        reserve = CAPTURE_INVOCATION_MARGIN_SECONDS + CAPTURE_CLEANUP_SECONDS
        return waves * per_wave + CAPTURE_LAUNCH_SECONDS + reserve

    @model_validator(mode="after")
    def _capture_timeout_covers_a_batch(self) -> StackConfig:
        worst_case, ceiling = self.capture_batch_worst_case_seconds, LAMBDA_MAX_TIMEOUT_SECONDS
        if not worst_case <= self.capture_timeout_seconds <= ceiling:
            raise ValueError(
                f"capture_timeout_seconds must be {worst_case}-{ceiling}: a batch of "
                f"{self.capture_batch_size} rendering {self.capture_concurrency} at once may take that long"
            )
        return self

    @model_validator(mode="after")
    def _capture_in_vpc_needs_the_vpc(self) -> StackConfig:
        if self.egress_capture_in_vpc and not self.egress_static_ips:
            raise ValueError("egress_capture_in_vpc needs egress_static_ips (there is no VPC without it)")
        return self

    # Names ---------------------------------------------------------------
    @property
    def jobs_table(self) -> str:
        return f"{self.prefix}-jobs"

    @property
    def keys_table(self) -> str:
        return f"{self.prefix}-keys"

    @property
    def alarm_topic(self) -> str:
        return f"{self.prefix}-alarms"

    @property
    def dashboard(self) -> str:
        return f"{self.prefix}-overview"

    @property
    def event_archive(self) -> str:
        return f"{self.prefix}-outcomes"

    @property
    def idempotency_table(self) -> str:
        """Powertools idempotency records of the API's creating POSTs (key `id`, TTL `expiration`)."""
        return f"{self.prefix}-idempotency"

    @property
    def download_link_secret(self) -> str:
        """The Secrets Manager secret that signs download links (shotwire_core.links)."""
        return f"{self.prefix}/download-links"

    @property
    def capture_queue(self) -> str:
        return f"{self.prefix}-capture"

    @property
    def capture_dlq(self) -> str:
        return f"{self.prefix}-capture-dlq"

    @property
    def webhook_retry_queue(self) -> str:
        return f"{self.prefix}-webhook-retry"

    @property
    def webhook_dlq(self) -> str:
        return f"{self.prefix}-webhook-dlq"

    @property
    def event_bus(self) -> str:
        return f"{self.prefix}-events"

    @property
    def outcome_rule(self) -> str:
        return f"{self.prefix}-capture-outcome"

    def images_bucket(self, account: str, region: str) -> str:
        """S3 names are global, so the account and region make the bucket name unique."""
        return f"{self.prefix}-images-{account}-{region}"

    @property
    def capture_visibility_timeout_seconds(self) -> int:
        # AWS advice for SQS-triggered Lambdas: at least six times the function timeout.
        return 6 * self.capture_timeout_seconds

    @property
    def webhook_retry_visibility_timeout_seconds(self) -> int:
        return 6 * self.dispatcher_timeout_seconds

    @property
    def outcome_event_pattern(self) -> dict[str, Any]:
        """The EventBridge pattern that routes capture outcomes to the dispatcher (deployed and local)."""
        return {"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE_COMPLETED, DETAIL_TYPE_FAILED]}


def load_stack_config(overrides: dict[str, Any] | None = None) -> StackConfig:
    """Build the config, letting CDK context (or the local stack) override any field."""
    return StackConfig(**(overrides or {}))
