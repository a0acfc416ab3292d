"""Download links that hold for as long as they say.

A presigned S3 URL made with a Lambda role's temporary credentials dies with that session, whatever its
X-Amz-Expires claims. So the links in job answers and webhooks point at the API instead:
`<api>/v1/downloads/<tenant>/<jobId>.<ext>?expires=<epoch>&signature=<HMAC>`, signed with the stack's
download-link secret. The API checks the signature and the expiry, then redirects to a presigned URL made
on the spot and used at once (REDIRECT_TTL_SECONDS).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from shotwire_core.errors import DownloadLinkError
from shotwire_core.ids import is_job_id
from shotwire_core.models import Job

DOWNLOADS_PATH = "/v1/downloads"
# The redirect target is fetched right away: five minutes covers a slow client, and no role session
# (Lambda refreshes its credentials long before they expire) ends sooner.
REDIRECT_TTL_SECONDS = 300
# The longest signature we make (43 base64url characters); anything longer is refused unread.
SIGNATURE_LENGTH = 43


def _signature(secret: bytes, image_key: str, expires: int) -> str:
    digest = hmac.new(secret, f"{image_key}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class DownloadLinks:
    """Signs links to images under `base_url` (the API's public URL: scheme, host and stage, no slash at the
    end). `secret` is called only when a link is made, so a request that makes none never reads it."""

    base_url: str
    secret: Callable[[], bytes]
    clock: Callable[[], float] = field(default=time.time)

    def download_url(self, key: str, ttl_seconds: int) -> str:
        expires = int(self.clock()) + ttl_seconds
        signature = _signature(self.secret(), key, expires)
        return f"{self.base_url}{DOWNLOADS_PATH}/{key}?expires={expires}&signature={signature}"


@dataclass(frozen=True)
class LinkedImage:
    tenant_id: str
    job_id: str
    key: str


def verify_link(
    tenant_id: str, file_name: str, expires: str | None, signature: str | None, secret: bytes, now: float
) -> LinkedImage:
    """The image a download link names, if its signature is ours and it has not expired."""
    job_id, dot, extension = file_name.partition(".")
    if not expires or not signature:
        raise DownloadLinkError("link_invalid", "the link lacks its expires or signature parameter")
    if not (dot and extension and is_job_id(job_id)) or not expires.isdigit() or len(signature) > SIGNATURE_LENGTH:
        raise DownloadLinkError("link_invalid", "this is not a download link shotwire made")
    key = f"{tenant_id}/{file_name}"
    if not hmac.compare_digest(_signature(secret, key, int(expires)), signature):
        raise DownloadLinkError("link_invalid", "the link's signature does not match: copy the whole link")
    if int(expires) <= now:
        raise DownloadLinkError(
            "link_expired",
            f"the link expired; GET /v1/screenshots/{job_id} answers with a fresh one while the image is kept",
        )
    return LinkedImage(tenant_id=tenant_id, job_id=job_id, key=key)


class JobReader(Protocol):
    def get(self, tenant_id: str, job_id: str) -> Job | None: ...


def find_image(image: LinkedImage, jobs: JobReader) -> None:
    """The linked image is still kept: its job exists and names it (a deleted job took its image along; an
    expired one goes with its image's retention)."""
    job = jobs.get(image.tenant_id, image.job_id)
    if job is None or job.image_key != image.key:
        raise DownloadLinkError("image_gone", "the image is no longer stored: its job was deleted or expired")
