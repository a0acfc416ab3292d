"""Logger, tracer and metrics, created once and shared by every handler."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "Shotwire"
# Each function logs and traces under its own name (POWERTOOLS_SERVICE_NAME: shotwire-api, shotwire-capture,
# shotwire-dispatcher, set by shotwire_core.settings.powertools_environment); "shotwire" outside a function.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "shotwire"

logger = Logger(service=SERVICE)
# Not patched at import (Tracer's auto_patch): patching for X-Ray imports botocore's client machinery, about
# a fifth of the API's cold import, which a request that calls nothing (/health, /docs) need not pay.
tracer = Tracer(service=SERVICE, auto_patch=False)
# Metrics share one `service` dimension, which the alarms and dashboard select (infra/monitoring.py).
metrics = Metrics(namespace=NAMESPACE, service="shotwire")


def trace_outgoing_calls() -> None:
    """Patch every library X-Ray supports (the AWS SDK; http.client, under the webhook client), as auto_patch
    would have; a module patched already is skipped. get_services calls it before it builds the process's
    AWS and webhook clients, through which every outgoing call goes."""
    tracer.patch()


def correlate(job_id: str) -> None:
    """Make the job id the correlation id of this thread's log lines: the three functions log a job under
    the same `correlation_id`, so one CloudWatch Logs Insights query follows it from submit to webhook.
    Thread-local, because a batch's records run side by side in worker threads."""
    logger.thread_safe_append_keys(correlation_id=job_id, job_id=job_id)
