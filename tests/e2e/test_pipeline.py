"""The whole path through the local stack: submit -> capture (Chromium) -> S3 (moto) -> signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import os
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest
from PIL import Image
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import SECRET, Stack
from tests.support import WebhookReceiver, closed_port

pytestmark = pytest.mark.e2e


def _verify_all_signatures(delivery_headers: dict[str, str], body: bytes) -> None:
    headers = {name.lower(): value for name, value in delivery_headers.items()}
    expected_hex = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-webhook-signature"] == expected_hex
    assert headers["x-signature"] == expected_hex
    assert headers["content-type"] == "application/json"
    # Raises on a bad signature or an old timestamp.
    Webhook(SECRET).verify(body, headers)


def _log_lines(stack: Stack) -> list[dict[str, Any]]:
    """The functions' JSON log lines in the stack's log."""
    lines = []
    for raw in stack.log_path.read_text(errors="replace").splitlines():
        try:
            line = json.loads(raw[raw.find("{") :])
        except json.JSONDecodeError:
            continue
        if isinstance(line, dict):
            lines.append(line)
    return lines


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # a plain GET, no auth
        return response.read()


def test_completed_capture_sends_a_signed_webhook_with_a_working_image_link(
    stack: Stack, pages: str, receiver: WebhookReceiver
) -> None:
    # Given a receiver that answers 200
    hook = receiver.script("/happy", [200])
    # When a local page is submitted
    status, accepted = stack.request(
        "POST", "/v1/screenshots", {"url": f"{pages}/simple", "width": 640, "height": 400, "webhookUrl": hook}
    )
    assert status == 202, accepted
    assert accepted["status"] == "queued" and accepted["jobId"].startswith("job_") and accepted["createdAt"]

    # Then exactly one webhook arrives, with all three signatures valid
    (delivery,) = receiver.wait_for("/happy", 1)
    _verify_all_signatures(delivery.headers, delivery.body)
    payload = delivery.json
    contract = ["jobId", "status", "screenshotUrl", "url", "width", "height", "format", "capturedAt"]
    assert list(payload)[:8] == contract
    assert payload["finalUrl"] == f"{pages}/simple" and payload["httpStatus"] == 200 and payload["title"] == "Simple"
    assert payload["bytes"] > 0 and payload["truncated"] is False
    assert set(payload["timings"]) == {"queuedMs", "navigationMs", "captureMs", "totalMs"}
    assert payload["jobId"] == accepted["jobId"]
    assert payload["status"] == "completed"
    assert (payload["width"], payload["height"], payload["format"]) == (640, 400, "png")
    # Compact JSON, as JSON.stringify would produce it
    assert delivery.body == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()

    # And the link leads through the API (it outlives the dispatcher's credentials) to a PNG of the requested size
    assert payload["screenshotUrl"].startswith(f"{stack.api_url}/v1/downloads/")
    image = _download(payload["screenshotUrl"])
    with Image.open(io.BytesIO(image)) as decoded:
        assert decoded.format == "PNG"
        assert decoded.size == (640, 400)

    # And the job reads back as completed, with a fresh link and the delivery recorded
    job = stack.wait_job(accepted["jobId"], lambda j: j.get("webhook", {}).get("status") == "delivered")
    assert job["status"] == "completed" and job["width"] == 640 and job["height"] == 400
    assert _download(job["screenshotUrl"]) == image
    assert [a["statusCode"] for a in job["webhook"]["attempts"]] == [200]

    # And each function logged the job under its own service name (POWERTOOLS_SERVICE_NAME), as in CloudWatch
    services = {line.get("service") for line in _log_lines(stack) if line.get("job_id") == accepted["jobId"]}
    assert services == {"shotwire-api", "shotwire-capture", "shotwire-dispatcher"}


def test_full_page_capture_reports_and_returns_the_full_height(
    stack: Stack, pages: str, receiver: WebhookReceiver
) -> None:
    hook = receiver.script("/full", [200])
    status, _ = stack.request(
        "POST",
        "/v1/screenshots",
        {"url": f"{pages}/tall", "width": 800, "height": 600, "fullPage": True, "webhookUrl": hook},
    )
    assert status == 202
    (delivery,) = receiver.wait_for("/full", 1)
    payload = delivery.json
    assert payload["status"] == "completed"
    assert (payload["width"], payload["height"]) == (800, 2600)
    with Image.open(io.BytesIO(_download(payload["screenshotUrl"]))) as decoded:
        assert decoded.size == (800, 2600)


def test_jpeg_format_is_honoured(stack: Stack, pages: str, receiver: WebhookReceiver) -> None:
    hook = receiver.script("/jpeg", [200])
    stack.request("POST", "/v1/screenshot", {"url": f"{pages}/simple", "format": "jpeg", "webhookUrl": hook})
    (delivery,) = receiver.wait_for("/jpeg", 1)
    assert delivery.json["format"] == "jpeg"
    with Image.open(io.BytesIO(_download(delivery.json["screenshotUrl"]))) as decoded:
        assert decoded.format == "JPEG"
        assert decoded.size == (1280, 800)


def test_receiver_failing_twice_gets_the_third_attempt_with_the_same_webhook_id(
    stack: Stack, pages: str, receiver: WebhookReceiver
) -> None:
    hook = receiver.script("/flaky", [500, 500, 200])
    _, accepted = stack.request("POST", "/v1/screenshots", {"url": f"{pages}/simple", "webhookUrl": hook})
    deliveries = receiver.wait_for("/flaky", 3, timeout=60)
    assert len({d.headers["webhook-id"] for d in deliveries}) == 1
    for delivery in deliveries:
        _verify_all_signatures(delivery.headers, delivery.body)
    # The schedule is 1 s then 2 s, each jittered by up to ±20%.
    gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(deliveries)]
    assert gaps[0] >= 0.75 and gaps[1] >= 1.55, gaps
    job = stack.wait_job(accepted["jobId"], lambda j: j["webhook"]["status"] == "delivered")
    attempts = job["webhook"]["attempts"]
    assert [a["statusCode"] for a in attempts] == [500, 500, 200]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert all("at" in a and a["durationMs"] >= 0 for a in attempts)
    assert "http_status" in attempts[0]["error"]


def test_receiver_that_never_accepts_ends_in_the_webhook_dlq(
    stack: Stack, pages: str, receiver: WebhookReceiver
) -> None:
    hook = receiver.script("/dead", [503])
    _, accepted = stack.request("POST", "/v1/screenshots", {"url": f"{pages}/simple", "webhookUrl": hook})
    job = stack.wait_job(accepted["jobId"], lambda j: j["webhook"]["status"] == "failed", timeout=60)
    assert job["status"] == "completed"  # the capture itself succeeded
    assert [a["statusCode"] for a in job["webhook"]["attempts"]] == [503, 503, 503]
    assert len(receiver.received("/dead")) == 3

    sqs = stack.aws("sqs")
    dlq_url = sqs.get_queue_url(QueueName="shotwire-webhook-dlq")["QueueUrl"]
    parked = []
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", []):
            parked.append(json.loads(message["Body"]))
    assert any(p["jobId"] == accepted["jobId"] and p["attempts"] == 3 for p in parked), parked


def test_unreachable_page_fails_the_job_and_sends_a_failed_webhook(stack: Stack, receiver: WebhookReceiver) -> None:
    hook = receiver.script("/unreachable", [200])
    url = f"http://127.0.0.1:{closed_port()}/nothing-here"
    _, accepted = stack.request("POST", "/v1/screenshots", {"url": url, "webhookUrl": hook})
    (delivery,) = receiver.wait_for("/unreachable", 1)
    _verify_all_signatures(delivery.headers, delivery.body)
    payload = delivery.json
    assert payload["status"] == "failed"
    assert "ERR_CONNECTION_REFUSED" in payload["error"]
    assert payload["errorCode"] == "connection_error"
    assert "screenshotUrl" not in payload
    job = stack.wait_job(accepted["jobId"], lambda j: j["status"] == "failed")
    assert job["error"] == payload["error"]
    assert "screenshotUrl" not in job


def test_job_without_webhook_completes_quietly(stack: Stack, pages: str) -> None:
    _, accepted = stack.request("POST", "/v1/screenshots", {"url": f"{pages}/simple", "width": 300, "height": 200})
    job = stack.wait_job(accepted["jobId"], lambda j: j["status"] == "completed")
    assert "webhook" not in job
    assert (job["width"], job["height"]) == (300, 200)
    assert job["startedAt"] <= job["completedAt"]


def test_gone_stops_the_delivery_after_one_attempt(stack: Stack, pages: str, receiver: WebhookReceiver) -> None:
    hook = receiver.script("/gone", [410])
    _, accepted = stack.request("POST", "/v1/screenshots", {"url": f"{pages}/simple", "webhookUrl": hook})
    job = stack.wait_job(accepted["jobId"], lambda j: j["webhook"]["status"] == "failed", timeout=60)
    time.sleep(2.5)  # past the whole (shortened) schedule: nothing else arrives
    assert len(receiver.received("/gone")) == 1
    (attempt,) = job["webhook"]["attempts"]
    assert attempt["statusCode"] == 410 and "410 Gone" in attempt["error"] and "nextAttemptAt" not in attempt


def test_retry_after_holds_the_next_attempt_back(stack: Stack, pages: str, receiver: WebhookReceiver) -> None:
    hook = receiver.script("/busy", [429, 200], headers={"Retry-After": "4"})
    _, accepted = stack.request("POST", "/v1/screenshots", {"url": f"{pages}/simple", "webhookUrl": hook})
    first, second = receiver.wait_for("/busy", 2, timeout=60)
    assert second.received_at - first.received_at >= 3.9  # the schedule alone would have waited ~1 s
    job = stack.wait_job(accepted["jobId"], lambda j: j["webhook"]["status"] == "delivered")
    assert [a["statusCode"] for a in job["webhook"]["attempts"]] == [429, 200]


def test_a_redirect_is_a_failed_attempt_and_never_followed(stack: Stack, pages: str, receiver: WebhookReceiver) -> None:
    hook = receiver.script("/moved", [302, 200], headers={"Location": receiver.base_url + "/elsewhere"})
    _, accepted = stack.request("POST", "/v1/screenshots", {"url": f"{pages}/simple", "webhookUrl": hook})
    job = stack.wait_job(accepted["jobId"], lambda j: j["webhook"]["status"] == "delivered", timeout=60)
    assert [a["statusCode"] for a in job["webhook"]["attempts"]] == [302, 200]
    assert job["webhook"]["attempts"][0]["errorClass"] == "http_status"
    assert receiver.received("/elsewhere") == []


def test_a_hanging_receiver_times_out_and_is_retried(stack: Stack, pages: str, receiver: WebhookReceiver) -> None:
    receiver.hang_seconds = 5
    hook = receiver.script("/hang", [WebhookReceiver.HANG, 200])
    _, accepted = stack.request("POST", "/v1/screenshots", {"url": f"{pages}/simple", "webhookUrl": hook})
    job = stack.wait_job(accepted["jobId"], lambda j: j["webhook"]["status"] == "delivered", timeout=60)
    first, second = job["webhook"]["attempts"]
    assert first["errorClass"] == "timeout" and 1900 <= first["durationMs"] < 4000
    assert second["statusCode"] == 200


def _admin(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """The documented operator command (`make dlq-list` / `make dlq-redrive` run it with --local)."""
    moto_port = stack.moto_url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "admin", "--local", *args],
        env={**os.environ, "SHOTWIRE_MOTO_PORT": moto_port},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_an_outage_longer_than_the_schedule_is_recovered_by_a_redrive(
    stack: Stack, pages: str, receiver: WebhookReceiver
) -> None:
    hook = receiver.script("/outage", [503])
    _, accepted = stack.request("POST", "/v1/screenshots", {"url": f"{pages}/simple", "webhookUrl": hook})
    job_id = accepted["jobId"]
    stack.wait_job(job_id, lambda j: j["webhook"]["status"] == "failed", timeout=60)

    listed = _admin(stack, "dlq", "list")
    assert any(json.loads(line)["jobId"] == job_id for line in listed.stdout.splitlines()), listed.stdout

    receiver.script("/outage", [200])  # the endpoint is back
    redriven = _admin(stack, "dlq", "redrive")
    assert f"redriven {job_id}" in redriven.stdout, redriven.stdout + redriven.stderr
    job = stack.wait_job(job_id, lambda j: j["webhook"]["status"] == "delivered", timeout=60)
    assert [a["statusCode"] for a in job["webhook"]["attempts"]] == [503, 503, 503, 200]
    deliveries = receiver.received("/outage")
    assert len({d.headers["webhook-id"] for d in deliveries}) == 1  # the same delivery, not a new one
    listed = _admin(stack, "dlq", "list")
    assert all(json.loads(line)["jobId"] != job_id for line in listed.stdout.splitlines())
