"""The limits of the API contract: what a request may ask for, stated once for the server and the SDK."""

from __future__ import annotations

# A viewport side in CSS px; the pixel budget (MAX_IMAGE_PIXELS) bounds what a viewport may cost.
MAX_VIEWPORT = 10_000
MAX_URL_LENGTH = 2048
# A request body's largest size in bytes (inside API Gateway's and Lambda's own limits).
MAX_BODY_BYTES = 256 * 1024
# Chromium cannot paint a single capture taller than this (its largest texture); deeper pages are cut.
MAX_CAPTURE_HEIGHT = 16384
# The most device pixels (width x height x deviceScaleFactor², in device px) an image may have. The capture
# opens every image with Pillow (its size, and the png → webp conversion), and Pillow's Image.open raises
# DecompressionBombError above 2 x PIL.Image.MAX_IMAGE_PIXELS (default 89,478,485), so a larger capture
# always fails, after three renders, as internal_error. At a pixel ratio of 1 no capture reaches it
# (10000 x 16384 at most); a larger ratio can.
MAX_IMAGE_PIXELS = 2 * 89_478_485
DEFAULT_WIDTH, DEFAULT_HEIGHT = 1280, 800
DEFAULT_QUALITY = 80
MAX_SCRIPT_CHARS = 50_000
MAX_METADATA_BYTES = 2048
# DynamoDB refuses documents nested deeper than 32 levels; leave room for the job around it.
MAX_METADATA_DEPTH = 16
MAX_EXTERNAL_ID_CHARS = 128
# The longest capture a request may ask for (timeoutMs); the capture function's own timeout is planned around it.
MAX_TIMEOUT_MS = 120_000
MAX_BATCH_ITEMS = 1000
# The longest synchronous wait `POST /v1/screenshots?wait=N` takes: inside API Gateway's 29 s integration
# timeout with room to answer.
MAX_WAIT_SECONDS = 25
# A rotation may keep the old webhook secret signing for at most a week.
MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 3600
CONTENT_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "pdf": "application/pdf",
}
FILE_EXTENSIONS: dict[str, str] = {"png": "png", "jpeg": "jpg", "webp": "webp", "pdf": "pdf"}
# Headers the browser owns: setting them would break requests or smuggle a different target.
FORBIDDEN_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "transfer-encoding",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "cookie",
    }
)
# Chromium's limit on a cookie's name and value together, in bytes: a larger cookie is refused.
MAX_COOKIE_BYTES = 4096
