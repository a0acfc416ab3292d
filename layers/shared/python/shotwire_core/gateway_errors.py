"""What the gateway itself answers, before or instead of the function: the same error envelope as every other
answer (`{"error": {"code", "message"}}`), deployed as API Gateway gateway responses (infra/api.py) and
answered by the local gateway (devstack/gateway.py) from this one table.
"""

from __future__ import annotations

import json
from typing import NamedTuple


class GatewayError(NamedTuple):
    status: int
    code: str


# API Gateway's gateway response types that can reach a client of a proxy API, and the code each answers.
# (API Gateway picks the status; DEFAULT_4XX and DEFAULT_5XX cover the types not named here.)
DEPLOYED: dict[str, str] = {
    "DEFAULT_4XX": "bad_request",
    "DEFAULT_5XX": "gateway_error",
    "REQUEST_TOO_LARGE": "payload_too_large",
    "THROTTLED": "rate_limited",
    "WAF_FILTERED": "forbidden",
    "INTEGRATION_FAILURE": "gateway_error",
    "INTEGRATION_TIMEOUT": "function_timed_out",
}

# The local gateway's refusals, worded as API Gateway words them.
BAD_REQUEST = GatewayError(400, "bad_request")
REQUEST_TIMEOUT = GatewayError(408, "request_timeout")
PAYLOAD_TOO_LARGE = GatewayError(413, "payload_too_large")
URI_TOO_LONG = GatewayError(414, "uri_too_long")
HEADERS_TOO_LARGE = GatewayError(431, "headers_too_large")
FUNCTION_FAILED = GatewayError(502, "gateway_error")
FUNCTION_TIMED_OUT = GatewayError(504, "function_timed_out")

_BY_STATUS = {
    error.status: error
    for error in (
        BAD_REQUEST,
        REQUEST_TIMEOUT,
        PAYLOAD_TOO_LARGE,
        URI_TOO_LONG,
        HEADERS_TOO_LARGE,
        FUNCTION_FAILED,
        FUNCTION_TIMED_OUT,
    )
}


def for_status(status: int) -> GatewayError:
    """The local gateway's error for a status http.server chose (414, 431, 400 …)."""
    return _BY_STATUS.get(status, GatewayError(status, "bad_request" if status < 500 else "gateway_error"))


def envelope(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def response_template(code: str) -> str:
    """The gateway response's body template: API Gateway fills in its message, already a quoted JSON string."""
    return '{"error":{"code":"' + code + '","message":$context.error.messageString}}'
