"""The OpenAPI document against the API itself: schemathesis generates requests from the document and every
answer must match it, with no 5xx. The API runs behind the local gateway on loopback, on moto.

Excluded: POST /v1/webhooks/test (it POSTs to whatever URL it is given, and tests only talk to loopback).
The capture function does not run here, so generated page URLs are queued, never fetched.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from types import ModuleType

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.conftest import KEY_A, Aws, local_gateway
from tests.integration.test_api_fuzz import without_waits

AUTH = {"Authorization": f"Bearer {KEY_A}"}


@pytest.fixture
def api_url(aws_stack: Aws, api_module: ModuleType) -> Iterator[str]:
    with local_gateway(api_module) as url:
        yield url


@pytest.fixture
def api_schema(api_url: str) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    schema.config.base_url = api_url
    return schema.exclude(path="/v1/webhooks/test")


def test_the_document_and_swagger_ui_are_public(api_url: str) -> None:
    with urllib.request.urlopen(f"{api_url}/openapi.json", timeout=10) as response:
        document = json.loads(response.read())
    assert document["openapi"].startswith("3.") and "/v1/screenshots" in document["paths"]
    assert {"bearer", "apiKey"} <= set(document["components"]["securitySchemes"])
    for path in ("/v1/screenshots", "/v1/capture", "/v1/batches"):
        assert "422" in document["paths"][path]["post"]["responses"]
    with urllib.request.urlopen(f"{api_url}/docs", timeout=10) as response:
        assert b"swagger" in response.read().lower()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_answer_matches_the_document(case: schemathesis.Case) -> None:
    without_waits(case).call_and_validate(
        headers=AUTH,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
