"""A browser that hangs, through the whole local stack: HTTP in, the capture function in its execution
environment (sandboxed where bubblewrap works) under its template timeout, webhooks out.

Every Chromium the capture function launches stops (SIGSTOP) 3 s after it starts, without disconnecting,
and the pages never answer. Each job must end `failed` with a reason and its `failed` webhook must go out,
and no invocation may run into the function's timeout (which would leave the jobs unfinished for the
queue's 45-minute visibility timeout).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from devstack.lambdas import ROOT
from shotwire_core.config import load_stack_config
from tests.e2e.conftest import Stack, running_stack
from tests.support import WebhookReceiver, freezing_chromium, serving

pytestmark = pytest.mark.e2e

JOBS = 3


class Silent(BaseHTTPRequestHandler):
    """A site that accepts the connection and never answers."""

    def do_GET(self) -> None:
        time.sleep(60)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def report_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hung") / "runtime-report.json"


@pytest.fixture(scope="module")
def hung_stack(tmp_path_factory: pytest.TempPathFactory, report_path: Path) -> Iterator[Stack]:
    # Under the checkout, which the sandbox shows read-only (it hides the host's /tmp).
    launcher_dir = ROOT / "build" / "test-launchers"
    launcher_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "SHOTWIRE_CHROMIUM_PATH": freezing_chromium(launcher_dir, 3),
        "SHOTWIRE_CAPTURE_TIMEOUT_MS": "10000",
        # Each job's first delivery is its last: the job is failed and announced at once, not handed back
        # to SQS for two more tries 30 s and 60 s later (the path test_capture_handler.py covers).
        "SHOTWIRE_CAPTURE_MAX_RECEIVE_COUNT": "1",
        "SHOTWIRE_LOCAL_REPORT": str(report_path),
    }
    with running_stack(tmp_path_factory.mktemp("hung-stack") / "devstack.log", settings) as running:
        yield running


def test_a_hung_browser_fails_every_job_with_a_reason_and_a_webhook(hung_stack: Stack, report_path: Path) -> None:
    receiver = WebhookReceiver()
    with serving(Silent) as site, receiver.running():
        url = f"http://127.0.0.1:{site.server_address[1]}/"
        hook = receiver.script("/hung", [200])
        started = time.monotonic()
        job_ids = []
        for n in range(JOBS):
            status, body = hung_stack.request("POST", "/v1/screenshots", {"url": f"{url}?n={n}", "webhookUrl": hook})
            assert status == 202, body
            job_ids.append(body["jobId"])
        deliveries = receiver.wait_for("/hung", JOBS, timeout=150)
        elapsed = time.monotonic() - started
        jobs = [hung_stack.wait_job(job_id, lambda job: job["status"] == "failed", timeout=10) for job_id in job_ids]

    assert sorted(delivery.json["jobId"] for delivery in deliveries) == sorted(job_ids)
    assert {delivery.json["status"] for delivery in deliveries} == {"failed"}
    for job in jobs:
        assert job["errorCode"] in ("browser_crash", "navigation_timeout", "internal_error"), job
        assert job["error"], job

    hung_stack.process.terminate()
    hung_stack.process.wait(timeout=90)
    capture = json.loads(report_path.read_text())["capture"]
    codes = sorted(job["errorCode"] for job in jobs)
    print(f"\nhung browser: {JOBS} jobs failed ({', '.join(codes)}) and announced {elapsed:.1f} s after "
          f"submission; {capture['coldStarts']} cold start(s), {capture['timeouts']} timeout(s)")  # fmt: skip
    assert capture["timeouts"] == 0  # every invocation returned before its function timeout
    assert elapsed < load_stack_config().capture_timeout_seconds
