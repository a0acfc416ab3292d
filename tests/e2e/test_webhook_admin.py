"""Webhook operations through the local stack: a test event, secret rotation with overlap, the deliveries view.

Rotation changes the tenant's secret, so this module runs a stack of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.e2e.conftest import PAGES, SECRET, Stack, running_stack
from tests.support import PageServer, WebhookReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_path: Path = tmp_path_factory.mktemp("admin") / "devstack.log"
    with running_stack(log_path, {"SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": "1"}) as running:
        yield running


@pytest.fixture(scope="module")
def own_pages() -> Iterator[str]:
    with PageServer(PAGES).running() as base_url:
        yield base_url


def _hex_matches(secret: str, header: str, body: bytes) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split(" "))


def test_a_test_event_is_signed_and_reports_the_answer(own_stack: Stack, receiver: WebhookReceiver) -> None:
    status, report = own_stack.request("POST", "/v1/webhooks/test", {"url": receiver.script("/t-ok", [200])})
    assert status == 200, report
    assert report["delivered"] is True and report["statusCode"] == 200 and report["webhookId"].startswith("msg_")
    (delivery,) = receiver.received("/t-ok")
    headers = {name.lower(): value for name, value in delivery.headers.items()}
    assert delivery.json["type"] == "webhook.test" and headers["webhook-id"] == report["webhookId"]
    Webhook(SECRET).verify(delivery.body, headers)
    assert _hex_matches(SECRET, headers["x-webhook-signature"], delivery.body)

    status, report = own_stack.request("POST", "/v1/webhooks/test", {"url": receiver.script("/t-bad", [500])})
    assert status == 200 and report["delivered"] is False
    assert report["statusCode"] == 500 and report["errorClass"] == "http_status" and report["responseBody"] == "ok"


def test_a_test_event_needs_a_valid_url(own_stack: Stack) -> None:
    status, body = own_stack.request("POST", "/v1/webhooks/test", {"url": "ftp://example.com/x"})
    assert status == 422 and body["error"]["details"][0]["field"] == "url", body
    status, body = own_stack.request("POST", "/v1/webhooks/test", {})
    assert status == 422 and body["error"]["details"][0]["field"] == "url", body


def test_rotation_signs_with_both_secrets_during_the_overlap(own_stack: Stack, receiver: WebhookReceiver) -> None:
    status, rotated = own_stack.request("POST", "/v1/webhooks/secret/rotate", {"overlapSeconds": 3600})
    assert status == 200, rotated
    new_secret = rotated["webhookSecret"]
    assert new_secret.startswith("whsec_") and new_secret != SECRET and rotated["previousSecretValidUntil"]

    own_stack.request("POST", "/v1/webhooks/test", {"url": receiver.script("/t-overlap", [200])})
    (delivery,) = receiver.received("/t-overlap")
    headers = {name.lower(): value for name, value in delivery.headers.items()}
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, new_secret):  # a receiver on either secret accepts it
        Webhook(secret).verify(delivery.body, headers)
        assert _hex_matches(secret, headers["x-webhook-signature"], delivery.body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(delivery.body.replace(b"webhook.test", b"webhook.evil"), headers)

    # Rotating without overlap: only the newest secret signs; the two before it no longer verify.
    status, rotated_again = own_stack.request("POST", "/v1/webhooks/secret/rotate", {"overlapSeconds": 0})
    assert status == 200 and rotated_again["previousSecretValidUntil"] is None
    own_stack.request("POST", "/v1/webhooks/test", {"url": receiver.script("/t-after", [200])})
    (delivery,) = receiver.received("/t-after")
    headers = {name.lower(): value for name, value in delivery.headers.items()}
    Webhook(rotated_again["webhookSecret"]).verify(delivery.body, headers)
    for stale in (SECRET, new_secret):
        with pytest.raises(WebhookVerificationError):
            Webhook(stale).verify(delivery.body, headers)
        assert not _hex_matches(stale, headers["x-webhook-signature"], delivery.body)


def test_rotation_rejects_a_bad_overlap(own_stack: Stack) -> None:
    status, body = own_stack.request("POST", "/v1/webhooks/secret/rotate", {"overlapSeconds": 10**9})
    assert status == 422 and body["error"]["details"][0]["field"] == "overlapSeconds", body


def test_deliveries_list_every_attempt(own_stack: Stack, own_pages: str, receiver: WebhookReceiver) -> None:
    hook = receiver.script("/d-flaky", [500, 200])
    _, accepted = own_stack.request("POST", "/v1/screenshots", {"url": f"{own_pages}/simple", "webhookUrl": hook})
    own_stack.wait_job(accepted["jobId"], lambda j: j["webhook"]["status"] == "delivered")
    status, view = own_stack.request("GET", f"/v1/screenshots/{accepted['jobId']}/deliveries")
    assert status == 200, view
    (delivery,) = view["deliveries"]
    assert delivery["webhookId"] == "msg_" + accepted["jobId"].removeprefix("job_")
    assert delivery["status"] == "delivered" and delivery["url"] == hook
    first, second = delivery["attempts"]
    assert first["statusCode"] == 500 and first["errorClass"] == "http_status" and first["nextAttemptAt"]
    assert second["statusCode"] == 200 and "errorClass" not in second
    status, _ = own_stack.request("GET", "/v1/screenshots/job_01aaaaaaaaaaaaaaaaaaaaaaaa/deliveries")
    assert status == 404


def test_redeliver_sends_a_new_delivery_and_keeps_the_old_history(
    own_stack: Stack, own_pages: str, receiver: WebhookReceiver
) -> None:
    hook = receiver.script("/r-again", [200])
    _, accepted = own_stack.request("POST", "/v1/screenshots", {"url": f"{own_pages}/simple", "webhookUrl": hook})
    job_id = accepted["jobId"]
    own_stack.wait_job(job_id, lambda j: j["webhook"]["status"] == "delivered")
    (first,) = receiver.received("/r-again")

    status, started = own_stack.request("POST", f"/v1/screenshots/{job_id}/redeliver")
    assert status == 202, started
    assert started["delivery"] == 2 and started["webhookId"] != first.headers["webhook-id"]
    second = receiver.wait_for("/r-again", 2)[1]
    assert second.headers["webhook-id"] == started["webhookId"]
    assert second.json["jobId"] == job_id and second.json["status"] == "completed"

    own_stack.wait_job(job_id, lambda j: j["webhook"]["status"] == "delivered")
    _, view = own_stack.request("GET", f"/v1/screenshots/{job_id}/deliveries")
    old, new = view["deliveries"]
    assert old["webhookId"] == first.headers["webhook-id"] and old["superseded"] and old["status"] == "delivered"
    assert len(old["attempts"]) == 1 and new["webhookId"] == started["webhookId"] and len(new["attempts"]) == 1


def test_redeliver_needs_a_finished_job_with_a_webhook(own_stack: Stack, own_pages: str) -> None:
    _, accepted = own_stack.request("POST", "/v1/screenshots", {"url": f"{own_pages}/simple"})
    own_stack.wait_job(accepted["jobId"], lambda j: j["status"] == "completed")
    status, body = own_stack.request("POST", f"/v1/screenshots/{accepted['jobId']}/redeliver")
    assert status == 409 and body["error"]["code"] == "conflict" and "webhookUrl" in body["error"]["message"]
    status, _ = own_stack.request("POST", "/v1/screenshots/job_01aaaaaaaaaaaaaaaaaaaaaaaa/redeliver")
    assert status == 404


def test_rotation_without_a_body_keeps_the_old_secret_for_a_day(own_stack: Stack) -> None:
    from datetime import UTC, datetime

    status, rotated = own_stack.request("POST", "/v1/webhooks/secret/rotate")
    assert status == 200, rotated
    valid_until = datetime.fromisoformat(rotated["previousSecretValidUntil"].replace("Z", "+00:00"))
    remaining = (valid_until - datetime.now(UTC)).total_seconds()
    assert 86_400 - 60 < remaining <= 86_400


def test_a_dead_destination_opens_its_circuit_and_later_deliveries_are_held(own_stack: Stack, own_pages: str) -> None:
    """10 consecutive refusals open the circuit: the next delivery spends no attempt while it is held."""
    from tests.support import closed_port

    dead = f"http://127.0.0.1:{closed_port()}/hook"
    ids = []
    for _ in range(5):  # 2 attempts each with this stack's schedule: 10 refusals
        _, accepted = own_stack.request("POST", "/v1/screenshots", {"url": f"{own_pages}/simple", "webhookUrl": dead})
        ids.append(accepted["jobId"])
    for job_id in ids:
        job = own_stack.wait_job(job_id, lambda j: j["webhook"]["status"] == "failed", timeout=60)
        assert {a["errorClass"] for a in job["webhook"]["attempts"]} == {"connect"}

    _, accepted = own_stack.request("POST", "/v1/screenshots", {"url": f"{own_pages}/simple", "webhookUrl": dead})
    own_stack.wait_job(accepted["jobId"], lambda j: j["status"] == "completed")
    time.sleep(4)  # without the circuit, both attempts would have failed by now
    _, job = own_stack.request("GET", f"/v1/screenshots/{accepted['jobId']}")
    assert job["webhook"]["status"] == "pending" and job["webhook"]["attempts"] == [], job["webhook"]  # held, not tried


def test_a_tenant_holds_at_most_two_api_functions_in_tests_and_waits(
    own_stack: Stack, own_pages: str, receiver: WebhookReceiver
) -> None:
    """Webhook tests and synchronous waits hold an API function each; a third at once is refused (a test) or
    not held (a wait answers 202 at once), so one tenant cannot queue everyone else's requests behind its own."""
    slow = receiver.script("/t-slow", [200] * 10)
    receiver.answer_delays["/t-slow"] = 6.0
    answers: list[tuple[int, dict[str, Any]]] = []

    def send_test() -> None:
        answers.append(own_stack.request("POST", "/v1/webhooks/test", {"url": slow}))

    held = [threading.Thread(target=send_test) for _ in range(2)]
    for thread in held:
        thread.start()
    receiver.wait_for("/t-slow", count=2, timeout=20)  # both are in flight, waiting on the receiver

    started = time.monotonic()
    status, refused = own_stack.request("POST", "/v1/webhooks/test", {"url": slow})
    assert status == 429 and refused["error"]["code"] == "too_many_held_calls", refused
    status, accepted = own_stack.request("POST", "/v1/screenshots?wait=20", {"url": f"{own_pages}/simple"})
    assert status == 202 and accepted["status"] == "queued", accepted
    status, health = own_stack.request("GET", "/health", key=None)
    assert status == 200, health
    assert time.monotonic() - started < 2.0  # none waited for a held call to end

    for thread in held:
        thread.join()
    assert [status for status, _ in answers] == [200, 200] and all(report["delivered"] for _, report in answers)
    # The held calls are given back: the next test goes through.
    status, report = own_stack.request("POST", "/v1/webhooks/test", {"url": receiver.script("/t-after", [200])})
    assert status == 200 and report["delivered"] is True, report
