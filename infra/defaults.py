"""Lambda defaults shared by every function, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.permissions import function_role

REPO_ROOT = Path(__file__).resolve().parents[1]

# The zip functions' Python, and the one both layers are built and compiled for (scripts/build-layer.sh).
# Not the newest Lambda offers (3.14): the layers ship bytecode, which only an interpreter of exactly this
# version can compile, and 3.13 is the newest the project's machines have (pyenv); see RUNTIME_NOT_LATEST.
RUNTIME = lambda_.Runtime.PYTHON_3_13
# Why the zip functions are acknowledged for cdk-nag's AwsSolutions-L1 (latest runtime), in infra/stack.py.
RUNTIME_NOT_LATEST = (
    "Python 3.13 is a supported Lambda runtime, years from deprecation. The functions stay on it because their "
    "layers ship bytecode, which only exactly the runtime's Python can compile and which makes their cold "
    "import 2.5 times faster (docs/benchmarks.md), and 3.13 is the newest Python the build machines have; "
    "move RUNTIME to 3.14 when a 3.14 interpreter is there to compile with."
)
# The capture image and the dependencies layer are built for x86_64; keep every function on one architecture.
ARCHITECTURE = lambda_.Architecture.X86_64
TRACING = lambda_.Tracing.ACTIVE
LOGGING_FORMAT = lambda_.LoggingFormat.JSON
APPLICATION_LOG_LEVEL = lambda_.ApplicationLogLevel.INFO
LOG_RETENTION = logs.RetentionDays.ONE_MONTH

ZIP_HANDLER = "handler.lambda_handler"

# Files that must never reach a function's code asset: they change on every run and would churn the asset hash.
ASSET_EXCLUDE = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache"]
# The layers are built directories (scripts/build-layer.sh) whose bytecode is part of the layer: only another
# interpreter's, had one run from there, is left out.
BYTECODE_TAG = f"cpython-{RUNTIME.name.removeprefix('python').replace('.', '')}"
LAYER_ASSET_EXCLUDE = ["**/*.pyc", f"!**/__pycache__/*.{BYTECODE_TAG}.pyc"]


def function_props(
    scope: Construct,
    *,
    service: str,
    memory_mb: int,
    timeout_seconds: int,
    environment: dict[str, str],
    vpc_placement: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments common to zip and image functions; `service` names logs, traces and metrics.

    `vpc_placement` (StaticEgress.function_placement()) puts the function in the VPC, and so gives its role
    the network-interface actions Lambda needs there."""
    # An explicit log group: retention is set up front instead of through a custom resource.
    log_group = logs.LogGroup(scope, "Logs", retention=LOG_RETENTION)
    return {
        "architecture": ARCHITECTURE,
        "tracing": TRACING,
        "logging_format": LOGGING_FORMAT,
        "application_log_level_v2": APPLICATION_LOG_LEVEL,
        "log_group": log_group,
        "role": function_role(
            scope, service=service, log_group=log_group, network_interfaces=vpc_placement is not None
        ),
        "memory_size": memory_mb,
        "timeout": Duration.seconds(timeout_seconds),
        # The Powertools names come with it (shotwire_core.settings.environment_of), as locally.
        "environment": environment,
        **(vpc_placement or {}),
    }


def secure_queue(scope: Construct, construct_id: str, **props: Any) -> sqs.Queue:
    """An SQS queue encrypted at rest and refusing plain-HTTP access, as every queue of the stack is."""
    return sqs.Queue(scope, construct_id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True, **props)
