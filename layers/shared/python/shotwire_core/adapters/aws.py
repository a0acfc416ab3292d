"""boto3 clients, created once per process and shared (clients are thread-safe; creating them is not)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

# Bulk requests in flight at once (a 1,000-job batch is 40 BatchWriteItem and 100 SendMessageBatch requests).
BULK_WORKERS = 8

_lock = threading.Lock()
_clients: dict[str, Any] = {}

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)
# Presigned links must use SigV4: SigV2 links are deprecated and refused in newer regions.
_SERVICE_CONFIG = {"s3": _CONFIG.merge(Config(signature_version="s3v4"))}


def client(service: str) -> Any:
    """A cached client. Endpoints come from the standard AWS_ENDPOINT_URL variables (moto locally)."""
    with _lock:
        if service not in _clients:
            _clients[service] = boto3.session.Session().client(service, config=_SERVICE_CONFIG.get(service, _CONFIG))
        return _clients[service]


def reset_clients() -> None:
    """Forget cached clients (tests that point the process at a different endpoint)."""
    with _lock:
        _clients.clear()
