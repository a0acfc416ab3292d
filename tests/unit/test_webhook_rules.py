"""Webhook targets must use https when deployed; a rotation's overlap signs with both secrets, then one."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shotwire_core.errors import InvalidRequestError
from shotwire_core.jobs import check_webhook_url
from shotwire_core.models import Tenant
from shotwire_core.signing import generate_webhook_secret, signature_headers

BODY = b'{"jobId":"job_1","status":"completed"}'


def test_deployed_webhooks_must_use_https() -> None:
    check_webhook_url("https://hooks.example.com/x", "webhookUrl", allow_private=False, allowed_hosts=frozenset())
    with pytest.raises(InvalidRequestError) as caught:
        check_webhook_url("http://hooks.example.com/x", "webhookUrl", allow_private=False, allowed_hosts=frozenset())
    assert [(p.field, p.rule) for p in caught.value.problems] == [("webhookUrl", "https_required")]


def test_http_is_fine_locally_and_for_an_allowed_host() -> None:
    check_webhook_url("http://127.0.0.1:9000/hook", "webhookUrl", allow_private=True, allowed_hosts=frozenset())
    check_webhook_url(
        "http://127.0.0.1:9000/hook", "webhookUrl", allow_private=False, allowed_hosts=frozenset({"127.0.0.1:9000"})
    )


def test_userinfo_and_internal_literals_are_refused() -> None:
    for url in ("https://user:pw@hooks.example.com/", "https://169.254.169.254/", "https://[::ffff:10.0.0.1]/"):
        with pytest.raises(InvalidRequestError):
            check_webhook_url(url, "webhookUrl", allow_private=False, allowed_hosts=frozenset())


def test_the_overlap_ends_on_time() -> None:
    old, new = generate_webhook_secret(), generate_webhook_secret()
    tenant = Tenant(
        tenant_id="t", name="t", webhook_secret=new, previous_webhook_secret=old, previous_secret_expires_at=1000.0
    )
    assert tenant.signing_secrets(999.0) == (new, old)
    assert tenant.signing_secrets(1000.0) == (new,)


def test_two_secrets_give_two_signatures_each_verifiable() -> None:
    old, new = generate_webhook_secret(), generate_webhook_secret()
    now = int(time.time())
    headers = {k.lower(): v for k, v in signature_headers((new, old), "msg_1", now, BODY).items()}
    assert len(headers["webhook-signature"].split(" ")) == 2 and len(headers["x-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_webhook_secret()).verify(BODY, headers)
    stale = {k.lower(): v for k, v in signature_headers((new,), "msg_1", now - 3600, BODY).items()}
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(BODY, stale)  # an hour-old timestamp
