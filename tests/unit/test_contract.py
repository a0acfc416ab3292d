"""The contract package is pydantic and the standard library only: the SDK ships it, the server's functions
import it, and neither side may pull the other's dependencies (AWS, HTTP, Playwright) in through it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from shotwire_contract import answers, requests
from shotwire_contract.devices import DEVICES
from shotwire_contract.requests import ScreenshotRequest
from tests.support import ROOT

CONTRACT = ROOT / "layers" / "shared" / "python" / "shotwire_contract"
ALLOWED = {"pydantic", "pydantic_core", "shotwire_contract", "__future__"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", sorted(CONTRACT.glob("*.py")), ids=lambda path: path.name)
def test_the_contract_imports_only_pydantic_and_the_standard_library(module: Path) -> None:
    foreign = imported_roots(module) - ALLOWED - set(sys.stdlib_module_names)
    assert not foreign, f"{module.name} imports {sorted(foreign)}"


def test_every_answer_is_closed_in_the_document_and_open_when_read() -> None:
    """The document lists every field (a contract test fails on one it does not name); reading drops unknown
    ones, so a newer server does not break an older reader."""
    models = [
        value for value in vars(answers).values() if isinstance(value, type) and issubclass(value, answers.Answer)
    ]
    assert len(models) > 15
    for model in models:
        assert model.model_json_schema()["additionalProperties"] is False, model.__name__
    page = answers.JobPage.model_validate({"data": [], "nextCursor": None, "newField": 1})
    assert page.to_json() == {"data": [], "nextCursor": None}


def test_absent_fields_are_left_out_and_named_nulls_are_sent() -> None:
    capture = answers.CaptureAnswer(
        capture_id="cap_1", status="accepted", width=1, height=1, format="png", captured_at=None
    )
    assert capture.to_json() == {
        "capture_id": "cap_1",
        "status": "accepted",
        "width": 1,
        "height": 1,
        "format": "png",
        "captured_at": None,
    }


def test_a_device_preset_fills_the_viewport_the_request_leaves_out() -> None:
    preset = DEVICES["iphone-15"]
    viewport = ScreenshotRequest.model_validate(
        {"url": "https://example.com", "device": "iphone-15", "width": 500}
    ).viewport()
    assert (viewport.width, viewport.height, viewport.device_scale_factor) == (500, preset.height, 3.0)
    assert viewport.is_mobile and viewport.user_agent == preset.user_agent
    assert requests.ScreenshotRequest.model_validate({"url": "https://example.com"}).viewport()[:3] == (1280, 800, 1.0)
