"""Reading SDK objects for display: jobs, deliveries, file names."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from shotwire.cli.output import jsonable

__all__ = ["default_filename", "extension_for", "field", "format_for_suffix", "job_error", "status_style"]

EXTENSIONS = {"png": "png", "jpeg": "jpg", "jpg": "jpg", "webp": "webp", "pdf": "pdf"}
SUFFIX_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".pdf": "pdf"}
STATUS_STYLES = {
    "completed": "green",
    "success": "green",
    "delivered": "green",
    "failed": "red",
    "queued": "yellow",
    "processing": "cyan",
    "retrying": "yellow",
    "pending": "yellow",
    "skipped": "blue",
    "interrupted": "magenta",
}


def field(obj: Any, *names: str, default: Any = None) -> Any:
    """The first of `names` that `obj` (an SDK object or a dict, snake_case or camelCase) has and is not None."""
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return default


def extension_for(image_format: str | None) -> str:
    return EXTENSIONS.get((image_format or "png").lower(), "png")


def format_for_suffix(suffix: str) -> str | None:
    return SUFFIX_FORMATS.get(suffix.lower())


def slug(text: str, limit: int = 60) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return cleaned[:limit].rstrip("._-") or "page"


def host_of(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "page"
    return slug(f"{host}_{parts.port}" if parts.port else host, 60)


def default_filename(url: str, job_id: str, image_format: str | None) -> str:
    """`<host>-<jobid>.<ext>`, e.g. `example.com-job_01jd….png`; both parts slugged, so never a path."""
    return f"{host_of(url)}-{slug(job_id, 80)}.{extension_for(image_format)}"


def job_error(job: Any) -> tuple[str | None, str | None]:
    """(code, message) of a failed job, whatever shape the SDK gives its error."""
    error = field(job, "error")
    if error is None:
        return field(job, "error_code", "errorCode"), None
    if isinstance(error, str):
        return field(job, "error_code", "errorCode"), error
    data = jsonable(error)
    if isinstance(data, dict):
        return data.get("code"), data.get("message")
    return None, str(error)


def status_style(status: str | None) -> str:
    text = status or "-"
    return f"[{STATUS_STYLES.get(text, 'white')}]{text}[/]"
