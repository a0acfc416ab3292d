"""`make load-neighbours`: two ordinary tenants beside a hostile one, through the local stack (what `make dev`
runs), against a run of the same ordinary load alone.

- Ordinary: two tenants share `--jobs` captures, submitted at a steady `--rate` (jobs/s) to pages generated
  from `--seed`, each with a webhook to its own receiver; the clock of a job runs from its POST to the signed
  webhook's arrival.
- Hostile (second run only): a third tenant sends requests the API must refuse (a pixel budget breaker, a JSON
  array, a lone surrogate, 5,000 nested arrays, a 5,001-digit integer, an unknown media type, a metadata
  address), captures whose webhook goes to a receiver that drips its answer one byte every 4 s, and
  `POST /v1/webhooks/test` calls to that receiver.

Prints, for each run, completed jobs and the submit→webhook p50/p95/max, and the hostile p95 over the quiet
one. Exits 1 if an ordinary job is missing or not completed, any answer is a 5xx, or the p95 ratio is over
`--max-ratio` (2.0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from statistics import quantiles
from typing import Any

from tests.support import DevstackProcess, PageServer, devstack_process, serving

ENV = {
    "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "1",  # pages and receivers are on loopback
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
# Each run's stack log, for reading after a failure.
LOG_DIR = Path(__file__).resolve().parents[1] / "build" / "neighbours"
ROOMY = ["--requests-per-second", "100", "--burst", "200", "--monthly-quota", "1000000"]

# Requests the API must refuse with a 4xx: (Content-Type, body).
BAD_REQUESTS: list[tuple[str, bytes]] = [
    ("application/json", b'{"url": "http://127.0.0.1:9/", "width": 10000, "height": 10000, "deviceScaleFactor": 2}'),
    ("application/json", b'[{"url": "http://127.0.0.1:9/a"}, {"url": "http://127.0.0.1:9/b"}]'),
    ("application/json", b'{"url": "http://127.0.0.1:9/\\ud800"}'),
    ("application/json", b'{"url": "http://127.0.0.1:9/", "metadata": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"),
    ("application/json", b'{"url": "http://127.0.0.1:9/", "width": ' + b"9" * 5001 + b"}"),
    (";;;==", b'{"url": "http://127.0.0.1:9/"}'),
    ("application/json", b'{"url": "http://169.254.169.254/latest/meta-data/"}'),
    ("application/json", b'{"url": "http://127.0.0.1:9/", "fullpage": true, "format": "jpg"}'),
]


def generated_page(rng: random.Random, index: int) -> str:
    """A small page of its own: colours, a heading and some paragraphs drawn from the seed."""
    words = ["shotwire", "capture", "webhook", "render", "pixel", "queue", "lambda", "signed", "page", "tenant"]
    hue = rng.randrange(360)
    paragraphs = "".join(
        f"<p>{' '.join(rng.choice(words) for _ in range(rng.randint(20, 60)))}</p>" for _ in range(rng.randint(2, 8))
    )
    return (
        f"<html><head><title>page {index}</title></head>"
        f"<body style='margin:24px;font-family:sans-serif;background:hsl({hue},60%,92%)'>"
        f"<h1 style='color:hsl({hue},60%,30%)'>page {index}</h1>{paragraphs}</body></html>"
    )


@dataclass
class Arrivals:
    """When each job's webhook reached a receiver (monotonic seconds) and with what status."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    at: dict[str, float] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                job_id = body.get("jobId") or body.get("data", {}).get("jobId")
                with outer.lock:
                    if job_id and job_id not in outer.at:
                        outer.at[job_id] = time.monotonic()
                        outer.status[job_id] = str(body.get("status") or body.get("type"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        return Receiver


def drip_handler(interval: float) -> type[BaseHTTPRequestHandler]:
    """Reads the request, then answers `HTTP/1.1 200 OK…` one byte every `interval` seconds."""

    class Drip(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(interval)
            except OSError:
                pass  # the dispatcher gave up, as it should
            self.close_connection = True

        def log_message(self, *args: Any) -> None:
            return

    return Drip


@dataclass
class Tally:
    """Every answer the API gave during a run, by status."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)

    def add(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1

    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


def call(api: str, key: str, path: str, body: bytes, tally: Tally, content_type: str = "application/json") -> Any:
    request = urllib.request.Request(
        api + path,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            tally.add(response.status)
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        tally.add(error.code)
        error.read()
        return None
    except OSError:
        tally.add(599)  # no answer at all counts as a server error
        return None


def create_tenant(stack: DevstackProcess, name: str) -> str:
    moto_port = stack.moto_url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "admin", "--local", "tenants", "create", "--name", name, *ROOMY],
        env={**os.environ, "SHOTWIRE_MOTO_PORT": moto_port},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return str(json.loads(result.stdout)["apiKey"])


@dataclass
class RunResult:
    name: str
    submitted: int
    completed: int
    latencies: list[float]
    wall_seconds: float
    tally: Tally
    hostile: Counter[str]

    def percentile(self, p: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return quantiles(self.latencies, n=100, method="inclusive")[p - 1]


@contextmanager
def hostile_tenant(
    api: str, key: str, drip_url: str, args: argparse.Namespace, tally: Tally, counts: Counter[str]
) -> Iterator[None]:
    """Threads that keep the hostile tenant busy until the block ends."""
    stop = threading.Event()
    lock = threading.Lock()

    def count(kind: str) -> None:
        with lock:
            counts[kind] += 1

    def bad_options() -> None:
        rng = random.Random(args.seed + 1)
        while not stop.wait(1 / args.bad_rate):
            content_type, body = rng.choice(BAD_REQUESTS)
            call(api, key, "/v1/screenshots", body, tally, content_type)
            count("refused requests sent")

    def drip_jobs(page_url: str) -> None:
        while not stop.wait(args.drip_job_every):
            body = json.dumps({"url": page_url, "webhookUrl": drip_url}).encode()
            threading.Thread(target=call, args=(api, key, "/v1/screenshots", body, tally), daemon=True).start()
            count("jobs with a drip receiver")

    def webhook_tests() -> None:
        while not stop.wait(args.test_every):
            body = json.dumps({"url": drip_url}).encode()
            threading.Thread(target=call, args=(api, key, "/v1/webhooks/test", body, tally), daemon=True).start()
            count("webhook tests to the drip receiver")

    threads = [
        threading.Thread(target=bad_options, daemon=True),
        threading.Thread(target=drip_jobs, args=(args.page_base + "/hostile",), daemon=True),
        threading.Thread(target=webhook_tests, daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()


def run(name: str, hostile: bool, args: argparse.Namespace, drip_url: str) -> RunResult:
    tally = Tally()
    hostile_counts: Counter[str] = Counter()
    arrivals = Arrivals()
    with ExitStack() as stack:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = stack.enter_context((LOG_DIR / f"{'hostile' if hostile else 'quiet'}.log").open("wb"))
        running = stack.enter_context(devstack_process(ENV, log))
        receiver = stack.enter_context(serving(arrivals.handler()))
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        keys = [create_tenant(running, "ordinary-1"), create_tenant(running, "ordinary-2")]
        hostile_key = create_tenant(running, "hostile")
        # Warm the stack (a capture environment, the browser, the dispatcher) before the clock runs.
        warm = call(
            running.api_url,
            keys[0],
            "/v1/screenshots",
            json.dumps({"url": args.page_base + "/hostile", "webhookUrl": hook}).encode(),
            tally,
        )
        deadline = time.monotonic() + 120
        while warm and warm["jobId"] not in arrivals.at and time.monotonic() < deadline:
            time.sleep(0.2)

        if hostile:
            stack.enter_context(hostile_tenant(running.api_url, hostile_key, drip_url, args, tally, hostile_counts))
            time.sleep(args.head_start)  # let the hostile load build up first
        submitted: dict[str, float] = {}
        lock = threading.Lock()

        def submit(index: int) -> None:
            body = json.dumps({"url": f"{args.page_base}/p/{index}", "webhookUrl": hook}).encode()
            sent = time.monotonic()
            accepted = call(running.api_url, keys[index % 2], "/v1/screenshots", body, tally)
            if accepted:
                with lock:
                    submitted[accepted["jobId"]] = sent

        started = time.monotonic()
        workers = []
        for index in range(args.jobs):
            delay = started + index / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            worker = threading.Thread(target=submit, args=(index,), daemon=True)
            worker.start()
            workers.append(worker)
        for worker in workers:
            worker.join()
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            with arrivals.lock:
                if set(submitted) <= set(arrivals.at):
                    break
            time.sleep(0.5)
        wall = time.monotonic() - started
        with arrivals.lock:
            latencies = [arrivals.at[job] - sent for job, sent in submitted.items() if job in arrivals.at]
            completed = sum(1 for job in submitted if arrivals.status.get(job) == "completed")
    return RunResult(name, len(submitted), completed, latencies, wall, tally, hostile_counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=300, help="ordinary captures, shared by the two tenants")
    parser.add_argument("--rate", type=float, default=0.8, help="ordinary captures submitted per second")
    parser.add_argument("--seed", type=int, default=11, help="seeds the generated pages")
    parser.add_argument("--bad-rate", type=float, default=4.0, help="refused requests per second (hostile)")
    parser.add_argument("--drip-job-every", type=float, default=10.0, help="seconds between hostile drip jobs")
    parser.add_argument("--test-every", type=float, default=1.0, help="seconds between hostile webhook tests")
    parser.add_argument("--drip-interval", type=float, default=4.0, help="seconds between the drip's bytes")
    parser.add_argument("--head-start", type=float, default=20.0, help="seconds of hostile load before the run")
    parser.add_argument("--max-ratio", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the last webhook")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    pages = {f"/p/{index}": generated_page(rng, index) for index in range(args.jobs)}
    pages["/hostile"] = generated_page(rng, -1)
    with PageServer(pages).running() as page_base, serving(drip_handler(args.drip_interval)) as drip:
        args.page_base = page_base
        drip_url = f"http://127.0.0.1:{drip.server_address[1]}/drip"
        quiet = run("ordinary tenants alone", False, args, drip_url)
        loud = run("beside the hostile tenant", True, args, drip_url)

    print(f"\nneighbours: {args.jobs} ordinary captures from 2 tenants at {args.rate}/s, pages from seed {args.seed}")
    print(f"{'run':<28}{'done':>10}{'p50 s':>9}{'p95 s':>9}{'max s':>9}{'wall s':>9}{'5xx':>6}")
    for result in (quiet, loud):
        print(
            f"{result.name:<28}{f'{result.completed}/{args.jobs}':>10}{result.percentile(50):>9.2f}"
            f"{result.percentile(95):>9.2f}{max(result.latencies, default=float('nan')):>9.2f}"
            f"{result.wall_seconds:>9.1f}{result.tally.server_errors():>6}"
        )
    for kind, number in sorted(loud.hostile.items()):
        print(f"  hostile: {number} {kind}")
    print(
        "  answers beside the hostile tenant: " + ", ".join(f"{s} x{n}" for s, n in sorted(loud.tally.statuses.items()))
    )
    ratio = loud.percentile(95) / quiet.percentile(95)
    print(f"stack logs: {LOG_DIR}/quiet.log, {LOG_DIR}/hostile.log")
    print(f"p95 beside the hostile tenant / alone: {ratio:.2f} (must be ≤ {args.max_ratio})")
    failed = (
        any(result.completed < args.jobs for result in (quiet, loud))
        or any(result.tally.server_errors() for result in (quiet, loud))
        or not ratio <= args.max_ratio
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
