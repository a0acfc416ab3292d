"""Domain errors. The API maps each to one HTTP status in a single table; logic never sees HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FieldProblem:
    field: str
    rule: str
    message: str


@dataclass
class InvalidRequestError(Exception):
    """The request is well-formed JSON but breaks a rule the model alone cannot check (e.g. SSRF)."""

    problems: list[FieldProblem] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{p.field}: {p.message}" for p in self.problems)


class AuthenticationError(Exception):
    """No usable API key."""


class JobNotFoundError(Exception):
    """No such job for this tenant (another tenant's job is indistinguishable from a missing one)."""


class ConflictError(Exception):
    """The request cannot apply to the resource in its present state (HTTP 409)."""


class RotationConflictError(ConflictError):
    """Another rotation changed the webhook secret while this one was being made."""


class DownloadLinkError(Exception):
    """A download link that cannot be followed: `link_invalid` (not ours, or altered), `link_expired`, or
    `image_gone` (deleted, or past its retention)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class StaleJobError(Exception):
    """A conditional update lost: the job moved on (e.g. it is already terminal)."""


def problem_from_pydantic(error: dict[str, Any], prefix: str = "") -> FieldProblem:
    """One pydantic error as `{field, rule, message}`, the message reading "<field> must ...";
    `prefix` places it inside a larger body (e.g. "items[3].")."""
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
    rule = str(error.get("type", "invalid"))
    if rule == "json_invalid":
        detail = (error.get("ctx") or {}).get("error", "")
        position = next((part for part in error.get("loc", ()) if isinstance(part, int)), None)
        where = f" at character {position}" if position is not None else ""
        return FieldProblem("body", rule, f"body is not valid JSON: {detail}{where}".replace(" at at ", " at "))
    bare = ".".join(loc)
    field = f"{prefix}{bare}".rstrip(".") if prefix else (bare or "body")
    message = str(error.get("msg", "is invalid"))
    if rule == "missing":
        return FieldProblem(field, rule, f"{field} is required")
    if rule == "extra_forbidden":
        return FieldProblem(field, rule, f"{field} is not a known field")
    if rule == "model_attributes_type":
        return FieldProblem(field, rule, f"{field} must be a JSON object")
    if bare and message.startswith(f"{bare} "):  # our own validators already name the field
        return FieldProblem(field, rule, field + message[len(bare) :])
    message = message.removeprefix("Input should be ").removeprefix("Value error, ")
    return FieldProblem(field, rule, f"{field} must be {message}")
