"""An optional AWS WAF web ACL in front of the API stage (StackConfig.api_waf): AWS managed rule groups plus a
per-IP rate rule, so floods and known-bad requests are dropped before they cost an invocation."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from shotwire_core.config import StackConfig

# (priority, AWS managed rule group, rules inside it to count instead of block)
MANAGED_RULE_GROUPS: list[tuple[int, str, list[str]]] = [
    # Reputation lists first: the cheapest way to drop bots and known-malicious sources.
    (1, "AWSManagedRulesAmazonIpReputationList", []),
    # Two rules of the common set would refuse ordinary requests, so they only count: SizeRestrictions_BODY
    # blocks bodies over 8 KB (our limit is 256 KB, a 1,000-item batch, answered by the function with a JSON
    # 413), and GenericRFI_BODY blocks bodies holding a URL with an IP-address host, which is what a request
    # to capture http://203.0.113.5/ or notify http://198.51.100.7/hook is. The function vets those URLs.
    (2, "AWSManagedRulesCommonRuleSet", ["SizeRestrictions_BODY", "GenericRFI_BODY"]),
    (3, "AWSManagedRulesKnownBadInputsRuleSet", []),
]
RATE_RULE_PRIORITY = 0


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _managed_rule(priority: int, name: str, count_only: list[str]) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=name,
                rule_action_overrides=[
                    wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                    )
                    for rule in count_only
                ]
                or None,
            )
        ),
        visibility_config=_visibility(name),
    )


class ApiFirewall(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, stage: apigw.Stage) -> None:
        super().__init__(scope, construct_id)

        rate_rule = wafv2.CfnWebACL.RuleProperty(
            name="RequestsPerIp",
            priority=RATE_RULE_PRIORITY,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP", limit=config.api_waf_requests_per_ip_per_5_minutes
                )
            ),
            visibility_config=_visibility("RequestsPerIp"),
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{config.prefix}-api",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=[rate_rule, *(_managed_rule(*group) for group in MANAGED_RULE_GROUPS)],
            visibility_config=_visibility(f"{config.prefix}-api"),
        )
        wafv2.CfnWebACLAssociation(self, "Association", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn)
