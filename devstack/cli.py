"""`python -m devstack` (what `make dev` runs): start everything, print how to use it, stop cleanly."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from devstack.options import DevOptions, OptionError
from devstack.stack import LocalStack


def sandbox_line(options: DevOptions) -> str:
    if options.sandbox:
        return "on: read-only root, a /tmp of its own, non-root user (bubblewrap)"
    return f"OFF ({options.sandbox_off_reason}): functions can write where Lambda could not"


def banner(options: DevOptions) -> str:
    return f"""
shotwire is running locally
  API            {options.api_url}   (GET /health, POST /v1/screenshots, GET /v1/screenshots/<jobId>)
  AWS (moto)     {options.moto_url}
  API key        {options.api_key}
  Webhook secret {options.webhook_secret}
  Chromium       {options.chromium_path or "Playwright's bundled browser"}
  Private networks {"allowed (SHOTWIRE_ALLOW_PRIVATE_NETWORKS=1)" if options.allow_private_networks else "blocked"}
  Lambda sandbox {sandbox_line(options)}

Try:
  curl -s -X POST {options.api_url}/v1/screenshots \\
    -H 'Authorization: Bearer {options.api_key}' -H 'Content-Type: application/json' \\
    -d '{{"url": "https://example.com", "webhookUrl": "http://127.0.0.1:9000/hook"}}'

Ctrl-C stops everything.
"""


def main() -> int:
    try:
        options = DevOptions.from_env()
    except OptionError as error:
        print(f"shotwire dev: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stack = LocalStack(options)
    try:
        stack.start()
    except OSError as error:
        print(
            f"shotwire dev: cannot start: {error} (is the port taken? set SHOTWIRE_PORT / SHOTWIRE_MOTO_PORT)",
            file=sys.stderr,
        )
        stack.stop()
        return 1
    print(banner(options), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        print("shotwire dev: stopping...", file=sys.stderr, flush=True)
        stack.stop()
        print("shotwire dev: stopped (Chromium closed, moto stopped)", file=sys.stderr, flush=True)
    return 0
