"""The capture function in a Lambda-like sandbox, with the image's own environment (Chromium's flags from
the Dockerfile, HOME=/tmp): read-only root, /tmp the only writable place, a non-root user, an empty
read-only /dev/shm. 40 captures of different pages, 4 rendering at once, must all complete: the image's
flags once made 39 of 40 fail here (`--single-process` crashes at the second browser context).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.image import image_environment
from devstack.sandbox import sandbox_unavailable
from tests.e2e.conftest import Stack, running_stack
from tests.support import PageServer

pytestmark = pytest.mark.e2e

JOBS = 40
AT_ONCE = 4

reason = sandbox_unavailable()
if reason is not None:
    print(f"\nskipping the Lambda sandbox tests: {reason}")


def page(n: int) -> str:
    """Pages that differ in size and content (text, a gradient, a table, an SVG), so the browser does work."""
    rows = "".join(f"<tr><td>{n}.{r}</td><td>{'x' * (r % 17)}</td></tr>" for r in range(20 + n * 5))
    circles = "".join(f"<circle cx='{(i * 37) % 600}' cy='{(i * 53) % 400}' r='{5 + i % 30}' "
                      f"fill='hsl({i * 9 % 360},70%,50%)' opacity='.5'/>" for i in range(40 + n * 3))  # fmt: skip
    return (
        f"<html><head><title>page {n}</title></head><body style='margin:0'>"
        f"<h1 style='background:linear-gradient(90deg,#f{n % 10}0,#00f)'>page {n} ✓ 日本語</h1>"
        f"<table>{rows}</table><svg width='600' height='400'>{circles}</svg></body></html>"
    )


@pytest.fixture(scope="module")
def report_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox") / "runtime-report.json"


@pytest.fixture(scope="module")
def sandboxed_stack(tmp_path_factory: pytest.TempPathFactory, report_path: Path) -> Iterator[Stack]:
    if reason is not None:
        pytest.skip(f"no Lambda-like sandbox here: {reason}")
    settings = {
        "SHOTWIRE_LOCAL_SANDBOX": "1",
        "SHOTWIRE_CAPTURE_CONCURRENCY": str(AT_ONCE),
        "SHOTWIRE_LOCAL_REPORT": str(report_path),
    }
    with running_stack(tmp_path_factory.mktemp("sandbox-stack") / "devstack.log", settings) as running:
        yield running


def test_forty_captures_four_at_once_in_the_sandbox_with_the_images_flags(
    sandboxed_stack: Stack, report_path: Path
) -> None:
    assert "--single-process" not in image_environment()["SHOTWIRE_CHROMIUM_ARGS"]
    pages = {f"/p{n}": page(n) for n in range(JOBS)}
    with PageServer(pages).running() as base_url:
        job_ids = []
        for n in range(JOBS):
            status, body = sandboxed_stack.request("POST", "/v1/screenshots", {"url": f"{base_url}/p{n}"})
            assert status == 202, body
            job_ids.append(body["jobId"])
        finished = [
            sandboxed_stack.wait_job(job_id, lambda job: job.get("status") in ("completed", "failed"), timeout=240)
            for job_id in job_ids
        ]
    failures = [
        (job["jobId"], job.get("errorCode"), job.get("error")) for job in finished if job["status"] != "completed"
    ]
    assert failures == []
    assert {job["width"] for job in finished} == {1280}

    # Stop the stack to get the runtime's report: /tmp use per environment, and no environment timed out.
    sandboxed_stack.process.terminate()
    sandboxed_stack.process.wait(timeout=90)
    report = json.loads(report_path.read_text())
    capture = report["capture"]
    print(f"\ncapture in the sandbox: {JOBS} jobs, {AT_ONCE} at once, 0 failed; "
          f"/tmp grew to {capture['maxTmpBytes'] / 1e6:.1f} MB at most; "
          f"{capture['coldStarts']} cold start(s), {capture['timeouts']} timeout(s)")  # fmt: skip
    assert capture["sandboxed"] is True
    assert capture["timeouts"] == 0
    assert capture["maxTmpBytes"] < 512 * 1024 * 1024  # Lambda's default ephemeral storage
