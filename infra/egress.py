"""Static egress IPs: a VPC whose NAT gateways leave through Elastic IPs the stack owns.

Only built when `StackConfig.egress_static_ips` is on. The dispatcher (and, with `egress_capture_in_vpc`, the
capture function) runs in its private subnets, so every webhook leaves from one of `public_ips`: receivers can
allow-list them (the `EgressIps` output, `GET /v1/meta/egress-ips`). See docs/operations.md for the cost.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnTag, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.defaults import LOG_RETENTION
from shotwire_core.config import StackConfig

VPC_CIDR = "10.80.0.0/16"
PRIVATE_SUBNETS = ec2.SubnetType.PRIVATE_WITH_EGRESS


class StaticEgress(Construct):
    """One public subnet with a NAT gateway and its Elastic IP per AZ, private subnets routed through them."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)

        # An environment-agnostic stack (no account/region) knows two AZs only: with 3 asked, 2 are built,
        # and only the addresses actually in use are allocated (and published).
        zones = Stack.of(self).availability_zones[: config.egress_nat_gateways]
        if len(zones) < config.egress_nat_gateways:
            Annotations.of(self).add_warning_v2(
                "shotwire:egressZones",
                f"egress_nat_gateways={config.egress_nat_gateways} but the stack knows {len(zones)} availability "
                "zones (deploy with an explicit account and region for more): building one NAT gateway per zone",
            )

        # Allocated here rather than by the NAT provider, so their addresses are known (as tokens) to the
        # outputs and the API. They live as long as this construct: updates keep them, removal releases them.
        self.elastic_ips = [
            ec2.CfnEIP(
                self,
                f"Ip{index}",
                domain="vpc",
                tags=[CfnTag(key="Name", value=f"{config.prefix}-egress-{index}")],
            )
            for index in range(1, len(zones) + 1)
        ]
        self.public_ips: list[str] = [eip.attr_public_ip for eip in self.elastic_ips]

        self.flow_logs = logs.LogGroup(self, "FlowLogs", retention=LOG_RETENTION)
        self.subnets = ec2.SubnetSelection(subnet_type=PRIVATE_SUBNETS)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=f"{config.prefix}-egress",
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            max_azs=len(zones),
            nat_gateways=len(zones),
            nat_gateway_provider=ec2.NatProvider.gateway(
                eip_allocation_ids=[eip.attr_allocation_id for eip in self.elastic_ips]
            ),
            subnet_configuration=[
                # Nothing but the NAT gateways lives here: no address is handed out on launch.
                ec2.SubnetConfiguration(
                    name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24, map_public_ip_on_launch=False
                ),
                ec2.SubnetConfiguration(name="Private", subnet_type=PRIVATE_SUBNETS, cidr_mask=20),
            ],
            # The default security group allows nothing (a custom resource strips its rules).
            restrict_default_security_group=True,
            # Free, and they keep table and bucket traffic off the NAT gateways (billed per GB).
            gateway_endpoints={
                "DynamoDb": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[self.subnets]
                ),
                "S3": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.subnets]
                ),
            },
            flow_logs={
                "FlowLog": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )

        # The functions only ever call out (webhooks, pages, AWS APIs); nothing connects to them.
        self.security_group = ec2.SecurityGroup(
            self,
            "FunctionSecurityGroup",
            vpc=self.vpc,
            description="shotwire functions with static egress: outbound only, no inbound",
            allow_all_outbound=True,
        )

    @property
    def joined_ips(self) -> str:
        """The Elastic IPs, comma-separated (a token until deploy): the EgressIps output, SHOTWIRE_EGRESS_IPS."""
        return Fn.join(",", self.public_ips)

    def function_placement(self) -> dict[str, Any]:
        """Keyword arguments that put a Lambda function in the private subnets, behind the NAT gateways."""
        return {"vpc": self.vpc, "vpc_subnets": self.subnets, "security_groups": [self.security_group]}
