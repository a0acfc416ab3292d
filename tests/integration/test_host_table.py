"""Destination health in DynamoDB (moto): counting, opening, one probe at a time, closing."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from moto import mock_aws

from shotwire_core.adapters import aws
from shotwire_core.adapters.dynamo import HostTable
from shotwire_core.circuit import HostHealth


@pytest.fixture
def hosts() -> Iterator[HostTable]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        aws.reset_clients()
        from devstack.resources import provision
        from shotwire_core.config import load_stack_config

        config = load_stack_config()
        provision(config, "us-east-1", "123456789012")
        yield HostTable(config.jobs_table)
    aws.reset_clients()


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
