"""Least privilege, spelled out: each function's role gets the exact API actions its code calls, no grant_*
bundles (those add Describe*, Scan, s3:List*, GetBucket* and the like that nothing here uses)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge

LAMBDA_PRINCIPAL = "lambda.amazonaws.com"


# What Lambda does with a VPC function's role to attach it to the subnets (the EC2 actions of AWS's
# AWSLambdaVPCAccessExecutionRole); the Describe actions work only on "*".
NETWORK_INTERFACE_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


def function_role(
    scope: Construct, *, service: str, log_group: logs.ILogGroup, network_interfaces: bool = False
) -> iam.Role:
    """A role of the function's own, writing only to its own log group (no AWSLambdaBasicExecutionRole).

    `network_interfaces` (a function in the static-egress VPC) puts the EC2 actions inline on the role
    itself: Lambda checks them when the function is created, and a separate policy resource may not have
    propagated by then."""
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal(LAMBDA_PRINCIPAL),
        description=f"shotwire {service} function: only the actions its code calls",
        inline_policies={
            "NetworkInterfaces": iam.PolicyDocument(
                statements=[iam.PolicyStatement(actions=NETWORK_INTERFACE_ACTIONS, resources=["*"])]
            )
        }
        if network_interfaces
        else None,
    )
    log_group.grant_write(role)
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments and PutTelemetryRecords (active tracing) support no resource-level "
        "permissions; AWS documents Resource '*' for them. With static egress on, a function in the VPC also "
        "gets the EC2 network-interface actions Lambda needs, with the '*' AWS's own VPC access policy uses.",
    )
    return role


def allow_items(grantee: iam.IGrantable, table: dynamodb.ITable, *actions: str) -> None:
    """DynamoDB item actions on one table (and its indexes, if any)."""
    table.grant(grantee, *(f"dynamodb:{action}" for action in actions))


def allow_objects(grantee: iam.IGrantable, bucket: s3.IBucket, *actions: str, why: str) -> None:
    """S3 object actions on every key of the images bucket. Keys are `<tenant>/<job>.<ext>` made at run
    time, so the resource is necessarily `bucket/*`; `why` is recorded as the cdk-nag acknowledgment."""
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=[f"s3:{action}" for action in actions],
        resource_arns=[bucket.arn_for_objects("*")],
    )
    role = grantee.grant_principal
    if isinstance(role, Construct):
        acknowledge(role, f"AwsSolutions-IAM5[Resource::<{_logical_id(bucket)}.Arn>/*]", why)


def _logical_id(bucket: s3.IBucket) -> str:
    resource = bucket.node.default_child
    assert isinstance(resource, s3.CfnBucket), "the images bucket is created in this stack"
    return Stack.of(bucket).get_logical_id(resource)
