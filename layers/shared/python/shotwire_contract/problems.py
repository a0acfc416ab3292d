"""A broken rule as the API reports it: `{field, rule, message}`, the message naming the field.

The server's 422s and the SDK's checks before sending both word pydantic's errors with this.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

_SNAKE = re.compile(r"_([a-z])")


@dataclass
class FieldProblem:
    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


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
    # Our own validators already name the field, as the API spells it (a caller of the SDK may have used the
    # snake_case name, which the problem keeps).
    for named in dict.fromkeys((bare, _camel(bare))):
        if named and message.startswith(f"{named} "):
            return FieldProblem(field, rule, field + message[len(named) :])
    message = message.removeprefix("Input should be ").removeprefix("Value error, ")
    return FieldProblem(field, rule, f"{field} must be {message}")


def _camel(name: str) -> str:
    """user_agent -> userAgent (the API's spelling of a field the SDK let a caller write in snake_case)."""
    return _SNAKE.sub(lambda match: match.group(1).upper(), name)
