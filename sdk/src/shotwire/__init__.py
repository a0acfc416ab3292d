"""shotwire: the Python SDK of the shotwire screenshot API.

    import shotwire

    with shotwire.Client() as client:                  # SHOTWIRE_API_KEY, SHOTWIRE_API_URL
        png = client.capture("https://example.com", width=1280, height=800)

`Client` / `AsyncClient`, the models (`Job`, `JobPage`, `Batch`, `Deliveries`, `ScreenshotOptions`, ...),
the errors (`ShotwireError` and its subclasses) and `shotwire.webhooks.verify`.

The clients and models (httpx, pydantic) load on first use, so a webhook receiver that only needs
`shotwire.webhooks` imports nothing but the standard library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shotwire import webhooks
from shotwire._version import __version__
from shotwire.errors import (
    APIError,
    AuthenticationError,
    CaptureFailed,
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ShotwireError,
    TransportError,
    WaitTimeout,
)
from shotwire.webhooks import WebhookVerificationError

if TYPE_CHECKING:
    from shotwire.async_client import AsyncClient
    from shotwire.client import Client
    from shotwire.models import (
        Batch,
        BatchJob,
        Clip,
        Cookie,
        Deliveries,
        Delivery,
        DeliveryAttempt,
        Job,
        JobError,
        JobPage,
        ScreenshotOptions,
        WebhookInfo,
    )

_LAZY = {
    "Client": "shotwire.client",
    "AsyncClient": "shotwire.async_client",
    **{
        name: "shotwire.models"
        for name in (
            "Batch",
            "BatchJob",
            "Clip",
            "Cookie",
            "Deliveries",
            "Delivery",
            "DeliveryAttempt",
            "Job",
            "JobError",
            "JobPage",
            "ScreenshotOptions",
            "WebhookInfo",
        )
    },
}

__all__ = [
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "Batch",
    "BatchJob",
    "CaptureFailed",
    "Client",
    "Clip",
    "ConfigurationError",
    "ConflictError",
    "Cookie",
    "Deliveries",
    "Delivery",
    "DeliveryAttempt",
    "InvalidRequestError",
    "Job",
    "JobError",
    "JobPage",
    "NotFoundError",
    "RateLimitError",
    "ScreenshotOptions",
    "ServerError",
    "ShotwireError",
    "TransportError",
    "WaitTimeout",
    "WebhookInfo",
    "WebhookVerificationError",
    "__version__",
    "webhooks",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shotwire' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
