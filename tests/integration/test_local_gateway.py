"""The local gateway's execution environments share one process: concurrent requests must not see each
other's events (Powertools keeps the current request on a class)."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

from devstack.runtime import Handler, load_function
from shotwire_core.models import TenantLimits
from shotwire_core.services import get_services
from shotwire_core.tenants import create_tenant
from tests.integration.conftest import Aws, local_gateway

ROOT = Path(__file__).resolve().parents[2]
numbers = itertools.count()


def fresh_environment() -> Handler:
    module = load_function(ROOT / "functions" / "api" / "handler.py", f"shotwire_fn_api_env_{next(numbers)}")
    handler: Handler = module.lambda_handler
    return handler


@pytest.fixture
def api_url(aws_stack: Aws, api_module: ModuleType) -> Iterator[str]:
    with local_gateway(api_module, spawn=fresh_environment) as url:
        yield url


def test_concurrent_requests_each_get_their_own_answer(aws_stack: Aws, api_url: str) -> None:
    """Each POST reads its body and Idempotency-Key after several DynamoDB calls: with a shared current
    event, some would create a job for another request's URL or trip over another request's key."""
    tenant, issued = create_tenant(aws_stack.keys, "busy", TenantLimits(requests_per_second=1000, burst=1000))

    def submit(n: int) -> str:
        request = urllib.request.Request(
            f"{api_url}/v1/screenshots",
            data=json.dumps({"url": f"https://example.com/{n}"}).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {issued.api_key}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"key-{n}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                job_id = json.loads(response.read())["jobId"]
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code}: {error.read()!r}"
        job = get_services().jobs.get(tenant.tenant_id, job_id)
        return job.options.url if job else "missing"

    with ThreadPoolExecutor(max_workers=8) as pool:
        urls = list(pool.map(submit, range(48)))
    assert urls == [f"https://example.com/{n}" for n in range(48)]
