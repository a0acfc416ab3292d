"""Synthesizes the stack once per test module; no Docker, no AWS access."""

from __future__ import annotations

import os

# jsii warns on every start when Node is past its end of life; set before aws_cdk is first imported.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest
from aws_cdk.assertions import Template

from app import build_app
from infra.stack import ShotwireStack
from shotwire_core.config import StackConfig


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> ShotwireStack:
    # The same app `make synth` builds (cdk.json context and feature flags), written to a scratch outdir.
    _, stack = build_app(outdir=str(tmp_path_factory.mktemp("cdk.out")))
    return stack


@pytest.fixture(scope="module")
def config(stack: ShotwireStack) -> StackConfig:
    return stack.config


@pytest.fixture(scope="module")
def template(stack: ShotwireStack) -> Template:
    return Template.from_stack(stack)
