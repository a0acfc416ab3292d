"""The local stack and the synthesized template agree, resource by resource, on names and limits.

`devstack.resources.provision` (what `make dev` runs against moto) is run in-process on moto from the very
StackConfig the template was synthesized from, and what moto then holds is read back through the AWS APIs
and compared with what the template declares. Both sides read the config, so a config change moves both;
a value either side sets on its own (a hard-coded attribute, a forgotten property) makes these tests fail.

Each template resource kind is checked property by property against a list of the properties this file
knows how to compare: a property infra/ starts setting that is not on that list fails the test until it is
mirrored locally (and compared here) or named as a deliberate local difference with the reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template

from devstack.image import image_environment
from devstack.options import ACCOUNT, REGION, DevOptions
from devstack.resources import LocalResources
from devstack.stack import function_specs, handler_environments, local_event_sources
from shotwire_core.config import StackConfig
from tests.support import provisioned_moto

Properties = dict[str, Any]


# --- the local stack, on moto ------------------------------------------------------------------------


@dataclass(frozen=True)
class Local:
    resources: LocalResources

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)


@pytest.fixture(scope="module")
def local(config: StackConfig) -> Iterator[Local]:
    """What `make dev` provisions (same region and account), from the config the template came from."""
    with pytest.MonkeyPatch.context() as env, provisioned_moto(env, config) as resources:
        yield Local(resources)


# --- reading the template ----------------------------------------------------------------------------


def resources_of(template: Template, resource_type: str) -> dict[str, Properties]:
    """Logical id -> Properties of every resource of `resource_type`."""
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template.to_json()["Resources"].items()
        if resource["Type"] == resource_type
    }


def only(found: dict[str, Properties]) -> Properties:
    assert len(found) == 1, f"expected exactly one resource, found {list(found)}"
    return next(iter(found.values()))


def target_id(value: Any) -> str:
    """The logical id a {"Ref": id} or {"Fn::GetAtt": [id, attribute]} points at."""
    if "Ref" in value:
        ref: str = value["Ref"]
        return ref
    attribute: str = value["Fn::GetAtt"][0]
    return attribute


def queue_name_of(template: Template, value: Any) -> str:
    """The QueueName of the template queue a Ref (URL) or Fn::GetAtt (ARN) points at."""
    name: str = resources_of(template, "AWS::SQS::Queue")[target_id(value)]["QueueName"]
    return name


def resolve_pseudo(value: Any, *, account: str, region: str) -> str:
    """A string built from literals, Fn::Join and the account/region pseudo parameters, as deployed there."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        pseudo = {"AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": "aws"}
        assert value["Ref"] in pseudo, f"not a pseudo parameter: {value}"
        return pseudo[value["Ref"]]
    separator, parts = value["Fn::Join"]
    joined: str = separator.join(resolve_pseudo(part, account=account, region=region) for part in parts)
    return joined


def service_of(function: Properties) -> str:
    """A stack function's directory under functions/, from the Powertools service name infra/ gives it."""
    service: str = function["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    return service.removeprefix("shotwire-")


def functions_by_service(template: Template) -> dict[str, Properties]:
    """The stack's own functions by service (CDK's helper functions, if any, carry no service name)."""
    return {
        service_of(props): props
        for props in resources_of(template, "AWS::Lambda::Function").values()
        if "POWERTOOLS_SERVICE_NAME" in props.get("Environment", {}).get("Variables", {})
    }


def service_of_ref(template: Template, value: Any) -> str:
    return service_of(resources_of(template, "AWS::Lambda::Function")[target_id(value)])


def assert_only_known(kind: str, props: Properties, compared: set[str], not_mirrored: dict[str, str]) -> None:
    """A property infra/ sets must be compared here or be a named local difference (with its reason)."""
    unknown = set(props) - compared - set(not_mirrored)
    assert not unknown, (
        f"{kind} sets {sorted(unknown)}: mirror it in devstack/resources.py and compare it here, "
        "or list it as a deliberate local difference"
    )


# Template properties that name or tag a resource in AWS only: moto's copies need neither.
TAGS_ONLY = {"Tags": "cost-allocation tags; nothing local reads them"}


# --- DynamoDB ----------------------------------------------------------------------------------------

TABLE_PROPERTIES = {
    "TableName",
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "TimeToLiveSpecification",
    "PointInTimeRecoverySpecification",
    "SSESpecification",
}


def index_view(indexes: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Index name -> (key schema, projection type): what a query through the index depends on."""
    return {
        index["IndexName"]: (index["KeySchema"], index.get("Projection", {}).get("ProjectionType"))
        for index in indexes or []
    }


def template_table(props: Properties) -> dict[str, Any]:
    ttl = props.get("TimeToLiveSpecification", {})
    return {
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
        "GlobalSecondaryIndexes": index_view(props.get("GlobalSecondaryIndexes")),
        "LocalSecondaryIndexes": index_view(props.get("LocalSecondaryIndexes")),
        "StreamViewType": props.get("StreamSpecification", {}).get("StreamViewType"),
        "TimeToLive": ttl["AttributeName"] if ttl.get("Enabled") else None,
        "PointInTimeRecovery": props.get("PointInTimeRecoverySpecification", {}).get(
            "PointInTimeRecoveryEnabled", False
        ),
        "Encrypted": props.get("SSESpecification", {}).get("SSEEnabled", False),
    }


def local_table(ddb: Any, name: str) -> dict[str, Any]:
    table = ddb.describe_table(TableName=name)["Table"]
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    return {
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
        "BillingMode": table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
        "GlobalSecondaryIndexes": index_view(table.get("GlobalSecondaryIndexes")),
        "LocalSecondaryIndexes": index_view(table.get("LocalSecondaryIndexes")),
        "StreamViewType": table.get("StreamSpecification", {}).get("StreamViewType"),
        "TimeToLive": ttl["AttributeName"] if ttl["TimeToLiveStatus"] == "ENABLED" else None,
        "PointInTimeRecovery": backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED",
        "Encrypted": table.get("SSEDescription", {}).get("Status") == "ENABLED",
    }


def test_tables_agree_on_names_keys_indexes_and_ttl(template: Template, local: Local) -> None:
    declared = {props["TableName"]: props for props in resources_of(template, "AWS::DynamoDB::Table").values()}
    ddb = local.client("dynamodb")
    assert sorted(ddb.list_tables()["TableNames"]) == sorted(declared)
    for name, props in declared.items():
        assert_only_known(f"table {name}", props, TABLE_PROPERTIES, TAGS_ONLY)
        assert local_table(ddb, name) == template_table(props), name


# --- SQS ---------------------------------------------------------------------------------------------

# Template property -> the queue attribute of the same meaning, compared as a number or flag.
QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
    "SqsManagedSseEnabled",
)
QUEUE_PROPERTIES = {"QueueName", "RedrivePolicy", *QUEUE_ATTRIBUTES}


def queue_attributes(sqs: Any, url: str) -> dict[str, str]:
    attributes: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return attributes


def service_defaults(sqs: Any) -> dict[str, str]:
    """What a queue gets for the attributes nobody sets: a template queue without the property gets SQS's
    default, so the local one must not set it either (read from a scratch queue, then deleted)."""
    url = sqs.create_queue(QueueName="test-local-agrees-defaults")["QueueUrl"]
    try:
        return queue_attributes(sqs, url)
    finally:
        sqs.delete_queue(QueueUrl=url)


def as_attribute(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def redrive_view(dlq_name: str | None, max_receives: Any) -> tuple[str | None, int | None]:
    return dlq_name, int(max_receives) if max_receives is not None else None


def local_redrive(attributes: dict[str, str]) -> tuple[str | None, int | None]:
    if "RedrivePolicy" not in attributes:
        return None, None
    policy = json.loads(attributes["RedrivePolicy"])
    arn = policy["deadLetterTargetArn"]
    assert arn.startswith(f"arn:aws:sqs:{REGION}:{ACCOUNT}:"), arn  # a DLQ of this stack's region and account
    return redrive_view(arn.rsplit(":", 1)[-1], policy["maxReceiveCount"])


def queue_url_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def test_queues_agree_on_names_timeouts_retention_delay_and_redrive(
    template: Template, config: StackConfig, local: Local
) -> None:
    sqs = local.client("sqs")
    defaults = service_defaults(sqs)
    declared = {props["QueueName"]: props for props in resources_of(template, "AWS::SQS::Queue").values()}
    urls = {queue_url_name(url): url for url in sqs.list_queues().get("QueueUrls", [])}

    # Deliberate: one local queue more. The rule's target is the dispatcher function (an asynchronous invoke)
    # on AWS; moto cannot invoke it, so the rule delivers to this queue and a poller invokes the handler
    # (compared with the function's asynchronous-invoke settings in the event test below).
    tap = queue_url_name(local.resources.outcome_tap_url)
    assert tap == f"{config.prefix}-local-outcome-tap"
    assert set(urls) == set(declared) | {tap}

    for name, props in declared.items():
        assert_only_known(f"queue {name}", props, QUEUE_PROPERTIES, TAGS_ONLY)
        attributes = queue_attributes(sqs, urls[name])
        expected = {key: as_attribute(props[key]) if key in props else defaults[key] for key in QUEUE_ATTRIBUTES}
        assert {key: attributes[key] for key in QUEUE_ATTRIBUTES} == expected, name
        redrive = props.get("RedrivePolicy", {})
        dlq = queue_name_of(template, redrive["deadLetterTargetArn"]) if redrive else None
        assert local_redrive(attributes) == redrive_view(dlq, redrive.get("maxReceiveCount")), name


# --- Lambda: limits, event sources and environment ---------------------------------------------------


def test_local_functions_have_the_deployed_memory_and_timeout(template: Template, config: StackConfig) -> None:
    deployed = functions_by_service(template)
    specs = function_specs(config, {key: {} for key in deployed}, sandboxed=False)
    assert set(specs) == set(deployed)
    for service, props in deployed.items():
        assert (specs[service].memory_mb, specs[service].timeout_seconds) == (
            props["MemorySize"],
            props["Timeout"],
        ), service


def test_queue_pollers_mirror_the_event_source_mappings(template: Template, config: StackConfig, local: Local) -> None:
    deployed: dict[tuple[str, str], int] = {}
    for props in resources_of(template, "AWS::Lambda::EventSourceMapping").values():
        feeds = (queue_name_of(template, props["EventSourceArn"]), service_of_ref(template, props["FunctionName"]))
        deployed[feeds] = props.get("BatchSize", 10)  # SQS's default batch
    sources = local_event_sources(config, local.resources)
    polled = {
        (queue_url_name(source.queue_url), source.function): source.batch_size
        for source in sources
        if source.as_sqs_event
    }
    assert polled == deployed
    # Deliberate: batches in flight (the mappings' MaximumConcurrency) are a poller's `workers` locally, one
    # machine's worth, not the deployed bound.
    # The one poller that is no event source mapping stands in for the rule's asynchronous invoke.
    (tap,) = (source for source in sources if not source.as_sqs_event)
    assert tap.queue_url == local.resources.outcome_tap_url


def test_event_bus_and_outcome_rule_agree(template: Template, config: StackConfig, local: Local) -> None:
    events = local.client("events")
    bus = only(resources_of(template, "AWS::Events::EventBus"))
    local_buses = {b["Name"] for b in events.list_event_buses()["EventBuses"]} - {"default"}
    assert local_buses == {bus["Name"]}

    rule = only(resources_of(template, "AWS::Events::Rule"))
    local_rules = events.list_rules(EventBusName=bus["Name"])["Rules"]
    assert [r["Name"] for r in local_rules] == [rule["Name"]]
    (local_rule,) = local_rules
    assert json.loads(local_rule["EventPattern"]) == rule["EventPattern"]
    assert local_rule["State"] == rule.get("State", "ENABLED")

    # Deliberate: the deployed rule invokes the dispatcher asynchronously (Lambda retries a failed invoke,
    # then sends the event to the function's on-failure destination); locally it delivers to the tap queue,
    # whose redrive plays Lambda's part. So the tap's DLQ is the on-failure destination and its receive count
    # is the first try plus Lambda's retries.
    (target,) = rule["Targets"]
    service = service_of_ref(template, target["Arn"])
    (local_target,) = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus["Name"])["Targets"]
    tap_name = queue_url_name(local.resources.outcome_tap_url)
    assert local_target["Arn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{tap_name}"
    (tap,) = (s for s in local_event_sources(config, local.resources) if s.queue_url == local.resources.outcome_tap_url)
    assert tap.function == service

    invoke = only(
        {
            logical_id: props
            for logical_id, props in resources_of(template, "AWS::Lambda::EventInvokeConfig").items()
            if service_of_ref(template, props["FunctionName"]) == service
        }
    )
    on_failure = queue_name_of(template, invoke["DestinationConfig"]["OnFailure"]["Destination"])
    tap_attributes = queue_attributes(local.client("sqs"), local.resources.outcome_tap_url)
    assert local_redrive(tap_attributes) == (on_failure, 1 + invoke["MaximumRetryAttempts"])


def test_each_handler_gets_exactly_its_deployed_function_environment(
    template: Template, config: StackConfig, local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Function by function, the same variable names as the template, and the same values (resource names
    pointing at moto's copies). A variable the template does not give a function is not given locally, so
    a handler that reads one fails locally too (as the capture function's missing queue URL once did not)."""
    # `make dev` lets exported SHOTWIRE_* tunables win; none are exported here, so the config's values stand.
    for name in [n for n in os.environ if n.startswith("SHOTWIRE_")]:
        monkeypatch.delenv(name)
    options = DevOptions.from_env()  # make dev's defaults
    environments = handler_environments(options, local.resources, config)
    queues = resources_of(template, "AWS::SQS::Queue")
    deployed_functions = functions_by_service(template)
    assert set(environments) == set(deployed_functions)

    for service, props in deployed_functions.items():
        variables = props["Environment"]["Variables"]
        env = environments[service]
        # The capture function also gets its image's ENV (the Dockerfile's, read by devstack.image) and the
        # Chromium `make dev` found (the image's Playwright finds its own).
        local_only = set(image_environment()) | {"SHOTWIRE_CHROMIUM_PATH"} if service == "capture" else set()
        assert set(env) - local_only == set(variables), service
        for name, value in variables.items():
            if name == "SHOTWIRE_ALLOW_PRIVATE_NETWORKS":
                # Deliberate: `make dev` reaches loopback sites and the local receiver (SHOTWIRE_ALLOW_PRIVATE_
                # NETWORKS=0 turns that off, as deployed); AWS never fetches private addresses.
                assert (value, env[name]) == ("0", "1" if options.allow_private_networks else "0")
            elif name == "SHOTWIRE_IMAGES_BUCKET":
                assert target_id(value) in resources_of(template, "AWS::S3::Bucket")
                assert env[name] == local.resources.bucket
            elif name == "SHOTWIRE_API_URL":  # the stage's URL in AWS; the local gateway's locally
                assert "Fn::Join" in value and resources_of(template, "AWS::ApiGateway::RestApi"), service
                assert env[name] == options.api_url
            elif isinstance(value, dict) and value.get("Ref") in queues:  # a queue URL
                assert queue_url_name(env[name]) == queues[value["Ref"]]["QueueName"], (service, name)
            else:  # names and limits: the retry schedule, timeouts, download TTL, in-flight bound, ...
                # (another deploy-time value fails here until the local stack's stand-in is decided)
                assert env[name] == value, (service, name)

    # The capture function shortens a failed job's redelivery on its own queue: it must have the URL.
    assert "SHOTWIRE_CAPTURE_QUEUE_URL" in deployed_functions["capture"]["Environment"]["Variables"]


def test_an_exported_api_url_never_reaches_the_local_dispatcher(
    config: StackConfig, local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK and CLI read SHOTWIRE_API_URL as well: a developer who exported the deployed API's URL must still
    get webhook links to the local gateway."""
    monkeypatch.setenv("SHOTWIRE_API_URL", "https://abc.execute-api.us-east-1.amazonaws.com/prod")
    options = DevOptions.from_env()
    assert handler_environments(options, local.resources, config)["dispatcher"]["SHOTWIRE_API_URL"] == options.api_url


def test_the_capture_handler_gets_the_images_chromium_flags(config: StackConfig, local: Local) -> None:
    environments = handler_environments(DevOptions.from_env(), local.resources, config)
    flags = environments["capture"]["SHOTWIRE_CHROMIUM_ARGS"].split()
    assert "--single-process" not in flags  # it kills Chromium at the second browser context
    assert environments["capture"]["HOME"] == "/tmp"
    assert "SHOTWIRE_CHROMIUM_ARGS" not in environments["api"]


# --- S3 ----------------------------------------------------------------------------------------------

BUCKET_PROPERTIES = {
    "BucketName",
    "LifecycleConfiguration",
    "VersioningConfiguration",
    "BucketEncryption",
    "PublicAccessBlockConfiguration",
    "OwnershipControls",
}


LIFECYCLE_RULE_PROPERTIES = {"Id", "Status", "ExpirationInDays", "AbortIncompleteMultipartUpload", "Prefix"}


def template_lifecycle(props: Properties) -> list[dict[str, Any]]:
    rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
    for rule in rules:
        assert_only_known("a lifecycle rule", rule, LIFECYCLE_RULE_PROPERTIES, {})
    return [
        {
            "id": rule.get("Id"),
            "status": rule["Status"],
            "expiration_days": rule.get("ExpirationInDays"),
            "abort_multipart_days": rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"),
            "prefix": rule.get("Prefix"),
        }
        for rule in rules
    ]


def local_lifecycle(s3: Any, bucket: str) -> list[dict[str, Any]]:
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    return [
        {
            "id": rule.get("ID"),
            "status": rule["Status"],
            "expiration_days": rule.get("Expiration", {}).get("Days"),
            "abort_multipart_days": rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"),
            "prefix": rule.get("Filter", {}).get("Prefix") or rule.get("Prefix") or None,
        }
        for rule in rules
    ]


def test_images_bucket_agrees_on_name_lifecycle_and_access(template: Template, local: Local) -> None:
    s3 = local.client("s3")
    props = only(resources_of(template, "AWS::S3::Bucket"))
    assert_only_known("images bucket", props, BUCKET_PROPERTIES, TAGS_ONLY)

    # The deployed name holds deploy-time tokens (account, region); resolved for the account and region the
    # local stack stands in for, it is the local bucket's name.
    (bucket,) = (b["Name"] for b in s3.list_buckets()["Buckets"])
    assert resolve_pseudo(props["BucketName"], account=ACCOUNT, region=REGION) == bucket == local.resources.bucket

    assert local_lifecycle(s3, bucket) == template_lifecycle(props)
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    assert versioning == props.get("VersioningConfiguration", {}).get("Status")
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert [rule["ApplyServerSideEncryptionByDefault"] for rule in encryption] == [
        rule["ServerSideEncryptionByDefault"] for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    ]
    public_access = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert public_access == props["PublicAccessBlockConfiguration"]
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == props["OwnershipControls"]["Rules"]
    # Deliberate: the bucket policy refusing plain HTTP (enforce_ssl) is not mirrored. The local stack speaks
    # plain HTTP to moto on loopback by design, and presigned download links point there.


def test_the_download_link_secret_agrees_on_name_and_strength(template: Template, local: Local) -> None:
    """The API and the dispatcher read the secret by the name both stacks give it (SHOTWIRE_DOWNLOAD_LINK_SECRET);
    locally it is random on every start, as a new stack's is generated."""
    props = only(resources_of(template, "AWS::SecretsManager::Secret"))
    secrets = local.client("secretsmanager")
    value = secrets.get_secret_value(SecretId=props["Name"])["SecretString"]
    assert props["GenerateSecretString"]["PasswordLength"] >= 64 and len(value) >= 64
    assert {entry["Name"] for entry in secrets.list_secrets()["SecretList"]} == {props["Name"]}
