"""`make cost-measure`: the AWS requests one capture makes, counted on a real run of the local stack.

The cost model (bench/cost_model.py) prices a capture from these counts; this script measures them and writes
bench/call_counts.json, which is committed, so `make cost` needs no stack. Rerun it after a change to what the
handlers call (tests/e2e/test_call_counts.py fails until you do).

How it counts. `python -m devstack` (what `make dev` runs: the Lambda handlers in their own processes, moto
as AWS, real Chromium) starts with moto's request recorder pointed at a temporary file; every request that
reaches moto is appended to it, headers and body. This script starts the recording once the stack is up,
submits captures through the HTTP API one at a time, waits for each to finish (its webhooks arrived and every
queue drained), and reads the recording back. Each recorded request is named by service, operation and what
it touched (a DynamoDB item kind, a queue, a bucket) and sorted by who made it:

- `function`: the handlers (their boto3 clients use the standard retry mode, `cfg/retry-mode#standard` in the
  User-Agent). Counted per capture, by stage: a capture's calls up to its SendMessage to the capture queue are
  the API's, up to its PutEvents the capture function's, then the dispatcher's (and after a SendMessage to the
  retry queue, the retry's). Following the download link and a status poll are measured in windows of their
  own. Secrets Manager reads are the exception: cached per execution environment for 5 minutes, they are
  reported per run (`per_environment`), not per capture.
- `event_source`: the local runtime's pollers (devstack/runtime.py; default retry mode). What they stand in
  for is billed differently on AWS: Lambda's SQS event source makes a ReceiveMessage and a DeleteMessageBatch
  per batch, and EventBridge invokes the dispatcher directly (the local outcome-tap queue is not in the
  template, and costs nothing on AWS). So only the DeleteMessage count per queue is kept per capture: each is
  one record consumed, i.e. one function invocation when captures arrive one at a time, as here. The pollers'
  ReceiveMessage calls depend on timing (a 1 s long poll per worker, per queue), are kept as a rate, and are
  modelled separately (the cost model's fixed "empty long polls").
- `client`: what a customer makes itself, here the S3 GET of a presigned download URL.
- this script's own reads of moto (queue depths), marked in their User-Agent, are left out.

Lambda invocations and API Gateway requests never reach moto: the API's are the HTTP requests this script
sends through the local gateway, the capture function's and the dispatcher's the records their event sources
consumed (above).

Run: `.venv/bin/python -m bench.call_counts` (about 2 minutes), `--captures 3 --others 1 --out /tmp/c.json` for
a quick look.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COUNTS_PATH = Path(__file__).resolve().with_name("call_counts.json")
KEY = "sw_callcount_key_00000001"
PROBE_MARKER = "shotwire-call-counts"  # in the User-Agent of this script's own moto calls, which are left out
PAGE = "<html><head><title>Count</title></head><body style='margin:0;background:#36c'>calls</body></html>"
# The stack's settings for the run: a short webhook retry schedule keeps the retried kind quick (the schedule
# changes when a retry comes, not what it calls), and private networks let it capture and call 127.0.0.1.
STACK_SETTINGS = {
    "SHOTWIRE_DEV_API_KEY": KEY,
    "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "1",
    "SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": "1,2",
    "SHOTWIRE_CAPTURE_TIMEOUT_MS": "15000",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    # The local runtime's own clients keep boto3's default retry mode even if the developer exported another:
    # that is how its calls are told from the handlers' (which set the standard mode themselves).
    "AWS_RETRY_MODE": "legacy",
}
IDLE_TIMEOUT_SECONDS = 90

# What each kind of capture is. `webhook` is the capture the cost model prices.
KINDS: dict[str, str] = {
    "webhook": "POST /v1/screenshots with a webhookUrl; the webhook's first attempt answered 200; the download "
    "link in it followed once (302 to a presigned S3 URL, then the GET)",
    "plain": "POST /v1/screenshots without a webhook; the job then read once with GET /v1/screenshots/{id}",
    "failed": "POST with a webhookUrl for a page that refuses connections: the capture fails (connection_error, "
    "not retried), the failure webhook answered 200",
    "webhook_retry": "POST with a webhookUrl whose first attempt answers 500 and the retry 200 (its own "
    "destination, so the circuit state of the others is untouched)",
}
# Stages, in the order a capture's calls pass through them, and the call that ends each (inclusive).
STAGE_ENDS = {
    "api": "sqs:SendMessage:capture",
    "capture": "events:PutEvents",
    "dispatcher": "sqs:SendMessage:webhook-retry",
}
STAGES = ("api", "capture", "dispatcher", "retry", "download", "status_poll")
# Calls a warm execution environment makes once and then serves from its cache (not per capture).
PER_ENVIRONMENT = frozenset({"secretsmanager:GetSecretValue"})
# The local runtime's queues: what a consumed record on each stands for.
INVOKED_BY_QUEUE = {"capture": "capture", "local-outcome-tap": "dispatcher", "webhook-retry": "retry"}


# -- reading moto's recording ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    caller: str  # function, event_source, client or probe
    name: str  # service:Operation[:what]
    units: int = 1  # billed units beyond the request: events in a PutEvents

    @property
    def service(self) -> str:
        return self.name.split(":", 1)[0]


def read_recording(text: str) -> list[dict[str, Any]]:
    """The recorder's entries in order. It appends each as JSON, then a newline in a separate write, so under
    concurrent requests two entries can share a line: read them as a stream of JSON values."""
    decoder = json.JSONDecoder()
    entries: list[dict[str, Any]] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return entries
        entry, index = decoder.raw_decode(text, index)
        entries.append(entry)


def _body(entry: dict[str, Any]) -> Any:
    raw = entry.get("body") or ""
    data = base64.b64decode(raw) if entry.get("body_encoded") else raw.encode()
    try:
        return json.loads(data) if data else {}
    except (ValueError, UnicodeDecodeError):
        return None  # an S3 object


def _caller(headers: dict[str, str]) -> str:
    agent = headers.get("User-Agent", "")
    if PROBE_MARKER in agent:
        return "probe"
    if "Boto3/" not in agent and "Botocore/" not in agent:
        return "client"
    # The handlers' clients (shotwire_core.adapters.aws) use the standard retry mode; the local runtime's
    # pollers use boto3's default.
    return "function" if "cfg/retry-mode#standard" in agent else "event_source"


def _short(name: str, prefix: str) -> str:
    return name[len(prefix) + 1 :] if name.startswith(prefix + "-") else name


def _dynamo_item(body: dict[str, Any]) -> str:
    """The kind of item a DynamoDB request touches, from its key: keys-table items by their pk prefix
    (key#, tenant#, rate#, usage#), jobs-table items by their id (job_, batch_; a webhook delivery dlv#<id>#<n>
    and its attempts dlv#<id>#<n>#<m>), host records by their partition (#hosts)."""
    key = body.get("Key") or body.get("Item") or {}
    if "pk" in key:
        return str(key["pk"].get("S", "")).split("#", 1)[0]
    tenant = str(key.get("tenantId", {}).get("S", ""))
    if tenant.startswith("#"):
        return tenant[1:].removesuffix("s")
    job = str(key.get("jobId", {}).get("S", ""))
    if job.startswith("dlv#"):
        return "delivery-attempt" if job.count("#") >= 3 else "delivery"
    if "_" in job:
        return job.split("_", 1)[0]
    return _short(str(body.get("TableName", "?")), "shotwire")


def _dynamo_name(operation: str, body: dict[str, Any]) -> str:
    consistency = ":consistent" if body.get("ConsistentRead") else ":eventual"
    if operation == "Query":
        return f"dynamodb:Query:{_short(str(body.get('TableName', '?')), 'shotwire')}{consistency}"
    if operation not in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        return f"dynamodb:{operation}:{_short(str(body.get('TableName', '?')), 'shotwire')}"
    item = _dynamo_item(body)
    name = f"dynamodb:{operation}:{item}"
    if operation == "GetItem":
        return name + consistency
    if operation == "UpdateItem" and "pk" not in (body.get("Key") or {}):
        return f"{name}:{_first_update(body)}"
    return name


def _first_update(body: dict[str, Any]) -> str:
    """What a jobs-table update does, from its first action: the new status (`processing`, `completed`),
    the webhook status summarised on a job (`webhook-delivered`), else the action and attribute (`set-slot`,
    `remove-slot`, `add-failures`: a slot's number dropped), which tells a host record's writes apart."""
    words = str(body.get("UpdateExpression", "")).replace(",", " ").split()
    if len(words) < 2:
        return "update"
    names = body.get("ExpressionAttributeNames") or {}
    attribute = str(names.get(words[1], words[1])).rstrip("0123456789")
    values = body.get("ExpressionAttributeValues") or {}
    if words[0] == "SET" and len(words) >= 4 and words[2] == "=" and attribute in ("status", "webhookStatus"):
        value = str(values.get(words[3], {}).get("S", "?"))
        return value if attribute == "status" else f"webhook-{value}"
    return f"{words[0].lower()}-{attribute}"


def classify(entry: dict[str, Any], prefix: str = "shotwire") -> Call:
    """Name one recorded request: service:Operation, and for DynamoDB the item kind (with consistency for
    reads, the new status for job updates), for SQS the queue, for S3 the bucket."""
    headers = entry.get("headers") or {}
    caller = _caller(headers)
    target = headers.get("X-Amz-Target", "")
    body = _body(entry)
    if target:
        namespace, _, operation = target.partition(".")
        if namespace.startswith("DynamoDB"):
            return Call(caller, _dynamo_name(operation, body or {}))
        if namespace == "AmazonSQS":
            queue = _short(str((body or {}).get("QueueUrl", "?")).rsplit("/", 1)[-1], prefix)
            return Call(caller, f"sqs:{operation}:{queue}")
        if namespace == "AWSEvents":
            entries = len((body or {}).get("Entries", [])) if operation == "PutEvents" else 0
            return Call(caller, f"events:{operation}", units=entries or 1)
        return Call(caller, f"{namespace.lower()}:{operation}")
    url = urllib.parse.urlsplit(entry.get("url", ""))
    credential = headers.get("Authorization", "") + url.query
    if "/s3/aws4_request" in credential or "%2Fs3%2Faws4_request" in credential:
        bucket, _, key = url.path.lstrip("/").partition("/")
        what = "images" if "-images-" in bucket else bucket
        method = entry.get("method", "GET")
        operation = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}
        name = operation.get(method, method) if key else f"{method}Bucket"
        return Call(caller, f"s3:{name}:{what}")
    if isinstance(body, dict) and "Action" in body:
        return Call(caller, f"query:{body['Action']}")
    return Call(caller, f"http:{entry.get('method')} {url.path}")


# -- splitting a capture's calls into stages --------------------------------------------------------------------
def stage_counts(calls: list[Call], first_stage: str = "api") -> tuple[dict[str, Counter[str]], Counter[str]]:
    """Per stage, the function calls of one capture's window (in recorded order), plus the event sources'
    DeleteMessage calls by queue. A stage ends with its STAGE_ENDS call; calls before the first stage's end
    belong to it. Per-environment calls and everything else the event sources make are left out."""
    stages: dict[str, Counter[str]] = {}
    consumed: Counter[str] = Counter()
    stage = first_stage
    for call in calls:
        if call.caller == "event_source":
            if call.name.startswith("sqs:DeleteMessage"):
                consumed[call.name] += 1
            elif not call.name.startswith("sqs:ReceiveMessage"):
                raise RuntimeError(f"{call.name}: not a call the local event sources make; who made it?")
            continue
        if call.caller == "probe" or call.name in PER_ENVIRONMENT:
            continue
        counter = stages.setdefault(stage, Counter())
        counter[call.name] += 1
        if call.units > 1:
            counter[f"{call.name}[entries]"] += call.units
        if call.caller == "function" and STAGE_ENDS.get(stage) == call.name:
            stage = STAGES[STAGES.index(stage) + 1]
    return stages, consumed


# -- driving the stack ---------------------------------------------------------------------------------------
@dataclass
class Window:
    """One capture: its calls by stage, the invocations and gateway requests it took."""

    kind: str
    stages: dict[str, Counter[str]] = field(default_factory=dict)
    consumed: Counter[str] = field(default_factory=Counter)
    gateway: Counter[str] = field(default_factory=Counter)

    def flat(self) -> dict[str, float]:
        """Every count of the capture as `stage/call`, plus `lambda/<function>` and `apigateway/<stage>`."""
        out: dict[str, float] = {}
        for stage, counter in self.stages.items():
            for name, count in counter.items():
                out[f"{stage}/{name}"] = count
        for name, count in self.consumed.items():
            out[f"event_source/{name}"] = count
        api_invocations = sum(self.gateway.values())
        if api_invocations:
            out["lambda/api"] = api_invocations
        for queue, function in INVOKED_BY_QUEUE.items():
            count = self.consumed.get(f"sqs:DeleteMessage:{queue}", 0)
            if count:
                out[f"lambda/{function}"] = count
        for name, count in self.gateway.items():
            out[f"apigateway/{name}"] = count
        return out


def _post(url: str, body: Any = None, key: str | None = KEY, method: str = "POST") -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
            kind = response.headers.get("Content-Type", "")
            return response.status, json.loads(payload) if "json" in kind and payload else payload
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Recorder:
    """moto's recorder in the stack: start it, and read what it holds so far."""

    def __init__(self, moto_url: str, path: Path) -> None:
        self.moto_url = moto_url
        self.path = path

    def _command(self, what: str) -> None:
        request = urllib.request.Request(f"{self.moto_url}/moto-api/recorder/{what}", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def start(self) -> None:
        self._command("reset-recording")
        self._command("start-recording")

    def stop(self) -> None:
        self._command("stop-recording")

    def calls(self) -> list[Call]:
        return [classify(entry) for entry in read_recording(self.path.read_text(encoding="utf-8"))]


class Probe:
    """This script's own view of moto (marked, so its calls are not counted): are the stack's queues idle?"""

    def __init__(self, moto_url: str) -> None:
        import boto3
        from botocore.config import Config

        self.sqs = boto3.client(
            "sqs",
            endpoint_url=moto_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(user_agent_extra=PROBE_MARKER),
        )
        # In pipeline order: a capture's message leaves its queue only after the outcome is published, and
        # an outcome's leaves the tap only after the dispatcher finished (and sent any retry).
        urls = self.sqs.list_queues().get("QueueUrls", [])
        order = {"capture": 0, "outcome-tap": 1, "webhook-retry": 2}
        watched = [url for url in urls if "dlq" not in url.rsplit("/", 1)[-1]]
        self.queues = sorted(watched, key=lambda url: next((v for k, v in order.items() if url.endswith(k)), 9))

    def busy(self) -> bool:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        names.append("ApproximateNumberOfMessagesDelayed")
        for url in self.queues:
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            if any(int(attributes.get(name, 0)) for name in names):
                return True
        return False

    def wait_idle(self, timeout: float = IDLE_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while self.busy():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stack's queues were not idle within {timeout:.0f} s")
            time.sleep(0.1)


@dataclass
class Run:
    api_url: str
    recorder: Recorder
    probe: Probe
    page_url: str
    refused_url: str
    hook: Any  # tests.support.WebhookReceiver
    retry_hook: Any
    windows: list[Window] = field(default_factory=list)
    seen: int = 0

    def _take(self) -> list[Call]:
        calls = self.recorder.calls()
        taken, self.seen = calls[self.seen :], len(calls)
        return taken

    def _window(self, kind: str, first_stage: str, gateway: Counter[str]) -> Window:
        self.probe.wait_idle()
        stages, consumed = stage_counts(self._take(), first_stage)
        return Window(kind, stages, consumed, gateway)

    def capture(self, kind: str, index: int) -> None:
        body: dict[str, Any] = {"url": self.page_url}
        path = f"/{kind}-{index}"
        if kind == "webhook":
            body["webhookUrl"] = self.hook.script(path, [200])
        elif kind == "failed":
            body = {"url": self.refused_url, "webhookUrl": self.hook.script(path, [200])}
        elif kind == "webhook_retry":
            body["webhookUrl"] = self.retry_hook.script(path, [500, 200])
        stray = [call.name for call in self._take() if call.caller == "function"]
        if stray:  # the previous capture ended idle: nothing may happen in between
            raise RuntimeError(f"function calls outside any capture: {stray}")
        status, answer = _post(self.api_url + "/v1/screenshots", body)
        if status != 202:
            raise RuntimeError(f"POST /v1/screenshots answered {status}: {answer!r}")
        job_id = answer["jobId"]
        if "webhookUrl" in body:
            receiver = self.retry_hook if kind == "webhook_retry" else self.hook
            deliveries = receiver.wait_for(path, 2 if kind == "webhook_retry" else 1, timeout=IDLE_TIMEOUT_SECONDS)
            expected = "failed" if kind == "failed" else "completed"
            if deliveries[-1].json.get("status") != expected:
                raise RuntimeError(f"{kind} capture {job_id}: webhook says {deliveries[-1].json.get('status')}")
        window = self._window(kind, "api", Counter(submit=1))
        if kind == "webhook":
            link = deliveries[-1].json["screenshotUrl"]
            self._take()
            with urllib.request.urlopen(link, timeout=30) as response:  # the 302, then the presigned GET
                if response.status != 200 or not response.read():
                    raise RuntimeError(f"download link of {job_id} answered {response.status}")
            follow = self._window(kind, "download", Counter(download=1))
            window.stages.update(follow.stages)
            window.consumed.update(follow.consumed)
            window.gateway.update(follow.gateway)
        elif kind == "plain":
            self.probe.wait_idle()
            self._take()
            status, job = _post(f"{self.api_url}/v1/screenshots/{job_id}", method="GET")
            if status != 200 or job.get("status") != "completed":
                raise RuntimeError(f"plain capture {job_id}: {status} {job!r}")
            poll = self._window(kind, "status_poll", Counter(status_poll=1))
            window.stages.update(poll.stages)
            window.gateway.update(poll.gateway)
        self.windows.append(window)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("moto", "boto3", "botocore", "playwright")}


GROUPS = (*STAGES, "event_source", "lambda", "apigateway")


def _group_index(name: str) -> int:
    group = name.partition("/")[0]
    return GROUPS.index(group) if group in GROUPS else len(GROUPS)


def summarise(windows: list[Window], all_calls: list[Call], seconds: float) -> dict[str, Any]:
    """Per kind, the mean count of each call per capture (and any that differed between captures); the calls
    that are not per capture (per environment, the pollers' receives) as totals for the run."""
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        flats = [window.flat() for window in windows if window.kind == kind]
        if not flats:
            continue
        # By stage, and within one in the order the calls were first made.
        first_seen = list(dict.fromkeys(name for flat in flats for name in flat))
        names = sorted(first_seen, key=_group_index)
        per_capture: dict[str, dict[str, float]] = {}
        varies: dict[str, list[float]] = {}
        for name in names:
            values = [flat.get(name, 0) for flat in flats]
            group, _, call = name.partition("/")
            per_capture.setdefault(group, {})[call] = round(sum(values) / len(values), 6)
            if min(values) != max(values):
                varies[name] = [min(values), max(values)]
        kinds[kind] = {"captures": len(flats), "what": KINDS[kind], "per_capture": per_capture, "varies": varies}
    per_environment = Counter(call.name for call in all_calls if call.name in PER_ENVIRONMENT)
    receives = Counter(
        call.name for call in all_calls if call.caller == "event_source" and call.name.startswith("sqs:Receive")
    )
    return {
        "kinds": kinds,
        "per_run": {
            "seconds": round(seconds, 1),
            "per_environment": dict(per_environment),
            "event_source_receives": dict(receives),
        },
    }


def measure(counts: dict[str, int], log_path: Path | None = None) -> dict[str, Any]:
    """Start the local stack, run `counts[kind]` captures of each kind one after another, count their calls."""
    from tests.support import PageServer, WebhookReceiver, closed_port, devstack_process

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="call-counts-")))
        recording = workdir / "moto-recording.jsonl"
        log = stack.enter_context((log_path or workdir / "devstack.log").open("wb"))
        env = {**STACK_SETTINGS, "MOTO_RECORDER_FILEPATH": str(recording)}
        try:
            running = stack.enter_context(devstack_process(env, log))
        except RuntimeError as error:
            log.flush()
            tail = (log_path or workdir / "devstack.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{error}:\n{tail}") from error
        base = stack.enter_context(PageServer({"/": PAGE}).running())
        hook = stack.enter_context(WebhookReceiver().running())
        retry_hook = stack.enter_context(WebhookReceiver().running())
        recorder = Recorder(running.moto_url, recording)
        probe = Probe(running.moto_url)
        recorder.start()
        started = time.monotonic()
        run = Run(running.api_url, recorder, probe, base + "/", f"http://127.0.0.1:{closed_port()}/", hook, retry_hook)
        for kind, count in counts.items():
            for index in range(count):
                run.capture(kind, index)
        seconds = time.monotonic() - started
        recorder.stop()
        summary = summarise(run.windows, recorder.calls(), seconds)
    return summary


def document(summary: dict[str, Any], counts: dict[str, int], command: str) -> dict[str, Any]:
    return {
        "about": "AWS requests per capture, counted on the local stack by bench/call_counts.py (make "
        "cost-measure); bench/cost_model.py prices them. Keys are stage/service:Operation:what; lambda/* are "
        "invocations, apigateway/* requests through the gateway, event_source/* records the local pollers "
        "consumed (see the module's docstring for what is counted and how).",
        "generated": {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "git_commit": _git("rev-parse", "HEAD"),
            "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
            "command": command,
            "captures": counts,
            "stack_settings": {k: v for k, v in STACK_SETTINGS.items() if k != "SHOTWIRE_DEV_API_KEY"},
            "versions": _versions(),
        },
        **summary,
    }


# -- reading the file (the cost model) ----------------------------------------------------------------------
@dataclass(frozen=True)
class CallCounts:
    """The committed measurement: per kind, per group (a stage, lambda, apigateway, event_source), per call."""

    kinds: dict[str, dict[str, dict[str, float]]]
    generated: dict[str, Any]
    path: Path

    def stage(self, group: str, kind: str = "webhook") -> dict[str, float]:
        return dict(self.kinds[kind].get(group, {}))

    def count(self, group: str, call: str, kind: str = "webhook") -> float:
        return self.kinds[kind].get(group, {}).get(call, 0.0)

    def where(self) -> str:
        generated = self.generated
        captures = ", ".join(f"{n} {kind}" for kind, n in generated.get("captures", {}).items())
        commit = str(generated.get("git_commit", "?"))[:12] + (
            " (uncommitted changes)" if generated.get("git_dirty") else ""
        )
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}: measured {generated.get('date', '?')} at {commit}, {captures} captures"


def load_counts(path: Path = COUNTS_PATH) -> CallCounts:
    data = json.loads(path.read_text(encoding="utf-8"))
    kinds = {kind: entry["per_capture"] for kind, entry in data["kinds"].items()}
    return CallCounts(kinds=kinds, generated=data["generated"], path=path)


# -- report ----------------------------------------------------------------------------------------------------
def markdown(data: dict[str, Any]) -> str:
    """The per-capture counts of every kind side by side, for docs/cost.md."""
    kinds = data["kinds"]
    names = list(
        dict.fromkeys(
            f"{g}/{c}" for entry in kinds.values() for g, calls in entry["per_capture"].items() for c in calls
        )
    )
    names.sort(key=_group_index)
    header = ["stage", "call", *(f"{kind} ({entry['captures']})" for kind, entry in kinds.items())]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for name in names:
        group, _, call = name.partition("/")
        cells = [f"{entry['per_capture'].get(group, {}).get(call, 0):g}" for entry in kinds.values()]
        lines.append(f"| {group} | {call} | " + " | ".join(cells) + " |")
    lines.append("")
    for kind, entry in kinds.items():
        varies = f" Differed between captures: {entry['varies']}." if entry["varies"] else ""
        lines.append(f"- `{kind}`: {entry['what']}.{varies}")
    per_run = data["per_run"]
    environment = ", ".join(f"{name} {n}" for name, n in per_run["per_environment"].items())
    receives = ", ".join(f"{name.rsplit(':', 1)[-1]} {n}" for name, n in per_run["event_source_receives"].items())
    lines += [
        "",
        f"Per run ({per_run['seconds']} s), not per capture: per execution environment {environment}; the local "
        f"pollers' ReceiveMessage calls by queue: {receives}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--captures", type=int, default=20, help="captures of the priced kind (webhook)")
    parser.add_argument("--others", type=int, default=3, help="captures of each other kind")
    parser.add_argument("--out", type=Path, default=COUNTS_PATH)
    args = parser.parse_args(argv)
    counts = {kind: (args.captures if kind == "webhook" else args.others) for kind in KINDS}
    command = f"python -m bench.call_counts --captures {args.captures} --others {args.others}"
    data = document(measure(counts), counts, command)
    args.out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(markdown(data))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
