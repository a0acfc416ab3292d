"""Signatures verify with the standardwebhooks package and plain HMAC, and reject tampering."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shotwire_core.signing import generate_webhook_secret, hex_signature, signature_headers

BODY = '{"jobId":"job_1","status":"completed","url":"https://例え.jp/😀"}'.encode()


def test_generated_secrets_are_standard_webhooks_secrets() -> None:
    secret = generate_webhook_secret()
    assert secret.startswith("whsec_")
    assert secret != generate_webhook_secret()
    Webhook(secret)  # parses


def test_all_headers_verify() -> None:
    secret = generate_webhook_secret()
    headers = signature_headers(secret, "msg_1", int(time.time()), BODY)
    assert headers["X-Webhook-Signature"] == headers["X-Signature"]
    assert headers["X-Signature"] == hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    Webhook(secret).verify(BODY, {k.lower(): v for k, v in headers.items()})


@pytest.mark.parametrize("tamper", ["body", "secret", "timestamp", "id"])
def test_tampering_is_rejected(tamper: str) -> None:
    secret = generate_webhook_secret()
    now = int(time.time())
    headers = {k.lower(): v for k, v in signature_headers(secret, "msg_1", now, BODY).items()}
    body = BODY
    verifier_secret = secret
    if tamper == "body":
        body = BODY.replace(b"completed", b"failed")
        assert hex_signature(secret, body) != headers["x-signature"]
    elif tamper == "secret":
        verifier_secret = generate_webhook_secret()
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = str(now - 3600)
    else:
        headers["webhook-id"] = "msg_2"
    with pytest.raises(WebhookVerificationError):
        Webhook(verifier_secret).verify(body, headers)
