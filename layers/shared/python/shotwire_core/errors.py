"""Domain errors. The API maps each to one HTTP status in a single table; logic never sees HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field

# Re-exported: the service raises and reports them as its own.
from shotwire_contract.problems import FieldProblem as FieldProblem
from shotwire_contract.problems import problem_from_pydantic as problem_from_pydantic


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
