"""Local Lambda functions: each execution environment is a child process with its function's environment.

What Lambda does and the local stack therefore does too:
- an environment runs one invocation at a time; more are started (cold starts) when all are busy, up to a
  limit, and warm ones are reused;
- it sees exactly its function's variables (the template's, plus the image's for the capture function)
  and Lambda's own (AWS_LAMBDA_FUNCTION_NAME, ...), not the developer's shell;
- an invocation that outlives the function's timeout is stopped: the environment and everything it started
  (Chromium) is killed, the caller gets Lambda's "Task timed out" error, and the next invocation starts a
  fresh environment;
- where bubblewrap is available, the environment runs in a Lambda-like sandbox: read-only root, a /tmp of
  its own as the only writable place, a non-root user, an empty read-only /dev/shm (devstack.sandbox).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from devstack.runtime import logger
from devstack.sandbox import SANDBOX_TMP, sandbox_command

ROOT = Path(__file__).resolve().parent.parent
# Lambda gives an environment 10 s to initialise; a loaded two-core machine importing Playwright or the
# API's models may need longer, and a slow start is not what the local stack is there to catch.
INIT_TIMEOUT_SECONDS = 60
# Lambda's default ephemeral storage: /tmp past this would fail in AWS (reported, not enforced).
TMP_LIMIT_BYTES = 512 * 1024 * 1024


def _die_with_the_stack() -> None:
    """In the child, before exec: killed when the thread that started it ends (PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own worker, with our own arguments
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,  # its own process group: a timeout kills Chromium with it
        preexec_fn=_die_with_the_stack,
    )


# Environments are started from one thread that lives as long as the stack: the kernel's "parent died"
# signal (and bwrap's --die-with-parent) follows the thread that forked, and a stack that is killed
# outright must not leave workers and Chromium behind.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="environment-spawner")


class InvocationError(Exception):
    """The function failed: it raised (`error_type` is the exception's), crashed, or timed out."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class InvocationTimeout(InvocationError):
    def __init__(self, seconds: int) -> None:
        super().__init__("Sandbox.Timedout", f"Task timed out after {seconds:.2f} seconds")


@dataclass(frozen=True)
class FunctionSpec:
    """A function as Lambda runs it: its handler, name, memory, timeout and environment variables."""

    key: str  # its directory under functions/
    name: str
    memory_mb: int
    timeout_seconds: int
    environment: Mapping[str, str]
    max_environments: int = 10
    sandboxed: bool = False
    handler: Path | None = None  # tests run their own handler files; the stack's come from functions/

    @property
    def handler_path(self) -> Path:
        return self.handler or ROOT / "functions" / self.key / "handler.py"


def lambda_variables(spec: FunctionSpec, region: str) -> dict[str, str]:
    """The variables Lambda itself defines in every environment (the ones our code or libraries read)."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
    }


def _outside_sandbox(value: str, tmp: Path) -> str:
    """A variable that names /tmp itself (the image's HOME) names the environment's own directory."""
    return str(tmp) if value == SANDBOX_TMP else value


def tree_bytes(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


@dataclass
class ExecutionEnvironment:
    """One environment: the worker process, its private /tmp, and a reader of its answers."""

    spec: FunctionSpec
    variables: Mapping[str, str]
    number: int
    process: subprocess.Popen[bytes] = field(init=False)
    tmp: Path = field(init=False)
    answers: queue.Queue[dict[str, Any] | None] = field(init=False, default_factory=queue.Queue)
    tmp_bytes: int = 0

    def __post_init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{self.spec.name}-{self.number}-"))
        env = dict(self.variables)
        command = [sys.executable, "-m", "devstack.worker", str(self.spec.handler_path)]
        if self.spec.sandboxed:
            command = [*sandbox_command(self.tmp, ROOT), *command]
        else:
            # No sandbox: the environment's own directory stands in for its /tmp (HOME=/tmp in the image).
            env = {name: _outside_sandbox(value, self.tmp) for name, value in env.items()}
            env["TMPDIR"] = str(self.tmp)
        self.process = _SPAWNER.submit(_spawn, command, env).result()
        threading.Thread(target=self._read, name=f"{self.spec.name}-{self.number}-reader", daemon=True).start()
        ready = self._next_answer(INIT_TIMEOUT_SECONDS)
        if ready is None or not ready.get("ready"):
            self.kill()
            raise InvocationError("Runtime.InitError", f"{self.spec.name} did not start (see the log above)")

    def _read(self) -> None:
        stream: IO[bytes] | None = self.process.stdout
        assert stream is not None
        for line in stream:
            with contextlib.suppress(ValueError):
                self.answers.put(json.loads(line))
        self.answers.put(None)  # the process is gone

    def _next_answer(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self.answers.get(timeout=max(0.0, timeout))
        except queue.Empty:
            raise TimeoutError from None

    def invoke(self, event: dict[str, Any]) -> Any:
        """Run one invocation; InvocationError if it raised, crashed or timed out (then the process is gone)."""
        deadline = time.time() + self.spec.timeout_seconds
        request = {"requestId": str(uuid.uuid4()), "deadlineEpochMs": int(deadline * 1000), "event": event}
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(request, separators=(",", ":")).encode() + b"\n")
            stdin.flush()
            answer = self._next_answer(deadline - time.time())
        except TimeoutError:
            # What Lambda does: the environment is stopped mid-invocation, whatever it was doing.
            logger.error(
                "function timed out; its environment is stopped",
                extra={"function": self.spec.name, "timeout_seconds": self.spec.timeout_seconds},
            )
            self.kill()
            raise InvocationTimeout(self.spec.timeout_seconds) from None
        except OSError as error:
            self.kill()
            raise InvocationError("Runtime.ExitError", f"the environment is gone ({error})") from None
        if answer is None:
            code = self.process.wait()
            self.kill()
            raise InvocationError("Runtime.ExitError", f"RequestId: {request['requestId']} exited with {code}")
        self._report_tmp()
        if "errorType" in answer:
            raise InvocationError(answer["errorType"], answer.get("errorMessage", ""))
        return answer.get("result")

    def _report_tmp(self) -> None:
        used = tree_bytes(self.tmp)
        if used > TMP_LIMIT_BYTES:
            message = "the environment's /tmp is over Lambda's 512 MB"
            logger.warning(message, extra={"function": self.spec.name, "tmp_bytes": used})
        logger.debug("invocation finished", extra={"function": self.spec.name, "tmp_bytes": used})
        self.tmp_bytes = used

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self, grace_seconds: float = 20) -> None:
        """End of the stack: stdin closes, the worker runs the handler's shutdown (Chromium closes), exits."""
        if self.alive:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None
                self.process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace_seconds)
        self.kill()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.process.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)


class LocalFunction:
    """A function's environments: reuses an idle one, starts another (a cold start) while all are busy, up
    to the spec's limit, and replaces one that a timeout or crash ended."""

    def __init__(self, spec: FunctionSpec, variables: Mapping[str, str]) -> None:
        self.spec = spec
        self.variables = dict(variables)
        self._idle: list[ExecutionEnvironment] = []
        self._all: list[ExecutionEnvironment] = []
        self._starting = 0
        self._numbers = itertools.count(1)
        self._changed = threading.Condition()
        self._closed = False
        self.cold_starts = 0
        self.timeouts = 0
        self.max_tmp_bytes = 0

    def warm(self) -> None:
        """Start one environment ahead of the first request, so the stack is ready when it says so."""
        environment = self._start()
        with self._changed:
            self._idle.append(environment)
            self._changed.notify()

    def invoke(self, event: dict[str, Any]) -> Any:
        environment = self._acquire()
        try:
            return environment.invoke(event)
        except InvocationTimeout:
            self.timeouts += 1
            raise
        finally:
            with self._changed:
                self.max_tmp_bytes = max(self.max_tmp_bytes, environment.tmp_bytes)
                if environment.alive and not self._closed:
                    self._idle.append(environment)
                else:
                    self._all.remove(environment)
                    environment.kill()
                self._changed.notify()

    def _acquire(self) -> ExecutionEnvironment:
        with self._changed:
            while True:
                if self._closed:
                    raise InvocationError("Runtime.Stopped", f"{self.spec.name} is shutting down")
                if self._idle:
                    return self._idle.pop()
                if len(self._all) + self._starting < self.spec.max_environments:
                    self._starting += 1
                    break
                self._changed.wait()
        try:
            return self._start()
        finally:
            with self._changed:
                self._starting -= 1
                self._changed.notify()

    def _start(self) -> ExecutionEnvironment:
        environment = ExecutionEnvironment(self.spec, self.variables, next(self._numbers))
        with self._changed:
            self._all.append(environment)
            self.cold_starts += 1
        return environment

    def close(self) -> None:
        with self._changed:
            self._closed = True
            environments = list(self._all)
            self._changed.notify_all()
        threads = [threading.Thread(target=environment.close) for environment in environments]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
