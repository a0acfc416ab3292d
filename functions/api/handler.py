"""API Lambda: submit screenshot jobs and read them back (API Gateway REST, proxy integration)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shotwire_contract.answers import (
    AcceptedBatch,
    AcceptedCapture,
    AcceptedJob,
    Answer,
    BatchAnswer,
    CaptureAnswer,
    DeliveriesAnswer,
    EgressIps,
    Health,
    JobAnswer,
    JobPage,
    RedeliveryStarted,
    SecretRotated,
    WebhookTestAnswer,
)
from shotwire_core import answering, batches
from shotwire_core.answering import ImageBytes, ImageElsewhere, finished_result
from shotwire_core.batches import submit_batch
from shotwire_core.held_calls import held_call
from shotwire_core.idempotency import HEADER as IDEMPOTENCY_HEADER
from shotwire_core.idempotency import run_once
from shotwire_core.jobs import (
    MAX_WAIT_SECONDS,
    authenticate,
    capture_id,
    check_webhook_url,
    delete_job,
    get_job,
    list_jobs,
    requested_wait,
    submit_screenshot,
    wait_for_job,
)
from shotwire_core.limits import captures_reserved, check_rate
from shotwire_core.links import DOWNLOADS_PATH, REDIRECT_TTL_SECONDS, DownloadLinks, find_image, verify_link
from shotwire_core.models import (
    BatchRequest,
    CaptureRequest,
    JobStatus,
    ScreenshotRequest,
    SecretRotationRequest,
    TenantLimits,
    WebhookTestRequest,
)
from shotwire_core.observability import logger, metrics, tracer
from shotwire_core.services import get_services
from shotwire_core.settings import ApiSettings, settings_as
from shotwire_core.signing import signature_headers
from shotwire_core.web import ApiResolver, answers, install_edge, public_base_url, tenant_of
from shotwire_core.webhook_admin import redeliver, rotate_webhook_secret, send_test_event

# Time kept back from the function's deadline to shape the answer after a synchronous wait.
ANSWER_MARGIN_SECONDS = 2

app = ApiResolver(enable_validation=True)
LIMITS_CONTEXT_KEY = "tenant_limits"


def admit(tenant_id: str) -> None:
    """The tenant's request rate; its limits are read once and kept for the quota of this request."""
    tenant = get_services().keys.get_tenant(tenant_id)
    limits = tenant.limits if tenant is not None else TenantLimits()
    app.append_context(**{LIMITS_CONTEXT_KEY: limits})
    check_rate(tenant_id, limits, get_services().keys)


def quota(count: int) -> AbstractContextManager[None]:
    """Count `count` new captures against the caller's monthly quota (given back if the request fails)."""
    return captures_reserved(tenant_of(app), count, app.context[LIMITS_CONTEXT_KEY], get_services().keys)


install_edge(
    app,
    authenticate=lambda key: authenticate(key, get_services().keys),
    # Download links carry their own signature: whoever holds one may fetch the image until it expires.
    public_paths=["/health", "/docs", "/openapi.json", "/v1/meta/egress-ips", f"{DOWNLOADS_PATH}/<tenant>/<file_name>"],
    optional_body_paths=["/v1/webhooks/secret/rotate"],
    admit=admit,
)


def links() -> DownloadLinks:
    """Download links that lead back to the API the way this request reached it."""
    return get_services().download_links(public_base_url(app.current_event))


def accepted(body: Answer, location: str) -> Response[Any]:
    """202: the work is queued; `location` is where to watch it."""
    return Response(
        status_code=HTTPStatus.ACCEPTED.value,
        content_type=content_types.APPLICATION_JSON,
        body=body.to_json(),
        headers={"Location": location},
    )


def once_per_idempotency_key(endpoint: str, create: Callable[[], Response[Any]]) -> Response[Any]:
    """Run a creating route at most once per Idempotency-Key (when the caller sent one)."""
    event = app.current_event
    key = (event.headers or {}).get(IDEMPOTENCY_HEADER)  # Powertools' headers are case-insensitive
    if key is None:
        return create()

    def stored() -> dict[str, Any]:
        response = create()
        return {"statusCode": response.status_code, "body": response.body, "headers": response.headers}

    first, replayed = run_once(
        get_services().idempotency_store,
        tenant_id=tenant_of(app),
        endpoint=endpoint,
        key=key,
        body=(event.decoded_body or "").encode("utf-8"),
        create=stored,
        lambda_context=app.lambda_context,  # a crashed request's record expires with the invocation
    )
    headers = {**first["headers"], **({"Idempotent-Replayed": "true"} if replayed else {})}
    return Response(
        status_code=first["statusCode"],
        content_type=content_types.APPLICATION_JSON,
        body=first["body"],
        headers=headers,
    )


CREATE_SCREENSHOT_ANSWERS = answers(
    {
        202: ("Queued", AcceptedJob),
        200: ("Finished within ?wait / Prefer: wait (Accept: image/* first: the image itself)", JobAnswer),
        303: ("Finished within the wait, image over 4 MB: Location is its download link", None),
    },
    409,
    413,
    415,
    422,
)
CREATE_SCREENSHOT_ANSWERS[200]["content"]["image/*"] = {"schema": {"type": "string", "format": "binary"}}


def openapi_settings() -> dict[str, Any]:
    """The OpenAPI document's title and security schemes; Powertools' OpenAPI models (slow to import) are
    loaded only when /docs or /openapi.json is asked for."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

    return {
        "title": "shotwire",
        "version": "1",
        "description": "Asynchronous screenshots: submit a URL, get a job id at once, receive a signed webhook "
        "when the capture is done. Authenticate with `Authorization: Bearer <key>` or `x-api-key: <key>`.",
        "security_schemes": {
            "bearer": HTTPBearer(description="Authorization: Bearer <API key>"),
            "apiKey": APIKey(name="x-api-key", in_=APIKeyIn.header, description="The API key in x-api-key"),
        },
        "security": [{"bearer": []}, {"apiKey": []}],
    }


app.enable_swagger_on_first_request(path="/docs", settings=openapi_settings)


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    """The OpenAPI document, generated from the models that validate requests."""
    document = app.get_openapi_json_schema(**openapi_settings())
    return Response(status_code=HTTPStatus.OK.value, content_type=content_types.APPLICATION_JSON, body=document)


@app.get("/health", tags=["service"], responses=answers({200: ("Up", Health)}))
def health() -> dict[str, Any]:
    return Health(status="ok").to_json()


# The addresses change only when the stack's egress setup does: caches may keep them an hour.
EGRESS_IPS_CACHE_CONTROL = "public, max-age=3600"


@app.get(
    "/v1/meta/egress-ips",
    tags=["service"],
    summary="The IP addresses webhooks come from",
    responses=answers({200: ("The egress addresses", EgressIps)}),
)
def egress_ips() -> Response[dict[str, Any]]:
    """Public. With static egress deployed, every webhook is sent from one of `egressIps`: allow-list them on
    the receiver. `static` false (and no addresses): webhooks come from AWS addresses that change."""
    ips = list(settings_as(ApiSettings).egress_ips)
    return Response(
        status_code=HTTPStatus.OK.value,
        content_type=content_types.APPLICATION_JSON,
        body=EgressIps(egress_ips=ips, static=bool(ips)).to_json(),
        headers={"Cache-Control": EGRESS_IPS_CACHE_CONTROL},
    )


@app.post("/v1/screenshots", tags=["screenshots"], responses=CREATE_SCREENSHOT_ANSWERS)
@app.post("/v1/screenshot", include_in_schema=False)  # the singular spelling, same route
def create_screenshot(
    request: Annotated[ScreenshotRequest, Body()],
    wait: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Seconds (0-25) to wait for the result: 200 with the finished job (or, when the first "
            "Accept type is image/* or the image's type, the image itself) if it finishes in time, else 202. "
            "Prefer: wait=N does the same.",
        ),
    ] = None,
):  # unannotated on purpose: Powertools would serialize image bytes as JSON text
    accepted = once_per_idempotency_key("screenshots.create", lambda: _accept_screenshot(request))
    seconds, preferred = requested_wait(wait, (app.current_event.headers or {}).get("Prefer"))
    if seconds <= 0 or accepted.status_code != HTTPStatus.ACCEPTED.value:
        return accepted
    return _finished_or_accepted(accepted, seconds, preferred)


def _finished_or_accepted(accepted: Response[Any], seconds: int, preferred: bool) -> Response[Any]:
    """A synchronous answer: watch the job (the capture runs where it always runs) for up to `seconds`."""
    services = get_services()
    job_id = str(accepted.body["jobId"])  # type: ignore[index]
    budget = app.lambda_context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_SECONDS
    with held_call(tenant_of(app), services.hosts) as may_wait:
        if not may_wait:  # the tenant's other held calls use its share: answer at once, as without a wait
            return accepted
        job = wait_for_job(tenant_of(app), job_id, services.jobs, min(seconds, budget))
    applied = {"Preference-Applied": f"wait={seconds}"} if preferred else {}
    if not job.status.is_terminal:
        accepted.headers.update(applied)
        return accepted
    headers = {"Location": f"/v1/screenshots/{job_id}", **applied}
    result = finished_result(
        job,
        (app.current_event.headers or {}).get("Accept"),
        jobs=services.jobs,
        images=services.images,
        links=links(),
        ttl_seconds=services.settings_as(ApiSettings).download_url_ttl_seconds,
    )
    if isinstance(result, ImageElsewhere):
        return Response(
            status_code=HTTPStatus.SEE_OTHER.value, body=None, headers={**headers, "Location": result.location}
        )
    if isinstance(result, ImageBytes):
        return Response(
            status_code=HTTPStatus.OK.value,
            content_type=result.content_type,
            body=result.data,
            headers={**headers, "X-Job-Id": job_id},
        )
    return Response(
        status_code=HTTPStatus.OK.value,
        content_type=content_types.APPLICATION_JSON,
        body=result.to_json(),
        headers=headers,
    )


def _accept_screenshot(request: ScreenshotRequest) -> Response[Any]:
    services = get_services()
    with quota(1):
        job = submit_screenshot(
            tenant_of(app),
            request,
            jobs=services.jobs,
            capture_queue=services.capture_queue,
            rules=services.submission_rules,
        )
    logger.set_correlation_id(job.job_id)  # from here on, this request's lines carry the job's id
    body = AcceptedJob(job_id=job.job_id, status=job.status, created_at=job.created_at)
    return accepted(body, f"/v1/screenshots/{job.job_id}")


@app.post("/v1/capture", tags=["capture"], responses=answers({202: ("Queued", AcceptedCapture)}, 409, 413, 415, 422))
def create_capture(request: Annotated[CaptureRequest, Body()]) -> Response[Any]:
    """The capture-style face: same jobs, queue and capture function; its own request and webhook shapes."""
    return once_per_idempotency_key("capture.create", lambda: _accept_capture(request))


def _accept_capture(request: CaptureRequest) -> Response[Any]:
    services = get_services()
    with quota(1):
        job = submit_screenshot(
            tenant_of(app),
            request.as_screenshot_request(),
            jobs=services.jobs,
            capture_queue=services.capture_queue,
            rules=services.submission_rules,
            face="capture",
        )
    logger.set_correlation_id(job.job_id)
    return accepted(
        AcceptedCapture(status="accepted", capture_id=capture_id(job.job_id)), f"/v1/capture/{capture_id(job.job_id)}"
    )


@app.get("/v1/capture/<capture>", tags=["capture"], responses=answers({200: ("The capture", CaptureAnswer)}, 404))
def read_capture(capture: str) -> dict[str, Any]:
    services = get_services()
    ttl = services.settings_as(ApiSettings).download_url_ttl_seconds
    return answering.read_capture(tenant_of(app), capture, jobs=services.jobs, links=links(), ttl_seconds=ttl).to_json()


@app.post("/v1/batches", tags=["batches"], responses=answers({202: ("Queued", AcceptedBatch)}, 409, 413, 415, 422))
def create_batch(request: Annotated[BatchRequest, Body()]) -> Response[Any]:
    return once_per_idempotency_key("batches.create", lambda: _accept_batch(request))


def _accept_batch(request: BatchRequest) -> Response[Any]:
    services = get_services()
    with quota(len(request.items)):
        record, members = submit_batch(
            tenant_of(app),
            request,
            jobs=services.jobs,
            capture_queue=services.capture_queue,
            rules=services.submission_rules,
        )
    body = AcceptedBatch(batch_id=record.batch_id, status="processing", job_ids=[job.job_id for job in members])
    return accepted(body, f"/v1/batches/{record.batch_id}")


@app.get("/v1/batches/<batch_id>", tags=["batches"], responses=answers({200: ("The batch", BatchAnswer)}, 404))
def read_batch(batch_id: str) -> dict[str, Any]:
    return batches.read_batch(tenant_of(app), batch_id, jobs=get_services().jobs).to_json()


@app.get("/v1/screenshots", tags=["screenshots"], responses=answers({200: ("A page of jobs", JobPage)}, 422))
def list_screenshots(
    status: Annotated[JobStatus | None, Query(description="Only jobs in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Jobs per page, 1-100.")] = 20,
    cursor: Annotated[str | None, Query(max_length=200, description="nextCursor of the previous page.")] = None,
) -> dict[str, Any]:
    services = get_services()
    return list_jobs(
        tenant_of(app),
        jobs=services.jobs,
        links=links(),
        ttl_seconds=services.settings_as(ApiSettings).download_url_ttl_seconds,
        limit=limit,
        cursor=cursor,
        status=status,
    ).to_json()


@app.delete("/v1/screenshots/<job_id>", tags=["screenshots"], responses=answers({204: ("Deleted", None)}, 404, 409))
def delete_screenshot(job_id: str) -> Response[None]:
    services = get_services()
    delete_job(tenant_of(app), job_id, jobs=services.jobs, images=services.images)
    return Response(status_code=HTTPStatus.NO_CONTENT.value, body=None)


@app.get("/v1/screenshots/<job_id>", tags=["screenshots"], responses=answers({200: ("The job", JobAnswer)}, 404))
def read_screenshot(job_id: str) -> dict[str, Any]:
    services = get_services()
    ttl = services.settings_as(ApiSettings).download_url_ttl_seconds
    return answering.read_job(tenant_of(app), job_id, jobs=services.jobs, links=links(), ttl_seconds=ttl).to_json()


@app.get(
    f"{DOWNLOADS_PATH}/<tenant>/<file_name>",
    tags=["screenshots"],
    summary="Follow a download link",
    responses={
        302: {"description": "Location: a presigned storage URL, valid for 5 minutes"},
        **{
            status: answer
            for status, answer in answers({}, 403, 404, 422).items()
            if status not in (401, 429)  # no API key is asked for, and no tenant's rate applies
        },
    },
)
def download_image(
    tenant: str,
    file_name: str,
    expires: Annotated[str | None, Query(max_length=20, description="When the link expires (Unix seconds).")] = None,
    signature: Annotated[str | None, Query(max_length=100, description="The link's signature.")] = None,
) -> Response[None]:
    """The `screenshotUrl` of a job or webhook: public (the link is its own credential) until `expires`.
    Redirects to the image in storage; 403 `link_expired` or `link_invalid`, 404 `image_gone`."""
    services = get_services()
    image = verify_link(tenant, file_name, expires, signature, services.link_secret(), time.time())
    find_image(image, services.jobs)
    location = services.images.download_url(image.key, REDIRECT_TTL_SECONDS)
    return Response(
        status_code=HTTPStatus.FOUND.value, body=None, headers={"Location": location, "Cache-Control": "no-store"}
    )


@app.get(
    "/v1/screenshots/<job_id>/deliveries",
    tags=["webhooks"],
    responses=answers({200: ("Every delivery and attempt", DeliveriesAnswer)}, 404),
)
def read_deliveries(job_id: str) -> dict[str, Any]:
    return answering.read_deliveries(tenant_of(app), job_id, jobs=get_services().jobs).to_json()


@app.post(
    "/v1/screenshots/<job_id>/redeliver",
    tags=["webhooks"],
    responses=answers({202: ("A new delivery started", RedeliveryStarted)}, 404, 409),
)
def redeliver_webhook(job_id: str) -> Response[Any]:
    return once_per_idempotency_key(f"screenshots.redeliver {job_id}", lambda: _start_redelivery(job_id))


def _start_redelivery(job_id: str) -> Response[Any]:
    services = get_services()
    job = get_job(tenant_of(app), job_id, services.jobs)
    started = redeliver(job, jobs=services.jobs, retry_queue=services.webhook_retry_queue)
    return Response(
        status_code=HTTPStatus.ACCEPTED.value,
        content_type=content_types.APPLICATION_JSON,
        body=started.to_json(),
        headers={"Location": f"/v1/screenshots/{job_id}/deliveries"},
    )


@app.post(
    "/v1/webhooks/test",
    tags=["webhooks"],
    responses=answers({200: ("What the receiver answered", WebhookTestAnswer)}, 413, 415, 422),
)
def test_webhook(request: Annotated[WebhookTestRequest, Body()]) -> dict[str, Any]:
    services = get_services()
    settings = services.settings
    check_webhook_url(request.url, "url", settings.allow_private_networks, settings.allowed_hosts)
    return send_test_event(
        tenant_of(app),
        request.url,
        tenants=services.keys,
        holds=services.hosts,
        send=services.send_webhook,
        sign=signature_headers,
    ).to_json()


@app.post(
    "/v1/webhooks/secret/rotate",
    tags=["webhooks"],
    responses=answers({200: ("The new secret (shown once)", SecretRotated)}, 409, 413, 415, 422),
)
def rotate_secret(request: Annotated[SecretRotationRequest, Body()] = SecretRotationRequest()) -> dict[str, Any]:  # noqa: B008
    services = get_services()
    overlap = request.overlap_seconds
    if overlap is None:
        overlap = services.settings_as(ApiSettings).webhook_secret_overlap_seconds
    return rotate_webhook_secret(
        tenant_of(app),
        tenants=services.keys,
        overlap_seconds=overlap,
    ).to_json()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
