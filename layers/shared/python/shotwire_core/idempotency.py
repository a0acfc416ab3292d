"""`Idempotency-Key` on the API's creating POSTs, kept by Powertools idempotency in DynamoDB.

The same key with the same body returns the first response again (with `Idempotent-Replayed: true`);
the same key with a different body is refused (422), and so is a key whose first request is still
running (409). Keys are scoped to the tenant and the endpoint, and expire after 24 hours.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from shotwire_core.errors import ConflictError, FieldProblem, InvalidRequestError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

HEADER = "Idempotency-Key"
EXPIRES_AFTER_SECONDS = 24 * 3600
# Printable ASCII without spaces at the ends, like Stripe's and the IETF draft's keys (a UUID fits easily).
_KEY_SHAPE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?")


# Powertools' idempotency package imports its DynamoDB store, and so boto3, before anything else: it is
# imported by the first request that sends an Idempotency-Key, not by every cold start.
@cache
def _config() -> IdempotencyConfig:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="bodyHash",
        expires_after_seconds=EXPIRES_AFTER_SECONDS,
        raise_on_no_idempotency_key=True,
    )


# A stored response: what the route answered the first time.
StoredResponse = dict[str, Any]


def check_key(key: str) -> str:
    if not _KEY_SHAPE.fullmatch(key):
        raise InvalidRequestError(
            [FieldProblem(HEADER, "idempotency_key", f"{HEADER} must be 1-255 printable ASCII characters")]
        )
    return key


def run_once(
    store: BasePersistenceLayer,
    *,
    tenant_id: str,
    endpoint: str,
    key: str,
    body: bytes,
    create: Callable[[], StoredResponse],
    lambda_context: LambdaContext | None = None,
) -> tuple[StoredResponse, bool]:
    """Run `create` once per (tenant, endpoint, key); True when this answer is a replay of the first one.

    With the invocation's `lambda_context`, a record left by a request that crashed expires with its
    invocation instead of after the whole in-progress window."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = _config()
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    ran = False

    def first_time(request: dict[str, str]) -> StoredResponse:
        nonlocal ran
        ran = True
        return create()

    once = idempotent_function(
        first_time, data_keyword_argument="request", persistence_store=store, config=config, key_prefix="shotwire-api"
    )
    request = {"scope": f"{tenant_id} {endpoint} {check_key(key)}", "bodyHash": hashlib.sha256(body).hexdigest()}
    try:
        response: StoredResponse = once(request=request)
    except IdempotencyValidationError as error:
        raise InvalidRequestError(
            [
                FieldProblem(
                    HEADER,
                    "idempotency_key_reused",
                    f"{HEADER} {key!r} was already used with a different request body; use a new key",
                )
            ]
        ) from error
    except IdempotencyAlreadyInProgressError as error:
        raise ConflictError(f"a request with {HEADER} {key!r} is still being processed; retry shortly") from error
    return response, not ran
