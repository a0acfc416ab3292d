"""`make cost`: what one capture costs on AWS (us-east-1 list prices), per component and at three monthly
volumes, against the published plans of hosted screenshot APIs. docs/cost.md explains every number.

Run: `.venv/bin/python -m bench.cost_model` (no AWS access, no network; prints Markdown tables).

What one capture is: a `POST /v1/screenshots` with a webhookUrl, no Idempotency-Key, no `?wait`, first webhook
attempt answered 2xx, the customer follows the webhook's download link once.

The AWS requests it makes are not written here: they are read from bench/call_counts.json, which
bench/call_counts.py (`make cost-measure`) writes from a real run of the local stack (the handlers on moto,
real Chromium), counting every request moto received, per stage, service, operation and item. This module
turns those counts into billed units: DynamoDB request units from the item each call touched (its size from
`measure_sizes()`), SQS, S3 and EventBridge requests, Lambda invocations, API Gateway requests. A call it
has no price for stops `make cost` rather than being left out.

What the measurement cannot see is modelled here: AWS's SQS event source makes one ReceiveMessage and one
DeleteMessageBatch per invocation (the local poller deletes message by message and polls on its own clock),
its empty long polls are a fixed monthly item, and the link secret (Secrets Manager) is read at most once per
API or dispatcher execution environment every 5 minutes: a fixed item, not a per-capture one. Signing download
links (HMAC) and presigning the redirect are local and cost nothing. TTL deletes (DynamoDB) and lifecycle
expiry (S3) are free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bench.call_counts import CallCounts, load_counts
from shotwire_core.config import StackConfig

CONFIG = StackConfig()
GIB = 2**30  # AWS bills "GB" as 2^30 bytes
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
VOLUMES = (10_000, 100_000, 1_000_000)  # captures per month
PRICE_DATE = "2026-11-23"  # the day these prices were collected; see each price's `seen` for its evidence


# -- prices (us-east-1, on-demand list prices, USD) ----------------------------------------------------------
@dataclass(frozen=True)
class Price:
    usd: float  # for `per` units of `unit`
    per: float
    unit: str
    seen: str  # where and when the figure was last seen; "not re-verified" = from memory of AWS's page

    @property
    def each(self) -> float:
        return self.usd / self.per


PRICES: dict[str, Price] = {
    # Lambda x86_64 duration (first 6 billion GB-s a month) and requests: AWS "How AWS pricing works" and
    # third-party guides 2024-2026; unchanged since per-ms billing (Dec 2020).
    "lambda_gb_s": Price(0.0000166667, 1, "GB-s", "AWS whitepaper, third-party pages 2024-2026"),
    "lambda_request": Price(0.20, 1e6, "requests", "AWS whitepaper, third-party pages 2024-2026"),
    # API Gateway REST API requests, first 333 million a month.
    "apigw_rest": Price(3.50, 1e6, "requests", "aws.amazon.com/api-gateway/pricing, 2025, not re-verified"),
    # SQS standard queue requests (each 64 KB chunk is a request), after the first million a month.
    "sqs_request": Price(0.40, 1e6, "requests", "aws.amazon.com/sqs/pricing, 2025, not re-verified"),
    # DynamoDB on-demand request units after the 50% cut of 2024-11-01 (airbyte.com, July 2025).
    "ddb_rru": Price(0.125, 1e6, "RRU", "DynamoDB on-demand, price cut of 2024-11-01; seen July 2025"),
    "ddb_wru": Price(0.625, 1e6, "WRU", "DynamoDB on-demand, price cut of 2024-11-01; seen July 2025"),
    # DynamoDB Standard table storage (first 25 GB free) and continuous backups (PITR), per GB-month.
    "ddb_storage": Price(0.25 + 0.20, 1, "GB-month", "storage $0.25 + PITR $0.20, 2025, not re-verified"),
    # S3 Standard: PUT/POST per 1,000, GET per 1,000, storage (first 50 TB) per GB-month.
    "s3_put": Price(0.005, 1000, "requests", "aws.amazon.com/s3/pricing, 2025, not re-verified"),
    "s3_get": Price(0.0004, 1000, "requests", "aws.amazon.com/s3/pricing, 2025, not re-verified"),
    "s3_storage": Price(0.023, 1, "GB-month", "aws.amazon.com/s3/pricing, 2025, not re-verified"),
    # EventBridge custom events (each 64 KB chunk is an event; delivery to the Lambda target included).
    "eb_event": Price(1.00, 1e6, "events", "EventBridge custom events; third-party guide June 2026"),
    # EventBridge archive: event processing per GB and storage per GB-month (a June 2026 guide gives a single
    # "$0.10/GB-month" instead: either way well under a cent per 1,000 captures).
    "eb_archive": Price(0.10, 1, "GB processed", "aws.amazon.com/eventbridge/pricing, 2025, not re-verified"),
    "eb_archive_storage": Price(0.023, 1, "GB-month", "aws.amazon.com/eventbridge/pricing, not re-verified"),
    # CloudWatch Logs standard ingestion (Lambda vended logs start at the same $0.50/GB) and storage.
    "logs_ingest": Price(0.50, 1, "GB", "aws.amazon.com/cloudwatch/pricing, 2025, not re-verified"),
    "logs_storage": Price(0.03, 1, "GB-month", "aws.amazon.com/cloudwatch/pricing, 2025, not re-verified"),
    # X-Ray traces recorded (tracing is ACTIVE on every function and the API stage: infra/defaults.py, api.py).
    "xray_trace": Price(5.00, 1e6, "traces", "aws.amazon.com/xray/pricing, 2025, not re-verified"),
    # Data transfer out to the internet, first 10 TB a month (S3, API Gateway and Lambda alike).
    "egress": Price(0.09, 1, "GB", "aws.amazon.com/ec2/pricing/on-demand (data transfer), 2025, not re-verified"),
    # Fixed and optional items.
    "cw_dashboard": Price(3.00, 1, "dashboard-month", "CloudWatch dashboards beyond 3 free, not re-verified"),
    "cw_alarm_metric": Price(0.10, 1, "alarm-metric-month", "standard-resolution alarm metric, not re-verified"),
    "cw_metric": Price(0.30, 1, "metric-month", "custom metrics, first 10,000 tier, prorated hourly"),
    "ecr_storage": Price(0.10, 1, "GB-month", "ECR private repository storage, not re-verified"),
    "waf_acl": Price(5.00, 1, "web-ACL-month", "AWS WAF, not re-verified"),
    "waf_rule": Price(1.00, 1, "rule-month", "AWS WAF, not re-verified"),
    "waf_request": Price(0.60, 1e6, "requests", "AWS WAF, not re-verified"),
    "nat_hour": Price(0.045, 1, "NAT-hour", "NAT gateway, not re-verified"),
    "nat_gb": Price(0.045, 1, "GB processed", "NAT gateway, not re-verified"),
    "ipv4_hour": Price(0.005, 1, "IPv4-hour", "public IPv4 address (since 2024-02-01), not re-verified"),
    # Secrets Manager: per secret a month, and per API call (GetSecretValue).
    "secret_month": Price(0.40, 1, "secret-month", "aws.amazon.com/secrets-manager/pricing, 2025, not re-verified"),
    "secret_call": Price(0.05, 10_000, "API calls", "aws.amazon.com/secrets-manager/pricing, 2025, not re-verified"),
}

# Always-free allowances per month (not the 12-month or credit-based new-account offers), by pool.
ALWAYS_FREE: dict[str, float] = {
    "lambda_gb_s": 400_000,
    "lambda_request": 1_000_000,
    "sqs_request": 1_000_000,
    "egress": 100,  # GB, aggregated over services
    "logs": 5,  # GB of ingestion (shared with storage and Insights scans)
    "xray_trace": 100_000,
    "cw_dashboard": 3,
    "cw_alarm_metric": 10,
    "cw_metric": 10,
}

# -- measured and assumed inputs -------------------------------------------------------------------------------
# docs/benchmarks.md, `make bench-capture`, row "2 shotwire, deployed mode": 50 pages, concurrency 4, 2 cores.
BENCH_PAGES_PER_S = 1.71
BENCH_P50_S = 1.650  # navigation + capture time per page (job timings), not the whole handler
BENCH_P95_S = 3.227
BENCH_CORES = 2
# Lambda allocates CPU in proportion to memory: 1,769 MB is one vCPU (AWS Lambda docs).
MB_PER_VCPU = 1769
# Per record on top of the page itself when a batch holds one record: a new context, the job read and two
# writes, the S3 PUT, PutEvents, Powertools. Estimate (moto costs ~6 ms a call locally; AWS calls are a few ms
# to tens of ms, the S3 PUT of ~0.5 MB more).
SINGLE_RECORD_OVERHEAD_S = 0.2
# Warm billed time of the other functions. API: six DynamoDB/SQS calls plus validation at 0.29 vCPU.
# Dispatcher: six DynamoDB calls, signing the body and the download link, plus the receiver's answer (assumed
# 200 ms). Download link followed: an HMAC check, one GetItem and a local presign (estimate, warm, secret cached).
API_WARM_S = 0.12
DISPATCHER_WARM_S = 0.30
DOWNLOAD_WARM_S = 0.03
# Cold starts (INIT is billed for every package type since 2025-08-01). Locally: importing the API handler
# takes 0.85 s, the capture handler 1.07 s, launching Chromium 0.5 s (this 2-core VM, busy).
API_INIT_S = 1.5
DISPATCHER_INIT_S = 1.5
CAPTURE_INIT_S = 3.0  # container INIT (~2 s) + Chromium launch on the first record (~1 s)
# Assumed, not published by AWS: an idle execution environment is reclaimed after ~10 minutes, and even a
# busy one is replaced every few hours.
IDLE_REAP_S = 600
ENV_LIFETIME_H = 2
# Image: no figure in the docs. The benchmark corpus measured 204 KB on average (10 pages, 2 of each kind,
# 1280x800 PNG: text 146 KB, CSS-heavy 852 KB, flat SVG pages 7 KB); real sites with photographs are larger.
# Assumed 500 KB; each extra 100 KB costs ~$0.009 per 1,000 in egress.
IMAGE_BYTES = 500_000
CORPUS_MEAN_IMAGE_BYTES = 203_848
# Bytes on the wire besides payloads (headers, a TLS handshake's share). Estimates.
API_RESPONSE_BYTES = 2_000
WEBHOOK_WIRE_OVERHEAD_BYTES = 2_000
DOWNLOAD_WIRE_OVERHEAD_BYTES = 5_000
# The 302 a download link answers: its Location is a presigned GET URL signed with the API's role (SigV4 with a
# session token, ~1,400 characters), plus the other headers and a TLS handshake's share.
PRESIGNED_URL_CHARS = 1_400
REDIRECT_WIRE_BYTES = PRESIGNED_URL_CHARS + 3_000
EVENT_ENVELOPE_BYTES = 300
# Log bytes: a Powertools JSON line with Lambda context measured 577-592 bytes; an EMF blob with two metrics
# 311 bytes; Lambda's JSON platform.start + platform.report with tracing, and one API Gateway access-log line
# (infra/api.py fields), estimated.
APP_LOG_LINE_BYTES = 590
EMF_BYTES = 310
PLATFORM_LOG_BYTES = 650
ACCESS_LOG_BYTES = 300
# X-Ray: at most one trace per invocation (the API stage's joins its function's), counted per record for the
# capture function: the POST, the capture, the webhook and the download (`traces_per_capture()`). At these rates
# the default sampling rule (1 request/s, then 5%) keeps nearly all of them. An upper bound: the bus may carry
# the capture's trace on.
# Typical request fields for the job-size calculation (longer URLs and titles make items larger).
SAMPLE_URL = "https://www.example.com/blog/2026/11/how-we-render-pages"
SAMPLE_TITLE = "How we render pages - Example Engineering Blog"
SAMPLE_WEBHOOK = "https://hooks.example.com/shotwire"
SAMPLE_API_URL = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod"  # a stage URL, as the template gives


# -- what a job weighs: built with the real models, sized by DynamoDB's rules ----------------------------------
def ddb_value_size(value: object) -> int:
    """DynamoDB's size of one attribute value (docs: 'Item sizes and formats'); numbers approximated."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, int | float):
        digits = len(str(abs(value)).replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if isinstance(value, list):
        return 3 + sum(ddb_value_size(item) + 1 for item in value)
    if isinstance(value, dict):
        return 3 + sum(len(str(key).encode()) + ddb_value_size(item) + 1 for key, item in value.items())
    raise TypeError(f"no DynamoDB size for {type(value).__name__}")


def ddb_item_size(item: dict[str, object]) -> int:
    return sum(len(name.encode()) + ddb_value_size(value) for name, value in item.items())


@dataclass(frozen=True)
class Sizes:
    """Bytes of the records one capture writes and sends (from the code's own models)."""

    job_queued: int
    job_processing: int
    job_completed: int
    job_delivered: int
    event: int
    webhook_body: int
    download_link: int  # characters of the webhook's screenshotUrl


def measure_sizes(image_bytes: int = IMAGE_BYTES, config: StackConfig = CONFIG) -> Sizes:
    from shotwire_core.adapters.browser import CaptureResult
    from shotwire_core.capture import _result_fields, outcome_event
    from shotwire_core.delivery import encode_body
    from shotwire_core.ids import new_tenant_id
    from shotwire_core.jobs import SubmissionRules, image_key, new_job, webhook_body
    from shotwire_core.links import DownloadLinks
    from shotwire_core.models import Job, JobStatus, ScreenshotRequest, WebhookStatus

    moment = "2026-11-23T12:00:00.000Z"
    request = ScreenshotRequest.model_validate({"url": SAMPLE_URL, "webhookUrl": SAMPLE_WEBHOOK})
    queued = new_job(new_tenant_id(), request, SubmissionRules(allow_private=False, retention_days=7))
    processing = queued.model_copy(update={"status": JobStatus.PROCESSING, "started_at": moment})
    result = CaptureResult(
        image=b"\0" * image_bytes,
        width=1280,
        height=800,
        final_url=SAMPLE_URL,
        http_status=200,
        title=SAMPLE_TITLE,
        navigation_ms=1200,
        capture_ms=450,
    )
    key = image_key(queued.tenant_id, queued.job_id, "png")
    completed_item = {
        **processing.to_item(),
        **_result_fields(processing, key, result, moment),
        "status": JobStatus.COMPLETED.value,
        "completedAt": moment,
    }
    completed = Job.model_validate(completed_item)
    # The attempts are items of their own (DeliveryRecord): the job only records its webhook's status.
    delivered = completed.model_copy(update={"webhook_status": WebhookStatus.DELIVERED}).to_item()
    _, detail = outcome_event(completed)
    link = DownloadLinks(SAMPLE_API_URL, lambda: b"k" * 64).download_url(key, config.download_url_ttl_seconds)
    body = encode_body(webhook_body(completed, link))
    return Sizes(
        job_queued=ddb_item_size(queued.to_item()),
        job_processing=ddb_item_size(processing.to_item()),
        job_completed=ddb_item_size(completed_item),
        job_delivered=ddb_item_size(delivered),
        event=len(encode_body(detail)) + EVENT_ENVELOPE_BYTES,
        webhook_body=len(body),
        download_link=len(link),
    )


def wru(*item_sizes: int) -> int:
    """Write request units of a write: 1 per KB of the larger of the item before and after."""
    return math.ceil(max(item_sizes) / 1024)


def rru(item_size: int, consistent: bool) -> float:
    """Read request units of a GetItem: 1 per 4 KB if strongly consistent, half that if not."""
    return math.ceil(item_size / 4096) * (1.0 if consistent else 0.5)


# -- AWS requests per capture: measured, then priced --------------------------------------------------------------
# bench/call_counts.json (`make cost-measure`): per kind of capture, per stage, how many of each call.
COUNTS = load_counts()
# Bytes of the small items the counts name: the API key's record, the tenant, its rate state and the month's
# usage (keys table), a webhook destination's health record (jobs table). Estimates, each far under 1 KB.
SMALL_ITEM_BYTES = {"key": 300, "tenant": 400, "rate": 100, "usage": 100, "host": 300}
# What a failed job adds to its item (the error and its code), to price the `failed` kind's calls. Estimate.
FAILURE_FIELDS_BYTES = 250
# A webhook attempt: appended to the job's webhookAttempts (a retry's write), or an item of its own. Estimate.
ATTEMPT_BYTES = 200
# A webhook delivery record beside its job: the body it sends plus its URL, ids, status and times. Estimate.
DELIVERY_FIELDS_BYTES = 350
# What a Query of a job's deliveries reads (a delivery and its attempts): one 4 KB page. Estimate.
QUERY_PAGE_BYTES = 4096
# What each write of a host record is, for the tables (the counts name it by its update's first action).
HOST_WRITES = {
    "set-slot": "slot claim",
    "remove-slot": "slot release",
    "add-failures": "failure count",
    "set-failures": "circuit close",
    "set-openUntil": "circuit open",
    "set-probeUntil": "probe claim",
}
# AWS's SQS event source: per invocation, the ReceiveMessage that returns the batch and one DeleteMessageBatch.
# Not measured: the local poller deletes message by message and polls on its own clock (bench/call_counts.py).
EVENT_SOURCE_REQUESTS_PER_INVOCATION = 2


def job_bytes(state: str, sizes: Sizes) -> int:
    """The job item as a stage finds it: `queued` (the capture's read), `completed` (the first webhook attempt's),
    `delivered` (after an attempt: a retry's, the download's, a status poll's)."""
    return {
        "queued": sizes.job_queued,
        "processing": sizes.job_processing,
        "completed": sizes.job_completed,
        "delivered": sizes.job_delivered,
        "failed": sizes.job_processing + FAILURE_FIELDS_BYTES,
    }[state]


# The job as each stage reads it.
JOB_READ_STATE = {
    "capture": "queued",
    "dispatcher": "completed",
    "retry": "delivered",
    "download": "delivered",
    "status_poll": "delivered",
}


def item_bytes(item: str, stage: str, sizes: Sizes) -> int:
    """Bytes of an item the counts name, as `stage` finds it."""
    if item == "job":
        return job_bytes(JOB_READ_STATE[stage], sizes)
    if item == "delivery":
        return sizes.webhook_body + DELIVERY_FIELDS_BYTES
    if item == "delivery-attempt":
        return ATTEMPT_BYTES
    return SMALL_ITEM_BYTES[item]


def request_units(call: str, stage: str, sizes: Sizes) -> tuple[float, float, str]:
    """(RRU, WRU, what) of one DynamoDB call as the counts name it, e.g. `dynamodb:GetItem:tenant:consistent`,
    `dynamodb:UpdateItem:job:completed`. A call this does not know raises: price it before counting it."""
    _, operation, item, *detail = call.split(":")
    consistent = detail[-1:] == ["consistent"]
    try:
        if operation == "GetItem":
            return rru(item_bytes(item, stage, sizes), consistent), 0, item
        if operation == "Query":  # a job's deliveries and their attempts: one 4 KB page (estimate)
            return rru(QUERY_PAGE_BYTES, consistent), 0, f"{item} query"
        if item == "job" and operation == "UpdateItem" and detail:
            change = detail[0]
            if change.startswith("webhook"):  # the webhook's status (and, before delivery records, its attempt)
                before = job_bytes(JOB_READ_STATE[stage], sizes)
                after = before + ATTEMPT_BYTES if stage == "retry" else sizes.job_delivered
                return 0, wru(before, after), "webhook status"
            previous = "queued" if change == "processing" else "processing"
            return 0, wru(job_bytes(previous, sizes), job_bytes(change, sizes)), change
        if item == "job" and operation == "PutItem":
            return 0, wru(sizes.job_queued), "job"
        if operation in ("PutItem", "UpdateItem", "DeleteItem") and item != "job":
            what = HOST_WRITES.get(detail[0], detail[0]) if item == "host" and detail else item
            return 0, wru(item_bytes(item, stage, sizes)), what
    except KeyError:
        pass
    raise ValueError(f"the cost model has no request units for {call} ({stage}): add them to request_units()")


@dataclass(frozen=True)
class StageUse:
    """What one stage's measured calls bill, per capture."""

    rru: float
    wru: float
    reads: tuple[str, ...]  # the items read, for the tables
    writes: tuple[str, ...]
    sqs_sends: float
    s3_puts: float
    s3_gets: float
    events: float


def stage_use(calls: Mapping[str, float], stage: str, sizes: Sizes) -> StageUse:
    """Price a stage's calls (a `CallCounts.stage()`); a service or operation without a price here raises."""
    read_units = write_units = sends = puts = gets = events = 0.0
    reads: list[str] = []
    writes: list[str] = []
    for call, count in calls.items():
        service, operation = call.split(":")[:2]
        if service == "dynamodb":
            read, write, what = request_units(call, stage, sizes)
            read_units += read * count
            write_units += write * count
            (reads if read else writes).extend([what] * round(count))
        elif service == "sqs" and operation in ("SendMessage", "SendMessageBatch"):
            sends += count
        elif service == "s3" and operation == "PutObject":
            puts += count
        elif service == "s3" and operation == "GetObject":
            gets += count
        elif call == "events:PutEvents":
            events += calls.get("events:PutEvents[entries]", count)
        elif call != "events:PutEvents[entries]":
            raise ValueError(f"the cost model has no price for {call} ({stage}): add it to stage_use()")
    return StageUse(read_units, write_units, tuple(reads), tuple(writes), sends, puts, gets, events)


def traces_per_capture(counts: CallCounts = COUNTS) -> float:
    """One trace per invocation, per record for the capture function: API Gateway requests (each an API
    invocation), capture records, dispatcher invocations."""
    return (
        sum(counts.stage("apigateway").values())
        + counts.count("lambda", "capture")
        + counts.count("lambda", "dispatcher")
    )


# -- the capture function's billed time ------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptureScenario:
    name: str
    warm_seconds: float  # billed capture-function seconds per capture, warm
    records_per_invocation: float
    how: str


def lambda_vcpus(memory_mb: int) -> float:
    return memory_mb / MB_PER_VCPU


def capture_scenarios(config: StackConfig = CONFIG) -> dict[str, CaptureScenario]:
    # A batch shares one invocation: billed seconds per capture = 1 / (pages/s per invocation). The benchmark
    # machine ran CPU-bound on 2 cores; the function has memory/1769 vCPUs, so its throughput is scaled by that.
    lambda_pages_per_s = BENCH_PAGES_PER_S * lambda_vcpus(config.capture_memory_mb) / BENCH_CORES
    return {
        "batched": CaptureScenario(
            "batched",
            1 / lambda_pages_per_s,
            config.capture_batch_size,
            f"full batches of {config.capture_batch_size}: 1 / ({BENCH_PAGES_PER_S} pages/s x "
            f"{lambda_vcpus(config.capture_memory_mb):.2f} vCPU / {BENCH_CORES} cores)",
        ),
        "typical": CaptureScenario(
            "typical",
            BENCH_P50_S + SINGLE_RECORD_OVERHEAD_S,
            1,
            f"one record per invocation: p50 {BENCH_P50_S} s + {SINGLE_RECORD_OVERHEAD_S} s per record",
        ),
        "pessimistic": CaptureScenario(
            "pessimistic",
            BENCH_P95_S + SINGLE_RECORD_OVERHEAD_S,
            1,
            f"one record per invocation, every page at p95: {BENCH_P95_S} s + {SINGLE_RECORD_OVERHEAD_S} s",
        ),
    }


def cold_start_share(invocations_per_month: float, warm_seconds: float) -> float:
    """Share of invocations that pay an INIT, with requests spread evenly over the month (an assumption):
    the chance that no invocation came within the idle-reclaim window, plus periodic replacement of the
    environments a steady load keeps (one, plus what overlapping invocations add)."""
    if invocations_per_month <= 0:
        return 0.0
    rate = invocations_per_month / SECONDS_PER_MONTH
    idle = math.exp(-rate * IDLE_REAP_S)
    environments = 1 + 2 * rate * warm_seconds
    replaced = environments * HOURS_PER_MONTH / ENV_LIFETIME_H / invocations_per_month
    return min(1.0, idle + replaced)


# -- line items --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineItem:
    stage: str
    component: str
    quantity: float  # per capture, in the price's unit
    price: str  # key of PRICES
    pool: str | None = None  # always-free pool, if any

    @property
    def cost(self) -> float:
        return self.quantity * PRICES[self.price].each


def gb_seconds(memory_mb: int, seconds: float) -> float:
    return memory_mb / 1024 * seconds


def request_lines(stage: str, use: StageUse, stored: Iterable[LineItem] = ()) -> list[LineItem]:
    """A stage's measured requests as line items (only those it makes): DynamoDB reads and writes, SQS sends,
    S3 PUTs (then `stored`, what keeping the objects costs) and GETs, EventBridge events."""
    items: list[LineItem] = []
    if use.rru:
        items.append(LineItem(stage, f"DynamoDB reads ({use.rru:g} RRU: {', '.join(use.reads)})", use.rru, "ddb_rru"))
    if use.wru:
        writes = ", ".join(use.writes)
        items.append(LineItem(stage, f"DynamoDB writes ({use.wru:g} WRU: {writes})", use.wru, "ddb_wru"))
    if use.sqs_sends:
        items.append(LineItem(stage, "SQS SendMessage", use.sqs_sends, "sqs_request", "sqs_request"))
    if use.s3_puts:
        items.append(LineItem(stage, "S3 PUT", use.s3_puts, "s3_put"))
        items.extend(stored)
    if use.s3_gets:
        items.append(LineItem(stage, "S3 GET of the image (after the 302)", use.s3_gets, "s3_get"))
    if use.events:
        items.append(LineItem(stage, "EventBridge custom event", use.events, "eb_event"))
    return items


def line_items(
    volume: int,
    scenario: CaptureScenario,
    sizes: Sizes,
    config: StackConfig = CONFIG,
    image_bytes: int = IMAGE_BYTES,
    cold_share: dict[str, float] | None = None,
    counts: CallCounts = COUNTS,
) -> list[LineItem]:
    """Every billable unit one capture uses, at `volume` captures a month (which sets the cold-start share).
    Requests come from the measured `counts` (kind `webhook`); durations, bytes and sizes from the inputs above."""
    per_invocation = 1 / scenario.records_per_invocation
    shares = cold_share or {
        "api": cold_start_share(volume, API_WARM_S),
        "capture": cold_start_share(volume * per_invocation, scenario.warm_seconds * scenario.records_per_invocation),
        "dispatcher": cold_start_share(volume, DISPATCHER_WARM_S),
    }
    api_s = API_WARM_S + shares["api"] * API_INIT_S
    capture_s = scenario.warm_seconds + per_invocation * shares["capture"] * CAPTURE_INIT_S
    dispatcher_s = DISPATCHER_WARM_S + shares["dispatcher"] * DISPATCHER_INIT_S
    # A followed link meets the API's cold starts as often as the POST does: an upper bound, since a link followed
    # soon after its webhook tends to find the environment its POST warmed still there.
    download_s = DOWNLOAD_WARM_S + shares["api"] * API_INIT_S

    api = stage_use(counts.stage("api"), "api", sizes)
    capture = stage_use(counts.stage("capture"), "capture", sizes)
    dispatcher = stage_use(counts.stage("dispatcher"), "dispatcher", sizes)
    download = stage_use(counts.stage("download"), "download", sizes)
    submits = counts.count("apigateway", "submit")  # each request through API Gateway is one API invocation
    downloads = counts.count("apigateway", "download")
    records = counts.count("lambda", "capture")  # capture records; invocations are records / batch size
    dispatches = counts.count("lambda", "dispatcher")  # the bus rule invokes the dispatcher once per outcome
    traces = traces_per_capture(counts)

    log_bytes = (
        APP_LOG_LINE_BYTES
        + EMF_BYTES
        + PLATFORM_LOG_BYTES
        + ACCESS_LOG_BYTES  # API
        + APP_LOG_LINE_BYTES
        + per_invocation * (EMF_BYTES + PLATFORM_LOG_BYTES)  # capture
        + APP_LOG_LINE_BYTES
        + EMF_BYTES
        + PLATFORM_LOG_BYTES  # dispatcher
        + PLATFORM_LOG_BYTES
        + ACCESS_LOG_BYTES  # download (the API logs nothing of its own for a followed link)
    )
    image_months = image_bytes / GIB * (config.image_retention_days + 0.5) / 30  # expiry rounds to next midnight
    job_months = (sizes.job_delivered + 100) / GIB * (config.image_retention_days + 2) / 30  # +TTL lag, +overhead
    egress_bytes = API_RESPONSE_BYTES + sizes.webhook_body + WEBHOOK_WIRE_OVERHEAD_BYTES
    egress_bytes += REDIRECT_WIRE_BYTES + image_bytes + DOWNLOAD_WIRE_OVERHEAD_BYTES
    return [
        LineItem("API", "API Gateway REST request", submits, "apigw_rest"),
        LineItem("API", "Lambda request", submits, "lambda_request", "lambda_request"),
        LineItem(
            "API",
            f"Lambda {config.api_memory_mb} MB x {api_s:.3f} s",
            submits * gb_seconds(config.api_memory_mb, api_s),
            "lambda_gb_s",
            "lambda_gb_s",
        ),
        *request_lines("API", api),
        LineItem(
            "Capture",
            f"Lambda request (1 per invocation of {scenario.records_per_invocation:g})",
            records * per_invocation,
            "lambda_request",
            "lambda_request",
        ),
        LineItem(
            "Capture",
            f"Lambda {config.capture_memory_mb} MB x {capture_s:.3f} s",
            records * gb_seconds(config.capture_memory_mb, capture_s),
            "lambda_gb_s",
            "lambda_gb_s",
        ),
        LineItem(
            "Capture",
            "SQS event source: receive + delete batch (per invocation)",
            records * per_invocation * EVENT_SOURCE_REQUESTS_PER_INVOCATION,
            "sqs_request",
            "sqs_request",
        ),
        *request_lines(
            "Capture",
            capture,
            stored=[
                LineItem(
                    "Capture",
                    f"S3 storage {image_bytes // 1000} KB x {config.image_retention_days + 0.5:g} days",
                    capture.s3_puts * image_months,
                    "s3_storage",
                )
            ],
        ),
        LineItem(
            "Capture",
            f"EventBridge archive ({sizes.event} B, {config.event_archive_days} days)",
            capture.events * sizes.event / GIB,
            "eb_archive",
        ),
        LineItem(
            "Capture",
            "EventBridge archive storage",
            capture.events * sizes.event / GIB * config.event_archive_days / 30,
            "eb_archive_storage",
        ),
        LineItem("Dispatcher", "Lambda request", dispatches, "lambda_request", "lambda_request"),
        LineItem(
            "Dispatcher",
            f"Lambda {config.dispatcher_memory_mb} MB x {dispatcher_s:.3f} s",
            dispatches * gb_seconds(config.dispatcher_memory_mb, dispatcher_s),
            "lambda_gb_s",
            "lambda_gb_s",
        ),
        *request_lines("Dispatcher", dispatcher),
        LineItem("Customer", "API Gateway REST request (download link)", downloads, "apigw_rest"),
        LineItem("Customer", "Lambda request (API)", downloads, "lambda_request", "lambda_request"),
        LineItem(
            "Customer",
            f"Lambda {config.api_memory_mb} MB x {download_s:.3f} s",
            downloads * gb_seconds(config.api_memory_mb, download_s),
            "lambda_gb_s",
            "lambda_gb_s",
        ),
        *request_lines("Customer", download),
        LineItem(
            "Shared",
            f"Data transfer out ({egress_bytes / 1000:.0f} KB: image, webhook, API answer, redirect)",
            egress_bytes / GIB,
            "egress",
            "egress",
        ),
        LineItem(
            "Shared", f"CloudWatch Logs ingestion ({log_bytes / 1000:.1f} KB)", log_bytes / GIB, "logs_ingest", "logs"
        ),
        LineItem(
            "Shared", "CloudWatch Logs storage (1 month, uncompressed: upper bound)", log_bytes / GIB, "logs_storage"
        ),
        LineItem("Shared", f"X-Ray traces (up to {traces:g})", traces, "xray_trace", "xray_trace"),
        LineItem("Shared", "DynamoDB job storage + PITR (9 days)", job_months, "ddb_storage"),
    ]


def total(items: Iterable[LineItem]) -> float:
    return sum(item.cost for item in items)


# -- fixed monthly costs -------------------------------------------------------------------------------------
# infra/monitoring.py: a DLQ alarm per DLQ (2), WebhooksExhausted, CaptureFailureRate (metric math over 2
# metrics), CaptureBacklog, Api5xxRate (metric math over 2 metrics), Errors and Throttles per function (3 x 2).
# name: (alarms, metrics in each)
ALARMS = {
    "DlqNotEmpty": (2, 1),
    "WebhooksExhausted": (1, 1),
    "CaptureFailureRate": (1, 2),
    "CaptureBacklog": (1, 1),
    "Api5xxRate": (1, 2),
    "Errors": (3, 1),
    "Throttles": (3, 1),
}
CUSTOM_METRICS = 10  # names in docs/operations.md, one dimension set (service=shotwire)
# The SQS event sources long-poll both queues even when idle (capture, webhook retry). Assumed 5 pollers per
# queue, 20 s polls; the poller count is AWS's and unpublished.
IDLE_RECEIVES_PER_MONTH = 2 * 5 * 3 * 60 * HOURS_PER_MONTH
CAPTURE_IMAGE_GB = 0.7  # compressed container image in ECR (estimate); CDK keeps every version it pushed
# The download-link secret (infra/links.py): the API and the dispatcher cache it for this long per execution
# environment (Powertools Parameters), so reads are one per busy environment per 5 minutes at most.
SECRET_CACHE_S = 300
SECRET_READS_PER_BUSY_ENV = HOURS_PER_MONTH * 3600 / SECRET_CACHE_S


@dataclass(frozen=True)
class FixedItem:
    name: str
    quantity: float  # per month, in the price's unit
    price: str
    note: str
    pool: str | None = None

    @property
    def cost(self) -> float:
        return self.quantity * PRICES[self.price].each


def alarm_count() -> tuple[int, int]:
    """(alarms, alarm metrics): a metric-math alarm bills each metric it reads."""
    return sum(n for n, _ in ALARMS.values()), sum(n * metrics for n, metrics in ALARMS.values())


def fixed_items() -> list[FixedItem]:
    alarms, metrics = alarm_count()
    return [
        FixedItem("CloudWatch dashboard", 1, "cw_dashboard", "3 free per account", "cw_dashboard"),
        FixedItem(
            f"CloudWatch alarms ({alarms} alarms, {metrics} alarm metrics)",
            metrics,
            "cw_alarm_metric",
            "the 2 metric-math alarms read 2 metrics each; 10 free",
            "cw_alarm_metric",
        ),
        FixedItem(
            f"Custom metrics ({CUSTOM_METRICS}, EMF)",
            CUSTOM_METRICS,
            "cw_metric",
            "billed for the hours they are emitted: $0 when idle, this much when busy; 10 free",
            "cw_metric",
        ),
        FixedItem(
            "SQS empty long polls (2 queues)",
            IDLE_RECEIVES_PER_MONTH,
            "sqs_request",
            f"~{IDLE_RECEIVES_PER_MONTH / 1e6:.1f} M receives a month, assumed (5 pollers a queue)",
            "sqs_request",
        ),
        FixedItem("ECR: capture image", CAPTURE_IMAGE_GB, "ecr_storage", "per image version kept (estimate)"),
        FixedItem(
            "Secrets Manager: download-link secret",
            1,
            "secret_month",
            f"reads ({price_label('secret_call')}) are at most one per API or dispatcher environment per "
            f"{SECRET_CACHE_S // 60} minutes: {usd(SECRET_READS_PER_BUSY_ENV * PRICES['secret_call'].each, 2)} "
            "a month for each environment kept busy all month, not counted",
        ),
    ]


# Zero-cost items a platform team will ask about.
FREE_WHEN_IDLE = [
    (
        "KMS",
        "SSE-S3 (bucket), SSE-SQS (queues): no key. DynamoDB uses the AWS-managed key: no key fee, and "
        "DynamoDB caches the table key, so requests cost cents a month",
    ),
    ("EventBridge archive", "billed per archived event (in the per-capture table); nothing when idle"),
    ("Lambda, API Gateway, DynamoDB on-demand, S3 requests", "nothing when idle"),
]


def bill(
    items: Iterable[LineItem], volume: int, free_tier: bool = False, fixed: Iterable[FixedItem] | None = None
) -> tuple[float, float]:
    """(variable, fixed) dollars for a month of `volume` captures. With `free_tier`, the always-free allowances
    are taken off, shared between variable and fixed uses of a pool, as if shotwire were the account's only
    user of them."""
    items = list(items)
    fixed_list = fixed_items() if fixed is None else list(fixed)
    uses: list[tuple[bool, float, str, str | None]] = [
        (False, item.quantity * volume, item.price, item.pool) for item in items
    ]
    uses += [(True, item.quantity, item.price, item.pool) for item in fixed_list]
    pools: dict[str, float] = {}
    for _, quantity, _, pool in uses:
        if pool:
            pools[pool] = pools.get(pool, 0.0) + quantity
    variable = fixed_total = 0.0
    for is_fixed, quantity, price, pool in uses:
        if free_tier and pool and pools[pool] > 0:
            quantity *= max(0.0, pools[pool] - ALWAYS_FREE[pool]) / pools[pool]
        cost = quantity * PRICES[price].each
        if is_fixed:
            fixed_total += cost
        else:
            variable += cost
    return variable, fixed_total


# infra/firewall.py (StackConfig.api_waf): one web ACL with a per-IP rate rule and 3 AWS managed rule groups
# (IP reputation, common rule set, known bad inputs): 4 rules, ~930 WCU, under the 1,500 included.
WAF_RULES = 4
# The web ACL sits on the API stage: every API Gateway request a capture makes (the POST, the followed link).
WAF_REQUESTS_PER_CAPTURE = sum(COUNTS.stage("apigateway").values())


def waf_monthly(volume: int, rules: int = WAF_RULES, requests_per_capture: float = WAF_REQUESTS_PER_CAPTURE) -> float:
    return (
        PRICES["waf_acl"].usd
        + rules * PRICES["waf_rule"].usd
        + volume * requests_per_capture * PRICES["waf_request"].each
    )


# infra/egress.py (StackConfig.egress_static_ips): a VPC with a NAT gateway and an Elastic IP per AZ, S3 and
# DynamoDB on free gateway endpoints, VPC flow logs (all traffic) to CloudWatch Logs. The dispatcher runs in it,
# and the capture function too with egress_capture_in_vpc. NAT bills the GBs it processes in both directions.
WEBHOOK_NAT_BYTES = 10_000  # the POST, its answer and a TLS handshake (estimate)
PAGE_WEIGHT_BYTES = 2_500_000  # a page and its subresources: a median desktop page (HTTP Archive, ~2.5 MB)
# Flow-log records (~130 B each, per connection and direction per 10-minute window): a webhook and its AWS calls
# make ~10, a page with its subresources ~150. Estimates.
FLOW_LOG_BYTES_DISPATCHER = 1_300
FLOW_LOG_BYTES_CAPTURE = 20_000


def nat_monthly(zones: int, capture_in_vpc: bool) -> tuple[float, float]:
    """(fixed $ per month, $ per 1,000 captures) of static egress IPs through NAT gateways in `zones` AZs."""
    fixed = zones * HOURS_PER_MONTH * (PRICES["nat_hour"].usd + PRICES["ipv4_hour"].usd)
    processed = WEBHOOK_NAT_BYTES + (PAGE_WEIGHT_BYTES if capture_in_vpc else 0)
    flow_logs = FLOW_LOG_BYTES_DISPATCHER + (FLOW_LOG_BYTES_CAPTURE if capture_in_vpc else 0)
    per_capture = processed / GIB * PRICES["nat_gb"].usd + flow_logs / GIB * PRICES["logs_ingest"].usd
    return fixed, per_capture * 1000


# -- hosted screenshot APIs: published plans -----------------------------------------------------------------
@dataclass(frozen=True)
class HostedPlan:
    vendor: str
    plan: str
    usd_per_month: float
    captures: int
    seen: str

    @property
    def per_thousand(self) -> float:
        return self.usd_per_month / self.captures * 1000


HOSTED: list[HostedPlan] = [
    HostedPlan("ScreenshotOne", "Basic", 17, 2_000, "as published in 2025, not re-verified"),
    HostedPlan("ScreenshotOne", "Growth", 79, 10_000, "as published in 2025, not re-verified"),
    HostedPlan("ScreenshotOne", "Scale", 259, 50_000, "as published in 2025, not re-verified"),
    HostedPlan("Urlbox", "Lo-Fi", 19, 2_000, "api-evangelist transcription 2026-06-20, unverified"),
    HostedPlan("Urlbox", "Hi-Fi", 49, 5_000, "api-evangelist transcription 2026-06-20, unverified"),
    HostedPlan("Urlbox", "Ultra", 99, 15_000, "api-evangelist transcription 2026-06-20, unverified"),
    HostedPlan("ApiFlash", "Lite", 7, 1_000, "as published in 2025, not re-verified"),
    HostedPlan("ApiFlash", "Medium", 35, 10_000, "as published in 2025, not re-verified"),
    HostedPlan("ApiFlash", "Large", 180, 100_000, "as published in 2025, not re-verified"),
    HostedPlan("Scrapfly screenshot API", "Pro (60 credits/shot)", 100, 16_667, "scrapfly.io billing docs, undated"),
    HostedPlan("Scrapfly screenshot API", "Enterprise", 500, 91_667, "scrapfly.io billing docs, undated"),
    HostedPlan("ScrapingBee (JS render, 5 credits)", "Freelance", 49, 50_000, "as published in 2025, not re-verified"),
    HostedPlan("ScrapingBee (JS render, 5 credits)", "Startup", 99, 200_000, "as published in 2025, not re-verified"),
    HostedPlan(
        "Browserless (1 unit = 30 s browser)",
        "Prototyping, annual",
        25,
        20_000,
        "api-evangelist transcription 2026-05-25",
    ),
    HostedPlan(
        "Browserless (1 unit = 30 s browser)", "Scale, annual", 350, 500_000, "api-evangelist transcription 2026-05-25"
    ),
]


# -- report ----------------------------------------------------------------------------------------------------
def usd(value: float, places: int = 4) -> str:
    return f"${value:,.{places}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def price_label(key: str) -> str:
    """`$3.50 per 1M requests`, `$0.0000166667 per GB-s`: every digit the price has, at least two decimals."""
    price = PRICES[key]
    whole, _, decimals = f"{price.usd:.10f}".partition(".")
    decimals = decimals.rstrip("0").ljust(2, "0")
    per = {1e6: "1M ", 10_000: "10k ", 1000: "1k "}.get(price.per, "")
    return f"${whole}.{decimals} per {per}{price.unit}"


def report(config: StackConfig = CONFIG, counts: CallCounts = COUNTS) -> str:
    sizes = measure_sizes(config=config)
    scenarios = capture_scenarios(config)
    base = scenarios["typical"]
    per_volume = {volume: line_items(volume, base, sizes, config, counts=counts) for volume in VOLUMES}
    out: list[str] = [
        f"# shotwire cost model: us-east-1 list prices collected {PRICE_DATE}, free tier excluded unless stated",
        "",
        f"- Memory (StackConfig defaults): api {config.api_memory_mb} MB, capture {config.capture_memory_mb} MB "
        f"({lambda_vcpus(config.capture_memory_mb):.2f} vCPU), dispatcher {config.dispatcher_memory_mb} MB; "
        f"images kept {config.image_retention_days} days, outcome archive {config.event_archive_days} days.",
        f"- Image {IMAGE_BYTES // 1000} KB (assumed; the benchmark corpus averaged {CORPUS_MEAN_IMAGE_BYTES // 1000} "
        f"KB).",
        f"- Job item (DynamoDB size): queued {sizes.job_queued} B, processing {sizes.job_processing} B, completed "
        f"{sizes.job_completed} B, after its webhook {sizes.job_delivered} B; outcome event {sizes.event} B; "
        f"webhook body {sizes.webhook_body} B, its download link {sizes.download_link} characters.",
        f"- AWS requests per capture: measured, not written here: {counts.where()} "
        "(`make cost-measure` measures them again).",
        "",
        "## AWS requests per capture (measured)",
        "",
        "Kind `webhook` (a POST with a webhookUrl, first attempt answered, the download link followed once); "
        "`lambda` counts invocations (capture: records), `apigateway` requests through the gateway, `event_source` "
        "records the local pollers consumed:",
        "",
        table(
            ["stage", "call", "per capture"],
            [[group, call, f"{n:g}"] for group, calls in counts.kinds["webhook"].items() for call, n in calls.items()],
        ),
        "",
        "## Capture-function time per capture",
        "",
    ]
    rows = []
    for scenario in scenarios.values():
        items = line_items(100_000, scenario, sizes, config, counts=counts)
        capture_lambda = sum(i.cost for i in items if i.stage == "Capture" and i.price == "lambda_gb_s")
        rows.append(
            [
                scenario.name,
                scenario.how,
                f"{scenario.warm_seconds:.3f}",
                f"{gb_seconds(config.capture_memory_mb, scenario.warm_seconds):.2f}",
                usd(capture_lambda * 1000),
                usd(total(items) * 1000),
            ]
        )
    out += ["At 100,000 captures a month:", ""]
    out.append(
        table(["scenario", "derivation", "billed s, warm", "GB-s", "capture Lambda $/1k", "all variable $/1k"], rows)
    )
    shares = [cold_start_share(v, base.warm_seconds) for v in VOLUMES]
    out += [
        "",
        "Cold-start share of invocations (typical): "
        + ", ".join(f"{share:.2%} at {volume:,}" for volume, share in zip(VOLUMES, shares, strict=True))
        + f"; INIT billed: capture {CAPTURE_INIT_S} s, API and dispatcher {API_INIT_S} s.",
        "",
        f"## One capture, component by component (scenario: {base.name})",
        "",
    ]
    rows = []
    for index, item in enumerate(per_volume[100_000]):
        rows.append(
            [
                item.stage,
                item.component,
                f"{item.quantity:.4g} {PRICES[item.price].unit}",
                price_label(item.price),
                *(usd(per_volume[volume][index].cost * 1000, 5) for volume in VOLUMES),
            ]
        )
    rows.append(["**total**", "", "", "", *(f"**{usd(total(per_volume[v]) * 1000)}**" for v in VOLUMES)])
    out.append(table(["stage", "component", "per capture", "unit price", *(f"$/1k at {v:,}" for v in VOLUMES)], rows))
    stages: dict[str, float] = {}
    for item in per_volume[100_000]:
        stages[item.stage] = stages.get(item.stage, 0.0) + item.cost * 1000
    out += [
        "",
        "By stage at 100,000: " + ", ".join(f"{stage} {usd(cost)}" for stage, cost in stages.items()) + ".",
        "",
        "## Per month",
        "",
    ]
    rows = []
    for volume in VOLUMES:
        variable, fixed = bill(per_volume[volume], volume)
        free_variable, free_fixed = bill(per_volume[volume], volume, free_tier=True)
        rows.append(
            [
                f"{volume:,}",
                usd(variable / volume * 1000),
                usd(variable, 2),
                usd(fixed, 2),
                f"**{usd((variable + fixed) / volume * 1000, 3)}**",
                usd(free_variable + free_fixed, 2),
                usd((free_variable + free_fixed) / volume * 1000, 3),
            ]
        )
    out.append(
        table(
            [
                "captures/month",
                "variable $/1k",
                "variable $/month",
                "fixed $/month",
                "all-in $/1k",
                "$/month with always-free",
                "all-in $/1k with always-free",
            ],
            rows,
        )
    )
    out += ["", "Fixed monthly costs (no traffic needed):", ""]
    rows = [[item.name, usd(item.cost, 2), item.note] for item in fixed_items()]
    rows += [[name, usd(0, 2), note] for name, note in FREE_WHEN_IDLE]
    out.append(table(["item", "$/month", "note"], rows))

    out += ["", "## Extras (not in the totals)", ""]
    wait = PRICES["lambda_gb_s"].each * gb_seconds(config.api_memory_mb, 1)
    wait += 5 * rru(sizes.job_completed, True) * PRICES["ddb_rru"].each
    rows = [
        [
            "a failed webhook attempt and its retry (SQS hop, second POST)",
            usd(retry_cost(sizes, config, counts) * 1000),
        ],
        ["a status poll (GET /v1/screenshots/{id})", usd(poll_cost(sizes, config, counts) * 1000)],
        ["each second of a synchronous `?wait` (API Lambda + 5 reads/s)", usd(wait * 1000)],
    ]
    waf = [usd(waf_monthly(volume) / volume * 1000) for volume in VOLUMES]
    rows.append([f"WAF (1 web ACL, {WAF_RULES} rules: {usd(waf_monthly(0), 2)}/month + $0.60/M requests)", *waf])
    for capture_in_vpc in (False, True):
        for zones in (1, 2):
            nat_fixed, nat_per_k = nat_monthly(zones, capture_in_vpc)
            what = "webhooks and pages" if capture_in_vpc else "webhooks only"
            rows.append(
                [
                    f"static egress IPs, {what}: {zones} NAT ({usd(nat_fixed, 2)}/month + {usd(nat_per_k)}/1k)",
                    *(usd(nat_fixed / volume * 1000 + nat_per_k) for volume in VOLUMES),
                ]
            )
    rows = [row if len(row) > 2 else [row[0], row[1], row[1], row[1]] for row in rows]
    out.append(table(["extra", *(f"$/1k at {v:,}" for v in VOLUMES)], rows))

    out += ["", "## Hosted screenshot APIs (published plans, per 1,000 captures)", ""]
    out.append(
        table(
            ["vendor", "plan", "$/month", "captures", "$/1k", "price seen"],
            [
                [p.vendor, p.plan, usd(p.usd_per_month, 0), f"{p.captures:,}", usd(p.per_thousand, 2), p.seen]
                for p in HOSTED
            ],
        )
    )
    out += ["", f"## Prices used (us-east-1, collected {PRICE_DATE})", ""]
    out.append(table(["price", "value", "seen"], [[key, price_label(key), PRICES[key].seen] for key in PRICES]))
    cheapest = min(HOSTED, key=lambda p: p.per_thousand)
    variable, fixed = bill(per_volume[100_000], 100_000)
    out += [
        "",
        f"shotwire all-in at 100,000/month: {usd((variable + fixed) / 100, 3)} per 1,000 captures; the cheapest plan "
        f"listed: {cheapest.vendor} {cheapest.plan}, {usd(cheapest.per_thousand, 2)} per 1,000.",
    ]
    return "\n".join(out)


def retry_cost(sizes: Sizes, config: StackConfig = CONFIG, counts: CallCounts = COUNTS) -> float:
    """A failed first attempt, then the retry through the retry queue, measured (kind `webhook_retry` against
    `webhook`): what the failed attempt adds to the dispatcher (the failure count, the retry message), the
    retry's invocation with its reads and writes (the circuit closed again), the event source's receive and
    delete, and the POST's bytes again."""
    first = counts.stage("dispatcher", "webhook_retry")
    ordinary = counts.stage("dispatcher")
    added = {call: first.get(call, 0) - ordinary.get(call, 0) for call in {*first, *ordinary}}
    failed = stage_use({call: n for call, n in added.items() if n}, "dispatcher", sizes)
    retry = stage_use(counts.stage("retry", "webhook_retry"), "retry", sizes)
    invocations = counts.count("lambda", "retry", "webhook_retry")
    items = [
        LineItem("", "Lambda request", invocations, "lambda_request"),
        LineItem("", "Lambda", invocations * gb_seconds(config.dispatcher_memory_mb, DISPATCHER_WARM_S), "lambda_gb_s"),
        LineItem("", "reads", failed.rru + retry.rru, "ddb_rru"),
        LineItem("", "writes", failed.wru + retry.wru, "ddb_wru"),
        LineItem(
            "",
            "SQS send, then the event source's receive and delete",
            failed.sqs_sends + retry.sqs_sends + invocations * EVENT_SOURCE_REQUESTS_PER_INVOCATION,
            "sqs_request",
        ),
        LineItem("", "egress", (sizes.webhook_body + WEBHOOK_WIRE_OVERHEAD_BYTES) / GIB, "egress"),
    ]
    return total(items)


def poll_cost(sizes: Sizes, config: StackConfig = CONFIG, counts: CallCounts = COUNTS) -> float:
    """GET /v1/screenshots/{id}, measured (kind `plain`): the edge (key, tenant, rate read, rate write) plus
    the job read."""
    poll = stage_use(counts.stage("status_poll", "plain"), "status_poll", sizes)
    requests = counts.count("apigateway", "status_poll", "plain")
    items = [
        LineItem("", "API Gateway", requests, "apigw_rest"),
        LineItem("", "Lambda request", requests, "lambda_request"),
        LineItem("", "Lambda", requests * gb_seconds(config.api_memory_mb, 0.08), "lambda_gb_s"),
        LineItem("", "reads", poll.rru, "ddb_rru"),
        LineItem("", "writes", poll.wru, "ddb_wru"),
        LineItem("", "egress", requests * (API_RESPONSE_BYTES + 3_000) / GIB, "egress"),
    ]
    return total(items)


def main() -> int:
    print(report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
