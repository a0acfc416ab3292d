"""cdk-nag's AwsSolutions pack runs on every synth (app.py) and in the tests; a finding nobody acknowledged
fails the synth. Acknowledgments sit beside the resource they excuse, each naming the rule and a reason,
and are also written into the template's metadata (cdk_nag.rules_to_suppress) for auditors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

NAG_PREFIX = "AwsSolutions-"


def add_checks(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept one cdk-nag finding (e.g. `AwsSolutions-IAM5[Resource::*]`) on this construct and below."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def acknowledged(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(resource, rule, reason) for every cdk-nag acknowledgment written into a synthesized template (CDK
    adds acknowledgments of its own CloudFormation-Validate rules to the same metadata; those are not ours)."""
    return [
        (logical_id, rule["id"], rule["reason"])
        for logical_id, resource in template.get("Resources", {}).items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        if rule["id"].startswith(NAG_PREFIX)
    ]


def main(outdir: str) -> None:
    """`make synth` prints what was acknowledged, so nobody has to dig through the template for it."""
    for path in sorted(Path(outdir).glob("*.template.json")):
        rows = acknowledged(json.loads(path.read_text()))
        print(f"cdk-nag AwsSolutions: 0 unacknowledged findings; {len(rows)} acknowledged in {path.name}:")
        for logical_id, rule, reason in rows:
            print(f"  {rule}  {logical_id}\n      {reason}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cdk.out")
