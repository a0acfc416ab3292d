"""Log lines carry their job's id as correlation id, even when a batch's records log side by side."""

from __future__ import annotations

import io
import json
import logging
import threading

from shotwire_core.observability import correlate, logger


def test_each_worker_thread_logs_under_its_own_job() -> None:
    output = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(output)
    both_correlated = threading.Barrier(2)

    def work(job_id: str) -> None:
        correlate(job_id)
        both_correlated.wait()  # the other thread has set its id too: a shared key would now be clobbered
        logger.info("rendered")

    threads = [threading.Thread(target=work, args=(job_id,)) for job_id in ("job_a", "job_b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.setStream(previous)

    lines = [json.loads(line) for line in output.getvalue().splitlines() if '"rendered"' in line]
    assert sorted((line["correlation_id"], line["job_id"]) for line in lines) == [
        ("job_a", "job_a"),
        ("job_b", "job_b"),
    ]
