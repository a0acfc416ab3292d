"""Logger, tracer and metrics, created once and shared by every handler."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from shotwire_core.config import METRICS_NAMESPACE

NAMESPACE = METRICS_NAMESPACE
# Powertools reads each function's service name from POWERTOOLS_SERVICE_NAME (shotwire-api, shotwire-capture,
# shotwire-dispatcher: shotwire_core.settings.powertools_environment, set by the template and the local stack,
# which runs each function in a process of its own with its own environment); a process that is no function
# sets its own or logs as Powertools' "service_undefined".
logger = Logger()
# Not patched at import (Tracer's auto_patch): patching for X-Ray imports botocore's client machinery, about
# a fifth of the API's cold import, which a request that calls nothing (/health, /docs) need not pay.
tracer = Tracer(auto_patch=False)
# Not the function's name: the three functions' metrics share one `service` dimension, which the alarms and
# dashboard select (infra/monitoring.py).
METRICS_SERVICE = "shotwire"
metrics = Metrics(namespace=NAMESPACE, service=METRICS_SERVICE)


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
