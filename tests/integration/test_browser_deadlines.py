"""A browser that dies or hangs, and options Chromium refuses, against real Chromium and pages on 127.0.0.1.

A dead browser is a real one killed with SIGKILL; a hung one is a real one stopped with SIGSTOP (mid-batch,
or by a launcher script that stops it a few seconds after it starts, every time)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from devstack.options import find_chromium
from shotwire_core.adapters.browser import OUT_OF_TIME, BrowserEngine, CaptureError, CaptureResult
from shotwire_core.models import CaptureOptions, Cookie, ErrorCode
from tests.support import PageServer, chromium_groups, freezing_chromium, slow_site

CHROMIUM = find_chromium()


@pytest.fixture(autouse=True)
def _no_chromium_left_behind() -> Iterator[None]:
    """A test here that fails half way must not leave stopped browsers to the next one (nor to the machine)."""
    before = set(chromium_groups())
    yield
    for group in set(chromium_groups()) - before:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


@contextlib.contextmanager
def engine_of(executable: str | None = CHROMIUM, concurrency: int = 4) -> Iterator[BrowserEngine]:
    engine = BrowserEngine(executable, concurrency=concurrency)
    try:
        yield engine
    finally:
        engine.close()


def options(url: str, **changes: Any) -> CaptureOptions:
    changes.setdefault("timeout_ms", 15_000)
    return CaptureOptions(url=url, width=400, height=300, **changes)


def outcome(call: Callable[[], CaptureResult]) -> CaptureResult | CaptureError:
    try:
        return call()
    except CaptureError as error:
        return error


def wait_for_requests(arrived: threading.Semaphore, count: int) -> None:
    for _ in range(count):
        assert arrived.acquire(timeout=30), "the pages were never requested"


# -- a job's own bad options ------------------------------------------------------------------------


def bad(good: CaptureOptions, **changes: Any) -> CaptureOptions:
    """Options the API will refuse once it validates them; built here as if one slipped through."""
    return good.model_copy(update=changes)


def cookie(**fields: Any) -> Cookie:
    values = {"name": "c", "value": "v", "domain": None, "path": "/", "secure": False}
    return Cookie.model_construct(**{**values, **fields, "http_only": False, "same_site": "Lax"})


def test_one_jobs_bad_cookie_fails_only_that_job() -> None:
    """6 good jobs and 1 with a cookie named `a;b`, all at once as a batch renders: the bad one fails as
    invalid_options; the others complete in the same browser, never closed under them."""
    with PageServer({"/": "<html><body>ok</body></html>"}).running() as base, engine_of() as engine:
        good = options(base + "/")
        jobs = [good] * 3 + [bad(good, cookies=[cookie(name="a;b")])] + [good] * 3
        with ThreadPoolExecutor(max_workers=7) as pool:
            results = list(pool.map(lambda job: outcome(lambda: engine.capture(job, guard=None)), jobs))

        failures = [result for result in results if isinstance(result, CaptureError)]
        assert [(error.code, error.message) for error in failures] == [
            (ErrorCode.INVALID_OPTIONS, "cookies: Invalid cookie fields")
        ]
        assert sum(isinstance(result, CaptureResult) for result in results) == 6
        assert engine.launches == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cookies": [cookie(value="a\r\nb")]}, "cookies: Invalid cookie fields"),
        ({"cookies": [cookie(value="a\0b")]}, "cookies: Invalid cookie fields"),
        ({"cookies": [cookie(domain="127.0.0.1", path="nope")]}, "cookies: Invalid cookie fields"),
        ({"headers": {"X-Trace": "a\r\nX-Injected: 1"}}, "headers: Invalid header value"),
        ({"headers": {"X-Trace": "a\0b"}}, "headers: Invalid header value"),
        ({"user_agent": "shotwire\r\nX-Injected: 1"}, "userAgent: Invalid characters found in userAgent"),
    ],
    ids=["cookie-crlf", "cookie-nul", "cookie-path", "header-crlf", "header-nul", "user-agent-crlf"],
)
def test_options_chromium_refuses_are_named_and_keep_the_browser(changes: dict[str, Any], message: str) -> None:
    with PageServer({"/": "<html><body>ok</body></html>"}).running() as base, engine_of() as engine:
        good = options(base + "/")
        with pytest.raises(CaptureError) as caught:
            engine.capture(bad(good, **changes), guard=None)
        assert (caught.value.code, caught.value.message) == (ErrorCode.INVALID_OPTIONS, message)
        assert engine.capture(good, guard=None).http_status == 200
        assert engine.launches == 1


# -- a dead browser -----------------------------------------------------------------------------------


def test_a_browser_killed_mid_batch_is_noticed_and_its_jobs_finish_in_a_fresh_one() -> None:
    """Jobs with a minute each to spare, on pages that take 3 s: the kill is noticed by the disconnect, not by
    a timeout, so the batch still ends in seconds, all of it captured."""
    with slow_site(3.0) as (url, arrived), engine_of(concurrency=2) as engine:
        before = set(chromium_groups())
        engine.capture(options(url + "?warm", timeout_ms=60_000), guard=None)
        arrived.acquire()
        (browser_group,) = set(chromium_groups()) - before

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [
                pool.submit(engine.capture, options(f"{url}?n={n}", timeout_ms=60_000), guard=None) for n in range(4)
            ]
            wait_for_requests(arrived, 2)  # two pages loading, two jobs waiting for a render slot
            os.killpg(browser_group, signal.SIGKILL)
            results = [future.result(timeout=120) for future in futures]
        elapsed = time.monotonic() - started

    assert [result.http_status for result in results] == [200] * 4
    assert engine.launches == 2
    assert elapsed < 45, f"the dead browser was noticed late ({elapsed:.0f} s)"


# -- a hung browser -----------------------------------------------------------------------------------


def test_a_browser_frozen_mid_batch_is_killed_and_its_jobs_finish_in_a_fresh_one() -> None:
    with slow_site(3.0) as (url, arrived), engine_of(concurrency=2) as engine:
        before = set(chromium_groups())
        engine.capture(options(url + "?warm"), guard=None)
        arrived.acquire()
        (browser_group,) = set(chromium_groups()) - before

        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(engine.capture, options(f"{url}?n={n}"), guard=None) for n in range(4)]
            wait_for_requests(arrived, 2)
            os.killpg(browser_group, signal.SIGSTOP)
            results = [future.result(timeout=120) for future in futures]

        assert [result.http_status for result in results] == [200] * 4
        assert engine.launches == 2
        assert browser_group not in chromium_groups(), "the frozen browser was left behind"


def test_a_browser_frozen_between_jobs_is_noticed_as_the_next_job_opens_its_page() -> None:
    """Opening a context or page has no timeout in Playwright: without a deadline of its own, the next jobs
    would wait on the frozen browser for as long as the process lives."""
    with PageServer({"/": "<html><body>ok</body></html>"}).running() as base, engine_of() as engine:
        before = set(chromium_groups())
        engine.capture(options(base + "/"), guard=None)
        (browser_group,) = set(chromium_groups()) - before
        os.killpg(browser_group, signal.SIGSTOP)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=3) as pool:
            results = list(pool.map(lambda n: engine.capture(options(f"{base}/?n={n}"), guard=None), range(3)))
        elapsed = time.monotonic() - started

    assert [result.http_status for result in results] == [200] * 3
    assert engine.launches == 2
    assert elapsed < 60, f"the frozen browser was noticed late ({elapsed:.0f} s)"


def test_a_browser_that_always_hangs_fails_each_capture_before_its_deadline(tmp_path: Path) -> None:
    """Every launch freezes 3 s in: each job is tried in two browsers, each killed in turn, and every call
    returns an error for a later retry, well before its caller's deadline."""
    with slow_site(30.0) as (url, _), engine_of(freezing_chromium(tmp_path, 3), concurrency=2) as engine:
        not_after = time.monotonic() + 50

        def capture(n: int) -> tuple[CaptureResult | CaptureError, float]:
            job = options(f"{url}?n={n}", timeout_ms=8000)
            return outcome(lambda: engine.capture(job, guard=None, not_after=not_after)), time.monotonic()

        with ThreadPoolExecutor(max_workers=3) as pool:
            answers = list(pool.map(capture, range(3)))

        for result, answered_at in answers:
            assert isinstance(result, CaptureError), result
            assert result.code.transient, result.message  # the browser's fault, not the page's: tried again
            assert answered_at < not_after
        assert engine.launches >= 2
        assert not any(state == "T" for group in chromium_groups().values() for _, state in group)


def test_jobs_waiting_on_a_browser_that_never_starts_end_by_their_deadline(tmp_path: Path) -> None:
    """A browser that freezes as it starts: the launch, and every job queued behind it, ends in time."""
    with engine_of(freezing_chromium(tmp_path, 0), concurrency=2) as engine:
        not_after = time.monotonic() + 15

        def capture(_: int) -> tuple[CaptureResult | CaptureError, float]:
            job = options("http://127.0.0.1:9/")
            return outcome(lambda: engine.capture(job, guard=None, not_after=not_after)), time.monotonic()

        with ThreadPoolExecutor(max_workers=3) as pool:
            answers = list(pool.map(capture, range(3)))

    for result, answered_at in answers:
        assert isinstance(result, CaptureError) and result.code.transient, result
        assert answered_at < not_after


def test_a_job_still_waiting_for_a_render_slot_ends_when_its_time_is_up() -> None:
    """One render slot, held for 8 s by a page that never answers; the job queued behind it must be done in
    12 s. It ends while still waiting, as a retry for later rather than a failure of its page."""
    with slow_site(30.0) as (url, arrived), engine_of(concurrency=1) as engine:
        first, second = options(url + "?a", timeout_ms=8000), options(url + "?b", timeout_ms=8000)
        with ThreadPoolExecutor(max_workers=2) as pool:
            holder = pool.submit(outcome, lambda: engine.capture(first, guard=None))
            wait_for_requests(arrived, 1)
            not_after = time.monotonic() + 12
            result = outcome(lambda: engine.capture(second, guard=None, not_after=not_after))
            answered_at = time.monotonic()
            held = holder.result(timeout=60)

    assert isinstance(result, CaptureError) and result.code is ErrorCode.INTERNAL_ERROR, result
    assert result.message == OUT_OF_TIME
    assert answered_at < not_after
    assert isinstance(held, CaptureError) and held.code is ErrorCode.NAVIGATION_TIMEOUT  # the page's own fault


def test_no_time_left_is_an_immediate_retry_not_a_capture() -> None:
    with engine_of() as engine:
        with pytest.raises(CaptureError) as caught:
            engine.capture(options("http://127.0.0.1:9/"), guard=None, not_after=time.monotonic() + 1)
        assert caught.value.code is ErrorCode.INTERNAL_ERROR and engine.launches == 0
