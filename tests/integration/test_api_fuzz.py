"""A bounded property-based fuzz of the whole API through the local gateway's real HTTP edge: schemathesis sends
data the document forbids (negative mode) and chains calls from answer to answer (stateful), and no answer may be
a 5xx or stray from the document. The positive, one-call-at-a-time side is tests/integration/test_openapi_contract.py.

Bounded by example counts, not a clock, so a run is the same on a slow machine; derandomized so CI is repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from shotwire_core.config import load_stack_config
from tests.integration.conftest import KEY_A, Aws, local_gateway

AUTH = {"Authorization": f"Bearer {KEY_A}"}
# Page and webhook URLs on loopback (the capture function and the dispatcher do not run here, so nothing is
# fetched): schema-valid bodies are then mostly accepted, and the chains reach the jobs they create.
schemathesis.openapi.format(
    "uri",
    st.builds(
        "http://127.0.0.1:{}/{}".format,
        st.integers(min_value=1, max_value=65535),
        st.text(alphabet="abcxyz0123456789-._~%/?=&#", max_size=30),
    ),
)


def without_waits(case: schemathesis.Case) -> schemathesis.Case:
    """No capture runs here: a `wait` would only sleep to its end (tests/e2e/test_sync_wait.py covers it)."""
    if case.query:
        case.query.pop("wait", None)
    if case.headers:
        for name in [name for name in case.headers if name.lower() == "prefer"]:
            del case.headers[name]
    return case


ANSWER_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_url(aws_stack: Aws, api_module: ModuleType) -> Iterator[str]:
    with local_gateway(api_module) as url:
        yield url


def _schema(api_url: str) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    schema.config.base_url = api_url
    # It POSTs to whatever URL it is given, and tests only talk to loopback.
    return schema.exclude(path="/v1/webhooks/test")


@pytest.fixture
def negative_schema(api_url: str) -> schemathesis.BaseSchema:
    schema = _schema(api_url)
    schema.config.generation.update(modes=[GenerationMode.NEGATIVE])
    return schema


negative = schemathesis.pytest.from_fixture("negative_schema")


@negative.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_data_the_document_forbids_is_refused_with_a_4xx(case: schemathesis.Case) -> None:
    without_waits(case).call_and_validate(headers=AUTH, checks=[*ANSWER_CHECKS, negative_data_rejection])


def _forget_every_job(table_name: str) -> None:
    """Each chain starts from an empty jobs table, so what it draws depends on its own calls only (Hypothesis
    replays chains and refuses ones whose answers changed under it)."""
    table = boto3.resource("dynamodb").Table(table_name)
    for page in table.meta.client.get_paginator("scan").paginate(
        TableName=table_name, ProjectionExpression="tenantId, jobId"
    ):
        with table.batch_writer() as batch:
            for item in page["Items"]:
                batch.delete_item(Key=item)


def test_chains_of_calls_never_fail_the_server(api_url: str) -> None:
    """Jobs, batches and webhook settings created by one call and read, listed, redelivered and deleted by the
    next, with ids taken from real answers."""
    machine = _schema(api_url).as_state_machine()
    jobs_table = load_stack_config().jobs_table

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def teardown(self) -> None:
            _forget_every_job(jobs_table)

        def before_call(self, case: schemathesis.Case) -> None:
            without_waits(case)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": AUTH}

        def validate_response(
            self,
            response: Response,
            case: schemathesis.Case,
            additional_checks: list[CheckFunction] | None = None,
            **kwargs: Any,
        ) -> None:
            # Schemathesis' stateful checks (a deleted job is gone, a created one can be read) run too; not
            # "schema-valid data is accepted": the document cannot say every rule (a URL's scheme, the pixel
            # budget), and those answers are 422s that name the rule, which the other checks hold to the document.
            case.validate_response(
                response,
                additional_checks=[*ANSWER_CHECKS, *(additional_checks or [])],
                excluded_checks=[positive_data_acceptance],
            )

    Workflow.run(
        settings=settings(
            max_examples=30,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        ),
    )
