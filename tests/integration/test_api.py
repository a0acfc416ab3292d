"""The API handler, invoked with the API Gateway proxy events the local gateway builds, on moto."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import boto3
import pytest

from devstack.gateway import proxy_event
from devstack.runtime import LocalContext
from tests.integration.conftest import KEY_A, KEY_B, Aws

API_HOST = "127.0.0.1:8000"


def call(
    api: ModuleType,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = KEY_A,
    content_type: str | None = "application/json",
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    all_headers = {"Host": API_HOST, **(headers or {})}  # as every HTTP client sends it
    if key is not None:
        all_headers["Authorization"] = f"Bearer {key}"
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    event = proxy_event(method, path, list(all_headers.items()), data, "127.0.0.1")
    result = api.lambda_handler(event, LocalContext(function_name="shotwire-api"))
    response_headers = dict(result.get("headers") or {})
    for name, values in (result.get("multiValueHeaders") or {}).items():
        response_headers[name] = ", ".join(values)
    return result["statusCode"], json.loads(result["body"] or "{}"), response_headers


def queued_messages(aws_stack: Aws) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    response = sqs.receive_message(QueueUrl=aws_stack.resources.capture_queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def test_health_needs_no_key(aws_stack: Aws, api_module: ModuleType) -> None:
    status, body, _ = call(api_module, "GET", "/health", key=None)
    assert (status, body) == (200, {"status": "ok"})


def test_submit_queues_the_job_and_writes_it(aws_stack: Aws, api_module: ModuleType) -> None:
    status, body, headers = call(api_module, "POST", "/v1/screenshots", {"url": "https://example.com/a"})
    assert status == 202
    assert body["status"] == "queued" and body["jobId"].startswith("job_")
    assert headers["Location"] == f"/v1/screenshots/{body['jobId']}"
    assert queued_messages(aws_stack) == [{"tenantId": "tenant-a", "jobId": body["jobId"]}]

    status, job, _ = call(api_module, "GET", f"/v1/screenshots/{body['jobId']}")
    assert status == 200
    assert job["status"] == "queued"
    request = job["request"]
    assert {key: request[key] for key in ("url", "width", "height", "format", "fullPage")} == {
        "url": "https://example.com/a",
        "width": 1280,
        "height": 800,
        "format": "png",
        "fullPage": False,
    }
    assert request["waitUntil"] == "load" and request["timeoutMs"] == 30_000 and request["maxHeight"] == 16384
    assert "screenshotUrl" not in job


def test_singular_path_is_accepted(aws_stack: Aws, api_module: ModuleType) -> None:
    status, body, _ = call(api_module, "POST", "/v1/screenshot", {"url": "http://example.com", "format": "jpeg"})
    assert status == 202, body


def test_x_api_key_header_also_authenticates(aws_stack: Aws, api_module: ModuleType) -> None:
    status, _, _ = call(
        api_module, "POST", "/v1/screenshots", {"url": "https://example.com"}, key=None, headers={"x-api-key": KEY_A}
    )
    assert status == 202


@pytest.mark.parametrize(
    ("key", "expected_message"),
    [(None, "missing API key"), ("sw_not_a_real_key_000000", "invalid or revoked API key")],
)
def test_without_a_valid_key_the_answer_is_401(
    aws_stack: Aws, api_module: ModuleType, key: str | None, expected_message: str
) -> None:
    status, body, headers = call(api_module, "POST", "/v1/screenshots", {"url": "https://example.com"}, key=key)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    assert expected_message in body["error"]["message"]
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert queued_messages(aws_stack) == []


def test_auth_comes_before_validation(aws_stack: Aws, api_module: ModuleType) -> None:
    status, body, _ = call(api_module, "POST", "/v1/screenshots", {"url": "ftp://x"}, key=None)
    assert status == 401, body


def test_revoked_key_stops_working(aws_stack: Aws, api_module: ModuleType) -> None:
    from shotwire_core.ids import hash_api_key

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.update_item(
        TableName=aws_stack.keys.table_name,
        Key={"pk": {"S": f"key#{hash_api_key(KEY_B)}"}},
        UpdateExpression="SET revokedAt = :now",
        ExpressionAttributeValues={":now": {"S": "2026-01-02T00:00:00Z"}},
    )
    status, _, _ = call(api_module, "GET", "/v1/screenshots/job_x", key=KEY_B)
    assert status == 401


def test_a_tenant_never_sees_another_tenants_job(aws_stack: Aws, api_module: ModuleType) -> None:
    _, created, _ = call(api_module, "POST", "/v1/screenshots", {"url": "https://example.com"}, key=KEY_A)
    status_other, other, _ = call(api_module, "GET", f"/v1/screenshots/{created['jobId']}", key=KEY_B)
    status_missing, missing, _ = call(api_module, "GET", "/v1/screenshots/job_doesnotexist", key=KEY_B)
    assert status_other == status_missing == 404
    assert other["error"]["code"] == missing["error"]["code"] == "not_found"
    status_owner, _, _ = call(api_module, "GET", f"/v1/screenshots/{created['jobId']}", key=KEY_A)
    assert status_owner == 200


BAD_BODIES = [
    ({}, "url", "missing"),
    ({"width": 100}, "url", "missing"),
    ({"url": "ftp://example.com/file"}, "url", "url_scheme"),
    ({"url": "javascript:alert(1)"}, "url", "url_scheme"),
    ({"url": "example.com"}, "url", "url_scheme"),
    ({"url": "http://"}, "url", "url_host"),
    ({"url": 42}, "url", "string_type"),
    ({"url": "https://example.com", "width": 0}, "width", "greater_than_equal"),
    ({"url": "https://example.com", "width": 10001}, "width", "less_than_equal"),
    ({"url": "https://example.com", "height": -5}, "height", "greater_than_equal"),
    ({"url": "https://example.com", "height": 10001}, "height", "less_than_equal"),
    ({"url": "https://example.com", "width": "wide"}, "width", "int_type"),
    ({"url": "https://example.com", "width": 12.5}, "width", "int_type"),
    ({"url": "https://example.com", "format": "gif"}, "format", "literal_error"),
    ({"url": "https://example.com", "fullPage": "yes"}, "fullPage", "bool_type"),
    ({"url": "https://example.com", "webhookUrl": "ftp://hooks.example.com"}, "webhookUrl", "url_scheme"),
    ({"url": "https://example.com", "colour": "red"}, "colour", "extra_forbidden"),
]


@pytest.mark.parametrize(("body", "field", "rule"), BAD_BODIES)
def test_bad_input_is_a_422_naming_the_field_and_rule(
    aws_stack: Aws, api_module: ModuleType, body: dict[str, Any], field: str, rule: str
) -> None:
    status, response, _ = call(api_module, "POST", "/v1/screenshots", body)
    assert status == 422, response
    error = response["error"]
    assert error["code"] == "validation_error"
    assert {"field": field, "rule": rule} in [{"field": d["field"], "rule": d["rule"]} for d in error["details"]]
    assert field in error["message"]
    assert queued_messages(aws_stack) == []  # nothing half-created


def test_several_bad_fields_are_all_named(aws_stack: Aws, api_module: ModuleType) -> None:
    status, response, _ = call(api_module, "POST", "/v1/screenshots", {"url": "ftp://x", "width": 0, "format": "bmp"})
    assert status == 422
    assert {d["field"] for d in response["error"]["details"]} == {"url", "width", "format"}


@pytest.mark.parametrize("raw", [b'{"url": "https://example.com"', b"not json", b"{'url': 'x'}"])
def test_malformed_json_is_a_422(aws_stack: Aws, api_module: ModuleType, raw: bytes) -> None:
    status, response, _ = call(api_module, "POST", "/v1/screenshots", raw=raw)
    assert status == 422
    assert response["error"]["details"][0]["field"] == "body"
    assert response["error"]["details"][0]["rule"] == "json_invalid"


@pytest.mark.parametrize("raw", [b"", b"   "])
def test_empty_body_is_a_422(aws_stack: Aws, api_module: ModuleType, raw: bytes) -> None:
    status, response, _ = call(api_module, "POST", "/v1/screenshots", raw=raw)
    assert status == 422
    assert response["error"]["details"][0]["field"] == "body"


@pytest.mark.parametrize("raw", [b"[]", b'"https://example.com"', b"42"])
def test_a_json_body_that_is_not_an_object_is_a_422(aws_stack: Aws, api_module: ModuleType, raw: bytes) -> None:
    status, response, _ = call(api_module, "POST", "/v1/screenshots", raw=raw)
    assert status == 422, response


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_non_json_content_type_is_refused(aws_stack: Aws, api_module: ModuleType, content_type: str) -> None:
    status, response, _ = call(
        api_module, "POST", "/v1/screenshots", raw=b'{"url":"https://example.com"}', content_type=content_type
    )
    assert status == 415
    assert response["error"]["code"] == "unsupported_media_type"
    assert response["error"]["details"][0]["field"] == "Content-Type"
    assert queued_messages(aws_stack) == []


def test_json_with_charset_is_accepted(aws_stack: Aws, api_module: ModuleType) -> None:
    status, _, _ = call(
        api_module,
        "POST",
        "/v1/screenshots",
        {"url": "https://example.com"},
        content_type="application/json; charset=utf-8",
    )
    assert status == 202


def test_unknown_route_is_a_404_envelope(aws_stack: Aws, api_module: ModuleType) -> None:
    status, body, _ = call(api_module, "GET", "/v2/whatever")
    assert status == 404 and body["error"]["code"] == "not_found"


class TestDeployedNetworkRules:
    """With private networks blocked (the deployed default), internal destinations are refused up front."""

    @pytest.fixture
    def allow_private(self) -> bool:
        return False

    @pytest.mark.parametrize(
        ("field", "body"),
        [
            ("url", {"url": "http://169.254.169.254/latest/meta-data/"}),
            ("url", {"url": "http://127.0.0.1:8080/"}),
            ("url", {"url": "http://0x7f000001/"}),
            ("url", {"url": "http://localhost/"}),
            ("url", {"url": "http://[::ffff:10.0.0.1]/"}),
            ("webhookUrl", {"url": "https://example.com", "webhookUrl": "http://10.1.2.3/hook"}),
            ("url", {"url": "http://user:pass@example.com/"}),
        ],
    )
    def test_internal_destinations_are_422(
        self, aws_stack: Aws, api_module: ModuleType, field: str, body: dict[str, Any]
    ) -> None:
        status, response, _ = call(api_module, "POST", "/v1/screenshots", body)
        assert status == 422, response
        assert response["error"]["details"][0]["field"] == field
        assert queued_messages(aws_stack) == []

    def test_a_blocked_page_and_a_plain_http_webhook_are_both_named(
        self, aws_stack: Aws, api_module: ModuleType
    ) -> None:
        body = {"url": "http://10.0.0.1/", "webhookUrl": "http://example.com/hook"}
        status, response, _ = call(api_module, "POST", "/v1/screenshots", body)
        assert status == 422, response
        assert [(d["field"], d["rule"]) for d in response["error"]["details"]] == [
            ("url", "blocked_url"),
            ("webhookUrl", "https_required"),
        ]
        assert queued_messages(aws_stack) == []


@pytest.mark.parametrize("job_id", ["x" * 2000, "job_../../etc", "JOB_01M83SQQ0C6HK35WTDK7W1MY3V"])
def test_malformed_job_ids_are_404_not_500(aws_stack: Aws, api_module: ModuleType, job_id: str) -> None:
    status, body, _ = call(api_module, "GET", f"/v1/screenshots/{job_id}")
    assert status == 404 and body["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "ftp://x"}, "url must be an absolute http:// or https:// URL"),
        ({"url": "https://example.com", "width": 0}, "width must be greater than or equal to 1"),
        ({"url": "https://example.com", "format": "gif"}, "format must be 'png', 'jpeg', 'webp' or 'pdf'"),
        ({"url": "https://example.com", "fullPage": "yes"}, "fullPage must be a valid boolean"),
        ({}, "url is required"),
    ],
)
def test_error_messages_read_as_sentences(
    aws_stack: Aws, api_module: ModuleType, body: dict[str, Any], message: str
) -> None:
    _, response, _ = call(api_module, "POST", "/v1/screenshots", body)
    assert response["error"]["details"][0]["message"] == message
