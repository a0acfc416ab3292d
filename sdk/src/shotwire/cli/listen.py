"""`shotwire listen`: the webhook receiver every user writes first, ready-made.

An HTTP server (127.0.0.1 by default) that verifies each POST with `shotwire.webhooks.verify`, answers
204 (verified) or 401 (bad signature), prints the event and saves the image of a completed job to --out.
Any path is accepted. Duplicates (the same `webhook-id`, e.g. a retry whose first answer got lost) are
printed as such and not downloaded twice. `devstack/receiver.py` (`make receiver`) runs this through the
repository's own `shotwire`, which gives it the local dev stack's secret as the default (`SecretFallback`).

It requires the Standard Webhooks headers (`require_timestamp`): shotwire always sends them, and the hex
header alone could be an old delivery replayed. Images are saved under names made from the job id only
when the id is a plain token; anything else gets a name derived from its hash, never a path.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.markup import escape

from shotwire.cli.common import sigterm_as_interrupt
from shotwire.cli.jobs import extension_for, status_style
from shotwire.cli.output import ExitCode, State, err, fail, human_size, out, print_json_line
from shotwire.client import write_atomically

__all__ = ["Listener", "SecretFallback", "describe_event", "resolve_secret", "run_listener"]

MAX_BODY = 1024 * 1024  # real deliveries are a few KB
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
CONTENT_LENGTH = re.compile(r"[0-9]{1,9}")
READ_TIMEOUT_SECONDS = 30  # a client that declares more than it sends does not hold a thread forever
DUPLICATE_WAIT_SECONDS = 60.0


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SecretFallback:
    """The webhook secret `listen` uses when neither --secret nor SHOTWIRE_WEBHOOK_SECRET gives one. The SDK has
    none; the repository's own `shotwire` (devstack/shotwire_cli.py) gives the local dev stack's."""

    description: str  # said on stderr when it is used, e.g. "the local dev stack's webhook secret"
    secret: Callable[[], str]  # read when `listen` starts, so the environment of that moment counts
    # Secrets anyone can read (in a public repository): refused on an address other machines can reach.
    public: frozenset[str] = frozenset()


def resolve_secret(given: str | None, *, host: str = "127.0.0.1", fallback: SecretFallback | None = None) -> str:
    """--secret / SHOTWIRE_WEBHOOK_SECRET, else `fallback`'s secret, else a usage error. A public secret (the
    local dev stack's default is in the shotwire repository) is refused on any address but loopback, however
    it was given: anyone could sign events for it."""
    secret = (given or "").strip()
    from_fallback = not secret and fallback is not None
    if from_fallback and fallback is not None:
        secret = fallback.secret().strip()
    if not secret:
        fail(
            "no webhook secret: pass --secret or set SHOTWIRE_WEBHOOK_SECRET",
            ExitCode.USAGE,
            hint="the secret is shown once when the tenant is created (the local stack prints its own)",
        )
    if fallback is not None and secret in fallback.public and not is_loopback(host):
        fail(
            f"--host {host} is reachable from other machines: pass your tenant's own --secret to listen there",
            ExitCode.USAGE,
            hint="that secret is public (the local dev stack's default): anyone could sign events it would accept",
        )
    if from_fallback and fallback is not None:
        err.print(f"[dim]verifying with {escape(fallback.description)} (pass --secret for another)[/]")
    return secret


def image_name(identifier: object, image_format: object) -> str:
    """The file an event's image is saved as: `<job id>.<ext>` for an id that is a plain token, else
    `event-<hash>.<ext>`, so no event (even a signed one) can name a path outside --out."""
    text = str(identifier or "")
    stem = text if SAFE_ID.fullmatch(text) else "event-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{stem}.{extension_for(str(image_format) if image_format else None)}"


def describe_event(event: dict[str, Any]) -> dict[str, Any]:
    """What an event is, whichever of the payloads it is: a job's outcome, a capture-style outcome
    (POST /v1/capture), `batch.completed` or `webhook.test`."""
    if "type" in event:
        kind = str(event["type"])
        ident = event.get("batchId") or event.get("webhookId") or event.get("jobId") or ""
        return {"type": kind, "id": ident, "status": event.get("status"), "url": None, "image": None}
    if "capture_id" in event:
        status = str(event.get("status"))
        image = event.get("image") if status == "success" else None
        return {"type": f"capture.{status}", "id": event["capture_id"], "status": status, "url": None, "image": image}
    status = str(event.get("status"))
    image = event.get("screenshotUrl") if status == "completed" else None
    return {
        "type": f"job.{status}",
        "id": event.get("jobId", ""),
        "status": status,
        "url": event.get("url"),
        "image": image,
    }


class Listener:
    def __init__(self, state: State, *, secret: str, out_dir: Path | None, count: int | None) -> None:
        self.state = state
        self.secret = secret
        self.out_dir = out_dir
        self.count = count
        self.lock = threading.Lock()
        # webhook-id -> set once its first copy has been handled (a duplicate waits for it, then reuses its file)
        self.seen: dict[str, threading.Event] = {}
        self.verified = 0
        self.rejected = 0
        self.finished = threading.Event()
        self.workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="shotwire-listen")

    # -- the HTTP side --------------------------------------------------------------------------------------

    def answer(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any] | None, str]:
        """(status code, verified event or None, why not). `verify` also refuses a body that is not a JSON object."""
        from shotwire import webhooks

        try:
            event = webhooks.verify(body, headers, self.secret, require_timestamp=True)
        except webhooks.WebhookVerificationError as error:
            return 401, None, str(error) or "bad signature"
        return 204, event, ""

    # -- after answering ------------------------------------------------------------------------------------

    def rejected_delivery(self, path: str, reason: str, status: int) -> None:
        with self.lock:
            self.rejected += 1
            if self.state.json:
                print_json_line(
                    {"receivedAt": _now_iso(), "verified": False, "status": status, "path": path, "error": reason}
                )
            else:
                err.print(f"[dim]{_clock()}[/]  [bold red]rejected[/] POST {escape(path)} ({status}): {escape(reason)}")

    def accepted(self, event: dict[str, Any], webhook_id: str) -> None:
        self.workers.submit(self._process, event, webhook_id)

    def _process(self, event: dict[str, Any], webhook_id: str) -> None:
        info = describe_event(event)
        with self.lock:
            first = self.seen.get(webhook_id) if webhook_id else None
            duplicate = first is not None
            handled = threading.Event()
            if webhook_id and first is None:
                self.seen[webhook_id] = handled
        if first is not None:
            first.wait(DUPLICATE_WAIT_SECONDS)  # its first copy may still be downloading
        saved: Path | None = None
        size: int | None = None
        problem: str | None = None
        try:
            if info["image"] and self.out_dir is not None:
                target = self.out_dir / image_name(info["id"], event.get("format"))
                if duplicate and target.exists():
                    saved, size = target, target.stat().st_size
                else:
                    try:
                        data = _download(str(info["image"]))
                        write_atomically(target, data)
                        saved, size = target, len(data)
                    except Exception as error:
                        problem = f"download failed: {error}"
        finally:
            handled.set()
        with self.lock:
            self._print(event, info, webhook_id, duplicate, saved, size, problem)
            self.verified += 1
            if self.count is not None and self.verified >= self.count:
                self.finished.set()

    def _print(
        self,
        event: dict[str, Any],
        info: dict[str, Any],
        webhook_id: str,
        duplicate: bool,
        saved: Path | None,
        size: int | None,
        problem: str | None,
    ) -> None:
        if self.state.json:
            print_json_line(
                {
                    "receivedAt": _now_iso(),
                    "verified": True,
                    "webhookId": webhook_id,
                    "duplicate": duplicate,
                    "type": info["type"],
                    "id": info["id"],
                    "status": info["status"],
                    "file": str(saved) if saved else None,
                    "bytes": size,
                    "error": problem,
                    "event": event,
                }
            )
            return
        parts = [f"[dim]{_clock()}[/]", f"[bold]{escape(info['type'])}[/]", escape(str(info["id"]))]
        if info["status"]:
            parts.append(status_style(info["status"]))
        if info["type"] == "batch.completed":
            counts = event.get("counts") or {}
            parts.append(
                f"{counts.get('completed', 0)} completed, {counts.get('failed', 0)} failed of {event.get('total', '?')}"
            )
        if info["url"]:
            parts.append(escape(str(info["url"])))
        if event.get("status") == "failed":
            reason = event.get("errorCode") or ""
            parts.append(f"[red]{escape(str(reason))} {escape(str(event.get('error') or ''))}[/]".strip())
        if saved is not None:
            dimensions = f", {event.get('width')}x{event.get('height')}" if event.get("width") else ""
            parts.append(f"→ {escape(str(saved))} ({human_size(size)}{dimensions})")
        if duplicate:
            parts.append("[yellow](duplicate)[/]")
        redelivery = re.search(r"_(\d+)$", webhook_id) if webhook_id.startswith("msg_") else None
        if redelivery and info["type"].startswith(("job.", "capture.")):
            parts.append(f"[yellow](redelivery {redelivery.group(1)})[/]")
        if problem:
            parts.append(f"[red]{escape(problem)}[/]")
        out.print("  ".join(parts), soft_wrap=True)


def _download(url: str) -> bytes:
    import httpx

    response = httpx.get(url, timeout=30.0, follow_redirects=True)
    response.raise_for_status()
    return response.content


def _clock() -> str:
    return datetime.now().strftime("%H:%M:%S")


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _handler(listener: Listener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "shotwire-listen"
        timeout = READ_TIMEOUT_SECONDS

        def do_POST(self) -> None:
            declared = (self.headers.get("Content-Length") or "0").strip()
            # ASCII digits only: refuses a negative length (which would read until the client closes) too.
            if not CONTENT_LENGTH.fullmatch(declared):
                self._reply(400)
                listener.rejected_delivery(self.path, f"invalid Content-Length {declared[:20]!r}", 400)
                return
            length = int(declared)
            if length > MAX_BODY:
                self._reply(413)
                listener.rejected_delivery(self.path, f"body of {length} bytes is too large", 413)
                return
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, event, reason = listener.answer(body, headers)
            self._reply(status)
            if event is None:
                listener.rejected_delivery(self.path, reason, status)
                return
            listener.accepted(event, headers.get("webhook-id", ""))

        def do_GET(self) -> None:
            text = b"shotwire listen: POST signed webhooks to any path here\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def _reply(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-request is its own problem: no socketserver traceback on the console."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def run_listener(
    state: State, *, host: str, port: int, out_dir: Path | None, secret: str, count: int | None = None
) -> int:
    """Serve until Ctrl-C (exit 0) or until `count` verified events have been handled."""
    listener = Listener(state, secret=secret, out_dir=out_dir, count=count)
    try:
        server = _QuietServer((host, port), _handler(listener))
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}", ExitCode.USAGE, hint="pick another --port")
    bound = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    target = f"saving images to {out_dir}/" if out_dir is not None else "not saving images"
    err.print(f"listening on [bold]http://{host}:{bound}/[/] (any path), {target}; Ctrl-C stops")
    if not state.json:
        err.print(f"[dim]try: shotwire submit https://example.com --webhook-url http://{host}:{bound}/hook[/]")
    try:
        with sigterm_as_interrupt():
            while not listener.finished.wait(0.2):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
        listener.workers.shutdown(wait=True, cancel_futures=False)
        summary = {"verified": listener.verified, "rejected": listener.rejected}
        err.print(f"[dim]stopped: {summary['verified']} verified, {summary['rejected']} rejected[/]")
    return 0
