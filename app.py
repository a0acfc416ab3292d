"""CDK entry point. `make synth` runs `python app.py`; `cdk synth` / `cdk deploy` run it through cdk.json.

Both paths see the same context: cdk.json's `context` block is loaded here as defaults, and the CDK CLI's
own context (`-c shotwire='{"prefix": "shotwire-dev"}'`) overrides it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
# The shared package is a Lambda layer, not an installed distribution: make `shotwire_core` importable.
sys.path.insert(0, str(ROOT / "layers" / "shared" / "python"))

import aws_cdk as cdk  # noqa: E402

from infra.nag import add_checks  # noqa: E402
from infra.stack import ShotwireStack  # noqa: E402
from shotwire_core.config import StackConfig, load_stack_config  # noqa: E402

CONTEXT_KEY = "shotwire"


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text()).get("context", {})
    return context


def config_from_context(raw: object) -> StackConfig:
    """Context from the CLI arrives as a JSON string, from cdk.json as an object; accept both."""
    if isinstance(raw, str):
        raw = json.loads(raw)
    if raw is not None and not isinstance(raw, dict):
        raise TypeError(f"context '{CONTEXT_KEY}' must be an object, got {type(raw).__name__}")
    return load_stack_config(raw)


def stack_name(config: StackConfig) -> str:
    """'shotwire' -> 'Shotwire', 'shotwire-dev' -> 'ShotwireDev'."""
    return "".join(part.capitalize() for part in config.prefix.split("-"))


def build_app(outdir: str | None = None, context: dict[str, Any] | None = None) -> tuple[cdk.App, ShotwireStack]:
    """`context` overrides cdk.json's (tests pass e.g. {"shotwire": {"egress_static_ips": True}})."""
    app = cdk.App(
        outdir=outdir or os.environ.get("CDK_OUTDIR") or str(ROOT / "cdk.out"),
        context={**cdk_json_context(), **(context or {})},
    )
    config = config_from_context(app.node.try_get_context(CONTEXT_KEY))
    stack = ShotwireStack(app, stack_name(config), config=config)
    cdk.Tags.of(stack).add("project", "shotwire")
    add_checks(app)
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
