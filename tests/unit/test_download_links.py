"""Download links: signing and checking (shotwire_core.links), and the API URL a request came in by."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from devstack.gateway import proxy_event
from shotwire_core.errors import DownloadLinkError
from shotwire_core.links import DownloadLinks, verify_link
from shotwire_core.web import public_base_url

SECRET = b"k" * 64
JOB = "job_01m8xx5af63s4khme7hw28jw6m"
NOW = 1_800_000_000.0


def _parts(link: str) -> tuple[str, str, str, str]:
    parts = urlsplit(link)
    _, _, _, tenant, file_name = parts.path.split("/")
    query = parse_qs(parts.query)
    return tenant, file_name, query["expires"][0], query["signature"][0]


def test_a_link_checks_out_until_it_expires_and_not_after() -> None:
    link = DownloadLinks("https://api.example", lambda: SECRET, clock=lambda: NOW).download_url(f"ten_a/{JOB}.png", 60)
    assert link.startswith(f"https://api.example/v1/downloads/ten_a/{JOB}.png?expires={int(NOW) + 60}&signature=")
    image = verify_link(*_parts(link), secret=SECRET, now=NOW + 59)
    assert (image.tenant_id, image.job_id, image.key) == ("ten_a", JOB, f"ten_a/{JOB}.png")
    with pytest.raises(DownloadLinkError) as expired:
        verify_link(*_parts(link), secret=SECRET, now=NOW + 60)
    assert expired.value.code == "link_expired"


def test_the_signature_covers_tenant_file_and_expiry() -> None:
    tenant, file_name, expires, signature = _parts(
        DownloadLinks("https://api.example", lambda: SECRET, clock=lambda: NOW).download_url(f"ten_a/{JOB}.png", 60)
    )
    for altered in (
        ("ten_b", file_name, expires, signature),
        (tenant, f"{JOB}.jpg", expires, signature),
        (tenant, file_name, str(int(expires) + 1), signature),
        (tenant, file_name, expires, signature[:-1]),
        (tenant, file_name, expires, None),
        (tenant, file_name, None, signature),
        (tenant, "../../etc.png", expires, signature),
        (tenant, file_name, "-1", signature),
    ):
        with pytest.raises(DownloadLinkError) as refused:
            verify_link(*altered, secret=SECRET, now=NOW)
        assert refused.value.code == "link_invalid", altered
    with pytest.raises(DownloadLinkError):
        verify_link(tenant, file_name, expires, signature, secret=b"another secret", now=NOW)


def _event(raw: dict[str, Any]) -> APIGatewayProxyEvent:
    return APIGatewayProxyEvent(raw)


def test_the_base_url_keeps_the_stage_of_an_execute_api_address() -> None:
    """API Gateway's REST events: `path` is the route, requestContext.path what the client sent (the stage
    first on an execute-api address, a base path on a custom domain)."""
    host = "abc123.execute-api.eu-west-1.amazonaws.com"
    event = {
        "path": "/v1/screenshots/x",
        "headers": {"Host": host, "X-Forwarded-Proto": "https"},
        "requestContext": {"path": "/prod/v1/screenshots/x", "stage": "prod", "domainName": host},
    }
    assert public_base_url(_event(event)) == f"https://{host}/prod"
    custom = {
        "path": "/v1/screenshots/x",
        "headers": {"host": "shots.example.com"},
        "requestContext": {"path": "/api/v1/screenshots/x", "stage": "prod", "domainName": "shots.example.com"},
    }
    assert public_base_url(_event(custom)) == "https://shots.example.com/api"


def test_the_local_gateway_base_url_is_its_own_address() -> None:
    event = proxy_event("GET", "/v1/screenshots/x?a=1", [("Host", "127.0.0.1:8123")], b"", "127.0.0.1")
    assert public_base_url(_event(event)) == "http://127.0.0.1:8123"
    # A client cannot make the local gateway claim https.
    spoofed = proxy_event("GET", "/v1/x", [("Host", "h:1"), ("x-forwarded-proto", "https")], b"", "127.0.0.1")
    assert public_base_url(_event(spoofed)) == "http://h:1"
