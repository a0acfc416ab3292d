"""Secrets Manager: the stack's download-link secret, read through Powertools Parameters and cached."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from shotwire_core.adapters.aws import client

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

# A warm function reads the secret again after this long, so a replaced secret is taken up within it.
SECRET_MAX_AGE_SECONDS = 300


@cache
def _provider(secrets_client: Any) -> SecretsProvider:
    """One provider (and its cache) per client: a test that points the process at another moto gets another."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=secrets_client)


def secret_bytes(name: str) -> bytes:
    """The secret's string value as bytes (an HMAC key)."""
    value = _provider(client("secretsmanager")).get(name, max_age=SECRET_MAX_AGE_SECONDS)
    if not isinstance(value, str) or not value:
        raise RuntimeError(f"the secret {name} has no string value")
    return value.encode("utf-8")
