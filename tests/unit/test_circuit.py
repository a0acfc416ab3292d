"""The per-destination circuit: held deliveries keep their attempts; one probe; recovery drains the rest."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from shotwire_core.circuit import (
    FAILURE_THRESHOLD,
    FIRST_HOLD_SECONDS,
    MAX_HOLD_SECONDS,
    SLOT_LEASE_SECONDS,
    DestinationRule,
    HostHealth,
    SlotLease,
    claim_slot,
    destination,
    hold_seconds,
    hold_until,
    record,
    says_down,
)
from shotwire_core.held_calls import held_call
from shotwire_core.models import WebhookStatus
from shotwire_core.sending import DeliveryResult
from tests.unit.test_delivery import FAIL, OK, Harness, _job

DOWN = DeliveryResult(None, "connect", "could not connect", 2)


@dataclass
class FakeHosts:
    failures: dict[str, int] = field(default_factory=dict)
    opened: dict[str, float] = field(default_factory=dict)
    probes: dict[str, float] = field(default_factory=dict)
    slots: dict[str, dict[int, float]] = field(default_factory=dict)
    released: list[tuple[str, SlotLease]] = field(default_factory=list)

    def get_host(self, destination: str) -> HostHealth:
        return HostHealth(
            self.failures.get(destination, 0), self.opened.get(destination, 0.0), dict(self.slots.get(destination, {}))
        )

    def add_host_failure(self, destination: str) -> int:
        self.failures[destination] = self.failures.get(destination, 0) + 1
        return self.failures[destination]

    def open_host(self, destination: str, until: float) -> None:
        self.opened[destination] = until

    def close_host(self, destination: str) -> None:
        self.failures.pop(destination, None)
        self.opened.pop(destination, None)
        self.probes.pop(destination, None)

    def claim_probe(self, destination: str, now: float, lease_seconds: int) -> bool:
        if self.probes.get(destination, 0.0) > now:
            return False
        self.probes[destination] = now + lease_seconds
        return True

    def claim_slot(self, destination: str, index: int, now: float, expires: float) -> bool:
        leases = self.slots.setdefault(destination, {})
        if leases.get(index, 0.0) > now:
            return False
        leases[index] = expires
        return True

    def release_slot(self, destination: str, lease: SlotLease) -> None:
        self.released.append((destination, lease))
        leases = self.slots.get(destination, {})
        if leases.get(lease.index) == lease.expires:
            del leases[lease.index]


def test_destinations_are_host_and_port() -> None:
    assert destination("https://Hooks.Example.com/a?b") == "hooks.example.com:443"
    assert destination("http://127.0.0.1:9000/hook") == "127.0.0.1:9000"


def test_only_signs_of_a_dead_endpoint_count() -> None:
    assert says_down(DOWN) and says_down(FAIL) and says_down(DeliveryResult(429, "http_status", "busy", 1))
    for answer in (OK, DeliveryResult(404, "http_status", "nope", 1), DeliveryResult(410, "http_status", "x", 1)):
        assert not says_down(answer)
    assert not says_down(DeliveryResult(None, "ssrf_blocked", "private", 0))


def test_the_circuit_opens_after_the_threshold_and_the_hold_doubles() -> None:
    hosts = FakeHosts()
    for n in range(FAILURE_THRESHOLD - 1):
        record(hosts, "h:443", DOWN, 1000.0, hosts.get_host("h:443"))
        assert hold_until(hosts, "h:443", 1000.0, hosts.get_host("h:443")) is None, n
    record(hosts, "h:443", DOWN, 1000.0, hosts.get_host("h:443"))
    assert hold_until(hosts, "h:443", 1000.0, hosts.get_host("h:443")) == 1000.0 + FIRST_HOLD_SECONDS
    assert hold_seconds(FAILURE_THRESHOLD + 1) == 2 * FIRST_HOLD_SECONDS
    assert hold_seconds(FAILURE_THRESHOLD + 20) == MAX_HOLD_SECONDS


def test_after_the_hold_one_probe_goes_and_its_success_closes_the_circuit() -> None:
    hosts = FakeHosts(failures={"h:443": FAILURE_THRESHOLD}, opened={"h:443": 1060.0})
    assert hold_until(hosts, "h:443", 1061.0, hosts.get_host("h:443")) is None  # the probe
    assert hold_until(hosts, "h:443", 1061.5, hosts.get_host("h:443")) == 1061.5 + 30  # others wait while it is out
    record(hosts, "h:443", OK, 1062.0, hosts.get_host("h:443"))
    assert (
        hold_until(hosts, "h:443", 1062.0, hosts.get_host("h:443")) is None and hosts.get_host("h:443") == HostHealth()
    )


def test_a_held_delivery_keeps_its_attempt_and_is_requeued_for_the_end_of_the_hold() -> None:
    hosts = FakeHosts(failures={"hooks.test:443": FAILURE_THRESHOLD}, opened={"hooks.test:443": 1_000_600.0})
    harness = Harness(_job(), [OK])
    status = deliver_with(harness, hosts, attempt=3)
    assert status is WebhookStatus.RETRYING and harness.requests == []  # nothing sent
    ((body, delay),) = harness.retries.sent
    assert body["attempt"] == 3 and body["dueAt"] == 1_000_600.0 and delay == 600
    assert harness.jobs.attempts_of("t1", "job_1") == []  # no attempt spent


def test_deliveries_record_the_destination_health() -> None:
    hosts = FakeHosts()
    harness = Harness(_job(), [FAIL])
    deliver_with(harness, hosts, attempt=1)
    assert hosts.failures == {"hooks.test:443": 1}
    harness = Harness(_job(), [OK])
    deliver_with(harness, hosts, attempt=1)
    assert hosts.failures == {}


def keep_order(items: list[int]) -> None:
    return None


def test_a_delivery_takes_a_free_slot_and_none_when_all_are_out() -> None:
    hosts = FakeHosts()
    rule = DestinationRule(max_in_flight=2)
    first = claim_slot(hosts, "h:443", 100.0, hosts.get_host("h:443"), rule, shuffle=keep_order)
    second = claim_slot(hosts, "h:443", 100.0, hosts.get_host("h:443"), rule, shuffle=keep_order)
    assert first == SlotLease(0, 100.0 + SLOT_LEASE_SECONDS) and second == SlotLease(1, 100.0 + SLOT_LEASE_SECONDS)
    assert claim_slot(hosts, "h:443", 101.0, hosts.get_host("h:443"), rule) is None
    assert claim_slot(hosts, "other:443", 101.0, hosts.get_host("other:443"), rule) is not None  # per destination
    hosts.release_slot("h:443", first)
    assert claim_slot(hosts, "h:443", 102.0, hosts.get_host("h:443"), rule, shuffle=keep_order) == SlotLease(
        0, 102.0 + SLOT_LEASE_SECONDS
    )


def test_a_crashed_holder_s_slot_frees_itself_when_its_lease_runs_out() -> None:
    hosts = FakeHosts(slots={"h:443": {0: 130.0}})
    rule = DestinationRule(max_in_flight=1)
    assert claim_slot(hosts, "h:443", 129.0, hosts.get_host("h:443"), rule) is None
    taken = claim_slot(hosts, "h:443", 130.0, hosts.get_host("h:443"), rule)
    assert taken == SlotLease(0, 130.0 + SLOT_LEASE_SECONDS)
    hosts.release_slot("h:443", SlotLease(0, 130.0))  # the late holder's release must not free the new lease
    assert hosts.slots["h:443"] == {0: 130.0 + SLOT_LEASE_SECONDS}


def test_a_claim_lost_to_a_concurrent_dispatcher_tries_another_free_slot() -> None:
    hosts = FakeHosts()
    rule = DestinationRule(max_in_flight=3)
    seen = hosts.get_host("h:443")  # read before another dispatcher takes slot 0
    hosts.claim_slot("h:443", 0, 100.0, 130.0)
    assert claim_slot(hosts, "h:443", 100.0, seen, rule, shuffle=keep_order) == SlotLease(1, 130.0)


def test_a_delivery_at_the_in_flight_limit_is_held_briefly_without_spending_its_attempt() -> None:
    hosts = FakeHosts(slots={"hooks.test:443": {0: 1_000_020.0}})
    harness = Harness(_job(), [OK])
    harness.rule = DestinationRule(max_in_flight=1)
    status = deliver_with(harness, hosts, attempt=2)
    assert status is WebhookStatus.RETRYING and harness.requests == []
    ((body, delay),) = harness.retries.sent
    assert body["attempt"] == 2 and 1 <= delay <= 3
    assert harness.jobs.attempts_of("t1", "job_1") == []


def test_the_slot_is_given_back_after_the_attempt_even_when_sending_raises() -> None:
    hosts = FakeHosts()
    harness = Harness(_job(), [OK])
    deliver_with(harness, hosts, attempt=1)
    assert len(hosts.released) == 1 and hosts.slots["hooks.test:443"] == {}

    def broken(url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        raise RuntimeError("sender crashed")

    harness = Harness(_job(), [])
    harness.send = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        deliver_with(harness, hosts, attempt=1)
    assert len(hosts.released) == 2 and hosts.slots["hooks.test:443"] == {}


def test_shortened_rules_open_and_hold_as_configured() -> None:
    rule = DestinationRule(failure_threshold=3, first_hold_seconds=2)
    hosts = FakeHosts()
    for _ in range(3):
        record(hosts, "h:443", DOWN, 50.0, hosts.get_host("h:443"), rule)
    assert hold_until(hosts, "h:443", 50.0, hosts.get_host("h:443"), rule) == 52.0
    assert hold_seconds(4, rule) == 4


def deliver_with(harness: Harness, hosts: FakeHosts, attempt: int) -> WebhookStatus | None:
    harness.hosts = hosts
    return harness.attempt(attempt)


def test_a_tenant_s_held_calls_are_bounded_and_given_back() -> None:
    """Webhook tests and waits (shotwire_core.held_calls) take the same leased slots, keyed per tenant."""
    hosts = FakeHosts()
    with (
        held_call("tenant-a", hosts, clock=lambda: 1000.0) as first,
        held_call("tenant-a", hosts, clock=lambda: 1000.0) as second,
    ):
        with held_call("tenant-a", hosts, clock=lambda: 1000.0) as third:
            assert (first, second, third) == (True, True, False)
        with held_call("tenant-b", hosts, clock=lambda: 1000.0) as other_tenant:
            assert other_tenant  # one tenant's share is its own
    with held_call("tenant-a", hosts, clock=lambda: 1000.0) as after:
        assert after  # both slots came back when the calls ended
    # A slot whose holder died frees itself when its lease runs out.
    hosts.claim_slot("held-calls/tenant-a", 0, 1000.0, 1030.0)
    hosts.claim_slot("held-calls/tenant-a", 1, 1000.0, 1030.0)
    with held_call("tenant-a", hosts, clock=lambda: 1010.0) as during:
        assert not during
    with held_call("tenant-a", hosts, clock=lambda: 1031.0) as later:
        assert later
