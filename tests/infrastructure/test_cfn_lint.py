"""cfn-lint on the synthesized template: zero errors; the only warnings allowed are CDK's own DependsOn."""

from __future__ import annotations

import json
from pathlib import Path

import cfnlint.api
import pytest
from aws_cdk.assertions import Template

# W3005: CDK adds DependsOn from each function to its role although a GetAtt already orders them.
ACCEPTED_WARNINGS = {"W3005"}


def test_the_template_passes_cfn_lint(template: Template, tmp_path: Path) -> None:
    path = tmp_path / "Shotwire.template.json"
    path.write_text(json.dumps(template.to_json()))
    matches = cfnlint.api.lint_file(path, config=cfnlint.api.ManualArgs(regions=["us-east-1", "eu-west-1"]))
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    assert errors == [], errors
    unexpected = [str(m) for m in matches if m.rule.id.startswith("W") and m.rule.id not in ACCEPTED_WARNINGS]
    if unexpected:
        pytest.fail("new cfn-lint warnings:\n" + "\n".join(unexpected))
