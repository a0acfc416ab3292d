"""Verifying shotwire webhooks: `verify(body, headers, secret) -> event`.

Two ways a delivery is signed, both checked in constant time:

- **Standard Webhooks** (preferred: it covers a timestamp, so an old delivery cannot be replayed):
  `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64>` (several space-separated
  during a secret rotation). The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, keyed
  with the base64-decoded part of the `whsec_...` secret. The timestamp must be within `tolerance`
  seconds of now, either way.
- **The hex header** `X-Webhook-Signature` (or `X-Signature`): lowercase hex HMAC-SHA256 of the body,
  keyed with the secret string's UTF-8 bytes, several space-separated during a rotation. It carries
  no timestamp, so it is only used when the Standard Webhooks headers are absent.

When the Standard Webhooks headers are present they decide: a failing `webhook-signature` is never
rescued by the hex header (that would skip the replay check). shotwire always sends both kinds, so a
receiver that only ever hears from shotwire should pass `require_timestamp=True`: then a request whose
`webhook-*` headers were stripped (to replay an old body under its hex signature) is refused too.

Only the standard library is used, so importing this module costs next to nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from shotwire.errors import ShotwireError

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "WebhookVerificationError", "sign", "verify"]

DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


class WebhookVerificationError(ShotwireError):
    """The delivery is not a genuine, fresh shotwire webhook; the message says what was wrong.

    Answer such a request with 400 or 401 and do not act on it.
    """


class _HeaderItems(Protocol):
    def items(self) -> Iterable[tuple[str, str]]: ...


Headers = Mapping[str, str] | _HeaderItems | Iterable[tuple[str, str]]


def _lowered(headers: Headers) -> dict[str, str]:
    """Header names lowercased: a dict, Flask's/Werkzeug's and Starlette's headers, or (name, value) pairs."""
    lowered: dict[str, str] = {}
    try:
        pairs = headers.items() if hasattr(headers, "items") else headers
        for name, value in pairs:
            key = str(name).lower()
            lowered[key] = f"{lowered[key]} {value}" if key in lowered else str(value)
    except (TypeError, ValueError):
        raise WebhookVerificationError(
            f"headers must be the request's headers (a mapping or (name, value) pairs), got {type(headers).__name__}"
        ) from None
    return lowered


def _standard_key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.strip().removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as error:
        raise WebhookVerificationError(
            "the secret is not a Standard Webhooks secret ('whsec_' followed by base64); copy it exactly as issued"
        ) from error


def _secrets(secret: str | Iterable[str]) -> list[str]:
    if isinstance(secret, bytes | bytearray):
        secret = secret.decode("utf-8", "replace")
    try:
        secrets = [secret] if isinstance(secret, str) else list(secret)
    except TypeError:
        raise WebhookVerificationError(
            f"the webhook secret must be a string ('whsec_...') or a list of them, got {type(secret).__name__}"
        ) from None
    secrets = [item.strip() if isinstance(item, str) else item for item in secrets]
    if not secrets or not all(isinstance(item, str) and item for item in secrets):
        raise WebhookVerificationError("no webhook secret given to verify with")
    return secrets


def _as_bytes(body: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise WebhookVerificationError(f"body must be the raw request body as bytes, got {type(body).__name__}")


def _standard_signature(secret: str, message_id: str, timestamp: int | str, body: bytes) -> str:
    """Standard Webhooks' v1 signature: base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()).decode()


def _hex_signature(secret: str, body: bytes) -> str:
    """The `X-Webhook-Signature` signature: hex HMAC-SHA256 of the body, keyed by the secret as it is."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))


def _check_standard(
    body: bytes, headers: dict[str, str], secrets: list[str], tolerance: float, now: float | None
) -> None:
    message_id = headers.get("webhook-id", "").strip()
    timestamp_text = headers.get("webhook-timestamp", "").strip()
    missing = [name for name, value in (("webhook-id", message_id), ("webhook-timestamp", timestamp_text)) if not value]
    if missing:
        raise WebhookVerificationError(f"missing header(s): {', '.join(missing)} (needed with webhook-signature)")
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise WebhookVerificationError(f"webhook-timestamp is not a Unix time: {timestamp_text[:40]!r}") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is {current - timestamp:.0f} s old, more than the {tolerance:g} s allowed "
            "(a replayed or long-delayed delivery)"
        )
    if timestamp > current + tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is {timestamp - current:.0f} s in the future, more than the {tolerance:g} s allowed "
            "(check this machine's clock)"
        )
    given = [
        signature
        for version, _, signature in (entry.partition(",") for entry in headers["webhook-signature"].split())
        if version == "v1"
    ]
    if not given:
        raise WebhookVerificationError("webhook-signature holds no v1 signature")
    matched = False
    for secret in secrets:
        expected = _standard_signature(secret, message_id, timestamp_text, body)
        for signature in given:
            matched |= _equal(expected, signature)  # no early exit: every comparison is made
    if not matched:
        raise WebhookVerificationError(
            "webhook-signature does not match: wrong secret, or the body was changed (verify the raw bytes, "
            "before any JSON parsing)"
        )


def _check_hex(body: bytes, header: str, secrets: list[str]) -> None:
    given = [value.strip().lower() for value in header.split() if value.strip()]
    matched = False
    for secret in secrets:
        expected = _hex_signature(secret, body)
        for signature in given:
            matched |= _equal(expected, signature)
    if not matched:
        raise WebhookVerificationError(
            "X-Webhook-Signature does not match: wrong secret, or the body was changed (verify the raw bytes, "
            "before any JSON parsing)"
        )


def verify(
    body: bytes | bytearray | memoryview | str,
    headers: Headers,
    secret: str | Iterable[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
    require_timestamp: bool = False,
) -> dict[str, Any]:
    """Check a webhook's signature and return its event (the parsed JSON body).

    `body`: the raw request body, exactly as received. `headers`: the request's headers (any mapping,
    Flask's `request.headers`, Starlette's `request.headers`, or (name, value) pairs; names in any case).
    `secret`: your `whsec_...` webhook secret, or several (e.g. old and new during your own rollout).
    `tolerance`: seconds the `webhook-timestamp` may differ from now, either way.
    `require_timestamp`: refuse the hex header alone (it has no timestamp, so no replay window); shotwire
    sends the Standard Webhooks headers with every delivery, so receivers of shotwire only can set it.

    Raises WebhookVerificationError, with the reason, for anything but a genuine, fresh delivery.
    """
    raw = _as_bytes(body)
    secrets = _secrets(secret)
    lowered = _lowered(headers)
    if "webhook-signature" in lowered:
        _check_standard(raw, lowered, secrets, tolerance, now)
    elif require_timestamp:
        raise WebhookVerificationError(
            "no webhook-id, webhook-timestamp and webhook-signature headers: this receiver needs them (it "
            "refuses the hex signature alone, which has no timestamp and so could be an old delivery replayed)"
        )
    elif "x-webhook-signature" in lowered or "x-signature" in lowered:
        _check_hex(raw, lowered.get("x-webhook-signature") or lowered["x-signature"], secrets)
    else:
        raise WebhookVerificationError(
            "no signature headers: expected webhook-id, webhook-timestamp and webhook-signature "
            "(or X-Webhook-Signature); is this request from shotwire?"
        )
    try:
        event = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise WebhookVerificationError(f"the signed body is not valid JSON: {error}") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("the signed body is not a JSON object")
    return event


def sign(body: bytes, secret: str, *, message_id: str = "msg_test", timestamp: int | None = None) -> dict[str, str]:
    """The headers shotwire would send with `body`: for testing your receiver without the API."""
    when = int(time.time()) if timestamp is None else timestamp
    standard = _standard_signature(secret, message_id, when, body)
    hex_signature = _hex_signature(secret, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(when),
        "webhook-signature": f"v1,{standard}",
        "X-Webhook-Signature": hex_signature,
        "X-Signature": hex_signature,
    }
