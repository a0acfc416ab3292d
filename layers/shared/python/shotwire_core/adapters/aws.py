"""boto3 clients, created once per process and shared (clients are thread-safe; creating them is not)."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

# Bulk requests in flight at once (a 1,000-job batch is 40 BatchWriteItem and 100 SendMessageBatch requests).
BULK_WORKERS = 8

_lock = threading.Lock()
_clients: dict[str, Any] = {}


@cache
def _config(service: str) -> Any:
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)
    if service == "s3":  # presigned links must use SigV4: SigV2 links are deprecated and refused in newer regions
        config = config.merge(Config(signature_version="s3v4"))
    return config


def client(service: str) -> Any:
    """A cached client. Endpoints come from the standard AWS_ENDPOINT_URL variables (moto locally).

    boto3 is imported by the first call, not with this module: a cold start that serves a request without
    AWS (/health, /docs) never loads it."""
    import boto3

    with _lock:
        if service not in _clients:
            _clients[service] = boto3.session.Session().client(service, config=_config(service))
        return _clients[service]


def reset_clients() -> None:
    """Forget cached clients (tests that point the process at a different endpoint)."""
    with _lock:
        _clients.clear()
