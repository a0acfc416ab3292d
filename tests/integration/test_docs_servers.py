"""Swagger UI's "Try it out" calls the API where the page was served from: the servers entry of the document the
page embeds is the local gateway's root locally (it has no stage in its URLs) and the stage on an execute-api
address."""

from __future__ import annotations

import json
import re
from types import ModuleType

import httpx

from tests.integration.conftest import Aws, local_gateway


def _servers(html: str) -> list[dict[str, str]]:
    match = re.search(r'"servers":\s*(\[[^\]]*\])', html)
    assert match, "the page embeds no servers entry"
    servers: list[dict[str, str]] = json.loads(match.group(1))
    return servers


def test_the_local_docs_try_calls_on_the_gateways_root(aws_stack: Aws, api_module: ModuleType) -> None:
    with local_gateway(api_module) as url:
        page = httpx.get(f"{url}/docs", timeout=10)
        assert page.status_code == 200
        assert _servers(page.text) == [{"url": "/"}]  # once "/local", so every "Try it out" call was a 404
        health = httpx.get(f"{url}{_servers(page.text)[0]['url'].rstrip('/')}/health", timeout=10)
        assert health.status_code == 200


def test_the_deployed_docs_keep_the_stage(aws_stack: Aws, api_module: ModuleType) -> None:
    """On an execute-api address the client's path starts with the stage, and the page must keep it."""
    from devstack.gateway import proxy_event
    from devstack.runtime import LocalContext

    event = proxy_event("GET", "/docs", [("Host", "abc.execute-api.us-east-1.amazonaws.com")], b"", "203.0.113.9")
    event["requestContext"].update(path="/prod/docs", stage="prod")
    result = api_module.lambda_handler(event, LocalContext(function_name="shotwire-api"))
    assert result["statusCode"] == 200
    assert _servers(result["body"]) == [{"url": "/prod"}]
