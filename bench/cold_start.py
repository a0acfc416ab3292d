"""`make bench-cold`: how long the zip functions' handlers take to import in a fresh Lambda interpreter,
with the layers' bytecode and without it.

For the api and dispatcher handlers, each run is a fresh interpreter of the Lambda runtime's Python (the one
scripts/build-layer.sh compiled the layers with, as its stamp records) started with -I -S: nothing but the
standard library and, on sys.path, the function's code and the two built layers, as on Lambda (where
/opt/python comes first). The environment is the deployed function's (shotwire_core.settings.environment_of,
as the CDK app sets it) plus the variables Lambda itself sets. Before the clock starts the probe imports the
standard modules that Lambda's runtime client (awslambdaric 4.2) has loaded before it imports a handler;
then it times `import handler`, wall clock and CPU, and after it get_services() (CPU): the AWS SDK, X-Ray's
patches and the clients, which the handlers leave to the first request that calls out, so that what was
moved out of the import, rather than saved, stays in sight.

Two variants, run alternately round by round since this machine's speed drifts:
- bytecode: the layers as built, and as deployed;
- no bytecode: copies of the same layers without their __pycache__ directories, which is what the layers
  were before issue 14: every cold start compiles every module it imports.
Either way the handler's own file is compiled at each start (the function's code asset holds no bytecode)
and -B keeps the interpreter from writing any. One warm-up run of each variant is not counted.

Run: `.venv/bin/python -m bench.cold_start [--runs 10] [--only api] [--profile]` (builds the layers first if
they are stale; needs the runtime's Python, as `make layer` does). --profile adds one `-X importtime` run of
each handler with bytecode and prints where its import time goes, by top-level package.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shotwire_core.config import StackConfig
from shotwire_core.settings import FUNCTION_QUEUE_URLS, environment_of

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ROOT / "build" / "layers"
LAYER_NAMES = ("dependencies", "shared")  # in Lambda's order: the function's layers as listed in the template
SERVICES = ("api", "dispatcher")
# Issue 14: the API handler's cold import, CPU, with the layers as deployed.
TARGET_MS = 300.0

# What awslambdaric's bootstrap and the modules it loads import at their top before the handler: on Lambda
# their cost is the runtime's, not the handler's.
RUNTIME_PRELOADED = ("importlib", "json", "logging", "time", "traceback", "decimal", "math", "enum")

REGION = "eu-west-1"
ACCOUNT = "123456789012"

# argv: preloaded modules (comma-separated), then the sys.path entries. Prints the timings as JSON.
PROBE = """
import sys
for name in sys.argv[1].split(","):
    __import__(name)
import json, time
sys.path[:0] = sys.argv[2:]
sys.stderr.write("-- import handler --\\n")
wall, cpu = time.perf_counter(), time.process_time()
import handler
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
modules = len(sys.modules)
sys.stderr.write("-- get_services --\\n")
services = time.process_time()
from shotwire_core.services import get_services
get_services()
services = time.process_time() - services
print(json.dumps({"wall_ms": wall * 1e3, "cpu_ms": cpu * 1e3, "modules": modules, "services_cpu_ms": services * 1e3}))
"""


@dataclass(frozen=True)
class Sample:
    wall_ms: float
    cpu_ms: float
    modules: int
    # Then get_services(), CPU: what the first request that calls AWS adds (the SDK, X-Ray's patches, clients).
    services_cpu_ms: float


def lambda_python() -> str:
    """The interpreter build-layer.sh compiled both layers with (their stamps' `bytecode` line)."""
    found = set()
    for name in LAYER_NAMES:
        for line in (LAYERS / f"{name}.stamp").read_text().splitlines():
            if line.startswith("bytecode "):
                found.add(line.split(maxsplit=4)[4])  # bytecode <tag> <mode> <version> <path>
    if len(found) != 1:
        raise SystemExit(f"cold_start: the layers' stamps name {len(found)} compiling interpreters: {found}")
    return found.pop()


def build_layers() -> None:
    """Measure what would be deployed: the layers rebuilt where the pins or shotwire_core changed."""
    subprocess.run([str(ROOT / "scripts" / "build-layer.sh")], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def function_environment(service: str, python: str) -> dict[str, str]:
    """The deployed function's variables (queue URLs and bucket made up), and those Lambda sets itself."""
    queue = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/shotwire-"
    config = StackConfig()
    runtime = Path(python).name  # python3.13
    return {
        **environment_of(
            service,
            config,
            images_bucket="shotwire-images-bench",
            allow_private_networks=False,
            queue_urls={name: queue + name.lower() for name in FUNCTION_QUEUE_URLS[service]},
            egress_ips="",
            api_url=f"https://api-id.execute-api.{REGION}.amazonaws.com/prod",
        ),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": f"shotwire-{service}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(getattr(config, f"{service}_memory_mb", 512)),
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "_HANDLER": "handler.lambda_handler",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        # Credentials are only read when a client first calls AWS, which no import does.
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
    }


def prepare(scratch: Path) -> dict[str, dict[str, list[str]]]:
    """sys.path for each variant and service: the function's code, then the layers."""
    functions = scratch / "functions"
    for service in SERVICES:
        (functions / service).mkdir(parents=True)
        shutil.copy2(ROOT / "functions" / service / "handler.py", functions / service / "handler.py")
    stripped = scratch / "layers"
    for name in LAYER_NAMES:
        shutil.copytree(LAYERS / name / "python", stripped / name, ignore=shutil.ignore_patterns("__pycache__"))
    return {
        "bytecode": {s: [str(functions / s), *(str(LAYERS / n / "python") for n in LAYER_NAMES)] for s in SERVICES},
        "no bytecode": {s: [str(functions / s), *(str(stripped / n) for n in LAYER_NAMES)] for s in SERVICES},
    }


def run_once(python: str, path: list[str], env: dict[str, str], *, importtime: bool = False) -> tuple[Sample, str]:
    command = [python, "-I", "-S", "-B", *(["-X", "importtime"] if importtime else []), "-c", PROBE]
    done = subprocess.run(
        [*command, ",".join(RUNTIME_PRELOADED), *path], capture_output=True, text=True, env=env, timeout=120
    )
    if done.returncode != 0:
        raise SystemExit(f"cold_start: the probe failed:\n{done.stderr}")
    return Sample(**json.loads(done.stdout.splitlines()[-1])), done.stderr


def by_package(importtime_log: str) -> list[tuple[str, float, int]]:
    """(top-level package, self ms, modules) for everything `import handler` imported, largest first."""
    totals: dict[str, list[float]] = {}
    handler_part = importtime_log.split("-- import handler --\n", 1)[-1].split("-- get_services --\n", 1)[0]
    lines = handler_part.splitlines()
    for line in lines:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        entry = totals.setdefault(name.split(".")[0], [0.0, 0])
        entry[0] += int(self_us) / 1000
        entry[1] += 1
    return sorted(((name, ms, int(n)) for name, (ms, n) in totals.items()), key=lambda row: -row[1])


def summary(samples: list[Sample], field: str) -> tuple[float, float, float]:
    values = [getattr(s, field) for s in samples]
    return statistics.median(values), min(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="fresh interpreters per handler and variant")
    parser.add_argument("--only", choices=SERVICES, action="append", help="one handler (repeatable)")
    parser.add_argument("--profile", action="store_true", help="also where the import time goes (-X importtime)")
    args = parser.parse_args()
    services = tuple(args.only or SERVICES)

    build_layers()
    python = lambda_python()
    version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"cold import of the zip handlers: {python} ({version}), -I -S -B, {args.runs} runs each")
    print(f"  preloaded as by Lambda's runtime client, not counted: {', '.join(RUNTIME_PRELOADED)}\n")

    samples: dict[tuple[str, str], list[Sample]] = {}
    profiles: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="shotwire-cold-") as scratch:
        paths = prepare(Path(scratch))
        variants = list(paths)
        envs = {service: function_environment(service, python) for service in services}
        for service in services:
            for variant in variants:  # warm-up: the files into the page cache
                run_once(python, paths[variant][service], envs[service])
        for round_ in range(args.runs):
            for service in services:
                order = variants if round_ % 2 == 0 else variants[::-1]
                for variant in order:
                    sample, _ = run_once(python, paths[variant][service], envs[service])
                    samples.setdefault((service, variant), []).append(sample)
        if args.profile:
            for service in services:
                profiles[service] = run_once(python, paths["bytecode"][service], envs[service], importtime=True)[1]

    print("`import handler`; then get_services(), what the first request that calls AWS adds (CPU, median):")
    print("| handler | layers | wall median ms | min | max | CPU median ms | min | max | modules | then services ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (service, variant), runs in samples.items():
        wall, cpu = summary(runs, "wall_ms"), summary(runs, "cpu_ms")
        cells = [f"{v:.0f}" for v in (*wall, *cpu)]
        then = summary(runs, "services_cpu_ms")[0]
        print(f"| {service} | {variant} | {' | '.join(cells)} | {runs[0].modules} | {then:.0f} |")
    print()
    for service in services:
        with_, without = samples[(service, "bytecode")], samples[(service, "no bytecode")]
        cpu_ratio = summary(without, "cpu_ms")[0] / summary(with_, "cpu_ms")[0]
        wall_ratio = summary(without, "wall_ms")[0] / summary(with_, "wall_ms")[0]
        cpu_ms = summary(with_, "cpu_ms")[0]
        line = f"{service}: no bytecode / bytecode = {cpu_ratio:.2f} CPU, {wall_ratio:.2f} wall; with bytecode "
        line += f"{cpu_ms:.0f} ms CPU"
        if service == "api":
            met = "met" if cpu_ms <= TARGET_MS else "not met"
            line += f" (target <= {TARGET_MS:.0f} ms: {met})"
        print(line)
    for service, log in profiles.items():
        rows = by_package(log)
        print(f"\n{service}: import time by top-level package (-X importtime, self time, one run with bytecode)")
        for name, ms, count in rows[:15]:
            print(f"  {name:<28} {ms:7.1f} ms  {count:4d} modules")
        print(f"  {'(total)':<28} {sum(r[1] for r in rows):7.1f} ms  {sum(r[2] for r in rows):4d} modules")


if __name__ == "__main__":
    main()
