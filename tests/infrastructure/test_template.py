"""Assertions on the synthesized CloudFormation template.

Resource names are compared with StackConfig, the same object the local stack builds its moto resources
from: that is the proof that local and deployed agree.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from app import config_from_context, stack_name
from infra.defaults import REPO_ROOT, RUNTIME
from infra.environment import SET_BY_IMAGE
from shotwire_core import gateway_errors
from shotwire_core.config import StackConfig
from shotwire_core.settings import SETTINGS_MODELS, FromStack, Given, Settings, source_of, variables

Statement = dict[str, Any]


# --- helpers ---------------------------------------------------------------------------------------


def logical_id(template: Template, resource_type: str, **properties: Any) -> str:
    found = template.find_resources(resource_type, {"Properties": properties})
    assert len(found) == 1, f"expected one {resource_type} with {properties}, found {list(found)}"
    return next(iter(found))


def function_id(template: Template, service: str) -> str:
    found = template.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": f"shotwire-{service}"}}}},
    )
    assert len(found) == 1, f"expected one function for service {service}"
    return next(iter(found))


def function_props(template: Template, service: str) -> dict[str, Any]:
    props: dict[str, Any] = template.to_json()["Resources"][function_id(template, service)]["Properties"]
    return props


def referenced_ids(value: Any) -> set[str]:
    """Logical ids a CloudFormation value points at through Ref or Fn::GetAtt."""
    if isinstance(value, dict):
        found = set()
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for inner in value.values():
            found |= referenced_ids(inner)
        return found
    if isinstance(value, list):
        return set().union(*(referenced_ids(v) for v in value)) if value else set()
    return set()


def config_queue_names(config: StackConfig) -> tuple[str, ...]:
    return (config.capture_queue, config.capture_dlq, config.webhook_retry_queue, config.webhook_dlq)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: Template, service: str) -> list[Statement]:
    role = function_props(template, service)["Role"]["Fn::GetAtt"][0]
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": Match.array_with([{"Ref": role}])}})
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def may(statements: list[Statement], action: str, resource_id: str | None = None) -> bool:
    """Whether any Allow grants `action` (wildcards honoured) on `resource_id` (None: on anything)."""
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        if not any(fnmatchcase(action, pattern) for pattern in as_list(statement["Action"])):
            continue
        resources = as_list(statement["Resource"])
        if resource_id is None or "*" in resources or resource_id in referenced_ids(resources):
            return True
    return False


# --- names: deployed == local ----------------------------------------------------------------------


def test_resource_names_come_from_stack_config(template: Template, config: StackConfig) -> None:
    for table in (config.jobs_table, config.keys_table, config.idempotency_table):
        template.has_resource_properties("AWS::DynamoDB::Table", {"TableName": table})
    for queue in config_queue_names(config):
        template.has_resource_properties("AWS::SQS::Queue", {"QueueName": queue})
    template.has_resource_properties("AWS::Events::EventBus", {"Name": config.event_bus})
    template.has_resource_properties("AWS::Events::Rule", {"Name": config.outcome_rule})
    template.resource_count_is("AWS::DynamoDB::Table", 3)
    template.resource_count_is("AWS::SQS::Queue", 4)


def test_bucket_name_is_config_name_with_deploy_time_account_and_region(
    template: Template, config: StackConfig
) -> None:
    expected = {"Fn::Join": ["", [f"{config.prefix}-images-", {"Ref": "AWS::AccountId"}, "-", {"Ref": "AWS::Region"}]]}
    template.has_resource_properties("AWS::S3::Bucket", {"BucketName": expected})


# --- queues and event sources ----------------------------------------------------------------------


def test_capture_queue_redrives_to_capture_dlq_after_three_receives(template: Template, config: StackConfig) -> None:
    dlq = logical_id(template, "AWS::SQS::Queue", QueueName=config.capture_dlq)
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": config.capture_queue,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]}, "maxReceiveCount": 3},
            "VisibilityTimeout": config.capture_visibility_timeout_seconds,
            "SqsManagedSseEnabled": True,
        },
    )
    assert config.capture_max_receive_count == 3
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"QueueName": config.capture_dlq, "MessageRetentionPeriod": config.dlq_retention_days * 86400},
    )


def test_webhook_retry_queue_redrives_to_webhook_dlq(template: Template, config: StackConfig) -> None:
    dlq = logical_id(template, "AWS::SQS::Queue", QueueName=config.webhook_dlq)
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": config.webhook_retry_queue,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                "maxReceiveCount": config.webhook_retry_max_receive_count,
            },
            "VisibilityTimeout": config.webhook_retry_visibility_timeout_seconds,
        },
    )


def test_every_queue_denies_plain_http(template: Template) -> None:
    policies = template.find_resources("AWS::SQS::QueuePolicy")
    queues = template.find_resources("AWS::SQS::Queue")
    protected = set()
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any(
            s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        ):
            protected |= referenced_ids(policy["Properties"]["Queues"])
    assert protected == set(queues)


@pytest.mark.parametrize(
    ("queue_name", "service", "batch_size"),
    [
        ("capture_queue", "capture", "capture_batch_size"),
        ("webhook_retry_queue", "dispatcher", "webhook_retry_batch_size"),
    ],
)
def test_sqs_event_sources_report_partial_batch_failures(
    template: Template, config: StackConfig, queue_name: str, service: str, batch_size: str
) -> None:
    queue = logical_id(template, "AWS::SQS::Queue", QueueName=getattr(config, queue_name))
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]},
            "FunctionName": {"Ref": function_id(template, service)},
            "BatchSize": getattr(config, batch_size),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 2)


# --- functions -------------------------------------------------------------------------------------


def test_capture_function_is_a_container_image_sized_from_config(template: Template, config: StackConfig) -> None:
    props = function_props(template, "capture")
    assert props["PackageType"] == "Image"
    assert props["MemorySize"] == config.capture_memory_mb
    assert props["Timeout"] == config.capture_timeout_seconds
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Architectures"] == ["x86_64"]


@pytest.mark.parametrize("service", ["api", "dispatcher"])
def test_zip_functions_run_the_layers_python_with_shared_and_dependencies_layers(
    template: Template, service: str
) -> None:
    props = function_props(template, service)
    # The runtime whose interpreter compiled the layers' bytecode (scripts/build-layer.sh): 3.13.
    assert (
        (props["Runtime"], props["Handler"])
        == (RUNTIME.name, "handler.lambda_handler")
        == (
            "python3.13",
            "handler.lambda_handler",
        )
    )
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    # Both of the stack's own layers and nothing else (which is which: tests/infrastructure/test_layers.py).
    layers = referenced_ids(props["Layers"])
    assert layers == set(template.find_resources("AWS::Lambda::LayerVersion"))
    assert len(layers) == 2


@pytest.mark.parametrize("service", ["api", "capture", "dispatcher"])
def test_each_function_gets_exactly_the_variables_of_its_settings_model(template: Template, service: str) -> None:
    """No setting that nothing reads: a function is given its model's fields (what its code reads), less what
    the capture image sets, and nothing else."""
    env = function_props(template, service)["Environment"]["Variables"]
    model = SETTINGS_MODELS[service]
    expected = set(variables(model)) - set(variables(model, Given.IMAGE))
    assert set(env) == expected | {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    assert (env["POWERTOOLS_SERVICE_NAME"], env["POWERTOOLS_METRICS_NAMESPACE"]) == (f"shotwire-{service}", "Shotwire")


@pytest.mark.parametrize("service", ["api", "capture", "dispatcher"])
def test_function_environment_reads_back_as_the_config(template: Template, config: StackConfig, service: str) -> None:
    env = function_props(template, service)["Environment"]["Variables"]
    assert env["SHOTWIRE_ALLOW_PRIVATE_NETWORKS"] == "0"

    # The literal values read back, through the function's own settings model, as the config they came from.
    model = SETTINGS_MODELS[service]
    settings = model.from_env({k: v for k, v in env.items() if isinstance(v, str)})
    assert settings.allow_private_networks is False
    for name, field in model.model_fields.items():
        source = source_of(field, name)
        if isinstance(source, FromStack) and name != "allowed_hosts":
            assert getattr(settings, name) == getattr(config, source.attribute), (service, name)
    assert settings.allowed_hosts == frozenset(config.allowed_hosts)
    if "SHOTWIRE_IMAGES_BUCKET" in env:
        assert referenced_ids(env["SHOTWIRE_IMAGES_BUCKET"]) == {logical_id(template, "AWS::S3::Bucket")}


def test_every_setting_is_set_somewhere(template: Template) -> None:
    set_by_cdk = {
        name
        for service in ("api", "capture", "dispatcher")
        for name in function_props(template, service)["Environment"]["Variables"]
    }
    assert set(variables(Settings)) - set_by_cdk == SET_BY_IMAGE == {"SHOTWIRE_CHROMIUM_ARGS", "SHOTWIRE_CHROMIUM_PATH"}


@pytest.mark.parametrize(
    ("service", "variable", "queue_name"),
    [
        ("api", "SHOTWIRE_CAPTURE_QUEUE_URL", "capture_queue"),
        ("dispatcher", "SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL", "webhook_retry_queue"),
        ("dispatcher", "SHOTWIRE_WEBHOOK_DLQ_URL", "webhook_dlq"),
    ],
)
def test_queue_urls_point_at_the_named_queues(
    template: Template, config: StackConfig, service: str, variable: str, queue_name: str
) -> None:
    env = function_props(template, service)["Environment"]["Variables"]
    assert env[variable] == {"Ref": logical_id(template, "AWS::SQS::Queue", QueueName=getattr(config, queue_name))}


# --- storage ---------------------------------------------------------------------------------------


def test_bucket_is_private_encrypted_tls_only_and_expires_images(template: Template, config: StackConfig) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with([Match.object_like({"ExpirationInDays": config.image_retention_days})])
            },
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_tables_have_expected_keys_on_demand_billing_and_point_in_time_recovery(
    template: Template, config: StackConfig
) -> None:
    common = {
        "BillingMode": "PAY_PER_REQUEST",
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
    }
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            **common,
            "TableName": config.jobs_table,
            "KeySchema": [
                {"AttributeName": "tenantId", "KeyType": "HASH"},
                {"AttributeName": "jobId", "KeyType": "RANGE"},
            ],
            "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
        },
    )
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {**common, "TableName": config.keys_table, "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]},
    )
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            **common,
            "TableName": config.idempotency_table,
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        },
    )


# --- events ----------------------------------------------------------------------------------------


def test_outcome_rule_matches_config_pattern_and_targets_dispatcher(template: Template, config: StackConfig) -> None:
    bus = logical_id(template, "AWS::Events::EventBus", Name=config.event_bus)
    dlq = logical_id(template, "AWS::SQS::Queue", QueueName=config.webhook_dlq)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Name": config.outcome_rule,
            "EventBusName": {"Ref": bus},
            "EventPattern": config.outcome_event_pattern,
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [function_id(template, "dispatcher"), "Arn"]},
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}},
                        "RetryPolicy": Match.object_like({"MaximumRetryAttempts": Match.any_value()}),
                    }
                )
            ],
        },
    )


# --- who may do what -------------------------------------------------------------------------------


def test_capture_may_write_images_and_publish_outcomes_but_not_touch_api_keys(
    template: Template, config: StackConfig
) -> None:
    statements = role_statements(template, "capture")
    bucket = logical_id(template, "AWS::S3::Bucket")
    keys = logical_id(template, "AWS::DynamoDB::Table", TableName=config.keys_table)
    jobs = logical_id(template, "AWS::DynamoDB::Table", TableName=config.jobs_table)
    bus = logical_id(template, "AWS::Events::EventBus", Name=config.event_bus)

    assert may(statements, "s3:PutObject", bucket)
    assert not may(statements, "s3:GetObject", bucket)
    assert may(statements, "dynamodb:UpdateItem", jobs)
    assert may(statements, "events:PutEvents", bus)
    assert not any(keys in referenced_ids(s["Resource"]) for s in statements)
    assert not may(statements, "dynamodb:GetItem", keys)


def test_api_may_enqueue_read_and_rotate_but_never_write_images_or_publish_events(
    template: Template, config: StackConfig
) -> None:
    statements = role_statements(template, "api")
    queues = {name: logical_id(template, "AWS::SQS::Queue", QueueName=name) for name in config_queue_names(config)}
    keys = logical_id(template, "AWS::DynamoDB::Table", TableName=config.keys_table)

    assert may(statements, "sqs:SendMessage", queues[config.capture_queue])
    assert may(statements, "sqs:SendMessage", queues[config.webhook_retry_queue])  # redeliver
    assert not may(statements, "sqs:SendMessage", queues[config.webhook_dlq])
    assert may(statements, "s3:GetObject", logical_id(template, "AWS::S3::Bucket"))
    assert may(statements, "dynamodb:GetItem", keys)
    assert may(statements, "dynamodb:PutItem", keys)  # webhook secret rotation
    assert may(statements, "s3:DeleteObject", logical_id(template, "AWS::S3::Bucket"))  # DELETE a job
    idempotency = logical_id(template, "AWS::DynamoDB::Table", TableName=config.idempotency_table)
    assert may(statements, "dynamodb:PutItem", idempotency)
    assert not may(statements, "s3:PutObject")
    assert not may(statements, "events:PutEvents")


def test_dispatcher_may_schedule_retries_and_dead_letter_but_not_publish_or_write_images(
    template: Template, config: StackConfig
) -> None:
    statements = role_statements(template, "dispatcher")
    queues = {name: logical_id(template, "AWS::SQS::Queue", QueueName=name) for name in config_queue_names(config)}
    keys = logical_id(template, "AWS::DynamoDB::Table", TableName=config.keys_table)

    assert may(statements, "sqs:SendMessage", queues[config.webhook_retry_queue])
    assert may(statements, "sqs:SendMessage", queues[config.webhook_dlq])
    assert not may(statements, "sqs:SendMessage", queues[config.capture_queue])
    assert may(statements, "dynamodb:GetItem", keys)
    assert not may(statements, "events:PutEvents")
    assert not may(statements, "s3:PutObject")


# --- app wiring (no synth) -------------------------------------------------------------------------


def test_context_overrides_arrive_as_object_or_cli_json_string() -> None:
    from_json = config_from_context(json.dumps({"prefix": "shotwire-dev", "capture_max_receive_count": 5}))
    assert (from_json.prefix, from_json.capture_max_receive_count) == ("shotwire-dev", 5)
    assert config_from_context({"prefix": "shotwire-dev"}) == config_from_context(None).model_copy(
        update={"prefix": "shotwire-dev"}
    )
    assert stack_name(from_json) == "ShotwireDev"
    assert stack_name(StackConfig()) == "Shotwire"


def test_capture_image_and_requirements_pin_the_same_playwright() -> None:
    # Playwright drives only the Chromium build it was released with, which the base image bakes in.
    capture = REPO_ROOT / "functions" / "capture"
    base = re.search(r"^FROM .*playwright/python:v(\S+)-", (capture / "Dockerfile").read_text(), re.M)
    pin = re.search(r"^playwright==(\S+)$", (capture / "requirements.txt").read_text(), re.M)
    assert base and pin and base.group(1) == pin.group(1)
    assert "SHOTWIRE_CHROMIUM_ARGS=" in (capture / "Dockerfile").read_text()


def test_the_api_passes_images_through_as_binary(template: Template) -> None:
    template.has_resource_properties("AWS::ApiGateway::RestApi", {"BinaryMediaTypes": ["image/*", "application/pdf"]})


def test_what_the_gateway_answers_itself_is_the_error_envelope(template: Template) -> None:
    """Throttled, too large, malformed, the function failed or timed out: the same `{"error": …}` shape as
    the function's answers, from the table the local gateway answers from."""
    responses = template.find_resources("AWS::ApiGateway::GatewayResponse")
    by_type = {r["Properties"]["ResponseType"]: r["Properties"] for r in responses.values()}
    assert set(by_type) == set(gateway_errors.DEPLOYED)
    for response_type, code in gateway_errors.DEPLOYED.items():
        body = by_type[response_type]["ResponseTemplates"]["application/json"]
        filled = json.loads(body.replace("$context.error.messageString", json.dumps("Too Many Requests")))
        assert filled == {"error": {"code": code, "message": "Too Many Requests"}}
        assert by_type[response_type]["ResponseParameters"] == {
            "gatewayresponse.header.Content-Type": "'application/json'"
        }


def test_event_sources_bound_their_concurrency_from_the_config(template: Template, config: StackConfig) -> None:
    queues = {name: logical_id(template, "AWS::SQS::Queue", QueueName=name) for name in config_queue_names(config)}
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queues[config.capture_queue], "Arn"]},
            "ScalingConfig": {"MaximumConcurrency": config.capture_max_concurrency},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queues[config.webhook_retry_queue], "Arn"]},
            "ScalingConfig": {"MaximumConcurrency": config.dispatcher_retry_max_concurrency},
        },
    )


def test_api_access_logs_are_json_lines_without_keys(template: Template) -> None:
    (stage,) = template.find_resources("AWS::ApiGateway::Stage").values()
    settings = stage["Properties"]["AccessLogSetting"]
    assert "DestinationArn" in settings
    fields = settings["Format"]
    assert '"status":"$context.status"' in fields and '"ip":"$context.identity.sourceIp"' in fields
    assert "authorization" not in fields.lower() and "api-key" not in fields.lower()  # no credentials logged
    template.resource_count_is("AWS::ApiGateway::Account", 1)  # the account-level role access logs need
    log_groups = template.find_resources("AWS::Logs::LogGroup")
    assert all("RetentionInDays" in group["Properties"] for group in log_groups.values()), log_groups
