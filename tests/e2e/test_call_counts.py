"""The AWS requests per capture that the cost model prices (bench/call_counts.json, written by `make
cost-measure`) are still the ones the handlers make: a small measurement on the local stack counts the same
calls per capture, kind by kind. A handler that starts making one more DynamoDB call per capture fails this
until the file is measured again (and the cost model prices the new call)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import cost_model as cm
from bench.call_counts import COUNTS_PATH, KINDS, Call, classify, load_counts, measure, read_recording, stage_counts

SMALL_RUN = {"webhook": 2, "plain": 1, "failed": 1, "webhook_retry": 1}


def committed() -> dict[str, dict[str, dict[str, float]]]:
    data = json.loads(COUNTS_PATH.read_text(encoding="utf-8"))
    return {kind: entry["per_capture"] for kind, entry in data["kinds"].items()}


def flatten(per_capture: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{group}/{call}": count for group, calls in per_capture.items() for call, count in calls.items()}


@pytest.mark.e2e
def test_a_small_run_counts_the_committed_calls_per_capture(tmp_path: Path) -> None:
    measured = measure(SMALL_RUN, log_path=tmp_path / "devstack.log")
    expected = committed()
    differences = []
    for kind in SMALL_RUN:
        entry = measured["kinds"][kind]
        assert entry["captures"] == SMALL_RUN[kind]
        assert entry["varies"] == {}, f"{kind}: captures of one kind made different calls: {entry['varies']}"
        got, want = flatten(entry["per_capture"]), flatten(expected[kind])
        for name in sorted({*got, *want}):
            if got.get(name, 0) != pytest.approx(want.get(name, 0)):
                differences.append(
                    f"{kind} {name}: {COUNTS_PATH.name} says {want.get(name, 0)}, measured {got.get(name, 0)}"
                )
    assert not differences, (
        "calls per capture changed; run `make cost-measure` and commit bench/call_counts.json:\n"
        + ("\n".join(differences))
    )
    # The link secret is read once per execution environment (the API's and the dispatcher's), not per capture.
    assert measured["per_run"]["per_environment"] == {"secretsmanager:GetSecretValue": 2}


def test_the_committed_file_covers_every_kind_and_says_where_it_came_from() -> None:
    data = json.loads(COUNTS_PATH.read_text(encoding="utf-8"))
    assert set(data["kinds"]) == set(KINDS)
    for entry in data["kinds"].values():
        assert entry["varies"] == {}
    generated = data["generated"]
    assert len(generated["git_commit"]) == 40 and generated["date"].endswith("Z")
    assert generated["captures"]["webhook"] >= 10
    assert "call_counts.json" in load_counts().where()


def test_the_cost_model_prices_every_committed_call() -> None:
    sizes = cm.measure_sizes()
    counts = load_counts()
    for groups in counts.kinds.values():
        for group, calls in groups.items():
            if group in ("lambda", "apigateway", "event_source"):
                continue
            cm.stage_use(calls, group, sizes)  # raises on a call it has no price for
    # The priced capture: the counts, not literals, set its API, capture, dispatcher and download requests.
    items = {(i.stage, i.price): i.quantity for i in cm.line_items(100_000, cm.capture_scenarios()["typical"], sizes)}
    assert items[("Capture", "s3_put")] == counts.count("capture", "s3:PutObject:images")
    assert items[("API", "sqs_request")] == counts.count("api", "sqs:SendMessage:capture")
    assert items[("Customer", "s3_get")] == counts.count("download", "s3:GetObject:images")
    assert cm.traces_per_capture(counts) == 4


def test_a_new_call_stops_the_cost_model_until_it_is_priced() -> None:
    with pytest.raises(ValueError, match="no price for sqs:ChangeMessageVisibility"):
        cm.stage_use({"sqs:ChangeMessageVisibility:capture": 1}, "capture", cm.measure_sizes())
    with pytest.raises(ValueError, match="no request units for dynamodb:Scan"):
        cm.stage_use({"dynamodb:Scan:jobs": 1}, "api", cm.measure_sizes())


def test_recorded_requests_are_named_by_service_operation_and_item_and_split_into_stages() -> None:
    function = "Boto3/1.43 md/Botocore#1.43 cfg/retry-mode#standard Botocore/1.43"
    poller = "Boto3/1.43 md/Botocore#1.43 cfg/retry-mode#legacy Botocore/1.43"

    def json_call(target: str, body: dict[str, object], agent: str = function) -> str:
        entry = {"headers": {"X-Amz-Target": target, "User-Agent": agent}, "method": "POST", "url": "http://m/"}
        return json.dumps({**entry, "body": json.dumps(body), "body_encoded": False})

    queue = "http://m/123456789012/shotwire-capture"
    job = {"tenantId": {"S": "dev"}, "jobId": {"S": "job_1"}}
    # Two entries on one line, as the recorder writes them under concurrent requests.
    text = "\n".join(
        [
            json_call("DynamoDB_20120810.GetItem", {"TableName": "shotwire-keys", "Key": {"pk": {"S": "key#ab"}}})
            + json_call("AmazonSQS.SendMessage", {"QueueUrl": queue, "MessageBody": "{}"}),
            json_call("AmazonSQS.ReceiveMessage", {"QueueUrl": queue}, poller),
            json_call("DynamoDB_20120810.GetItem", {"TableName": "shotwire-jobs", "Key": job, "ConsistentRead": True}),
            json_call(
                "DynamoDB_20120810.UpdateItem",
                {
                    "TableName": "shotwire-jobs",
                    "Key": job,
                    "UpdateExpression": "SET #status = :status, #updatedAt = :updatedAt",
                    "ExpressionAttributeNames": {"#status": "status", "#updatedAt": "updatedAt"},
                    "ExpressionAttributeValues": {":status": {"S": "processing"}, ":updatedAt": {"S": "now"}},
                },
            ),
            json_call("AWSEvents.PutEvents", {"Entries": [{}, {}]}),
            json_call("AmazonSQS.DeleteMessage", {"QueueUrl": queue}, poller),
            json_call("secretsmanager.GetSecretValue", {"SecretId": "s"}),
            json_call(
                "DynamoDB_20120810.UpdateItem",
                {
                    "TableName": "shotwire-jobs",
                    "Key": {"tenantId": {"S": "#hosts"}, "jobId": {"S": "127.0.0.1:9"}},
                    "UpdateExpression": "SET #slot = :expires, expiresAt = :ttl",
                    "ExpressionAttributeNames": {"#slot": "slot2"},
                },
            ),
        ]
    )
    calls = [classify(entry) for entry in read_recording(text)]
    assert calls[0] == Call("function", "dynamodb:GetItem:key:eventual")
    assert next(call for call in calls if call.service == "events") == Call("function", "events:PutEvents", units=2)
    stages, consumed = stage_counts(calls)
    assert stages == {
        "api": {"dynamodb:GetItem:key:eventual": 1, "sqs:SendMessage:capture": 1},
        "capture": {
            "dynamodb:GetItem:job:consistent": 1,
            "dynamodb:UpdateItem:job:processing": 1,
            "events:PutEvents": 1,
            "events:PutEvents[entries]": 2,
        },
        "dispatcher": {"dynamodb:UpdateItem:host:set-slot": 1},
    }
    assert consumed == {"sqs:DeleteMessage:capture": 1}
