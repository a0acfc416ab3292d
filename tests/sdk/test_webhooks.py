"""shotwire.webhooks.verify: signed by the server's own signing code, checked by the SDK (no stack needed)."""

from __future__ import annotations

import hmac
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook
from starlette.datastructures import Headers as StarletteHeaders
from werkzeug.datastructures import Headers as WerkzeugHeaders

from shotwire import webhooks
from shotwire.webhooks import WebhookVerificationError, verify
from shotwire_core.signing import generate_webhook_secret, signature_headers

SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLWUyZS10ZXN0cy0wMQ=="
EVENT = {"jobId": "job_01", "status": "completed", "screenshotUrl": "https://s3/x.png", "title": "Café"}
BODY = json.dumps(EVENT, separators=(",", ":"), ensure_ascii=False).encode()


def signed(body: bytes = BODY, secrets: str | list[str] = SECRET, at: float | None = None) -> dict[str, str]:
    return signature_headers(secrets, "msg_01", int(time.time() if at is None else at), body)


def test_a_delivery_signed_by_the_server_verifies_and_returns_the_event() -> None:
    assert verify(BODY, signed(), SECRET) == EVENT


def test_the_standard_headers_alone_verify() -> None:
    headers = {k: v for k, v in signed().items() if k.startswith("webhook-")}
    assert verify(BODY, headers, SECRET) == EVENT


def test_the_hex_header_alone_verifies_and_x_signature_too() -> None:
    headers = signed()
    assert verify(BODY, {"X-Webhook-Signature": headers["X-Webhook-Signature"]}, SECRET) == EVENT
    assert verify(BODY, {"x-signature": headers["X-Signature"]}, SECRET) == EVENT
    assert verify(BODY, {"X-Webhook-Signature": headers["X-Webhook-Signature"].upper()}, SECRET) == EVENT


def test_header_names_are_case_insensitive_whatever_the_container() -> None:
    headers = signed()
    upper = {name.upper(): value for name, value in headers.items()}
    assert verify(BODY, upper, SECRET) == EVENT
    assert verify(BODY, WerkzeugHeaders(list(headers.items())), SECRET) == EVENT  # Flask's request.headers
    assert verify(BODY, StarletteHeaders(headers=headers), SECRET) == EVENT  # FastAPI's request.headers
    assert verify(BODY, list(headers.items()), SECRET) == EVENT
    assert verify(BODY.decode(), headers, SECRET) == EVENT  # a str body is taken as its UTF-8 bytes
    assert verify(bytearray(BODY), headers, SECRET) == EVENT


@pytest.mark.parametrize("standard", [True, False])
def test_a_tampered_body_is_rejected(standard: bool) -> None:
    headers = signed()
    if not standard:
        headers = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}
    tampered = BODY.replace(b"completed", b"failed\x20\x20\x20")
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(tampered, headers, SECRET)


def test_the_wrong_secret_is_rejected() -> None:
    with pytest.raises(WebhookVerificationError, match="webhook-signature does not match"):
        verify(BODY, signed(), generate_webhook_secret())


def test_the_replay_window_applies_both_ways() -> None:
    now = float(int(time.time()))
    with pytest.raises(WebhookVerificationError, match=r"301 s old, more than the 300 s allowed"):
        verify(BODY, signed(at=now - 301), SECRET, now=now)
    with pytest.raises(WebhookVerificationError, match="in the future"):
        verify(BODY, signed(at=now + 301), SECRET, now=now)
    assert verify(BODY, signed(at=now - 299), SECRET, now=now) == EVENT
    assert verify(BODY, signed(at=now - 3000), SECRET, now=now, tolerance=3600) == EVENT


def test_a_bad_standard_signature_is_not_rescued_by_the_hex_header() -> None:
    # The hex header has no timestamp: falling back to it would let an old delivery be replayed.
    stale = signed(at=time.time() - 3600)
    with pytest.raises(WebhookVerificationError, match="old"):
        verify(BODY, stale, SECRET)


def test_during_a_rotation_either_secret_verifies() -> None:
    new = generate_webhook_secret()
    headers = signed(secrets=[new, SECRET])
    assert len(headers["webhook-signature"].split()) == 2 and len(headers["X-Webhook-Signature"].split()) == 2
    assert verify(BODY, headers, SECRET) == EVENT
    assert verify(BODY, headers, new) == EVENT
    assert verify(BODY, {"X-Webhook-Signature": headers["X-Webhook-Signature"]}, SECRET) == EVENT
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers, generate_webhook_secret())
    # and a receiver that holds two secrets (its own rollout) accepts deliveries signed with either
    assert verify(BODY, signed(), [generate_webhook_secret(), SECRET]) == EVENT


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "no signature headers"),
        ({"webhook-signature": "v1,abc"}, "missing header"),
        ({"webhook-signature": "v1,abc", "webhook-id": "m", "webhook-timestamp": "yesterday"}, "not a Unix time"),
        ({"webhook-signature": "v2,abc", "webhook-id": "m", "webhook-timestamp": "1700000000"}, "no v1"),
    ],
)
def test_missing_or_malformed_headers_are_named(headers: dict[str, str], message: str) -> None:
    with pytest.raises(WebhookVerificationError, match=message):
        verify(BODY, headers, SECRET, now=1_700_000_000)


def test_a_signed_body_that_is_not_a_json_object_is_rejected() -> None:
    with pytest.raises(WebhookVerificationError, match="not valid JSON"):
        verify(b"{not json", signed(b"{not json"), SECRET)
    with pytest.raises(WebhookVerificationError, match="not a JSON object"):
        verify(b"[1,2]", signed(b"[1,2]"), SECRET)


def test_a_secret_that_is_not_whsec_base64_is_a_clear_error() -> None:
    with pytest.raises(WebhookVerificationError, match="not a Standard Webhooks secret"):
        verify(BODY, signed(), "whsec_not base64!")
    with pytest.raises(WebhookVerificationError, match="no webhook secret"):
        verify(BODY, signed(), "")


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(webhooks.hmac, "compare_digest", spy)
    verify(BODY, signed(), SECRET)
    verify(BODY, {"X-Webhook-Signature": signed()["X-Webhook-Signature"]}, SECRET)
    assert len(calls) == 2


def test_sign_agrees_with_the_server_and_with_the_standardwebhooks_package() -> None:
    at = int(time.time())
    ours = webhooks.sign(BODY, SECRET, message_id="msg_01", timestamp=at)
    assert ours == signature_headers(SECRET, "msg_01", at, BODY)
    Webhook(SECRET).verify(BODY, {k.lower(): v for k, v in ours.items()})


def test_require_timestamp_refuses_the_hex_header_alone() -> None:
    """An old delivery replayed with its webhook-* headers stripped passes the hex check, which has no
    timestamp: receivers of shotwire only (which always sends both) refuse it with require_timestamp."""
    old = signature_headers(SECRET, "msg_01", int(time.time()) - 86_400, BODY)
    hex_only = {name: value for name, value in old.items() if not name.startswith("webhook-")}
    assert verify(BODY, hex_only, SECRET) == EVENT
    with pytest.raises(WebhookVerificationError, match="refuses the hex signature alone"):
        verify(BODY, hex_only, SECRET, require_timestamp=True)
    fresh = signature_headers(SECRET, "msg_01", int(time.time()), BODY)
    assert verify(BODY, fresh, SECRET, require_timestamp=True) == EVENT


@pytest.mark.parametrize(
    ("body", "headers", "secret"),
    [(BODY, {}, None), (BODY, None, SECRET), (None, {}, SECRET), (BODY, {}, 42), (BODY, 7, SECRET)],
)
def test_wrong_argument_types_raise_the_one_error_type(body: object, headers: object, secret: object) -> None:
    with pytest.raises(WebhookVerificationError):
        verify(body, headers, secret)  # type: ignore[arg-type]


def test_the_verification_error_is_a_shotwire_error() -> None:
    import shotwire

    assert issubclass(WebhookVerificationError, shotwire.ShotwireError)
