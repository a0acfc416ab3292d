"""Static egress IPs (StackConfig.egress_static_ips): a VPC whose NAT gateways use Elastic IPs of the stack's own.

The default template (conftest's `template`) has none of it; stacks with the flag on are synthesized here, once
per module each, through `make synth`'s app: its cdk-nag gate (infra/nag.py) runs in that synth, so a finding on
these resources that nobody acknowledged fails the fixtures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cfnlint.api
import pytest
from aws_cdk.assertions import Template
from aws_cdk.aws_logs import RetentionDays

from app import build_app
from infra.defaults import LOG_RETENTION
from infra.permissions import NETWORK_INTERFACE_ACTIONS
from shotwire_core.settings import Settings
from tests.infrastructure.test_cfn_lint import ACCEPTED_WARNINGS
from tests.infrastructure.test_template import function_props, may, referenced_ids, role_statements

EGRESS_TYPES = ("AWS::EC2::VPC", "AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::FlowLog")


def synthesize(tmp_path_factory: pytest.TempPathFactory, **overrides: Any) -> Template:
    outdir = tmp_path_factory.mktemp("cdk.out")
    _, stack = build_app(outdir=str(outdir), context={"shotwire": {"egress_static_ips": True, **overrides}})
    template = Template.from_stack(stack)  # raises "Validation failed" on an unacknowledged cdk-nag finding
    report = json.loads((outdir / "validation-report.json").read_text())
    assert [plugin["violations"] for plugin in report["pluginReports"] if plugin["violations"]] == []
    return template


@pytest.fixture(scope="module")
def egress(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The flag on, everything else default: two NAT gateways, the capture function outside the VPC."""
    return synthesize(tmp_path_factory)


@pytest.fixture(scope="module")
def capture_in_vpc(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The cheap variant with the capture function inside too: one NAT gateway."""
    return synthesize(tmp_path_factory, egress_nat_gateways=1, egress_capture_in_vpc=True)


def resources(template: Template, resource_type: str) -> dict[str, Any]:
    found: dict[str, Any] = template.find_resources(resource_type)
    return found


def elastic_ips(template: Template) -> set[str]:
    return set(resources(template, "AWS::EC2::EIP"))


def public_ip_join(template: Template) -> dict[str, Any]:
    """The Elastic IPs' PublicIp, comma-joined in the order of their logical ids (Ip1, Ip2, ...); CDK
    writes a join of one as the one."""
    addresses = [{"Fn::GetAtt": [eip, "PublicIp"]} for eip in sorted(elastic_ips(template))]
    return addresses[0] if len(addresses) == 1 else {"Fn::Join": [",", addresses]}


def private_subnets(template: Template) -> set[str]:
    return {
        subnet_id
        for subnet_id, subnet in resources(template, "AWS::EC2::Subnet").items()
        if {"Key": "aws-cdk:subnet-type", "Value": "Private"} in subnet["Properties"]["Tags"]
    }


def egress_security_group(template: Template) -> str:
    groups = resources(template, "AWS::EC2::SecurityGroup")
    assert len(groups) == 1, list(groups)
    return next(iter(groups))


def inline_statements(template: Template, service: str) -> list[dict[str, Any]]:
    role = function_props(template, service)["Role"]["Fn::GetAtt"][0]
    inline = template.to_json()["Resources"][role]["Properties"].get("Policies", [])
    return [statement for policy in inline for statement in policy["PolicyDocument"]["Statement"]]


def assert_in_private_subnets(template: Template, service: str) -> None:
    vpc_config = function_props(template, service)["VpcConfig"]
    assert referenced_ids(vpc_config["SubnetIds"]) == private_subnets(template)
    assert referenced_ids(vpc_config["SecurityGroupIds"]) == {egress_security_group(template)}
    # Lambda attaches the function to the VPC with its role: every function here brings its own role, so CDK's
    # AWSLambdaVPCAccessExecutionRole is not there to do it. Inline on the role, not in a separate policy
    # resource, because Lambda checks them when it creates the function.
    statements = inline_statements(template, service)
    assert all(may(statements, action) for action in NETWORK_INTERFACE_ACTIONS)


# --- off by default --------------------------------------------------------------------------------


def test_by_default_there_is_no_vpc_nat_or_elastic_ip(template: Template) -> None:
    for resource_type in EGRESS_TYPES:
        assert not resources(template, resource_type), resource_type
    assert "EgressIps" not in template.find_outputs("*")
    for service in ("api", "capture", "dispatcher"):
        assert "VpcConfig" not in function_props(template, service)
    # The API still gets the variable (empty), so GET /v1/meta/egress-ips answers static: false.
    env = function_props(template, "api")["Environment"]["Variables"]
    assert env["SHOTWIRE_EGRESS_IPS"] == ""
    assert Settings.from_env({k: v for k, v in env.items() if isinstance(v, str)}).egress_ips == ()


# --- on ----------------------------------------------------------------------------------------------


def test_each_nat_gateway_leaves_through_one_of_our_elastic_ips(egress: Template) -> None:
    gateways = resources(egress, "AWS::EC2::NatGateway")
    assert len(gateways) == 2  # egress_nat_gateways' default: one per AZ, two AZs
    allocations = [gateway["Properties"]["AllocationId"] for gateway in gateways.values()]
    assert all(set(allocation) == {"Fn::GetAtt"} for allocation in allocations)
    assert sorted(allocation["Fn::GetAtt"][1] for allocation in allocations) == ["AllocationId", "AllocationId"]
    # Two gateways, two addresses: each its own, and no address allocated that is not in use.
    assert {allocation["Fn::GetAtt"][0] for allocation in allocations} == elastic_ips(egress)
    egress.has_resource_properties("AWS::EC2::EIP", {"Domain": "vpc"})


def test_the_gateways_sit_in_public_subnets_that_hand_out_no_addresses(egress: Template) -> None:
    gateways = resources(egress, "AWS::EC2::NatGateway").values()
    subnets = resources(egress, "AWS::EC2::Subnet")
    gateway_subnets = {gateway["Properties"]["SubnetId"]["Ref"] for gateway in gateways}
    assert len(gateway_subnets) == 2
    for subnet_id in gateway_subnets:
        properties = subnets[subnet_id]["Properties"]
        assert {"Key": "aws-cdk:subnet-type", "Value": "Public"} in properties["Tags"]
        assert properties["MapPublicIpOnLaunch"] is False
    assert len(private_subnets(egress)) == 2


def test_the_dispatcher_runs_in_the_private_subnets(egress: Template) -> None:
    assert_in_private_subnets(egress, "dispatcher")


def test_the_capture_function_and_the_api_stay_outside_unless_asked(egress: Template) -> None:
    assert "VpcConfig" not in function_props(egress, "capture")
    assert "VpcConfig" not in function_props(egress, "api")
    capture_statements = role_statements(egress, "capture") + inline_statements(egress, "capture")
    assert not may(capture_statements, "ec2:CreateNetworkInterface")


def test_the_function_security_group_allows_no_inbound(egress: Template) -> None:
    group = resources(egress, "AWS::EC2::SecurityGroup")[egress_security_group(egress)]["Properties"]
    assert "SecurityGroupIngress" not in group
    assert not resources(egress, "AWS::EC2::SecurityGroupIngress")
    assert group["SecurityGroupEgress"] == [
        {"CidrIp": "0.0.0.0/0", "Description": "Allow all outbound traffic by default", "IpProtocol": "-1"}
    ]
    # The VPC's default security group is stripped of its rules (custom resource from CDK).
    assert resources(egress, "Custom::VpcRestrictDefaultSG")


@pytest.mark.parametrize("service", ["dynamodb", "s3"])
def test_table_and_bucket_traffic_skips_the_nat_through_gateway_endpoints(egress: Template, service: str) -> None:
    endpoints = [
        endpoint["Properties"]
        for endpoint in resources(egress, "AWS::EC2::VPCEndpoint").values()
        if endpoint["Properties"]["ServiceName"]["Fn::Join"][1][-1] == f".{service}"
    ]
    assert len(endpoints) == 1
    assert endpoints[0]["VpcEndpointType"] == "Gateway"
    private_route_tables = {
        association["Properties"]["RouteTableId"]["Ref"]
        for association in resources(egress, "AWS::EC2::SubnetRouteTableAssociation").values()
        if association["Properties"]["SubnetId"]["Ref"] in private_subnets(egress)
    }
    assert referenced_ids(endpoints[0]["RouteTableIds"]) == private_route_tables


def test_flow_logs_go_to_a_log_group_with_retention(egress: Template) -> None:
    flow_logs = resources(egress, "AWS::EC2::FlowLog")
    assert len(flow_logs) == 1
    flow_log = next(iter(flow_logs.values()))["Properties"]
    assert (flow_log["ResourceType"], flow_log["TrafficType"]) == ("VPC", "ALL")
    assert flow_log["ResourceId"] == {"Ref": next(iter(resources(egress, "AWS::EC2::VPC")))}
    log_group = resources(egress, "AWS::Logs::LogGroup")[flow_log["LogGroupName"]["Ref"]]["Properties"]
    assert LOG_RETENTION is RetentionDays.ONE_MONTH and log_group["RetentionInDays"] == 30  # as every log group


def test_the_addresses_are_an_output_and_reach_the_api(egress: Template) -> None:
    joined = public_ip_join(egress)
    assert egress.find_outputs("EgressIps")["EgressIps"]["Value"] == joined
    assert function_props(egress, "api")["Environment"]["Variables"]["SHOTWIRE_EGRESS_IPS"] == joined
    # Only the API publishes them.
    for service in ("capture", "dispatcher"):
        assert "SHOTWIRE_EGRESS_IPS" not in function_props(egress, service)["Environment"]["Variables"]


# --- on, one NAT gateway, capture inside too ---------------------------------------------------------


def test_one_gateway_means_one_address_and_one_az(capture_in_vpc: Template) -> None:
    assert len(resources(capture_in_vpc, "AWS::EC2::NatGateway")) == 1
    assert len(elastic_ips(capture_in_vpc)) == 1
    assert len(private_subnets(capture_in_vpc)) == 1
    assert capture_in_vpc.find_outputs("EgressIps")["EgressIps"]["Value"] == public_ip_join(capture_in_vpc)


def test_with_egress_capture_in_vpc_pages_leave_from_the_same_addresses(capture_in_vpc: Template) -> None:
    assert_in_private_subnets(capture_in_vpc, "capture")
    assert_in_private_subnets(capture_in_vpc, "dispatcher")
    assert "VpcConfig" not in function_props(capture_in_vpc, "api")


def test_the_egress_template_passes_cfn_lint(capture_in_vpc: Template, tmp_path: Path) -> None:
    """As tests/infrastructure/test_cfn_lint.py does for the default template: no errors, only CDK's W3005."""
    path = tmp_path / "Shotwire.template.json"
    path.write_text(json.dumps(capture_in_vpc.to_json()))
    matches = cfnlint.api.lint_file(path, config=cfnlint.api.ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(m) for m in matches if m.rule.id not in ACCEPTED_WARNINGS] == []
