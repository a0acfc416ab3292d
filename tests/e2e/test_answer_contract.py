"""Real answers against the OpenAPI document: finished jobs (completed with a delivered webhook, failed with
failing attempts), a redelivery, the capture face, a batch, the webhook test and the service routes.

The fuzz (tests/integration/test_openapi_contract.py) runs without the capture function, so it only ever sees
queued jobs; this sees the fields a job gains as it runs. Answers are closed in the document
(additionalProperties: false), so a field the server sends and the contract does not name fails here.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from tests.e2e.conftest import Stack
from tests.support import WebhookReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def document(stack: Stack) -> dict[str, Any]:
    with urllib.request.urlopen(f"{stack.api_url}/openapi.json", timeout=10) as response:
        loaded: dict[str, Any] = json.loads(response.read())
    return loaded


def answer_validator(document: dict[str, Any], method: str, path: str, status: int) -> Draft202012Validator:
    """The JSON schema the document gives this route's answer, its references resolved within the document."""
    content = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]
    return Draft202012Validator({**content["schema"], "components": document["components"]})


def conforms(document: dict[str, Any], method: str, path: str, status: int, answer: dict[str, Any]) -> None:
    """The answer matches its schema, and the same answer with one unknown field does not (the check can fail)."""
    validator = answer_validator(document, method, path, status)
    validator.validate(answer)
    with pytest.raises(ValidationError, match="Additional properties"):
        validator.validate({**answer, "notInTheContract": 1})


def test_finished_jobs_and_their_deliveries_match_the_document(
    stack: Stack, pages: str, receiver: WebhookReceiver, document: dict[str, Any]
) -> None:
    status, accepted = stack.request(
        "POST",
        "/v1/screenshots",
        {
            "url": f"{pages}/simple",
            "webhookUrl": receiver.script("/contract-ok", [200, 200]),
            "externalId": "contract-1",
            "metadata": {"order": 7},
            "headers": {"X-Test": "secret"},
        },
    )
    assert status == 202
    conforms(document, "post", "/v1/screenshots", 202, accepted)
    job_id = accepted["jobId"]
    receiver.wait_for("/contract-ok")
    completed = stack.wait_job(job_id, lambda job: job.get("webhook", {}).get("status") == "delivered")
    assert completed["status"] == "completed" and completed["screenshotUrl"] and completed["timings"]
    conforms(document, "get", "/v1/screenshots/{job_id}", 200, completed)

    # A page on a closed port fails; its receiver answers 500, so the webhook is retrying with attempts.
    status, accepted = stack.request(
        "POST", "/v1/screenshots", {"url": "http://127.0.0.1:9/", "webhookUrl": receiver.script("/contract-500", [500])}
    )
    assert status == 202
    receiver.wait_for("/contract-500")
    failed = stack.wait_job(accepted["jobId"], lambda job: job.get("webhook", {}).get("attempts"))
    assert failed["status"] == "failed" and failed["errorCode"] and failed["webhook"]["attempts"][0]["errorClass"]
    conforms(document, "get", "/v1/screenshots/{job_id}", 200, failed)

    status, page = stack.request("GET", "/v1/screenshots?limit=2")
    assert status == 200 and len(page["data"]) == 2
    conforms(document, "get", "/v1/screenshots", 200, page)

    status, started = stack.request("POST", f"/v1/screenshots/{job_id}/redeliver")
    assert status == 202, started
    conforms(document, "post", "/v1/screenshots/{job_id}/redeliver", 202, started)
    receiver.wait_for("/contract-ok", count=2)
    status, deliveries = stack.request("GET", f"/v1/screenshots/{job_id}/deliveries")
    assert status == 200 and [d["superseded"] for d in deliveries["deliveries"]] == [True, False], deliveries
    conforms(document, "get", "/v1/screenshots/{job_id}/deliveries", 200, deliveries)


def test_the_capture_face_and_batches_match_the_document(
    stack: Stack, pages: str, receiver: WebhookReceiver, document: dict[str, Any]
) -> None:
    status, accepted = stack.request("POST", "/v1/capture", {"url": f"{pages}/simple", "format": "jpg"})
    assert status == 202
    conforms(document, "post", "/v1/capture", 202, accepted)
    capture: dict[str, Any] = {}
    for _ in range(300):
        status, capture = stack.request("GET", f"/v1/capture/{accepted['capture_id']}")
        if capture.get("status") == "success":
            break
        time.sleep(0.1)
    assert capture["status"] == "success" and capture["image"], capture
    conforms(document, "get", "/v1/capture/{capture}", 200, capture)

    status, batch = stack.request(
        "POST",
        "/v1/batches",
        {
            "items": [f"{pages}/simple", f"{pages}/tall"],
            "defaults": {"webhookUrl": receiver.script("/contract-b", [200] * 3)},
        },
    )
    assert status == 202
    conforms(document, "post", "/v1/batches", 202, batch)
    for job_id in batch["jobIds"]:
        stack.wait_job(job_id, lambda job: job["status"] == "completed")
    receiver.wait_for("/contract-b", count=3)
    status, finished = stack.request("GET", f"/v1/batches/{batch['batchId']}")
    assert status == 200 and finished["status"] == "completed" and finished["webhook"]["url"], finished
    conforms(document, "get", "/v1/batches/{batch_id}", 200, finished)


def test_service_routes_and_the_webhook_test_match_the_document(
    stack: Stack, receiver: WebhookReceiver, document: dict[str, Any]
) -> None:
    status, health = stack.request("GET", "/health", key=None)
    assert status == 200
    conforms(document, "get", "/health", 200, health)
    status, egress = stack.request("GET", "/v1/meta/egress-ips", key=None)
    assert status == 200
    conforms(document, "get", "/v1/meta/egress-ips", 200, egress)
    for path, statuses in (("/contract-t-ok", [200]), ("/contract-t-bad", [503])):
        status, report = stack.request("POST", "/v1/webhooks/test", {"url": receiver.script(path, statuses)})
        assert status == 200, report
        conforms(document, "post", "/v1/webhooks/test", 200, report)
