"""Webhook signatures: the hex HMAC headers two existing services use, and Standard Webhooks.

Standard Webhooks (https://www.standardwebhooks.com): the secret is `whsec_` + base64 key bytes,
the signed content is `{id}.{timestamp}.{body}`, and the header is `v1,<base64 HMAC-SHA256>`.
The hex headers are keyed with the secret string's UTF-8 bytes exactly as given to the tenant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


def generate_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _standard_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def hex_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(secrets: str | Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every signature header a delivery carries.

    With several secrets (a rotation's overlap, current first) every header holds one signature per
    secret, space-separated, as Standard Webhooks specifies for `webhook-signature`; a receiver accepts
    the delivery when any of them matches its secret.
    """
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    hex_sig = " ".join(hex_signature(secret, body) for secret in keys)
    return {
        "X-Webhook-Signature": hex_sig,
        "X-Signature": hex_sig,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard_signature(secret, message_id, timestamp, body) for secret in keys),
    }
