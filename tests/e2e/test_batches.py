"""Batches through the local stack: every item is an ordinary job with its webhook, then one batch.completed."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.test_pipeline import _verify_all_signatures
from tests.support import WebhookReceiver

pytestmark = pytest.mark.e2e


def test_a_batch_runs_its_jobs_and_ends_with_one_signed_batch_completed(
    stack: Stack, pages: str, receiver: WebhookReceiver
) -> None:
    hook = receiver.script("/batch", [200])
    body = {
        "defaults": {"webhookUrl": hook, "width": 400, "height": 300},
        "items": [
            f"{pages}/simple",
            f"{pages}/tall",
            {"url": f"{pages}/simple", "format": "jpeg", "externalId": "third"},
            {"url": "http://no-such-host.invalid/"},
        ],
    }
    status, accepted = stack.request("POST", "/v1/batches", body)
    assert status == 202, accepted
    batch_id, job_ids = accepted["batchId"], accepted["jobIds"]
    assert batch_id.startswith("bat_") and len(job_ids) == 4 and len(set(job_ids)) == 4

    deliveries = receiver.wait_for("/batch", count=5, timeout=90)
    time.sleep(1)  # nothing more should arrive: 4 job webhooks and one batch.completed
    deliveries = receiver.received("/batch")
    for delivery in deliveries:
        _verify_all_signatures(delivery.headers, delivery.body)
    completed = [d.json for d in deliveries if d.json.get("type") == "batch.completed"]
    assert len(completed) == 1 and len(deliveries) == 5, [d.json for d in deliveries]
    (done,) = completed
    assert done["batchId"] == batch_id and done["total"] == 4 and done["counts"] == {"completed": 3, "failed": 1}
    assert deliveries[-1].json["type"] == "batch.completed"  # after the last job's outcome
    assert {d.json["jobId"] for d in deliveries if "jobId" in d.json} == set(job_ids)

    status, view = stack.request("GET", f"/v1/batches/{batch_id}")
    assert status == 200 and view["status"] == "completed" and view["total"] == 4, view
    assert view["counts"] == {"queued": 0, "processing": 0, "completed": 3, "failed": 1}
    assert [job["jobId"] for job in view["jobs"]] == sorted(job_ids)

    _, third = stack.request("GET", f"/v1/screenshots/{job_ids[2]}")
    assert third["batchId"] == batch_id and third["externalId"] == "third" and third["width"] == 400
    assert third["request"]["format"] == "jpeg"


def test_bad_items_are_named_by_position_and_nothing_is_created(stack: Stack, pages: str) -> None:
    _, before = stack.request("GET", "/v1/screenshots?limit=1")
    body = {"items": [f"{pages}/simple", {"url": f"{pages}/simple", "format": "gif"}, "ftp://nope"]}
    status, error = stack.request("POST", "/v1/batches", body)
    assert status == 422, error
    fields = [problem["field"] for problem in error["error"]["details"]]
    assert fields == ["items[1].format", "items[2].url"], error
    _, after = stack.request("GET", "/v1/screenshots?limit=1")
    # No job was created: the newest is the same one (compared by id, since the previous test's jobs may
    # still be recording their webhooks).
    assert [job["jobId"] for job in after["data"][:1]] == [job["jobId"] for job in before["data"][:1]]

    status, error = stack.request("POST", "/v1/batches", {"items": ["x"], "defaults": {"formt": "png"}})
    assert status == 422 and error["error"]["details"][0]["field"] == "defaults.formt", error


@pytest.mark.parametrize(("count", "rule"), [(0, "too_short"), (1001, "too_long")])
def test_a_batch_holds_1_to_1000_items(stack: Stack, pages: str, count: int, rule: str) -> None:
    status, error = stack.request("POST", "/v1/batches", {"items": [f"{pages}/simple"] * count})
    assert status == 422 and error["error"]["details"][0]["field"] == "items", error
    assert error["error"]["details"][0]["rule"] == rule


def test_an_unknown_batch_is_a_404(stack: Stack) -> None:
    for batch_id in ("bat_00000000000000000000000000", "job_00000000000000000000000000", "x"):
        status, body = stack.request("GET", f"/v1/batches/{batch_id}")
        assert status == 404 and body["error"]["code"] == "not_found", body
