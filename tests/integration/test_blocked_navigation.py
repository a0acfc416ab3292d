"""A page that navigates itself somewhere blocked after it loaded, and CSS whose @import cannot load.

Real Chromium, pages on 127.0.0.1 and the capture function's own logic (`run_capture`), with private
networks blocked as deployed stacks do: only the page server's host:port is allowed (SHOTWIRE_ALLOWED_HOSTS),
so the egress proxy sits in front of the browser and every other private address is refused.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image

from devstack.options import find_chromium
from shotwire_core.adapters.browser import BrowserEngine
from shotwire_core.capture import run_capture
from shotwire_core.models import CaptureMessage, ErrorCode, Job, JobStatus, ScreenshotRequest, capture_options
from tests.support import Site, closed_port
from tests.unit.fakes import FakeBus, FakeImages, FakeJobs

BLUE = (0, 0, 255)


@pytest.fixture(scope="module")
def engine() -> Iterator[BrowserEngine]:
    instance = BrowserEngine(find_chromium(), concurrency=2)
    yield instance
    instance.close()


@pytest.fixture
def elsewhere() -> Iterator[Site]:
    """Another origin on loopback, not in the allowed hosts: a blocked target that records any visit."""
    with Site().running() as running:
        yield running


@dataclass
class RecordingJobs(FakeJobs):
    """FakeJobs that keeps what a completed capture stored (finalUrl, warnings...)."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def mark_completed(self, tenant_id: str, job_id: str, now: str, result: dict[str, Any]) -> Job:
        self.results[job_id] = result
        return super().mark_completed(tenant_id, job_id, now, result)


@dataclass
class Outcome:
    job: Job
    result: dict[str, Any] | None
    image: bytes | None


def capture(engine: BrowserEngine, site: Site, *, extra_allowed: tuple[str, ...] = (), **request: Any) -> Outcome:
    """Submit-time validation as the API does it, then the capture function's logic with private networks
    blocked except for the page server itself."""
    request.setdefault("timeoutMs", 15_000)
    options = capture_options(ScreenshotRequest.model_validate(request))
    jobs, images = RecordingJobs(), FakeImages()
    jobs.create(
        Job(
            tenant_id="t1",
            job_id="job_1",
            status=JobStatus.QUEUED,
            options=options,
            created_at="2026-01-01T00:00:00.000Z",
            updated_at="2026-01-01T00:00:00.000Z",
        )
    )
    job = run_capture(
        CaptureMessage(tenant_id="t1", job_id="job_1"),
        jobs=jobs,
        capturer=engine,
        images=images,
        bus=FakeBus(),
        allow_private=False,
        allowed_hosts=frozenset({urlsplit(site.base_url).netloc, *extra_allowed}),
    )
    assert job is not None
    image = next(iter(images.stored.values()), None)
    return Outcome(job, jobs.results.get("job_1"), image)


def assert_blocked(outcome: Outcome, address: str) -> None:
    job = outcome.job
    assert job.status is JobStatus.FAILED, (job.status, outcome.result)
    assert job.error_code is ErrorCode.BLOCKED_URL, (job.error_code, job.error)
    assert job.error is not None and address in job.error, job.error
    assert outcome.image is None


def test_a_meta_refresh_to_the_metadata_service_fails_the_job(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/", '<html><head><meta http-equiv="refresh" content="0;url=http://169.254.169.254/"></head>x</html>'
    )
    assert_blocked(capture(engine, site, url=url), "169.254.169.254")


def test_a_script_navigating_to_a_private_address_fails_the_job(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/", "<html><body>x<script>addEventListener('load', () => { location.href = 'http://10.0.0.1/'; });</script>"
    )
    assert_blocked(capture(engine, site, url=url), "10.0.0.1")


def test_a_form_submitted_to_a_blocked_address_fails_the_job(
    engine: BrowserEngine, site: Site, elsewhere: Site
) -> None:
    target = elsewhere.add("/steal", "<html><body>internal</body></html>")
    url = site.add(
        "/",
        f"<html><body><form method='post' action='{target}'><input name='a' value='b'></form>"
        "<script>addEventListener('load', () => document.forms[0].submit());</script></body></html>",
    )
    assert_blocked(capture(engine, site, url=url), "127.0.0.1")
    assert elsewhere.seen == []  # the blocked address was never contacted


def test_a_meta_refresh_to_an_allowed_page_still_completes(engine: BrowserEngine, site: Site) -> None:
    site.add("/landing", "<html><head><title>Landing</title></head><body>here</body></html>")
    url = site.add("/", '<html><head><meta http-equiv="refresh" content="0;url=/landing"></head>x</html>')
    outcome = capture(engine, site, url=url, delayMs=500)
    assert outcome.job.status is JobStatus.COMPLETED, outcome.job.error
    assert outcome.result is not None and outcome.result["finalUrl"] == f"{site.base_url}/landing"
    assert outcome.result["title"] == "Landing"


@pytest.mark.parametrize("allowed", [False, True], ids=["blocked-import", "unreachable-import"])
def test_css_whose_import_fails_is_applied_with_a_warning(engine: BrowserEngine, site: Site, allowed: bool) -> None:
    """A refused @import (a loopback port the guard blocks) or an allowed one that nothing answers: the rest
    of the CSS still applies, and the job says which import was left out."""
    port = closed_port()
    css = f'@import url("http://127.0.0.1:{port}/x.css"); html, body {{ background: rgb(0, 0, 255) !important; }}'
    url = site.add("/", "<html><body style='background:red'>x</body></html>")
    outcome = capture(
        engine, site, extra_allowed=(f"127.0.0.1:{port}",) if allowed else (), url=url, css=css, width=200, height=100
    )
    assert outcome.job.status is JobStatus.COMPLETED, outcome.job.error
    assert outcome.result is not None
    assert any(f"http://127.0.0.1:{port}/x.css" in warning for warning in outcome.result["warnings"]), outcome.result
    assert outcome.image is not None
    with Image.open(io.BytesIO(outcome.image)) as image:
        assert image.convert("RGB").getpixel((100, 50)) == pytest.approx(BLUE, abs=8)
