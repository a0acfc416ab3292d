"""What API Gateway (REST API, Lambda proxy integration) makes of the API function's answer, for the local
gateway to do the same."""

from __future__ import annotations

import base64
from typing import Any

from shotwire_core.binary_media import BINARY_MEDIA_TYPES, gateway_converts

__all__ = ["BINARY_MEDIA_TYPES", "gateway_body"]


def gateway_body(
    result: dict[str, Any], accept_header: str | None, binary_media_types: tuple[str, ...] = BINARY_MEDIA_TYPES
) -> bytes:
    """The body the client receives for the function's proxy result `result`: a base64 body decoded only when
    the result says `isBase64Encoded` and the request's first Accept range matches a binary media type;
    otherwise the body's text as it is (so a client asking for JSON first gets an image as base64 text)."""
    body = result.get("body") or ""
    if result.get("isBase64Encoded") and gateway_converts(accept_header, binary_media_types):
        return base64.b64decode(body)
    return str(body).encode("utf-8")
