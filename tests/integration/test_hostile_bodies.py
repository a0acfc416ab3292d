"""Hostile request bodies and headers: each is a quick 4xx in the error envelope, and no job is created."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import pytest

from tests.integration.conftest import Aws
from tests.integration.test_api import call, queued_messages

# Generous: each of these answers in milliseconds; before the edge checked them, some took seconds.
QUICK_SECONDS = 2.0


def _timed_call(api: ModuleType, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any], float]:
    started = time.perf_counter()
    status, body, _ = call(api, method, path, **kwargs)
    return status, body, time.perf_counter() - started


def _problems(body: dict[str, Any]) -> list[tuple[str, str]]:
    assert set(body) == {"error"}, body
    assert body["error"]["code"] and body["error"]["message"], body
    details = body["error"]["details"]
    assert all(set(detail) == {"field", "rule", "message"} for detail in details), details
    return [(detail["field"], detail["rule"]) for detail in details]


def _assert_no_job(aws_stack: Aws, api: ModuleType) -> None:
    status, listed, _ = call(api, "GET", "/v1/screenshots")
    assert status == 200 and listed["data"] == []
    assert queued_messages(aws_stack) == []


def test_json_media_types_are_case_insensitive(aws_stack: Aws, api_module: ModuleType) -> None:
    for content_type in ("APPLICATION/JSON", "application/json; charset=UTF-8", "Application/Json;Charset=utf-8"):
        status, body, elapsed = _timed_call(
            api_module, "POST", "/v1/screenshots", body={"url": "https://example.com/a"}, content_type=content_type
        )
        assert status == 202, (content_type, body)
        assert elapsed < QUICK_SECONDS


@pytest.mark.parametrize("content_type", [";;;==", ";charset=utf-8", "=", "application/json-patch+json"])
def test_a_content_type_without_a_json_media_type_is_415(
    aws_stack: Aws, api_module: ModuleType, content_type: str
) -> None:
    status, body, elapsed = _timed_call(
        api_module, "POST", "/v1/screenshots", body={"url": "https://example.com/a"}, content_type=content_type
    )
    assert status == 415, body
    assert body["error"]["code"] == "unsupported_media_type"
    assert _problems(body) == [("Content-Type", "application_json")]
    assert elapsed < QUICK_SECONDS
    _assert_no_job(aws_stack, api_module)


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/screenshots", b'[{"url": "https://example.com/a"}, {"url": "https://example.com/b"}]'),
        ("/v1/screenshots", b'[{"url": "https://example.com/a"}]'),
        ("/v1/screenshot", b'[{"url": "https://example.com/a"}]'),
        ("/v1/batches", b'[{"items": ["https://example.com/a"]}]'),
        ("/v1/capture", b'[{"url": "https://example.com/a"}]'),
        ("/v1/screenshots", b'"https://example.com/a"'),
        ("/v1/screenshots", b"42"),
        ("/v1/screenshots", b"null"),
        ("/v1/screenshots", b"true"),
        ("/v1/webhooks/secret/rotate", b"[]"),
    ],
    ids=[
        "array",
        "one-item-array",
        "singular-path",
        "batch-array",
        "capture-array",
        "string",
        "number",
        "null",
        "true",
        "rotate-array",
    ],
)
def test_a_body_that_is_not_a_json_object_is_422(aws_stack: Aws, api_module: ModuleType, path: str, raw: bytes) -> None:
    status, body, elapsed = _timed_call(api_module, "POST", path, raw=raw)
    assert status == 422, body
    assert _problems(body) == [("body", "model_attributes_type")]
    assert "body must be a JSON object" in body["error"]["message"]
    assert elapsed < QUICK_SECONDS
    _assert_no_job(aws_stack, api_module)


HUGE_INT = "1" * 5001


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/screenshots", f'{{"url": "https://example.com/a", "width": {HUGE_INT}}}'),
        ("/v1/screenshots", f'{{"url": "https://example.com/a", "metadata": {{"n": [{HUGE_INT}]}}}}'),
        ("/v1/batches", f'{{"items": [{{"url": "https://example.com/a", "delayMs": -{HUGE_INT}}}]}}'),
    ],
    ids=["width", "in-metadata", "batch-item"],
)
def test_an_integer_too_long_to_read_is_invalid_json(
    aws_stack: Aws, api_module: ModuleType, path: str, raw: str
) -> None:
    status, body, elapsed = _timed_call(api_module, "POST", path, raw=raw.encode())
    assert status in (400, 422), body
    assert _problems(body) == [("body", "json_invalid")]
    assert "digits" in body["error"]["message"]
    assert elapsed < QUICK_SECONDS
    _assert_no_job(aws_stack, api_module)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ('{"url": "https://example.com/a", "metadata": {"n": NaN}}', "NaN is not a JSON number"),
        ('{"url": "https://example.com/a", "metadata": {"n": [-Infinity]}}', "-Infinity is not a JSON number"),
        ('{"url": "https://example.com/a", "metadata": {"n": 1e999}}', "out of a double's range"),
    ],
    ids=["nan", "infinity", "overflowing-float"],
)
def test_numbers_json_cannot_write_are_invalid_json(
    aws_stack: Aws, api_module: ModuleType, raw: str, error: str
) -> None:
    status, body, elapsed = _timed_call(api_module, "POST", "/v1/screenshots", raw=raw.encode())
    assert status == 422, body
    assert _problems(body) == [("body", "json_invalid")]
    assert error in body["error"]["message"]
    assert elapsed < QUICK_SECONDS
    _assert_no_job(aws_stack, api_module)


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/screenshots", "[" * 100_000 + "]" * 100_000),
        ("/v1/screenshots", '{"a":' * 40_000 + "1" + "}" * 40_000),
        ("/v1/screenshots", '{"url": "https://example.com/a", "metadata": {"deep": ' + "[" * 5000 + "]" * 5000 + "}}"),
        ("/v1/screenshots", '{"url": "https://example.com/a", "metadata": {"deep": ' + "[" * 500 + "]" * 500 + "}}"),
        ("/v1/batches", '{"items": [{"url": "https://example.com/a", "metadata": ' + "[" * 5000 + "]" * 5000 + "}]}"),
    ],
    ids=["100k-arrays", "40k-objects", "5k-in-metadata", "500-in-metadata", "5k-in-batch-item"],
)
def test_deeply_nested_bodies_are_refused(aws_stack: Aws, api_module: ModuleType, path: str, raw: str) -> None:
    status, body, elapsed = _timed_call(api_module, "POST", path, raw=raw.encode())
    assert status == 422, body
    assert _problems(body) == [("body", "too_deep")]
    assert elapsed < QUICK_SECONDS
    _assert_no_job(aws_stack, api_module)


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/v1/screenshots", r'{"url": "http://x/\ud800"}', "url"),
        ("/v1/screenshots", r'{"url": "http://x/\udfff\ud800"}', "url"),
        ("/v1/screenshot", r'{"url": "https://example.com/a", "metadata": {"k\udc00": 1}}', "metadata"),
        ("/v1/screenshots", r'{"url": "https://example.com/a", "metadata": {"k": ["ok", "\ud83d"]}}', "metadata.k.1"),
        ("/v1/batches", r'{"items": ["http://x/\ud800"]}', "items.0"),
        ("/v1/batches", r'{"items": [{"url": "http://x/\ud800"}]}', "items.0.url"),
        ("/v1/capture", r'{"url": "http://x/\ud800"}', "url"),
        ("/v1/screenshots", r'{"url\ud800": "https://example.com/a"}', "body"),
    ],
    ids=["url", "url-reversed-pair", "metadata-key", "metadata-list", "batch-url", "batch-item-url", "capture", "key"],
)
def test_a_lone_surrogate_is_refused_quickly(
    aws_stack: Aws, api_module: ModuleType, path: str, raw: str, field: str
) -> None:
    status, body, elapsed = _timed_call(api_module, "POST", path, raw=raw.encode())
    assert status == 422, body
    assert _problems(body) == [(field, "invalid_unicode")]
    assert elapsed < QUICK_SECONDS
    _assert_no_job(aws_stack, api_module)


def test_a_surrogate_pair_is_a_character(aws_stack: Aws, api_module: ModuleType) -> None:
    raw = r'{"url": "https://example.com/a", "metadata": {"emoji": "\ud83d\ude00"}}'
    status, body, _ = call(api_module, "POST", "/v1/screenshots", raw=raw.encode())
    assert status == 202, body
    _, job, _ = call(api_module, "GET", f"/v1/screenshots/{body['jobId']}")
    assert job["metadata"] == {"emoji": "\U0001f600"}
