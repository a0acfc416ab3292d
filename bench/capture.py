"""`make bench-capture`: capture throughput on a generated corpus, against a Playwright floor and shot-scraper.

All contenders use the same Chromium binary and the same concurrency, on the same 60 pages served from
loopback (text, many images, heavy CSS, tall lazy-loading pages, slow subresources). Each runs in its
own process so peak memory is that process tree's alone:

1.  floor         a plain Playwright loop: new context, goto, screenshot, close (a context per page, as we must)
1s. floor-shared  the same loop sharing one context across pages, as shot-scraper does: what isolation costs
2.  shotwire      the capture Lambda handler (SQS batches, S3 and EventBridge on moto), private networks
                  blocked as when deployed: each page behind its egress proxy
2b. shotwire      the same, private networks allowed (the `make dev` default: no proxy)
3.  shot-scraper  `multi` as it ships: one process, one browser, one shared context, a page at a time
3x. shot-scraper  `multi` with the corpus split over as many processes as the concurrency (it has no
                  concurrency setting of its own): 4 browsers, each with its shared context

Prints pages/s, p50/p95 latency and peak memory, and the ratios 2/1, 2/3 and 2/3x.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHOT_SCRAPER_VENV = ROOT / "build" / "bench-venv"
PAGES_PER_KIND = 10


# -- corpus ---------------------------------------------------------------------------------------------
def _svg(colour: str, size: int = 64) -> bytes:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{size}' height='{size}'>"
        f"<rect width='{size}' height='{size}' fill='{colour}'/></svg>"
    ).encode()


def corpus_pages() -> dict[str, tuple[bytes, str, float]]:
    """path -> (body, content type, delay seconds)."""
    pages: dict[str, tuple[bytes, str, float]] = {}
    colours = ["#e63946", "#457b9d", "#2a9d8f", "#e9c46a", "#f4a261", "#264653"]
    for i, colour in enumerate(colours):
        pages[f"/img/{i}.svg"] = (_svg(colour), "image/svg+xml", 0.0)
        pages[f"/slow/{i}.svg"] = (_svg(colour, 32), "image/svg+xml", 0.4)
    words = [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
        "sed",
        "do",
        "eiusmod",
        "tempor",
        "incididunt",
    ]
    for n in range(PAGES_PER_KIND):
        text = " ".join(words[(n + i) % len(words)] for i in range(1500))
        article = (
            f"<html><head><title>Text {n}</title></head><body style='font:16px/1.5 serif;"
            f"max-width:40em;margin:auto'><h1>Article {n}</h1><p>{text}</p></body></html>"
        )
        pages[f"/text/{n}"] = (article.encode(), "text/html", 0.0)
        images = "".join(f"<img src='/img/{(n + i) % 6}.svg?{n}-{i}' width='64' height='64'>" for i in range(40))
        pages[f"/images/{n}"] = (f"<html><body><h1>Gallery {n}</h1>{images}</body></html>".encode(), "text/html", 0.0)
        boxes = "".join(f"<div class='b' style='transform:rotate({i % 17}deg)'>{i}</div>" for i in range(300))
        css = (
            ".b{display:inline-block;width:60px;height:60px;margin:6px;border-radius:12px;"
            "background:linear-gradient(135deg,#ff006e,#3a86ff);box-shadow:0 4px 18px rgba(0,0,0,.4);"
            "filter:blur(0.3px) saturate(1.4)}"
        )
        pages[f"/css/{n}"] = (
            f"<html><head><style>{css}</style></head><body>{boxes}</body></html>".encode(),
            "text/html",
            0.0,
        )
        lazy = "".join(
            f"<div style='height:400px'>section {i}<img loading='lazy' src='/img/{i % 6}.svg?l{n}-{i}'"
            f" width='64' height='64'></div>"
            for i in range(12)
        )
        pages[f"/lazy/{n}"] = (f"<html><body>{lazy}</body></html>".encode(), "text/html", 0.0)
        pages[f"/slowres/{n}"] = (
            f"<html><body><h1>Slow {n}</h1><img src='/slow/{n % 6}.svg?{n}'>"
            f"<img src='/slow/{(n + 1) % 6}.svg?{n}'></body></html>".encode(),
            "text/html",
            0.0,
        )
    return pages


def corpus_paths() -> list[str]:
    kinds = ("text", "images", "css", "lazy", "slowres")
    return [f"/{kind}/{n}" for n in range(PAGES_PER_KIND) for kind in kinds]


@contextmanager
def serve_corpus() -> Iterator[str]:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    pages = corpus_pages()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body, kind, delay = pages.get(self.path.split("?", 1)[0], (b"missing", "text/plain", 0.0))
            if delay:
                time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


# -- memory ---------------------------------------------------------------------------------------------
def _pss_bytes(pid: int) -> int:
    """Proportional set size: each shared page split among the processes sharing it, so a tree's sum is what
    it really occupies (RSS counts Chromium's shared pages once per process and overstates it)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def _tree_pss_mb(root: int) -> float:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError):
            continue
    total = 0
    for pid in parents:
        node = pid
        while node > 1:
            if node == root:
                with contextlib.suppress(OSError):  # the process ended between the listing and the read
                    total += _pss_bytes(pid)
                break
            node = parents.get(node, 0)
    return total / 2**20


def run_measured(command: list[str], env: dict[str, str]) -> tuple[dict[str, Any], float]:
    """Run one contender; returns its JSON result and the peak PSS (MB) of its process tree."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, _tree_pss_mb(process.pid))
        time.sleep(0.1)
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{stderr[-3000:]}")
    return json.loads(stdout.strip().splitlines()[-1]), peak


# -- contenders (each runs in its own process) -----------------------------------------------------------
def floor(urls: list[str], concurrency: int, chromium: str | None, shared: bool = False) -> dict[str, Any]:
    import asyncio

    from playwright.async_api import async_playwright

    from shotwire_core.adapters.browser import BASE_ARGS

    async def main() -> dict[str, Any]:
        latencies: list[float] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=list(BASE_ARGS))
            slots = asyncio.Semaphore(concurrency)
            common = await browser.new_context(viewport={"width": 1280, "height": 800}) if shared else None

            async def one(url: str) -> None:
                async with slots:
                    started = time.perf_counter()
                    context = common or await browser.new_context(viewport={"width": 1280, "height": 800})
                    page = await context.new_page()
                    await page.goto(url, wait_until="load", timeout=30_000)
                    await page.screenshot(type="png")
                    await (page.close() if common else context.close())
                    latencies.append(time.perf_counter() - started)

            await one(urls[0])  # warm-up: the browser's first page
            latencies.clear()
            started = time.perf_counter()
            await asyncio.gather(*(one(url) for url in urls))
            elapsed = time.perf_counter() - started
            await browser.close()
        return {"seconds": elapsed, "latencies": latencies}

    return asyncio.run(main())


def shotwire(urls: list[str], concurrency: int, strict: bool) -> dict[str, Any]:
    from moto import mock_aws

    host = urls[0].split("/")[2]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "0" if strict else "1",
            "SHOTWIRE_ALLOWED_HOSTS": host,
            "SHOTWIRE_CAPTURE_CONCURRENCY": str(concurrency),
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        from devstack.resources import provision
        from devstack.runtime import LocalContext, load_function, sqs_record
        from shotwire_core.config import load_stack_config
        from shotwire_core.jobs import SubmissionRules, submit_screenshot
        from shotwire_core.models import ScreenshotRequest
        from shotwire_core.services import get_services
        from shotwire_core.settings import function_environment

        config = load_stack_config()
        resources = provision(config, "us-east-1", "123456789012")
        os.environ.update(
            function_environment(
                config,
                images_bucket=resources.bucket,
                allow_private_networks=not strict,
                queue_urls=resources.queue_urls(),
            )
        )
        os.environ["SHOTWIRE_ALLOWED_HOSTS"] = host
        handler = load_function(ROOT / "functions" / "capture" / "handler.py", "bench_capture")
        services = get_services()

        def batch_events(job_ids: list[str]) -> Iterator[dict[str, Any]]:
            batch_size = config.capture_batch_size
            for start in range(0, len(job_ids), batch_size):
                records = [
                    sqs_record(
                        {
                            "MessageId": job_id,
                            "ReceiptHandle": job_id,
                            "Body": json.dumps({"tenantId": "bench", "jobId": job_id}),
                            "Attributes": {"ApproximateReceiveCount": "1"},
                        },
                        "arn:aws:sqs:us-east-1:123456789012:capture",
                        "us-east-1",
                    )
                    for job_id in job_ids[start : start + batch_size]
                ]
                yield {"Records": records}

        def submit(url: str) -> str:
            request = ScreenshotRequest.model_validate({"url": url})
            job = submit_screenshot(
                "bench",
                request,
                jobs=services.jobs,
                capture_queue=services.capture_queue,
                rules=SubmissionRules(allow_private=not strict, retention_days=1, allowed_hosts=frozenset({host})),
            )
            return job.job_id

        for event in batch_events([submit(urls[0])]):  # warm-up: launches the browser
            handler.lambda_handler(event, LocalContext("bench-capture"))
        job_ids = [submit(url) for url in urls]
        started = time.perf_counter()
        for event in batch_events(job_ids):
            result = handler.lambda_handler(event, LocalContext("bench-capture"))
            assert not result["batchItemFailures"], result
        elapsed = time.perf_counter() - started
        latencies = []
        for job_id in job_ids:
            job = services.jobs.get("bench", job_id)
            assert job is not None and job.status.value == "completed", job
            latencies.append((job.timings["navigationMs"] + job.timings["captureMs"]) / 1000)
        handler.shutdown()
    return {"seconds": elapsed, "latencies": latencies}


def shot_scraper(urls: list[str], processes: int, chromium: str | None) -> dict[str, Any]:
    executable = SHOT_SCRAPER_VENV / "bin" / "shot-scraper"
    out = Path(tempfile.mkdtemp(prefix="bench-shots-"))
    browsers = Path(tempfile.mkdtemp(prefix="bench-browsers-"))
    env = {**os.environ, "PLAYWRIGHT_BROWSERS_PATH": str(browsers)}
    # shot-scraper launches Playwright's own headless shell; ask for its path, then point it at our Chromium.
    probe = subprocess.run(
        [str(executable), "shot", "about:blank", "-o", str(out / "probe.png")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wanted = re.search(r"Executable doesn't exist at (\S+)", probe.stdout + probe.stderr)
    if wanted and chromium:
        Path(wanted.group(1)).parent.mkdir(parents=True, exist_ok=True)
        Path(wanted.group(1)).symlink_to(chromium)
    slices = [urls[i::processes] for i in range(processes)]
    configs = []
    for index, chunk in enumerate(slices):
        config = out / f"shots-{index}.yml"
        config.write_text(
            "".join(
                f"- url: {url}\n  output: {out}/{index}-{n}.png\n  width: 1280\n  height: 800\n"
                for n, url in enumerate([chunk[0], *chunk])
            )
        )  # the first repeat warms up
        configs.append(config)
    started = time.perf_counter()
    running = [
        subprocess.Popen(
            [str(executable), "multi", str(config)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for config in configs
    ]
    latencies: list[float] = []
    warmed: list[float] = []  # when each process had its browser up and its warm-up shot written

    def read(process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        last = None
        for line in process.stdout:
            if "written to" in line or "Screenshot of" in line:
                now = time.perf_counter()
                if last is None:
                    warmed.append(now)
                else:
                    latencies.append(now - last)
                last = now

    readers = [threading.Thread(target=read, args=(process,)) for process in running]
    for reader in readers:
        reader.start()
    for process, reader in zip(running, readers, strict=True):
        process.wait()
        reader.join()
        if process.returncode != 0:
            raise RuntimeError("shot-scraper failed")
    # The clock starts when the first process is warm, as the others' clocks start after their warm-up.
    elapsed = time.perf_counter() - min(warmed, default=started)
    shots = len(list(out.glob("*-*.png")))
    assert shots == len(urls) + processes, f"shot-scraper wrote {shots} images"
    return {"seconds": elapsed, "latencies": latencies}


# -- orchestration --------------------------------------------------------------------------------------
def _row(name: str, result: dict[str, Any], pages: int, peak_mb: float) -> dict[str, Any]:
    latencies = sorted(result["latencies"])
    return {
        "name": name,
        "pages_per_second": pages / result["seconds"],
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))] * 1000,
        "peak_mb": peak_mb,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--phase", choices=["floor", "floor-shared", "shotwire", "shotwire-private", "shot-scraper", "shot-scraper-x"]
    )
    parser.add_argument("--urls", help="JSON list (internal: a phase's input)")
    parser.add_argument("--only", nargs="*", help="run only these phases (for iterating)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each running every contender (order rotated)")
    args = parser.parse_args()

    from devstack.options import find_chromium

    chromium = find_chromium()
    if args.phase:
        urls = json.loads(args.urls)
        if args.phase in ("floor", "floor-shared"):
            result = floor(urls, args.concurrency, chromium, shared=args.phase == "floor-shared")
        elif args.phase == "shot-scraper":
            result = shot_scraper(urls, 1, chromium)
        elif args.phase == "shot-scraper-x":
            result = shot_scraper(urls, args.concurrency, chromium)
        else:
            result = shotwire(urls, args.concurrency, strict=args.phase == "shotwire")
        print(json.dumps(result))
        return 0

    phases = [
        ("1 floor: Playwright, context per page", "floor"),
        ("1s floor, one shared context", "floor-shared"),
        ("2 shotwire (deployed: egress proxy)", "shotwire"),
        ("2b shotwire (private allowed)", "shotwire-private"),
        ("3 shot-scraper multi (as shipped)", "shot-scraper"),
        (f"3x shot-scraper multi x{args.concurrency} procs", "shot-scraper-x"),
    ]
    phases = [(name, phase) for name, phase in phases if not args.only or phase in args.only]
    # This machine's speed drifts by tens of percent from minute to minute, so every round runs every
    # contender (in a rotated order) and the figures are medians over rounds, ratios taken within a round.
    results: dict[str, list[dict[str, Any]]] = {phase: [] for _, phase in phases}
    with serve_corpus() as base:
        urls = [base + path for path in corpus_paths()]
        env = {
            **os.environ,
            "SHOTWIRE_CHROMIUM_PATH": chromium or "",
            "PYTHONPATH": f"{ROOT / 'layers' / 'shared' / 'python'}{os.pathsep}{ROOT}",
        }
        for round_number in range(args.rounds):
            order = phases[round_number % len(phases) :] + phases[: round_number % len(phases)]
            for name, phase in order:
                command = [
                    sys.executable,
                    "-m",
                    "bench.capture",
                    "--phase",
                    phase,
                    "--concurrency",
                    str(args.concurrency),
                    "--urls",
                    json.dumps(urls),
                ]
                result, peak = run_measured(command, env)
                results[phase].append(_row(name, result, len(urls), peak))
                print(
                    f"  round {round_number + 1}: {name}: {results[phase][-1]['pages_per_second']:.2f} pages/s",
                    file=sys.stderr,
                    flush=True,
                )

    print(
        f"\ncapture benchmark: {len(urls)} pages, concurrency {args.concurrency}, {os.cpu_count()} cores, "
        f"{args.rounds} rounds (medians), Chromium {chromium}"
    )
    print(f"{'contender':<40}{'pages/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'peak MB':>9}")
    for name, phase in phases:
        rows = results[phase]
        print(
            f"{name:<40}{statistics.median(r['pages_per_second'] for r in rows):>9.2f}"
            f"{statistics.median(r['p50_ms'] for r in rows):>9.0f}{statistics.median(r['p95_ms'] for r in rows):>9.0f}"
            f"{max(r['peak_mb'] for r in rows):>9.0f}"
        )

    def ratio(top: str, bottom: str) -> str:
        per_round = [
            a["pages_per_second"] / b["pages_per_second"] for a, b in zip(results[top], results[bottom], strict=True)
        ]
        return f"{statistics.median(per_round):.2f} (rounds: {', '.join(f'{r:.2f}' for r in per_round)})"

    ratios = [
        ("2/1  shotwire (deployed) / floor", "shotwire", "floor"),
        ("2b/1 shotwire (private) / floor", "shotwire-private", "floor"),
        ("1/1s floor / floor with a shared context", "floor", "floor-shared"),
        ("2/3  shotwire (deployed) / shot-scraper", "shotwire", "shot-scraper"),
        ("2/3x shotwire (deployed) / shot-scraper x procs", "shotwire", "shot-scraper-x"),
    ]
    for label, top, bottom in ratios:
        if {top, bottom} <= results.keys():
            print(f"ratio {label:<48} {ratio(top, bottom)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
