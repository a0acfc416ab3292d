"""`make bench-e2e`: end-to-end throughput as a user sees it, beside the isolated floor in the same run.

A corpus of pages the service has not seen, generated from a seed (five kinds: long text, 80 shadowed gradient
boxes, a 1,200-cell table, 30 serif headings with ✓ and CJK, an SVG of 400 translucent circles), served from
loopback. For each size (30, 100, 300 jobs by default):

- **floor**: plain Playwright on the same Chromium with the capture image's flags, a fresh context per page,
  as many at a time as the capture function renders (its concurrency), the browser already started;
- **shotwire**: every page `POST /v1/screenshots` through the local stack's HTTP API (`make dev`, warmed with one
  job first), the clock stopped at the last signed webhook (each verified with the tenant's secret).

Prints pages/s, p50/p95 submit→webhook, the ratio shotwire/floor, and where the jobs' time went, from their own
timings: the API's answer, the queue wait, navigation, the screenshot, the rest of the capture (context, store,
record), the wait for the dispatcher, and the delivery itself.

    make bench-e2e ARGS="--seed 7 --jobs 30 100"
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import random
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from devstack.image import image_environment
from devstack.options import DEFAULT_DEV_WEBHOOK_SECRET, find_chromium
from shotwire_core.adapters.browser import BASE_ARGS
from shotwire_core.config import load_stack_config
from tests.support import PageServer, WebhookReceiver, devstack_process

KEY = "sw_bench_key_e2e_00000001"
KINDS = ("text", "boxes", "table", "headings", "circles")


# -- the corpus ----------------------------------------------------------------------------------------
def _words(rng: random.Random, count: int) -> str:
    vocabulary = ["shotwire", "capture", "webhook", "render", "browser", "queue", "lambda", "pixel", "page", "signal"]
    return " ".join(rng.choice(vocabulary) for _ in range(count))


def generated_page(rng: random.Random, kind: str) -> str:
    """One page of `kind`, its content drawn from `rng` (so a seed names a corpus, and no two pages are alike)."""
    hue = rng.randrange(360)
    if kind == "text":
        body = "".join(f"<p>{_words(rng, rng.randrange(60, 120))}</p>" for _ in range(40))
    elif kind == "boxes":
        body = "".join(
            f"<div style='display:inline-block;width:120px;height:90px;margin:8px;border-radius:12px;"
            f"box-shadow:0 {rng.randrange(2, 12)}px {rng.randrange(8, 30)}px rgba(0,0,0,.35);"
            f"background:linear-gradient({rng.randrange(360)}deg,hsl({hue},70%,60%),"
            f"hsl({(hue + rng.randrange(40, 180)) % 360},70%,40%))'></div>"
            for _ in range(80)
        )
    elif kind == "table":
        rows = "".join(
            "<tr>" + "".join(f"<td>{rng.randrange(10**6)}</td>" for _ in range(12)) + "</tr>" for _ in range(100)
        )
        body = f"<table border='1' style='border-collapse:collapse;font:12px sans-serif'>{rows}</table>"
    elif kind == "headings":
        body = "".join(
            f"<h2 style='font-family:serif'>✓ {html.escape(_words(rng, 4))} 漢字 {rng.randrange(1000)}</h2>"
            for _ in range(30)
        )
    else:
        circles = "".join(
            f"<circle cx='{rng.randrange(1280)}' cy='{rng.randrange(800)}' r='{rng.randrange(10, 80)}' "
            f"fill='hsl({rng.randrange(360)},80%,50%)' fill-opacity='{rng.uniform(0.2, 0.7):.2f}'/>"
            for _ in range(400)
        )
        body = f"<svg xmlns='http://www.w3.org/2000/svg' width='1280' height='800'>{circles}</svg>"
    return f"<html><head><title>{kind}</title></head><body style='margin:12px'>{body}</body></html>"


def corpus(seed: int, count: int) -> dict[str, str]:
    """`count` pages, the kinds in turn: path -> HTML."""
    rng = random.Random(seed)
    return {
        f"/{seed}/{index}-{KINDS[index % len(KINDS)]}": generated_page(rng, KINDS[index % 5]) for index in range(count)
    }


# -- the floor -----------------------------------------------------------------------------------------
def floor(urls: list[str], concurrency: int, args: list[str]) -> tuple[float, list[float]]:
    """Seconds for all pages and each page's latency: a warm browser, a fresh context per page."""
    from playwright.async_api import async_playwright

    async def run() -> tuple[float, list[float]]:
        latencies: list[float] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=find_chromium(), args=args)
            slots = asyncio.Semaphore(concurrency)

            async def one(url: str, record: bool = True) -> None:
                async with slots:
                    started = time.perf_counter()
                    context = await browser.new_context(viewport={"width": 1280, "height": 800})
                    page = await context.new_page()
                    await page.goto(url, wait_until="load", timeout=30_000)
                    await page.screenshot(type="png")
                    await context.close()
                    if record:
                        latencies.append(time.perf_counter() - started)

            await one(urls[0], record=False)  # the browser's first page
            started = time.perf_counter()
            await asyncio.gather(*(one(url) for url in urls))
            elapsed = time.perf_counter() - started
            await browser.close()
        return elapsed, latencies

    return asyncio.run(run())


# -- shotwire, end to end --------------------------------------------------------------------------------
@dataclass
class Run:
    seconds: float
    latencies: list[float]
    stages: dict[str, list[float]] = field(default_factory=dict)


def _post(api: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST as a well-behaved client: a 429 (the tenant's rate) waits for its Retry-After and tries again."""
    request = urllib.request.Request(
        api + "/v1/screenshots",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    while True:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as error:
            if error.code != 429:
                raise
            time.sleep(float(error.headers.get("Retry-After") or 1))


def _get(api: str, path: str) -> dict[str, Any]:
    request = urllib.request.Request(api + path, headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def shotwire(api: str, receiver: WebhookReceiver, urls: list[str], label: str) -> Run:
    """Submit every page, one after another as a client loop would, and wait for every signed webhook."""
    verifier = Webhook(DEFAULT_DEV_WEBHOOK_SECRET)
    path = f"/e2e-{label}"
    hook = receiver.script(path, [200])
    submitted: dict[str, tuple[float, float]] = {}  # job id -> (POST sent, 202 read), epoch seconds
    started = time.time()
    for url in urls:
        sent = time.time()
        job_id = _post(api, {"url": url, "webhookUrl": hook})["jobId"]
        submitted[job_id] = (sent, time.time())
    deliveries = receiver.wait_for(path, len(urls), timeout=120 + 2 * len(urls))
    arrived: dict[str, float] = {}
    for delivery in deliveries:
        verifier.verify(delivery.body, {name.lower(): value for name, value in delivery.headers.items()})
        arrived[delivery.json["jobId"]] = delivery.received_at
    elapsed = max(arrived.values()) - started
    run = Run(elapsed, [arrived[job] - sent for job, (sent, _) in submitted.items()])
    stages: dict[str, list[float]] = {
        name: [] for name in ("api", "queue", "navigation", "screenshot", "capture rest", "to dispatcher", "delivery")
    }
    for job_id, (sent, answered) in submitted.items():
        job = _get(api, f"/v1/screenshots/{job_id}")
        timings = job.get("timings", {})
        (attempt,) = job["webhook"]["attempts"]
        started_at, completed_at, attempted = (
            _epoch(job["startedAt"]),
            _epoch(job["completedAt"]),
            _epoch(attempt["at"]),
        )
        capture = completed_at - started_at
        navigation, shot = timings.get("navigationMs", 0) / 1000, timings.get("captureMs", 0) / 1000
        stages["api"].append(answered - sent)
        stages["queue"].append(timings.get("queuedMs", 0) / 1000)
        stages["navigation"].append(navigation)
        stages["screenshot"].append(shot)
        stages["capture rest"].append(max(0.0, capture - navigation - shot))
        stages["to dispatcher"].append(max(0.0, attempted - completed_at))
        stages["delivery"].append(max(0.0, arrived[job_id] - attempted))
    run.stages = stages
    return run


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _line(name: str, pages: int, seconds: float, latencies: list[float]) -> str:
    return (
        f"  {name:<10} {pages / seconds:6.2f} pages/s   p50 {statistics.median(latencies):5.2f} s"
        f"   p95 {_percentile(latencies, 0.95):5.2f} s   ({pages} pages in {seconds:.1f} s)"
    )


def measure(sizes: list[int], seed: int, say: Callable[[str], None] = print) -> list[dict[str, Any]]:
    config = load_stack_config()
    chromium_args = [*BASE_ARGS, *image_environment().get("SHOTWIRE_CHROMIUM_ARGS", "").split()]
    results = []
    pages = corpus(seed, max(sizes) + 1)
    env = {"SHOTWIRE_DEV_API_KEY": KEY, "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "1", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    with (
        PageServer(pages).running() as base,
        tempfile.TemporaryFile() as log,
        devstack_process(env, log) as stack,
        WebhookReceiver().running() as receiver,
    ):
        urls = [base + path for path in pages]
        shotwire(stack.api_url, receiver, urls[:1], "warm")  # launches Chromium, warms every function
        for size in sizes:
            chosen = urls[1 : size + 1]
            floor_seconds, floor_latencies = floor(chosen, config.capture_concurrency, chromium_args)
            run = shotwire(stack.api_url, receiver, chosen, str(size))
            ratio = (size / run.seconds) / (size / floor_seconds)
            say(f"\n{size} jobs, seed {seed}:")
            say(_line("floor", size, floor_seconds, floor_latencies))
            say(_line("shotwire", size, run.seconds, run.latencies))
            say(f"  ratio shotwire/floor {ratio:.2f}   (target 0.9)")
            say("  where a job's time went (median / p95, seconds):")
            for stage, values in run.stages.items():
                say(f"    {stage:<14} {statistics.median(values):6.3f} / {_percentile(values, 0.95):6.3f}")
            results.append(
                {
                    "jobs": size,
                    "floor_pages_per_s": size / floor_seconds,
                    "shotwire_pages_per_s": size / run.seconds,
                    "ratio": ratio,
                    "p50_s": statistics.median(run.latencies),
                    "p95_s": _percentile(run.latencies, 0.95),
                }
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000, help="names the corpus")
    parser.add_argument("--jobs", type=int, nargs="+", default=[30, 100, 300])
    args = parser.parse_args()
    print(f"bench-e2e: seed {args.seed}, sizes {args.jobs} (rerun with --seed {args.seed} for the same pages)")
    measure(args.jobs, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
