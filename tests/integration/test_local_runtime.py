"""The local runtime keeps Lambda's rules: a function's own environment and nothing else, its timeout
enforced by stopping the environment (and what it started), SQS messages of a stopped invocation coming
back after the visibility timeout, and the Lambda-like sandbox.

The functions here are small handler files of the tests' own, run by the same devstack.lambdas code that
runs functions/*/handler.py in `make dev`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.lambdas import ROOT, FunctionSpec, InvocationError, InvocationTimeout, LocalFunction, lambda_variables
from devstack.runtime import QueuePoller
from devstack.sandbox import LAMBDA_UID, sandbox_unavailable

PROBE = """
import json, os, subprocess, time

def lambda_handler(event, context):
    if event.get("sleep"):
        child = subprocess.Popen(["sleep", "300"])  # what a capture's Chromium is: a child that outlives a kill
        pidfile = event.get("pidfile") or os.path.join(os.environ.get("TMPDIR", "/tmp"), "child.pid")
        open(pidfile, "w").write(str(child.pid))
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError("told to fail")
    writable = {}
    for place in ("/tmp", os.getcwd(), "/usr", os.path.expanduser("~") if os.environ.get("HOME") else "/"):
        try:
            with open(os.path.join(place, ".probe"), "w") as handle:
                handle.write("x")
            os.remove(os.path.join(place, ".probe"))
            writable[place] = True
        except OSError:
            writable[place] = False
    return {
        "environ": dict(os.environ),
        "uid": os.getuid(),
        "shm": os.listdir("/dev/shm") if os.path.isdir("/dev/shm") else None,
        "writable": writable,
        "remainingMs": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
    }
"""


@pytest.fixture
def probe_file() -> Iterator[Path]:
    # Not under /tmp: inside the sandbox /tmp is the environment's own, and the code lives outside it.
    (ROOT / "build").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="probe-", dir=ROOT / "build"))
    path = folder / "handler.py"
    path.write_text(PROBE, encoding="utf-8")
    yield path
    shutil.rmtree(folder, ignore_errors=True)


def local_function(handler: Path, *, timeout: int = 10, sandboxed: bool = False) -> LocalFunction:
    spec = FunctionSpec(
        key="probe",
        name="shotwire-probe",
        memory_mb=256,
        timeout_seconds=timeout,
        environment={"SHOTWIRE_JOBS_TABLE": "jobs", "POWERTOOLS_SERVICE_NAME": "shotwire-probe"},
        max_environments=2,
        sandboxed=sandboxed,
        handler=handler,
    )
    return LocalFunction(spec, {**lambda_variables(spec, "us-east-1"), **spec.environment})


@pytest.fixture
def probe(probe_file: Path) -> Iterator[LocalFunction]:
    function = local_function(probe_file, timeout=3)
    yield function
    function.close()


def test_a_function_sees_its_own_variables_and_not_the_callers(
    probe: LocalFunction, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOTWIRE_CAPTURE_QUEUE_URL", "http://leaked")  # in the stack's process, not the function's
    answer = probe.invoke({})
    environ = answer["environ"]
    assert environ["SHOTWIRE_JOBS_TABLE"] == "jobs"
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "shotwire-probe"
    assert "SHOTWIRE_CAPTURE_QUEUE_URL" not in environ
    assert not {name for name in environ if name.startswith("SHOTWIRE_")} - {"SHOTWIRE_JOBS_TABLE"}
    assert 0 < answer["remainingMs"] <= 3000


def test_an_error_is_the_functions_error_and_the_environment_stays_warm(probe: LocalFunction) -> None:
    first = probe.invoke({})["pid"]
    with pytest.raises(InvocationError) as raised:
        probe.invoke({"fail": True})
    assert (raised.value.error_type, raised.value.message) == ("ValueError", "told to fail")
    assert probe.invoke({})["pid"] == first
    assert probe.cold_starts == 1


def test_an_invocation_past_the_timeout_is_stopped_with_everything_it_started(probe: LocalFunction) -> None:
    warm_pid = probe.invoke({})["pid"]
    started = time.monotonic()
    with pytest.raises(InvocationTimeout) as raised:
        probe.invoke({"sleep": 60})
    assert time.monotonic() - started < 30  # stopped at the 3 s timeout, not after the handler's 60 s
    assert raised.value.message == "Task timed out after 3.00 seconds"
    assert probe.timeouts == 1
    # The environment is gone, and so is the process it started; the next invocation is a cold start.
    with pytest.raises(ProcessLookupError):
        os.kill(warm_pid, 0)
    answer = probe.invoke({})
    assert answer["pid"] != warm_pid
    assert probe.cold_starts == 2


def test_the_child_a_timed_out_invocation_started_is_killed_too(probe_file: Path, tmp_path: Path) -> None:
    function = local_function(probe_file, timeout=2)
    pidfile = tmp_path / "child.pid"  # outside the environment's /tmp, which goes with it
    try:
        function.warm()
        tmp = function._idle[0].tmp
        with pytest.raises(InvocationTimeout):
            function.invoke({"sleep": 60, "pidfile": str(pidfile)})
    finally:
        function.close()
    assert not tmp.exists()
    # The child was in the killed process group: it is gone (or a zombie waiting for init to reap it).
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(child)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --- an SQS event source whose invocation times out ----------------------------------------------------

ONCE_TOO_SLOW = """
import json, os, time

def lambda_handler(event, context):
    marker = os.environ["MARKER"]
    for record in event["Records"]:
        if not os.path.exists(marker):
            open(marker, "w").write(record["messageId"])
            time.sleep(60)  # the first delivery outlives the function's timeout
    return {"batchItemFailures": []}
"""


@contextmanager
def function_on_a_queue(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    source: str,
    *,
    timeout_seconds: int,
    visibility_timeout: int,
    variables: dict[str, str],
) -> Iterator[tuple[Any, str, LocalFunction]]:
    """A function made from `source` and an SQS queue on moto: (sqs client, queue URL, function)."""
    handler = tmp_path / name / "handler.py"
    handler.parent.mkdir()
    handler.write_text(source, encoding="utf-8")
    spec = FunctionSpec(
        key=name, name=f"shotwire-{name}", memory_mb=128, timeout_seconds=timeout_seconds, environment={},
        handler=handler,
    )  # fmt: skip
    for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        attributes = {"VisibilityTimeout": str(visibility_timeout)}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        function = LocalFunction(spec, {**lambda_variables(spec, "us-east-1"), **variables})
        try:
            yield sqs, url, function
        finally:
            function.close()


def test_messages_of_a_timed_out_invocation_come_back_after_the_visibility_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "first-delivery"
    with function_on_a_queue(
        tmp_path, monkeypatch, "slow", ONCE_TOO_SLOW, timeout_seconds=2, visibility_timeout=3,
        variables={"MARKER": str(marker)},
    ) as (sqs, url, function):  # fmt: skip
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
        poller = QueuePoller("slow", url, "arn:aws:sqs:us-east-1:123456789012:slow", function.invoke,
                             batch_size=10, region="us-east-1")  # fmt: skip
        poller.start()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and _visible_or_in_flight(sqs, url):
                time.sleep(0.5)
        finally:
            poller.stop()
            poller.join(timeout=10)
        # Handled on the second delivery, after the first invocation was stopped at its 2 s timeout.
        assert not _visible_or_in_flight(sqs, url)
        assert marker.exists()
        assert function.timeouts == 1
        assert poller.invocations == 2


def _visible_or_in_flight(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


# --- the Lambda-like sandbox ------------------------------------------------------------------------------

sandbox_reason = sandbox_unavailable()


@pytest.mark.skipif(sandbox_reason is not None, reason=f"no Lambda-like sandbox here: {sandbox_reason}")
def test_the_sandbox_has_lambdas_limits(probe_file: Path) -> None:
    function = local_function(probe_file, sandboxed=True)
    try:
        answer = function.invoke({})
    finally:
        function.close()
    assert answer["uid"] == LAMBDA_UID
    assert answer["shm"] == []  # empty, and read-only
    assert answer["writable"]["/tmp"] is True
    assert answer["writable"][os.getcwd()] is False  # the code's directory, like /var/task
    assert answer["writable"]["/usr"] is False
    assert "TMPDIR" not in answer["environ"]  # /tmp itself is the environment's own


def test_environments_run_side_by_side_up_to_the_limit(probe_file: Path) -> None:
    function = local_function(probe_file)
    pids: list[int] = []
    try:
        threads = [threading.Thread(target=lambda: pids.append(function.invoke({})["pid"])) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        function.close()
    assert len(pids) == 4
    assert len(set(pids)) <= 2  # max_environments


# --- asynchronous events: a slow one holds up no other ----------------------------------------------------

SLOW_OR_FAST = """
import json, os, time

def lambda_handler(event, context):
    if event["detail"]["slow"]:
        time.sleep(6)
    with open(os.environ["FINISHED"], "a") as finished:
        finished.write(json.dumps({"slow": event["detail"]["slow"], "at": time.time()}) + "\\n")
"""


def test_an_asynchronous_event_runs_as_soon_as_it_arrives_whatever_else_is_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda gives each asynchronous event to free concurrency: one slow event in the same receive must not
    hold the next events back until it ends (a drip-feeding webhook receiver once delayed everyone's)."""
    finished = tmp_path / "finished.jsonl"
    with function_on_a_queue(
        tmp_path, monkeypatch, "events", SLOW_OR_FAST, timeout_seconds=20, visibility_timeout=30,
        variables={"FINISHED": str(finished)},
    ) as (sqs, url, function):  # fmt: skip
        poller = QueuePoller("events", url, "arn:aws:sqs:us-east-1:123456789012:events", function.invoke,
                             batch_size=10, region="us-east-1", as_sqs_event=False, concurrency=4)  # fmt: skip
        for slow in (True, True, False):  # one receive: two slow events and a fast one
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"detail-type": "t", "detail": {"slow": slow}}))
        sent = time.time()
        poller.start()
        try:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline and not finished.exists():
                time.sleep(0.1)
            # A fast event sent after the slow ones started still finishes while they run.
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"detail-type": "t", "detail": {"slow": False}}))
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline and len(_lines(finished)) < 2:
                time.sleep(0.1)
            fast = [entry for entry in _lines(finished) if not entry["slow"]]
        finally:
            poller.stop()
            poller.join(timeout=15)
        assert len(fast) == 2 and all(entry["at"] - sent < 5 for entry in fast), fast


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
