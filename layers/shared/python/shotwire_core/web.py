"""The HTTP edge of the API: one error envelope, API-key auth before validation, JSON-only bodies.

Powertools runs its request-validation middleware before any user middleware. Authentication must come
first (an anonymous caller learns nothing from a 422), so the edge extends that middleware instead.
"""

from __future__ import annotations

import binascii
import json
import math
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from shotwire_contract.limits import MAX_BODY_BYTES
from shotwire_core.errors import (
    AuthenticationError,
    ConflictError,
    DownloadLinkError,
    FieldProblem,
    InvalidRequestError,
    JobNotFoundError,
    problem_from_pydantic,
)
from shotwire_core.limits import RateLimitedError
from shotwire_core.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

TENANT_CONTEXT_KEY = "tenant_id"
# The largest request body the API reads; a batch of 1,000 full option objects fits well inside it.


class ProblemModel(BaseModel):
    field: str
    rule: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable: unauthorized, validation_error, not_found, rate_limited, ...")
    message: str
    details: list[ProblemModel] | None = Field(default=None, description="One entry per field that broke a rule.")


class ErrorEnvelope(BaseModel):
    """Every error the API answers, whatever the status."""

    error: ErrorBody


_ERROR_DESCRIPTIONS = {
    400: "The request could not be read: a malformed header, Content-Length or body (the gateway answers it)",
    401: "Missing, invalid or revoked API key",
    403: "Forbidden",
    404: "No such resource for this API key (another tenant's ids look exactly like missing ones)",
    409: "Conflicts with the resource's state, or an Idempotency-Key whose first request is still running",
    413: f"Request body over {MAX_BODY_BYTES} bytes",
    415: "Content-Type is not application/json",
    422: "A field breaks a rule: details names each field and rule",
    429: "Over the tenant's request rate (rate_limited) or monthly quota (quota_exceeded); see Retry-After",
    500: "Internal error; safe to retry (with the same Idempotency-Key for POSTs that create)",
}


def answers(success: dict[int, tuple[str, Any]], *errors: int) -> dict[int, Any]:
    """OpenAPI responses of a route: its successes {status: (description, model or None for no body)} and
    its error statuses, plus the errors every route can answer (400 from the gateway; 401, 429, 500)."""
    documented: dict[int, Any] = {}
    for status, (description, model) in success.items():
        documented[status] = {"description": description}
        if model is not None:
            documented[status]["content"] = {"application/json": {"model": model}}
    for status in sorted({400, 401, 429, 500} | set(errors)):
        documented[status] = {
            "description": _ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"model": ErrorEnvelope}},
        }
    return documented


class UnsupportedMediaTypeError(Exception):
    """The body is not declared as JSON."""


class PayloadTooLargeError(Exception):
    """The body is larger than MAX_BODY_BYTES."""


def error_response(
    status: HTTPStatus,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return Response(
        status_code=status.value, content_type=content_types.APPLICATION_JSON, body={"error": error}, headers=headers
    )


def bearer_key(headers: dict[str, str]) -> str | None:
    """The API key from `Authorization: Bearer <key>` (or `x-api-key`, API Gateway's habit)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    authorization = lowered.get("authorization", "").strip()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return lowered.get("x-api-key", "").strip() or None


def _validation_response(problems: list[FieldProblem]) -> Response:
    details = [{"field": p.field, "rule": p.rule, "message": p.message} for p in problems]
    summary = "; ".join(p.message for p in problems)
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error", f"invalid request: {summary}", details)


class EdgeMiddleware(OpenAPIRequestValidationMiddleware):
    """Authenticate, insist on JSON bodies, then let Powertools validate against the route's models."""

    def __init__(
        self,
        authenticate: Callable[[str | None], str],
        public_paths: Iterable[str],
        optional_body_paths: Iterable[str] = (),
        admit: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self._authenticate = authenticate
        self._admit = admit
        self._public_paths = frozenset(public_paths)
        self._optional_body_paths = frozenset(optional_body_paths)

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Response:
        route = app.context["_route"]
        if route.path not in self._public_paths:
            tenant_id = self._authenticate(bearer_key(dict(app.current_event.headers or {})))
            app.append_context(**{TENANT_CONTEXT_KEY: tenant_id})
            if self._admit is not None:
                self._admit(tenant_id)  # the tenant's request rate, before any work
        return super().handler(app, next_middleware)

    def _get_body(self, app: Any) -> dict[str, Any]:
        content_type = ((app.current_event.headers or {}).get("content-type", "") or "").strip()
        media_type = content_type.split(";", 1)[0].strip().lower()  # media types are case-insensitive
        # A missing Content-Type is read as JSON (API Gateway's console sends none); any other type is refused,
        # including form encoding, which Powertools would otherwise parse into the model, and a header that
        # names no media type at all (";;;==").
        if content_type and media_type != "application/json":
            raise UnsupportedMediaTypeError(content_type)
        raw = app.current_event.body or ""
        # surrogatepass: a lone surrogate in the event's text is measured here and refused by read_json_body.
        size = (
            len(raw.encode("utf-8", "surrogatepass")) if not app.current_event.is_base64_encoded else len(raw) * 3 // 4
        )
        if size > MAX_BODY_BYTES:
            raise PayloadTooLargeError(size)
        try:
            text = app.current_event.decoded_body or ""
        except (UnicodeDecodeError, binascii.Error) as error:  # bytes that are not UTF-8 cannot be JSON
            raise _body_problem("json_invalid", "not UTF-8", error="not UTF-8 text") from error
        if not text.strip():
            if app.context["_route"].path in self._optional_body_paths:
                return {}  # every field of such a route's body has a default
            raise RequestValidationError(
                [{"type": "missing", "loc": ("body",), "msg": "request body is required", "input": None}]
            )
        return read_json_body(text)


# Deeper than any request the models accept (metadata nests at most 16 levels, itself inside a batch item):
# a deeper body is refused before anything recursive (pydantic, the encoders, the AWS SDK) walks it.
MAX_BODY_DEPTH = 32


def _body_problem(rule: str, message: str, loc: tuple[str | int, ...] = (), **ctx: str) -> RequestValidationError:
    return RequestValidationError([{"type": rule, "loc": ("body", *loc), "msg": message, "ctx": ctx}])


def read_json_body(text: str) -> dict[str, Any]:
    """A request body as the JSON object it must be, or a RequestValidationError naming the field and rule.

    json.loads alone lets through what the layers behind the edge cannot take: an integer too long for int()
    (ValueError), nesting deep enough to exhaust the stack (RecursionError), lone surrogates (text no UTF-8
    encoder can write, which failed as late as the job's storage), and any JSON value besides an object
    (Powertools' validation would read the first item of an array as the body)."""
    try:
        body = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise _body_problem("json_invalid", "JSON decode error", (error.pos,), error=error.msg) from error
    except _NotJsonError as error:  # json.loads reads NaN and Infinity, which JSON has no place for
        raise _body_problem("json_invalid", "JSON decode error", error=str(error)) from error
    except ValueError as error:  # an integer longer than int() reads (sys.get_int_max_str_digits)
        raise _body_problem(
            "json_invalid", "JSON decode error", error=f"an integer has more than {sys.get_int_max_str_digits()} digits"
        ) from error
    except RecursionError as error:
        raise _body_problem("too_deep", f"nested at most {MAX_BODY_DEPTH} levels deep") from error
    if not isinstance(body, dict):
        raise _body_problem("model_attributes_type", "a JSON object")
    _check_tree(body)
    return body


class _NotJsonError(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJsonError(f"{name} is not a JSON number")


def _check_tree(body: dict[str, Any]) -> None:
    """Walk the parsed body (without recursion): no deeper than MAX_BODY_DEPTH, every number finite, every string
    and key encodable."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(body, ())]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            if not _is_unicode(value):
                raise _body_problem("invalid_unicode", _UNICODE_MESSAGE, path)
            continue
        if isinstance(value, float) and not math.isfinite(value):  # 1e999 reads as inf, which JSON cannot write
            raise _body_problem("json_invalid", "JSON decode error", error="a number is out of a double's range")
        if not isinstance(value, dict | list):
            continue
        if len(path) >= MAX_BODY_DEPTH:
            raise _body_problem("too_deep", f"nested at most {MAX_BODY_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                if not _is_unicode(key):  # a key names no field the caller could fix: name its object
                    raise _body_problem("invalid_unicode", _UNICODE_MESSAGE, path)
                pending.append((item, (*path, key)))
        else:
            pending.extend((item, (*path, index)) for index, item in enumerate(value))


_UNICODE_MESSAGE = "valid Unicode text (it holds a lone surrogate, half of a UTF-16 pair)"


def _is_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ApiResolver(APIGatewayRestResolver):
    """Powertools' REST resolver, with Swagger UI set up by the first request for it rather than at import.

    enable_swagger imports Powertools' OpenAPI models, pydantic classes that take about 70 ms to build: a
    fifth of the API's cold import, which every cold start paid for a page that few requests ask for."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lazy_swagger: tuple[str, Callable[[], dict[str, Any]]] | None = None
        self._lazy_swagger_lock = threading.Lock()  # the local stack may resolve requests side by side

    def enable_swagger_on_first_request(self, *, path: str, settings: Callable[[], dict[str, Any]]) -> None:
        """`enable_swagger(path=path, **settings())`, done just before the first request for `path` is resolved."""
        self._lazy_swagger = (path, settings)

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        lazy = self._lazy_swagger
        if lazy is not None and str(event.get("path") or "").rstrip("/") == lazy[0]:
            with self._lazy_swagger_lock:
                if self._lazy_swagger is not None:
                    self.enable_swagger(path=lazy[0], **lazy[1]())
                    self._lazy_swagger = None
        return super().resolve(event, context)


def install_edge(
    app: APIGatewayRestResolver,
    authenticate: Callable[[str | None], str],
    public_paths: Iterable[str],
    optional_body_paths: Iterable[str] = (),
    admit: Callable[[str], None] | None = None,
) -> None:
    """Wire auth, rate limits, content negotiation and the error table into a resolver created with
    validation on."""
    # Powertools keeps its request-validation middleware here; replacing it keeps its position (first).
    app._request_validation_middleware = EdgeMiddleware(authenticate, public_paths, optional_body_paths, admit)

    @app.exception_handler(RateLimitedError)
    def _limited(error: RateLimitedError) -> Response:
        return error_response(
            HTTPStatus.TOO_MANY_REQUESTS,
            error.code,
            str(error),
            headers={"Retry-After": str(error.retry_after_seconds)},
        )

    @app.exception_handler(AuthenticationError)
    def _unauthorized(error: AuthenticationError) -> Response:
        return error_response(
            HTTPStatus.UNAUTHORIZED, "unauthorized", str(error), headers={"WWW-Authenticate": 'Bearer realm="shotwire"'}
        )

    @app.exception_handler(UnsupportedMediaTypeError)
    def _unsupported(error: UnsupportedMediaTypeError) -> Response:
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            f"Content-Type must be application/json, got {str(error)!r}",
            [
                {
                    "field": "Content-Type",
                    "rule": "application_json",
                    "message": "the body must be sent as application/json",
                }
            ],
        )

    @app.exception_handler(PayloadTooLargeError)
    def _too_large(error: PayloadTooLargeError) -> Response:
        return error_response(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "payload_too_large",
            f"the request body is {error} bytes; at most {MAX_BODY_BYTES} are accepted",
            [{"field": "body", "rule": "max_bytes", "message": f"body must be at most {MAX_BODY_BYTES} bytes"}],
        )

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        return _validation_response([problem_from_pydantic(dict(e)) for e in error.errors()])

    @app.exception_handler(InvalidRequestError)
    def _rejected(error: InvalidRequestError) -> Response:
        return _validation_response(error.problems)

    @app.exception_handler(ConflictError)
    def _conflict(error: ConflictError) -> Response:
        return error_response(HTTPStatus.CONFLICT, "conflict", str(error))

    @app.exception_handler(JobNotFoundError)
    def _missing_job(error: JobNotFoundError) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, "not_found", f"no job {error} for this API key")

    @app.exception_handler(DownloadLinkError)
    def _unusable_link(error: DownloadLinkError) -> Response:
        status = HTTPStatus.NOT_FOUND if error.code == "image_gone" else HTTPStatus.FORBIDDEN
        return error_response(status, error.code, str(error), headers={"Cache-Control": "no-store"})

    @app.not_found
    def _no_route(error: NotFoundError) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "no such endpoint")

    @app.exception_handler(Exception)
    def _internal(error: Exception) -> Response:
        # Never leak a stack trace; the log has it, keyed by the request's correlation id.
        logger.exception("unhandled error")
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "internal error; please retry")


def tenant_of(app: APIGatewayRestResolver) -> str:
    return str(app.context[TENANT_CONTEXT_KEY])


def public_base_url(event: Any) -> str:
    """The API's URL as this request reached it: scheme, host and whatever comes before the route (the stage on
    an execute-api address, a base path on a custom domain), so links made from it lead back here."""
    headers = event.headers or {}
    host = headers.get("Host") or event.request_context.domain_name
    scheme = (headers.get("X-Forwarded-Proto") or "https").split(",")[0].strip()
    route = event.path or "/"
    reached = event.request_context.path or route
    prefix = reached[: -len(route)] if reached.endswith(route) else ""
    return f"{scheme}://{host}{prefix.rstrip('/')}"
