"""In-process AWS (moto's mock_aws) with the same resources the local stack and the CDK app define."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

from devstack.gateway import ApiGateway
from devstack.resources import LocalResources, provision
from devstack.runtime import LocalContext, load_function
from shotwire_core.adapters import aws
from shotwire_core.adapters.dynamo import KeyTable
from shotwire_core.config import load_stack_config
from shotwire_core.models import TenantLimits
from shotwire_core.services import get_services
from shotwire_core.settings import function_environment, get_settings
from shotwire_core.tenants import create_tenant
from tests.support import Site

ROOT = Path(__file__).resolve().parents[2]
KEY_A = "sw_test_tenant_a_key_000001"
KEY_B = "sw_test_tenant_b_key_000002"
# Limits no test runs into unless it means to (tests/integration/test_limits.py sets its own).
ROOMY = TenantLimits(requests_per_second=1000, burst=1000, monthly_quota=1_000_000)
SECRET_A = "whsec_dGVuYW50LWEtc2VjcmV0LWtleS1ieXRlcw=="


@dataclass
class Aws:
    resources: LocalResources
    keys: KeyTable


def _reset_caches() -> None:
    get_settings.cache_clear()
    get_services.cache_clear()
    aws.reset_clients()


@pytest.fixture
def allow_private() -> bool:
    return True


@pytest.fixture
def aws_stack(monkeypatch: pytest.MonkeyPatch, allow_private: bool) -> Iterator[Aws]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with mock_aws():
        config = load_stack_config()
        resources = provision(config, "us-east-1", "123456789012")
        env = function_environment(
            config,
            images_bucket=resources.bucket,
            allow_private_networks=allow_private,
            queue_urls=resources.queue_urls(),
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        _reset_caches()
        keys = KeyTable(config.keys_table)
        for tenant_id, key, secret in (("tenant-a", KEY_A, SECRET_A), ("tenant-b", KEY_B, SECRET_A)):
            create_tenant(keys, tenant_id, ROOMY, tenant_id=tenant_id, webhook_secret=secret, api_key=key)
        yield Aws(resources, keys)
    _reset_caches()


@pytest.fixture
def jobs_table_name() -> Iterator[str]:
    """The stack's tables on moto's in-process mock (no server), for adapter tests: the jobs table's name."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        aws.reset_clients()
        config = load_stack_config()
        provision(config, "us-east-1", "123456789012")
        yield config.jobs_table
    aws.reset_clients()


@pytest.fixture(scope="session")
def api_module() -> ModuleType:
    return load_function(ROOT / "functions" / "api" / "handler.py", "shotwire_fn_api_test")


@contextmanager
def local_gateway(api_module: ModuleType) -> Iterator[str]:
    """The API function behind the local gateway on a free loopback port. In-process (moto's mock_aws lives in
    this process), one request at a time, as one execution environment serves them."""
    one_at_a_time = threading.Lock()

    def invoke(event: dict[str, Any]) -> Any:
        with one_at_a_time:
            return api_module.lambda_handler(event, LocalContext(function_name="shotwire-api", timeout_seconds=29))

    gateway = ApiGateway("127.0.0.1", 0, invoke)
    gateway.start()
    try:
        yield f"http://127.0.0.1:{gateway.port}"
    finally:
        gateway.stop()


@pytest.fixture
def site() -> Iterator[Site]:
    """A page server on loopback; a test adds the pages it needs."""
    with Site().running() as running:
        yield running
