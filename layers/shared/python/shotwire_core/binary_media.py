"""Binary answers through API Gateway (REST API, Lambda proxy integration).

A function answers binary data as base64 text with `isBase64Encoded`. API Gateway turns it back into bytes
only when the request's first Accept media range matches one of the API's binaryMediaTypes; otherwise the
client receives the base64 text, under whatever Content-Type the function set. So the API answers an
image's bytes only to a request whose first Accept range the gateway converts, and that the image satisfies.
"""

from __future__ import annotations

import re

# The REST API's binaryMediaTypes: images and PDFs. Everything else the API answers is JSON text.
BINARY_MEDIA_TYPES: tuple[str, ...] = ("image/*", "application/pdf")


def first_accept_range(accept: str | None) -> str | None:
    """The first media range of an Accept header, lower-cased, parameters kept; None when there is none."""
    first = (accept or "").split(",", 1)[0].strip().lower()
    return first or None


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.lower().split("*")))


def gateway_converts(accept: str | None, binary_media_types: tuple[str, ...] = BINARY_MEDIA_TYPES) -> bool:
    """Whether API Gateway hands a base64 body to this request's client as bytes: its first Accept range
    matches a binary media type, `*` standing for any characters (`image/*` takes `image/png`, but an Accept
    of `*/*` matches only a binary type of `*/*`).

    The range is matched whole, parameters included: where the developer guide is silent (does
    `application/pdf;q=0.9` match `application/pdf`?), this errs towards the JSON answer, never towards a
    client receiving base64 text."""
    first = first_accept_range(accept)
    return first is not None and any(_wildcard(media).fullmatch(first) for media in binary_media_types)


def answers_bytes(
    accept: str | None, content_type: str, binary_media_types: tuple[str, ...] = BINARY_MEDIA_TYPES
) -> bool:
    """Whether to answer the image itself rather than the job: the gateway will convert the body, and the
    first Accept range names the image's type or `image/*` (a bare `*/*`, curl's default, keeps JSON)."""
    first = first_accept_range(accept)
    if first is None or not gateway_converts(accept, binary_media_types):
        return False
    wanted = first.split(";", 1)[0].strip()
    return wanted == content_type or (wanted == "image/*" and content_type.startswith("image/"))
