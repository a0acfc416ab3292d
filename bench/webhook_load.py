"""`make load-webhooks`: 1,000 jobs with webhooks through the local stack, to a receiver that fails a
random 30% of first attempts. Every job must end delivered; prints sent, delivered, duplicates, missing.

The stack is what `make dev` runs (python -m devstack), with the retry schedule shortened to seconds.
Exits 1 if any delivery is missing.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support import PageServer, devstack_process

KEY = "sw_load_key_0000000000001"
PAGE = "<html><head><title>Load</title></head><body style='margin:0;background:#2a9d8f'><h1>load</h1></body></html>"


class FlakyReceiver:
    """Fails the first POST of a `webhook-id` with probability `failure_rate`; records every POST."""

    def __init__(self, failure_rate: float, seed: int) -> None:
        self.failure_rate = failure_rate
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.posts: Counter[str] = Counter()  # webhook-id -> POSTs received
        self.accepted: Counter[str] = Counter()  # webhook-id -> POSTs answered 2xx
        self.failed_first = 0
        self.jobs: dict[str, str] = {}  # webhook-id -> job id

    def handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                message_id = self.headers.get("webhook-id", "")
                with outer.lock:
                    outer.posts[message_id] += 1
                    first = outer.posts[message_id] == 1
                    fail = first and outer.random.random() < outer.failure_rate
                    if fail:
                        outer.failed_first += 1
                    else:
                        outer.accepted[message_id] += 1
                        outer.jobs[message_id] = json.loads(body)["jobId"]
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--failure-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for every delivery")
    args = parser.parse_args()

    receiver = FlakyReceiver(args.failure_rate, args.seed)
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    env = {
        "SHOTWIRE_DEV_API_KEY": KEY,
        "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "1",
        "SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": "1,2,4,8",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    with (
        PageServer({"/": PAGE}).running() as pages,
        tempfile.TemporaryFile() as log,
        devstack_process(env, log) as running,
    ):

        def submit(index: int) -> str:
            request = urllib.request.Request(
                running.api_url + "/v1/screenshots",
                data=json.dumps({"url": f"{pages}/?n={index}", "webhookUrl": hook}).encode(),
                method="POST",
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                return str(json.loads(response.read())["jobId"])

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            job_ids = set(pool.map(submit, range(args.jobs)))
        submitted = time.monotonic() - started
        expected = {"msg_" + job_id.removeprefix("job_") for job_id in job_ids}
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            with receiver.lock:
                if expected <= set(receiver.accepted):
                    break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        time.sleep(5)  # let late duplicates, if any, arrive before counting

    with receiver.lock:
        delivered = expected & set(receiver.accepted)
        missing = expected - delivered
        duplicates = sum(count - 1 for count in receiver.accepted.values() if count > 1)
        unexpected = set(receiver.posts) - expected
        wrong_job = [m for m, job in receiver.jobs.items() if "msg_" + job.removeprefix("job_") != m]
        posts = sum(receiver.posts.values())
    print(f"\nwebhook load test: {args.jobs} jobs, {args.failure_rate:.0%} of first attempts fail (seed {args.seed})")
    print(f"  sent (jobs accepted)      {len(job_ids)}   in {submitted:.1f} s")
    print(f"  delivered (2xx per id)    {len(delivered)}")
    print(f"  missing                   {len(missing)}")
    print(f"  duplicates (extra 2xx)    {duplicates}")
    print(f"  first attempts failed     {receiver.failed_first}")
    print(f"  POSTs received            {posts}")
    print(f"  unknown webhook-ids       {len(unexpected)}   body/job mismatches {len(wrong_job)}")
    print(f"  all delivered after       {elapsed:.1f} s   ({len(delivered) / elapsed:.1f} jobs/s end to end)")
    return 1 if missing or unexpected or wrong_job else 0


if __name__ == "__main__":
    raise SystemExit(main())
