"""GET /v1/meta/egress-ips through the API function on moto: public, and as the deployed function answers it."""

from __future__ import annotations

from types import ModuleType

import pytest

from shotwire_core.services import get_services
from shotwire_core.settings import get_settings
from tests.integration.conftest import Aws
from tests.integration.test_api import call

PATH = "/v1/meta/egress-ips"


def use_egress_ips(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """What the CDK app sets on the API function from the Elastic IPs (settings are read once per process)."""
    monkeypatch.setenv("SHOTWIRE_EGRESS_IPS", value)
    get_settings.cache_clear()
    get_services.cache_clear()


def test_without_static_egress_the_answer_says_so_and_needs_no_key(aws_stack: Aws, api_module: ModuleType) -> None:
    # As locally (make dev): the variable is unset or empty.
    status, body, headers = call(api_module, "GET", PATH, key=None)
    assert (status, body) == (200, {"egressIps": [], "static": False})
    assert headers["Cache-Control"] == "public, max-age=3600"


def test_with_static_egress_the_addresses_are_listed(
    aws_stack: Aws, api_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_egress_ips(monkeypatch, "203.0.113.10,198.51.100.7")
    status, body, _ = call(api_module, "GET", PATH, key=None)
    assert (status, body) == (200, {"egressIps": ["203.0.113.10", "198.51.100.7"], "static": True})
    # A key, if sent, changes nothing.
    assert call(api_module, "GET", PATH)[:2] == (status, body)


def test_an_empty_setting_is_no_static_egress(
    aws_stack: Aws, api_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_egress_ips(monkeypatch, "")  # what the CDK app sets with the flag off
    assert call(api_module, "GET", PATH, key=None)[:2] == (200, {"egressIps": [], "static": False})


def test_the_route_is_in_the_openapi_document_with_its_model(aws_stack: Aws, api_module: ModuleType) -> None:
    status, document, _ = call(api_module, "GET", "/openapi.json", key=None)
    assert status == 200
    schema = document["paths"][PATH]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/EgressIps"}
    assert {"egressIps", "static"} <= set(document["components"]["schemas"]["EgressIps"]["required"])
