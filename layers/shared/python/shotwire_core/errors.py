"""Domain errors. The API maps each to one HTTP status in a single table; logic never sees HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field


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


class StaleJobError(Exception):
    """A conditional update lost: the job moved on (e.g. it is already terminal)."""
