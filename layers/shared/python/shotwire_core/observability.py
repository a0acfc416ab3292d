"""Logger, tracer and metrics, created once and shared by every handler."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "Shotwire"

logger = Logger(service="shotwire")
tracer = Tracer(service="shotwire")
metrics = Metrics(namespace=NAMESPACE, service="shotwire")
