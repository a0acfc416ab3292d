"""`make bench`: submit-to-webhook latency through the local stack, against raw Playwright in the same run.

The baseline is the least any design could do for the same page on this machine: a warm browser, a new
context, goto and screenshot. The difference is what the pipeline adds (API, DynamoDB, SQS, S3,
EventBridge on moto, polling, signing, the webhook POST).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
import urllib.request

from playwright.sync_api import sync_playwright

from devstack.options import find_chromium
from shotwire_core.adapters.browser import BASE_ARGS
from tests.support import PageServer, WebhookReceiver, devstack_process

KEY = "sw_bench_key_000000000001"
PAGE = "<html><head><title>Bench</title></head><body style='margin:0;background:#36c'><h1>bench</h1></body></html>"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _describe(name: str, values: list[float]) -> str:
    return (
        f"{name:<34} median {statistics.median(values) * 1000:7.0f} ms   p95 {_percentile(values, 0.95) * 1000:7.0f} ms"
        f"   min {min(values) * 1000:7.0f} ms   (n={len(values)})"
    )


def baseline(url: str, runs: int) -> list[float]:
    timings = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=list(BASE_ARGS))
        for index in range(runs + 2):
            started = time.perf_counter()
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(url, wait_until="load")
            page.screenshot(type="png")
            context.close()
            if index >= 2:  # warm-up
                timings.append(time.perf_counter() - started)
        browser.close()
    return timings


def pipeline(url: str, runs: int) -> tuple[list[float], list[float]]:
    env = {"SHOTWIRE_DEV_API_KEY": KEY, "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "1", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    end_to_end, submits = [], []
    with (
        tempfile.TemporaryFile() as log,
        devstack_process(env, log) as running,
        WebhookReceiver().running() as receiver,
    ):
        for index in range(runs + 2):
            path = f"/bench-{index}"
            hook = receiver.script(path, [200])
            request = urllib.request.Request(
                running.api_url + "/v1/screenshots",
                data=json.dumps({"url": url, "webhookUrl": hook}).encode(),
                method="POST",
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 202
            accepted = time.perf_counter()
            receiver.wait_for(path, 1, timeout=60)
            if index >= 2:  # the first jobs launch Chromium
                submits.append(accepted - started)
                end_to_end.append(time.perf_counter() - started)
    return end_to_end, submits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with PageServer({"/": PAGE}).running() as base:
        url = base + "/"
        raw = baseline(url, args.runs)
        end_to_end, submits = pipeline(url, args.runs)
    print(f"\nshotwire pipeline benchmark ({multiprocessing.cpu_count()} cores), simple local page, 1280x800 PNG")
    print(_describe("baseline: raw Playwright capture", raw))
    print(_describe("API submit (POST -> 202)", submits))
    print(_describe("pipeline: submit -> webhook", end_to_end))
    ratio = statistics.median(end_to_end) / statistics.median(raw)
    overhead = (statistics.median(end_to_end) - statistics.median(raw)) * 1000
    print(f"ratio pipeline/baseline (median): {ratio:.1f}x   overhead: {overhead:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
