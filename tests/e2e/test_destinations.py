"""Per-destination rules through the local stack: the in-flight bound keeps a slow endpoint from tying up
the dispatcher, and an open circuit probes a dead endpoint, then drains its backlog once it answers.

The rules are shortened by settings (2 in flight, circuit after 3 failures, 2 s first hold), so this
module runs a stack of its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PAGES, Stack, running_stack
from tests.support import PageServer, WebhookReceiver, free_port

pytestmark = pytest.mark.e2e

MAX_IN_FLIGHT = 2
THRESHOLD = 3


@pytest.fixture(scope="module")
def rules_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_path: Path = tmp_path_factory.mktemp("destinations") / "devstack.log"
    settings = {
        "SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": ",".join(["1"] * 12),
        "SHOTWIRE_WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION": str(MAX_IN_FLIGHT),
        "SHOTWIRE_WEBHOOK_CIRCUIT_FAILURE_THRESHOLD": str(THRESHOLD),
        "SHOTWIRE_WEBHOOK_CIRCUIT_HOLD_SECONDS": "2",
    }
    with running_stack(log_path, settings) as running:
        yield running


@pytest.fixture(scope="module")
def own_pages() -> Iterator[str]:
    with PageServer(PAGES).running() as base_url:
        yield base_url


def _submit(stack: Stack, pages: str, webhook_url: str) -> str:
    status, accepted = stack.request("POST", "/v1/screenshots", {"url": f"{pages}/simple", "webhookUrl": webhook_url})
    assert status == 202, accepted
    job_id: str = accepted["jobId"]
    return job_id


def _host_record(stack: Stack, destination: str) -> dict[str, Any]:
    item = (
        stack.aws("dynamodb")
        .get_item(
            TableName="shotwire-jobs",
            Key={"tenantId": {"S": "#hosts"}, "jobId": {"S": destination}},
            ConsistentRead=True,
        )
        .get("Item", {})
    )
    return {name: next(iter(value.values())) for name, value in item.items()}


def test_a_slow_destination_gets_at_most_its_bound_and_other_destinations_are_not_held_up(
    rules_stack: Stack, own_pages: str
) -> None:
    with WebhookReceiver().running() as slow, WebhookReceiver().running() as fast:
        slow.answer_delays["/slow"] = 2.5
        slow_jobs = [_submit(rules_stack, own_pages, slow.script("/slow", [200])) for _ in range(6)]
        fast_job = _submit(rules_stack, own_pages, fast.script("/fast", [200]))

        fast.wait_for("/fast", timeout=30)
        slow_deliveries = slow.wait_for("/slow", count=6, timeout=90)
        (fast_delivery,) = fast.received("/fast")

    assert slow.peak_in_flight["/slow"] == MAX_IN_FLIGHT  # six were ready at once; two went out at a time
    assert fast_delivery.received_at < max(d.received_at for d in slow_deliveries)  # not queued behind them
    for job_id in slow_jobs:  # waiting for a slot spent no attempt
        job = rules_stack.wait_job(job_id, lambda j: j["webhook"]["status"] == "delivered", timeout=30)
        assert [a["statusCode"] for a in job["webhook"]["attempts"]] == [200], job["webhook"]
    job = rules_stack.wait_job(fast_job, lambda j: j["webhook"]["status"] == "delivered", timeout=10)
    assert len(job["webhook"]["attempts"]) == 1


def test_an_open_circuit_probes_the_dead_destination_and_drains_the_backlog_when_it_answers(
    rules_stack: Stack, own_pages: str
) -> None:
    port = free_port()
    destination = f"127.0.0.1:{port}"
    url = f"http://{destination}/back"
    jobs = [_submit(rules_stack, own_pages, url) for _ in range(3)]

    deadline = time.monotonic() + 60
    while int(_host_record(rules_stack, destination).get("failures", 0)) < THRESHOLD:
        assert time.monotonic() < deadline, "the circuit never opened"
        time.sleep(0.2)

    def spent() -> int:
        return sum(len(rules_stack.wait_job(j, lambda _: True)["webhook"]["attempts"]) for j in jobs)

    opened_with = spent()
    time.sleep(5)  # still dead: without the circuit, 3 jobs retrying every second would spend ~15 attempts
    probes = spent() - opened_with
    assert probes <= 2, f"{probes} attempts in 5 s while the circuit was open"

    with WebhookReceiver().running(port=port) as back:
        back.script("/back", [200])
        arrived = back.wait_for("/back", count=3, timeout=45)
    webhook_ids = {{name.lower(): value for name, value in d.headers.items()}["webhook-id"] for d in arrived}
    assert webhook_ids == {f"msg_{job_id.removeprefix('job_')}" for job_id in jobs}
    for job_id in jobs:
        job = rules_stack.wait_job(job_id, lambda j: j["webhook"]["status"] == "delivered", timeout=10)
        assert job["webhook"]["attempts"][-1]["statusCode"] == 200
        assert len(job["webhook"]["attempts"]) < 13  # none ran through its schedule
    record = _host_record(rules_stack, destination)
    assert int(record["failures"]) == 0 and "probeUntil" not in record  # the circuit closed again
