"""Security properties of the template: cdk-nag clean, exact per-function permissions, the optional WAF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from app import CONTEXT_KEY, build_app, cdk_json_context
from infra.stack import ShotwireStack
from shotwire_core.config import StackConfig

FUNCTIONS = ("api", "capture", "dispatcher")
XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
SEND = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"} | {
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}


def synth(outdir: Path, overrides: dict[str, Any]) -> tuple[cdk.App, ShotwireStack]:
    """The app as `make synth` builds it, with StackConfig overrides (as `-c shotwire=...` would give)."""
    settings = {**cdk_json_context().get(CONTEXT_KEY, {}), **overrides}
    return build_app(outdir=str(outdir), context={CONTEXT_KEY: settings})


def nag_violations(outdir: Path) -> list[str]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        f"{violation['ruleName']} at {construct['constructPath']}"
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]


# --- cdk-nag -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"api_waf": True},
        {"api_access_logs": False},
        {"egress_static_ips": True, "egress_capture_in_vpc": True},
    ],
    ids=str,
)
def test_cdk_nag_reports_nothing_unacknowledged(tmp_path: Path, overrides: dict[str, Any]) -> None:
    app, _ = synth(tmp_path, overrides)
    try:
        app.synth()
    except RuntimeError:
        pytest.fail("cdk-nag findings:\n" + "\n".join(nag_violations(tmp_path)))
    assert nag_violations(tmp_path) == []


def test_a_new_finding_fails_make_synth(tmp_path: Path) -> None:
    """The gate is real and on `make synth`'s app: a bucket nobody acknowledged stops the synth."""
    app, stack = build_app(outdir=str(tmp_path))
    s3.Bucket(stack, "Careless")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert any("Careless" in line and "AwsSolutions-S10" in line for line in nag_violations(tmp_path))


def test_every_acknowledgment_names_its_rule_and_a_reason(template: Template) -> None:
    acknowledged = [
        (logical_id, rule)
        for logical_id, resource in template.to_json()["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert acknowledged, "acknowledgments are written into the template metadata for auditors"
    for logical_id, rule in acknowledged:
        assert rule["id"].startswith("AwsSolutions-"), (logical_id, rule)
        assert len(rule["reason"]) >= 60, f"{logical_id}: {rule['id']} needs a real reason, got {rule['reason']!r}"


# --- IAM: each function its own role, exactly what its code calls ------------------------------------


def role_of(template: Template, service: str) -> str:
    found = template.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": f"shotwire-{service}"}}}},
    )
    assert len(found) == 1
    role: str = next(iter(found.values()))["Properties"]["Role"]["Fn::GetAtt"][0]
    return role


def resource_id(template: Template, resource_type: str, **properties: Any) -> str:
    found = template.find_resources(resource_type, {"Properties": properties} if properties else None)
    assert len(found) == 1, (resource_type, properties, list(found))
    return next(iter(found))


def granted(template: Template, service: str) -> dict[str, set[str]]:
    """Actions the function's role allows, by the logical id of the resource they apply to ('*': any)."""
    role = role_of(template, service)
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": Match.array_with([{"Ref": role}])}})
    by_resource: dict[str, set[str]] = {}
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources:
                key = "*" if resource == "*" else _target(resource)
                by_resource.setdefault(key, set()).update(actions)
    return by_resource


def _target(value: Any) -> str:
    """The logical id a Ref / GetAtt / Fn::Join (bucket ARN + '/*') points at."""
    text = json.dumps(value)
    for marker in ('"Ref": "', '"Fn::GetAtt": ["'):
        if marker in text:
            return text.split(marker, 1)[1].split('"', 1)[0]
    raise AssertionError(f"unscoped resource {value}")


def expected_permissions(template: Template, config: StackConfig) -> dict[str, dict[str, set[str]]]:
    table = {
        name: resource_id(template, "AWS::DynamoDB::Table", TableName=name)
        for name in (config.jobs_table, config.keys_table, config.idempotency_table)
    }
    queue = {
        name: resource_id(template, "AWS::SQS::Queue", QueueName=name)
        for name in (config.capture_queue, config.webhook_retry_queue, config.webhook_dlq)
    }
    bucket = resource_id(template, "AWS::S3::Bucket")
    bus = resource_id(template, "AWS::Events::EventBus", Name=config.event_bus)
    link_secret = resource_id(template, "AWS::SecretsManager::Secret", Name=config.download_link_secret)
    read_secret = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}

    def items(*actions: str) -> set[str]:
        return {f"dynamodb:{action}" for action in actions}

    def own_logs(service: str) -> dict[str, set[str]]:
        return {"*": XRAY, _log_group_of(template, service): LOGS}

    return {
        "api": {
            **own_logs("api"),
            table[config.jobs_table]: items(
                "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem", "BatchWriteItem"
            ),
            table[config.keys_table]: items("GetItem", "PutItem", "UpdateItem"),
            table[config.idempotency_table]: items("GetItem", "PutItem", "UpdateItem", "DeleteItem"),
            queue[config.capture_queue]: SEND,
            queue[config.webhook_retry_queue]: SEND,
            bucket: {"s3:GetObject", "s3:DeleteObject"},
            link_secret: read_secret,  # signs download links and checks them when followed
        },
        "capture": {
            **own_logs("capture"),
            table[config.jobs_table]: items("GetItem", "UpdateItem"),
            queue[config.capture_queue]: CONSUME,
            bucket: {"s3:PutObject"},
            bus: {"events:PutEvents"},
        },
        "dispatcher": {
            **own_logs("dispatcher"),
            table[config.jobs_table]: items("GetItem", "PutItem", "UpdateItem"),
            table[config.keys_table]: items("GetItem"),
            queue[config.webhook_retry_queue]: SEND | CONSUME,
            queue[config.webhook_dlq]: SEND,
            # Webhooks link to images through the API: the dispatcher signs links and never touches the bucket.
            link_secret: read_secret,
        },
    }


def _log_group_of(template: Template, service: str) -> str:
    function = template.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": f"shotwire-{service}"}}}},
    )
    log_group: str = next(iter(function.values()))["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    return log_group


@pytest.mark.parametrize("service", FUNCTIONS)
def test_each_function_may_do_exactly_what_its_code_calls(
    template: Template, config: StackConfig, service: str
) -> None:
    assert granted(template, service) == expected_permissions(template, config)[service]


def test_each_function_has_a_role_of_its_own_without_managed_policies(template: Template) -> None:
    roles = [role_of(template, service) for service in FUNCTIONS]
    assert len(set(roles)) == len(FUNCTIONS)
    resources = template.to_json()["Resources"]
    for role in roles:
        assert "ManagedPolicyArns" not in resources[role]["Properties"], role
        # Nothing inline either (that is only for a function in the static-egress VPC), so `granted` sees all.
        assert "Policies" not in resources[role]["Properties"], role


def test_no_statement_allows_a_wildcard_action(template: Template) -> None:
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [action for action in actions if "*" in action], statement


# --- the API stage -----------------------------------------------------------------------------------


def test_stage_logs_errors_without_request_data(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "MethodSettings": Match.array_with(
                [Match.object_like({"LoggingLevel": "ERROR", "DataTraceEnabled": False, "HttpMethod": "*"})]
            )
        },
    )


def test_no_web_acl_unless_asked(template: Template) -> None:
    template.resource_count_is("AWS::WAFv2::WebACL", 0)


@pytest.fixture(scope="module")
def waf_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    _, stack = synth(tmp_path_factory.mktemp("waf"), {"api_waf": True})
    return Template.from_stack(stack)


def test_the_web_acl_guards_the_stage_with_managed_rules_and_a_rate_rule(waf_template: Template) -> None:
    acl = next(iter(waf_template.find_resources("AWS::WAFv2::WebACL").values()))["Properties"]
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    assert rules["RequestsPerIp"]["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "Limit": StackConfig().api_waf_requests_per_ip_per_5_minutes,
    }
    for group in (
        "AWSManagedRulesAmazonIpReputationList",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ):
        assert rules[group]["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
    # Batches are up to 256 KB and URLs may have IP hosts: those two rules must count, not block.
    overrides = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    assert overrides == [
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}},
        {"Name": "GenericRFI_BODY", "ActionToUse": {"Count": {}}},  # IP-literal URLs are legitimate here
    ]
    stage = resource_id(waf_template, "AWS::ApiGateway::Stage")
    association = next(iter(waf_template.find_resources("AWS::WAFv2::WebACLAssociation").values()))["Properties"]
    assert stage in json.dumps(association["ResourceArn"])


def test_every_log_group_has_a_retention_including_api_gateways_execution_logs(template: Template) -> None:
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert groups and all("RetentionInDays" in group["Properties"] for group in groups.values()), groups
    named = [json.dumps(group["Properties"].get("LogGroupName", "")) for group in groups.values()]
    assert any("API-Gateway-Execution-Logs_" in name for name in named), named
