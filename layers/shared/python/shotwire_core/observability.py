"""Logger, tracer and metrics, created once and shared by every handler."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "Shotwire"

logger = Logger(service="shotwire")
tracer = Tracer(service="shotwire")
metrics = Metrics(namespace=NAMESPACE, service="shotwire")


def correlate(job_id: str) -> None:
    """Make the job id the correlation id of this thread's log lines: the three functions log a job under
    the same `correlation_id`, so one CloudWatch Logs Insights query follows it from submit to webhook.
    Thread-local, because a batch's records run side by side in worker threads."""
    logger.thread_safe_append_keys(correlation_id=job_id, job_id=job_id)
