"""Real servers on 127.0.0.1 for tests: a static page server and a scriptable webhook receiver."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports: all sockets stay bound until every port is chosen."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    return free_port()


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], port: int = 0) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class PageServer:
    """Serves fixed HTML pages by path."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                page = outer.pages.get(self.path.split("?", 1)[0])
                if page is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = page.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.handler = Handler

    @contextmanager
    def running(self) -> Iterator[str]:
        with serving(self.handler) as server:
            yield f"http://127.0.0.1:{server.server_address[1]}"


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    @property
    def json(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


@dataclass
class WebhookReceiver:
    """Records every POST; answers each path with a scripted sequence of status codes (then the last one)."""

    scripts: dict[str, list[int]] = field(default_factory=dict)
    answer_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    HANG = 0  # a scripted "status" that answers nothing for `hang_seconds`, then drops the connection
    hang_seconds: float = 30
    # path -> seconds to think before answering; with the in-flight count per path and its peak
    answer_delays: dict[str, float] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    peak_in_flight: dict[str, int] = field(default_factory=dict)

    def script(self, path: str, statuses: list[int], headers: dict[str, str] | None = None) -> str:
        self.scripts[path] = list(statuses)
        self.answer_headers[path] = dict(headers or {})
        return self.base_url + path

    def _status_for(self, path: str) -> int:
        with self.lock:
            script = self.scripts.get(path, [200])
            return script.pop(0) if len(script) > 1 else script[0]

    def received(self, path: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 60) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"expected {count} deliveries to {path} within {timeout}s, got {len(self.received(path))}")

    @contextmanager
    def running(self, port: int = 0) -> Iterator[WebhookReceiver]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.deliveries.append(Delivery(self.path, dict(self.headers.items()), body, time.time()))
                    now_in_flight = outer.in_flight.get(self.path, 0) + 1
                    outer.in_flight[self.path] = now_in_flight
                    outer.peak_in_flight[self.path] = max(outer.peak_in_flight.get(self.path, 0), now_in_flight)
                try:
                    self._answer()
                finally:
                    with outer.lock:
                        outer.in_flight[self.path] -= 1

            def _answer(self) -> None:
                time.sleep(outer.answer_delays.get(self.path, 0.0))
                status = outer._status_for(self.path)
                if status == WebhookReceiver.HANG:
                    time.sleep(outer.hang_seconds)
                    self.close_connection = True
                    return
                self.send_response(status)
                for name, value in outer.answer_headers.get(self.path, {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return

        with serving(Handler, port) as server:
            self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
            yield self


ROOT = Path(__file__).resolve().parents[1]


@dataclass
class DevstackProcess:
    process: subprocess.Popen[bytes]
    api_url: str
    moto_url: str


@contextmanager
def devstack_process(env: dict[str, str], log: IO[bytes], ready_timeout: float = 60) -> Iterator[DevstackProcess]:
    """Run `python -m devstack` (what `make dev` runs) on free ports until /health answers; SIGTERM it after."""
    api_port, moto_port = free_ports(2)
    full_env = {
        **os.environ,
        "SHOTWIRE_PORT": str(api_port),
        "SHOTWIRE_MOTO_PORT": str(moto_port),
        "PYTHONPATH": f"{ROOT / 'layers' / 'shared' / 'python'}{os.pathsep}{ROOT}",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack"],
        cwd=ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    running = DevstackProcess(process, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{moto_port}")
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            try:
                with urllib.request.urlopen(running.api_url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local stack did not start (exit code {process.poll()})")
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Page:
    body: str | bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]


class Site:
    """A loopback site whose pages are set per test; records every request and peak concurrency."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.seen: list[SeenRequest] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()
        self.base_url = ""

    def add(self, path: str, body: str | bytes, **kwargs: Any) -> str:
        self.pages[path] = Page(body, **kwargs)
        return self.base_url + path

    def requests_to(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return [seen for seen in self.seen if seen.path.split("?", 1)[0] == path]

    @contextmanager
    def running(self) -> Iterator[Site]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with site._lock:
                    site.seen.append(SeenRequest(self.path, dict(self.headers.items())))
                    site.in_flight += 1
                    site.peak_in_flight = max(site.peak_in_flight, site.in_flight)
                try:
                    page = site.pages.get(self.path.split("?", 1)[0])
                    if page is None:
                        page = Page("not found", status=404, content_type="text/plain")
                    if page.delay:
                        time.sleep(page.delay)
                    data = page.body.encode() if isinstance(page.body, str) else page.body
                    self.send_response(page.status)
                    self.send_header("Content-Type", page.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Cache-Control", "no-store")
                    for name, value in page.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    with site._lock:
                        site.in_flight -= 1

            do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_GET

            def log_message(self, *args: Any) -> None:
                return

        with serving(Handler) as server:
            self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
            yield self


# --- processes and pages for the browser tests -------------------------------------------------------------


def descendant_processes(root: int | None = None) -> dict[int, tuple[str, int, str]]:
    """The processes below `root` (this test process by default), read from /proc: pid -> (program, process
    group, state letter). What a test launched, and what it may have left behind."""
    root = os.getpid() if root is None else root
    parents: dict[int, int] = {}
    found: dict[int, tuple[str, int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            program = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        found[int(entry.name)] = (program, int(fields[2]), fields[0])

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == root:
                return True
        return False

    return {pid: process for pid, process in found.items() if descends(pid)}


def chromium_groups() -> dict[int, list[tuple[int, str]]]:
    """This test process's Chromium processes by process group (one group per launched browser): pid, state."""
    groups: dict[int, list[tuple[int, str]]] = {}
    for pid, (program, group, state) in descendant_processes().items():
        if "chrom" in program.lower():
            groups.setdefault(group, []).append((pid, state))
    return groups


def restore_sigint() -> None:
    """A child's `preexec_fn`: Ctrl-C (SIGINT) stops it again. A job started in the background (`make test &`,
    some CI runners) ignores SIGINT, children inherit that, and Python keeps an ignored SIGINT ignored, so a
    test that interrupts a child with SIGINT would wait for it forever."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def freezing_chromium(directory: Path, after_seconds: float) -> str:
    """A Chromium launcher whose browser process stops (SIGSTOP) `after_seconds` after it starts: a browser
    that hangs without disconnecting, on every launch."""
    from devstack.options import find_chromium

    script = directory / "freezing-chromium"
    script.write_text(
        "#!/bin/sh\n"
        # $$ is the browser process once exec'd; the one that answers the CDP pipe, so stopping it hangs
        # the browser. The timer lets go of the pipe (fds 3 and 4), so that only Chromium holds it.
        f"( exec 3>&- 4>&-; sleep {after_seconds}; kill -s STOP $$ ) >/dev/null 2>&1 &\n"
        f'exec {find_chromium()} "$@"\n'
    )
    script.chmod(0o755)
    return str(script)


@contextmanager
def slow_site(seconds: float) -> Iterator[tuple[str, threading.Semaphore]]:
    """Pages that answer after `seconds`; the semaphore is released as each request arrives."""
    arrived = threading.Semaphore(0)

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrived.release()
            time.sleep(seconds)
            body = b"<html><body style='background:#0a0'>slow</body></html>"
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a job that gave up hangs up
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    with serving(Slow) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}/", arrived


@contextmanager
def provisioned_moto(env: Any, config: Any) -> Iterator[Any]:
    """moto in this process (mock_aws), holding what `make dev` provisions from `config` (same region and
    account); `env` is a pytest MonkeyPatch for the fake credentials. Yields devstack's LocalResources."""
    from moto import mock_aws

    from devstack.options import ACCOUNT, REGION
    from devstack.resources import provision
    from shotwire_core.adapters import aws

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.delenv(name, raising=False)
    env.setenv("AWS_ACCESS_KEY_ID", "testing")
    env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    env.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        aws.reset_clients()  # clients made before would talk to another (or no) moto
        try:
            yield provision(config, REGION, ACCOUNT)
        finally:
            aws.reset_clients()
