"""Destination health in DynamoDB (moto): counting, opening, one probe at a time, closing, in-flight slots."""

from __future__ import annotations

import pytest

from shotwire_core.adapters.dynamo import HostTable
from shotwire_core.circuit import DestinationRule, HostHealth, SlotLease, claim_slot


@pytest.fixture
def hosts(jobs_table_name: str) -> HostTable:
    return HostTable(jobs_table_name)


def test_failures_count_open_and_close(hosts: HostTable) -> None:
    assert hosts.get_host("h:443") == HostHealth()
    assert [hosts.add_host_failure("h:443") for _ in range(3)] == [1, 2, 3]
    hosts.open_host("h:443", 2000.5)
    assert hosts.get_host("h:443") == HostHealth(3, 2000.5)
    hosts.close_host("h:443")
    assert hosts.get_host("h:443") == HostHealth(0, 0.0)
    hosts.close_host("never-seen:443")  # closing a healthy destination writes nothing and does not fail
    assert hosts.get_host("never-seen:443") == HostHealth()


def test_only_one_probe_holds_the_lease(hosts: HostTable) -> None:
    assert hosts.claim_probe("h:443", 1000.0, 30)
    assert not hosts.claim_probe("h:443", 1010.0, 30)
    assert hosts.claim_probe("h:443", 1031.0, 30)  # the lease ran out
    hosts.add_host_failure("h:443")
    hosts.close_host("h:443")
    assert hosts.claim_probe("h:443", 1032.0, 30)  # closing ends any lease


def test_in_flight_slots_are_conditional_leases(hosts: HostTable) -> None:
    assert hosts.claim_slot("h:443", 0, 100.0, 130.25)
    assert not hosts.claim_slot("h:443", 0, 110.0, 140.0)  # held and not expired
    assert hosts.claim_slot("h:443", 1, 110.0, 140.0)
    assert hosts.get_host("h:443").slot_leases == {0: 130.25, 1: 140.0}
    hosts.release_slot("h:443", SlotLease(0, 130.25))
    assert hosts.get_host("h:443").slot_leases == {1: 140.0}
    hosts.release_slot("h:443", SlotLease(0, 130.25))  # releasing twice is harmless


def test_an_expired_slot_is_taken_over_and_the_late_release_leaves_it(hosts: HostTable) -> None:
    assert hosts.claim_slot("h:443", 0, 100.0, 130.0)
    assert hosts.claim_slot("h:443", 0, 131.0, 161.0)  # the first holder crashed; its lease ran out
    hosts.release_slot("h:443", SlotLease(0, 130.0))
    assert hosts.get_host("h:443").slot_leases == {0: 161.0}


def test_slots_and_the_circuit_share_the_destination_record(hosts: HostTable) -> None:
    rule = DestinationRule(max_in_flight=2)
    leases = [claim_slot(hosts, "h:443", 100.0, hosts.get_host("h:443"), rule) for _ in range(3)]
    assert leases[0] is not None and leases[1] is not None and leases[2] is None
    assert hosts.add_host_failure("h:443") == 1
    hosts.close_host("h:443")  # closing the circuit leaves the in-flight slots alone
    assert len(hosts.get_host("h:443").slot_leases) == 2
