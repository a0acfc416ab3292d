"""The local gateway (devstack/gateway.py) facing clients that misbehave: every answer is JSON, and no client holds
a connection (and the thread serving it) longer than the gateway's read timeouts.

Real sockets to the gateway on loopback; its timeouts are shrunk to a second so that a test that would hang on a
gateway without them fails on its own socket timeout instead."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devstack import gateway as gateway_module
from devstack.gateway import ApiGateway

CLIENT_TIMEOUT = 5.0  # how long a test waits for the gateway before it calls the gateway hung
SHRUNK = 1.0  # the gateway's read timeouts in these tests


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    def json(self) -> Any:
        assert self.headers.get("content-type") == "application/json", self.headers
        return json.loads(self.body)


@dataclass
class Running:
    port: int
    events: list[dict[str, Any]]

    def connect(self) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", self.port), timeout=CLIENT_TIMEOUT)
        return client


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    for name in ("READ_TIMEOUT", "HEADERS_TIMEOUT", "BODY_TIMEOUT"):
        monkeypatch.setattr(gateway_module, name, SHRUNK, raising=False)
    monkeypatch.setattr(gateway_module, "LINGER_SECONDS", 0.5, raising=False)
    events: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}

    server = ApiGateway("127.0.0.1", 0, invoke)
    server.start()
    try:
        yield Running(server.port, events)
    finally:
        server.stop()


def read_answer(client: socket.socket, started: float) -> Answer:
    """One HTTP answer off the socket (a recv that outlives CLIENT_TIMEOUT fails the test)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            raise AssertionError(f"the gateway closed the connection without an answer (got {data!r})")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("iso-8859-1").split("\r\n")
    assert status_line.startswith("HTTP/1."), status_line
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = client.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Answer(int(status_line.split()[1]), headers, rest[:length], time.monotonic() - started)


def exchange(running: Running, request: bytes) -> tuple[Answer, socket.socket]:
    client = running.connect()
    started = time.monotonic()
    client.sendall(request)
    return read_answer(client, started), client


def assert_closed(client: socket.socket) -> None:
    """The gateway has closed the connection (it does not wait for another request on it)."""
    try:
        assert client.recv(65536) == b""
    except ConnectionResetError:
        pass
    finally:
        client.close()


# 1. Content-Length that does not match what is sent.


def test_a_body_shorter_than_its_content_length_is_a_400_when_the_body_timeout_ends(gateway: Running) -> None:
    answer, client = exchange(gateway, b"POST /v1/x HTTP/1.1\r\nHost: local\r\nContent-Length: 100\r\n\r\n0123456789")
    assert answer.status == 400 and answer.json()["error"]["code"] == "bad_request"
    assert SHRUNK * 0.8 <= answer.elapsed < SHRUNK + 2.5, answer.elapsed
    assert answer.headers.get("connection") == "close"
    assert_closed(client)
    assert gateway.events == []  # the function never sees a truncated body


def test_a_body_cut_short_by_the_client_is_a_400_at_once(gateway: Running) -> None:
    client = gateway.connect()
    started = time.monotonic()
    client.sendall(b"POST / HTTP/1.1\r\nHost: local\r\nContent-Length: 100\r\n\r\n0123456789")
    client.shutdown(socket.SHUT_WR)
    answer = read_answer(client, started)
    assert answer.status == 400 and answer.json()["error"]["code"] == "bad_request"
    assert answer.elapsed < SHRUNK * 0.8, answer.elapsed
    assert gateway.events == []


@pytest.mark.parametrize("value", ["-1", "abc", "+5", "5 5", "1e3", "0x10", "\u0665"])
def test_a_malformed_content_length_is_a_400_at_once(gateway: Running, value: str) -> None:
    request = f"POST / HTTP/1.1\r\nHost: local\r\nContent-Length: {value}\r\n\r\n12345".encode()
    answer, client = exchange(gateway, request)
    assert answer.status == 400 and answer.json() == {
        "error": {"code": "bad_request", "message": "Invalid Content-Length header"}
    }
    assert answer.elapsed < SHRUNK * 0.8, answer.elapsed
    assert_closed(client)
    assert gateway.events == []


def test_conflicting_content_lengths_are_a_400(gateway: Running) -> None:
    request = b"POST / HTTP/1.1\r\nHost: local\r\nContent-Length: 5\r\nContent-Length: 10\r\n\r\n12345"
    answer, client = exchange(gateway, request)
    assert answer.status == 400 and answer.json() == {
        "error": {"code": "bad_request", "message": "Invalid Content-Length header"}
    }
    assert_closed(client)


def test_a_body_over_10_mb_is_a_413_that_closes_the_connection(gateway: Running) -> None:
    length = gateway_module.MAX_BODY_BYTES + 1
    answer, client = exchange(gateway, f"POST / HTTP/1.1\r\nHost: local\r\nContent-Length: {length}\r\n\r\n".encode())
    assert answer.status == 413 and answer.json()["error"]["code"] == "payload_too_large"
    assert answer.headers.get("connection") == "close"
    assert_closed(client)  # the unread body must not be taken for the next request


# 2. What http.server refuses itself: JSON, not its HTML error page.


def test_a_70_kb_request_line_is_a_json_414(gateway: Running) -> None:
    answer, client = exchange(gateway, b"GET /" + b"a" * 70 * 1024 + b" HTTP/1.1\r\nHost: local\r\n\r\n")
    assert answer.status == 414 and answer.json()["error"]["code"] == "uri_too_long"
    assert_closed(client)


def test_a_header_over_64_kb_is_a_json_431(gateway: Running) -> None:
    answer, client = exchange(gateway, b"GET / HTTP/1.1\r\nHost: local\r\nX-Big: " + b"b" * 65 * 1024 + b"\r\n\r\n")
    assert answer.status == 431 and answer.json()["error"]["code"] == "headers_too_large"
    assert_closed(client)


def test_over_100_headers_is_a_json_431(gateway: Running) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % n for n in range(101))
    answer, client = exchange(gateway, b"GET / HTTP/1.1\r\nHost: local\r\n" + headers + b"\r\n")
    assert answer.status == 431 and answer.json()["error"]["code"] == "headers_too_large"
    assert_closed(client)


def test_headers_over_64_kb_in_all_are_a_json_431(gateway: Running) -> None:
    headers = b"".join(b"X-H%d: %s\r\n" % (n, b"v" * 2048) for n in range(40))
    answer, client = exchange(gateway, b"GET / HTTP/1.1\r\nHost: local\r\n" + headers + b"\r\n")
    assert answer.status == 431 and answer.json()["error"]["code"] == "headers_too_large"
    assert gateway.events == []
    assert_closed(client)


@pytest.mark.parametrize("line", [b"GET / FOO/1.1", b"GET / HTTP/9.9", b"NONSENSE", b"GET / HTTP/1.1 extra"])
def test_a_malformed_request_line_is_a_json_error_with_a_status_line(gateway: Running, line: bytes) -> None:
    answer, client = exchange(gateway, line + b"\r\nHost: local\r\n\r\n")
    assert 400 <= answer.status < 600 and isinstance(answer.json()["error"]["message"], str)
    assert_closed(client)


# 3. Slow clients.


def test_a_slowloris_client_is_answered_408_when_the_headers_timeout_ends(gateway: Running) -> None:
    client = gateway.connect()
    started = time.monotonic()
    client.sendall(b"GET / HTTP/1.1\r\nHost: local\r\n")
    # One header byte every 0.2 s (each read is quick, the whole never finishes) until the gateway answers.
    for byte in b"X-Slow: " + b"z" * 100:
        if time.monotonic() - started > CLIENT_TIMEOUT:
            raise AssertionError("the gateway waited for a trickling client past the test's patience")
        try:
            client.sendall(bytes([byte]))
        except OSError:
            break
        if select.select([client], [], [], 0.2)[0]:
            break
    answer = read_answer(client, started)
    assert answer.status == 408 and answer.json() == {
        "error": {"code": "request_timeout", "message": "Request timed out"}
    }
    assert SHRUNK * 0.8 <= answer.elapsed < SHRUNK + 2.5, answer.elapsed
    assert_closed(client)
    assert gateway.events == []


def test_a_silent_connection_is_closed_after_the_read_timeout(gateway: Running) -> None:
    client = gateway.connect()
    started = time.monotonic()
    assert_closed(client)
    assert time.monotonic() - started < SHRUNK + 2.5


def test_a_stalled_request_line_is_closed_after_the_read_timeout(gateway: Running) -> None:
    client = gateway.connect()
    started = time.monotonic()
    client.sendall(b"GET /v1/scree")
    assert_closed(client)
    assert time.monotonic() - started < SHRUNK + 2.5


# What well-behaved clients get is unchanged.


def test_requests_on_a_kept_alive_connection_still_reach_the_function(gateway: Running) -> None:
    client = gateway.connect()
    try:
        for n in range(2):
            body = b'{"n": %d}' % n
            started = time.monotonic()
            client.sendall(
                b"POST /v1/things?x=1 HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            answer = read_answer(client, started)
            assert answer.status == 200 and answer.json() == {"ok": True}
            assert "connection" not in answer.headers
        get_started = time.monotonic()
        client.sendall(b"GET /v1/things HTTP/1.1\r\nHost: local\r\n\r\n")
        assert read_answer(client, get_started).status == 200
    finally:
        client.close()
    assert [event["body"] for event in gateway.events] == ['{"n": 0}', '{"n": 1}', None]
    assert gateway.events[0]["path"] == "/v1/things" and gateway.events[0]["queryStringParameters"] == {"x": "1"}
