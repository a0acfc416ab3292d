"""`python -m devstack.receiver` (`make receiver`): a local webhook receiver for trying the service.

Verifies the Standard Webhooks signature and the hex HMAC header with the dev secret, prints each event,
and saves completed screenshots to a folder. Answers 200 to valid deliveries and 401 to invalid ones.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from devstack.options import DEFAULT_DEV_WEBHOOK_SECRET


def verify(secret: str, body: bytes, headers: dict[str, str]) -> str | None:
    """None when every signature checks out, else what was wrong."""
    lowered = {name.lower(): value for name, value in headers.items()}
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(lowered.get("x-webhook-signature", ""), expected):
        return "X-Webhook-Signature does not match"
    try:
        Webhook(secret).verify(body, lowered)
    except WebhookVerificationError as error:
        return f"Standard Webhooks signature: {error}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SHOTWIRE_RECEIVER_PORT", "9000")))
    parser.add_argument("--secret", default=os.environ.get("SHOTWIRE_DEV_WEBHOOK_SECRET") or DEFAULT_DEV_WEBHOOK_SECRET)
    parser.add_argument("--out", type=Path, default=Path("screenshots"), help="where to save completed images")
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            problem = verify(args.secret, body, dict(self.headers.items()))
            self.send_response(401 if problem else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if problem:
                print(f"REJECTED {self.path}: {problem}", flush=True)
                return
            event: dict[str, Any] = json.loads(body)
            print(f"verified webhook-id={self.headers.get('webhook-id')}\n{json.dumps(event, indent=2)}", flush=True)
            # A screenshots webhook names the image screenshotUrl; a capture-style one (POST /v1/capture) image.
            image_url = event.get("screenshotUrl") or event.get("image")
            if image_url and event.get("status") in ("completed", "success"):
                args.out.mkdir(parents=True, exist_ok=True)
                extension = {"jpeg": "jpg", "webp": "webp", "pdf": "pdf"}.get(str(event.get("format")), "png")
                target = args.out / f"{event.get('jobId') or event['capture_id']}.{extension}"
                with urllib.request.urlopen(image_url, timeout=30) as response:  # noqa: S310
                    target.write_bytes(response.read())
                print(f"saved {target} ({target.stat().st_size} bytes)", flush=True)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{args.port}/ (any path); saving images to {args.out}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
