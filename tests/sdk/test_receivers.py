"""The Flask and FastAPI receivers of docs/webhook-receivers.md, run exactly as the doc prints them."""

from __future__ import annotations

import json
import re
import time
import warnings
from typing import Any

import pytest

from shotwire_core.signing import signature_headers
from tests.support import ROOT

DOC = ROOT / "docs" / "webhook-receivers.md"
SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLWUyZS10ZXN0cy0wMQ=="
EVENT = {"jobId": "job_01", "status": "completed", "screenshotUrl": "https://s3.example/x.png", "width": 640}
BODY = json.dumps(EVENT, separators=(",", ":")).encode()


def doc_block(heading: str) -> str:
    """The first ```python block of the doc's `## <heading>` section."""
    text = DOC.read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    section = next(s for s in sections if s.split("\n", 1)[0].strip() == heading)
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match, f"no python block under '## {heading}' in {DOC}"
    return match.group(1)


def load(heading: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the doc's block as a module; its `handle` is wrapped to record what it was given."""
    monkeypatch.setenv("SHOTWIRE_WEBHOOK_SECRET", SECRET)
    namespace: dict[str, Any] = {"__name__": f"receiver_{heading.lower()}"}
    exec(compile(doc_block(heading), f"{DOC.name}#{heading}", "exec"), namespace)
    handled: list[dict[str, Any]] = []
    original = namespace["handle"]

    def recording(event: dict[str, Any]) -> None:
        handled.append(event)
        original(event)

    namespace["handle"] = recording  # the route looks `handle` up in the block's globals
    return namespace, handled


def signed(body: bytes = BODY, message_id: str = "msg_01", at: float | None = None) -> dict[str, str]:
    headers = signature_headers(SECRET, message_id, int(time.time() if at is None else at), body)
    return {"Content-Type": "application/json", **headers}


def exercise(post: Any, handled: list[dict[str, Any]]) -> None:
    """The same checks for both frameworks; `post(body, headers)` returns the status code."""
    # A genuine delivery is accepted and handled, its retry (same webhook-id) accepted but not handled again
    assert post(BODY, signed()) == 204
    assert post(BODY, signed()) == 204
    assert handled == [EVENT]
    # A tampered body, a stale timestamp, no signature, a wrong secret's signature: refused, not handled
    tampered = BODY.replace(b'"width":640', b'"width":641')
    assert post(tampered, signed(message_id="msg_02")) == 400
    assert post(BODY, signed(message_id="msg_03", at=time.time() - 600)) == 400
    assert post(BODY, {"Content-Type": "application/json"}) == 400
    other = signature_headers("whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==", "msg_04", int(time.time()), BODY)
    assert post(BODY, {"Content-Type": "application/json", **other}) == 400
    # An old delivery replayed under its hex signature alone (webhook-* headers stripped): refused
    stale = signed(message_id="msg_05", at=time.time() - 86_400)
    hex_only = {name: value for name, value in stale.items() if not name.startswith("webhook-")}
    assert post(BODY, hex_only) == 400
    assert handled == [EVENT]
    # A redelivery is a new webhook-id: handled again
    assert post(BODY, signed(message_id="msg_01_2")) == 204
    assert len(handled) == 2


def test_the_flask_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace, handled = load("Flask", monkeypatch)
    client = namespace["app"].test_client()

    def post(body: bytes, headers: dict[str, str]) -> int:
        response = client.post("/webhooks/shotwire", data=body, headers=headers)
        if response.status_code == 400:
            assert response.get_json()["error"]  # the reason is in the answer
        return int(response.status_code)

    exercise(post, handled)


def test_the_fastapi_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace, handled = load("FastAPI", monkeypatch)
    with warnings.catch_warnings():  # starlette's notice that it prefers another HTTP client for tests
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    with TestClient(namespace["app"]) as client:

        def post(body: bytes, headers: dict[str, str]) -> int:
            response = client.post("/webhooks/shotwire", content=body, headers=headers)
            if response.status_code == 400:
                assert response.json()["detail"]
            return int(response.status_code)

        exercise(post, handled)


def test_the_doc_names_the_run_commands() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "flask --app receiver run" in text and "uvicorn receiver:app" in text
