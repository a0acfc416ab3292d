"""What the API answers about a job when asked: its view (with its deliveries), its capture-face view, its
deliveries, and the result of a synchronous wait (the image itself, a redirect to it, or the job). The API
handler only parses the request and shapes these into HTTP; the choices are made here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shotwire_contract.answers import CaptureAnswer, DeliveriesAnswer, JobAnswer
from shotwire_core.binary_media import answers_bytes
from shotwire_core.errors import JobNotFoundError
from shotwire_core.jobs import JobReader, LinkSigner, capture_view, delivery_view, get_job, job_id_of_capture, job_view
from shotwire_core.links import REDIRECT_TTL_SECONDS
from shotwire_core.models import CONTENT_TYPES, DeliveryHistory, Job, JobStatus

# A Lambda response carries at most 6 MB, and base64 adds a third: larger images are answered with a 303.
MAX_INLINE_IMAGE_BYTES = 4 * 1024 * 1024


class JobHistory(JobReader, Protocol):
    def deliveries(self, tenant_id: str, subject_id: str) -> DeliveryHistory: ...


class ImageReader(Protocol):
    def get_if_smaller(self, key: str, max_bytes: int) -> bytes | None: ...
    def download_url(self, key: str, ttl_seconds: int) -> str: ...


@dataclass(frozen=True)
class ImageBytes:
    """The finished job's image, answered as the body."""

    data: bytes
    content_type: str


@dataclass(frozen=True)
class ImageElsewhere:
    """The image is too large for a Lambda response: a short-lived link to it, followed at once (303)."""

    location: str


def read_job(tenant_id: str, job_id: str, *, jobs: JobHistory, links: LinkSigner, ttl_seconds: int) -> JobAnswer:
    """`GET /v1/screenshots/{id}`: the job, its webhook with the current delivery's attempts."""
    return _job_answer(get_job(tenant_id, job_id, jobs), jobs, links, ttl_seconds)


def read_deliveries(tenant_id: str, job_id: str, *, jobs: JobHistory) -> DeliveriesAnswer:
    """`GET /v1/screenshots/{id}/deliveries`."""
    job = get_job(tenant_id, job_id, jobs)
    return delivery_view(job, jobs.deliveries(tenant_id, job.job_id))


def read_capture(
    tenant_id: str, capture: str, *, jobs: JobReader, links: LinkSigner, ttl_seconds: int
) -> CaptureAnswer:
    """`GET /v1/capture/{id}`: not found names the capture id the caller asked for."""
    try:
        job = get_job(tenant_id, job_id_of_capture(capture), jobs)
    except JobNotFoundError as error:
        raise JobNotFoundError(capture[:64]) from error
    link = None
    if job.image_key and job.status is JobStatus.COMPLETED:
        link = links.download_url(job.image_key, ttl_seconds)
    return capture_view(job, link)


def finished_result(
    job: Job,
    accept: str | None,
    *,
    jobs: JobHistory,
    images: ImageReader,
    links: LinkSigner,
    ttl_seconds: int,
) -> ImageBytes | ImageElsewhere | JobAnswer:
    """A job that finished within a synchronous wait: the image itself when the caller's first Accept type asks
    for it (or a redirect when it is too large to answer), else the job."""
    content_type = CONTENT_TYPES[job.options.format]
    if job.image_key and answers_bytes(accept, content_type):
        data = images.get_if_smaller(job.image_key, MAX_INLINE_IMAGE_BYTES)
        if data is None:  # a presigned URL, with no detour through the download route
            return ImageElsewhere(images.download_url(job.image_key, REDIRECT_TTL_SECONDS))
        return ImageBytes(data, content_type)
    return _job_answer(job, jobs, links, ttl_seconds)


def _job_answer(job: Job, jobs: JobHistory, links: LinkSigner, ttl_seconds: int) -> JobAnswer:
    """The job's view with its webhook's current attempts (read only when it has a webhook)."""
    return job_view(job, links, ttl_seconds, jobs.deliveries(job.tenant_id, job.job_id) if job.webhook_url else [])
