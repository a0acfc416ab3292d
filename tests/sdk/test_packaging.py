"""The SDK stands alone: its own dependencies only, typed, light to import."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import shotwire
from tests.support import ROOT

SDK = ROOT / "sdk"


CONTRACT = ROOT / "layers" / "shared" / "python" / "shotwire_contract"


def sdk_only_path() -> str:
    """A directory holding what the SDK's distribution holds (the `shotwire` package and the contract it
    ships, sdk/pyproject.toml), and nothing of the server's code beside them."""
    site = Path(tempfile.mkdtemp(prefix="sdk-only-"))
    (site / "shotwire").symlink_to(SDK / "src" / "shotwire")
    (site / "shotwire_contract").symlink_to(CONTRACT)
    return str(site)


def run_python(code: str) -> str:
    """`code` in a fresh interpreter that sees the SDK but not the server's code."""
    env = {"PYTHONPATH": sdk_only_path(), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True, cwd="/"
    )
    return done.stdout


def test_the_project_declares_only_httpx_and_pydantic() -> None:
    project = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]
    assert project["name"] == "shotwire" and project["version"] == shotwire.__version__ == "0.1.0"
    assert project["requires-python"] == ">=3.11"
    assert project["dependencies"] == ["httpx>=0.27,<1", "pydantic>=2.11,<3"]
    assert project["optional-dependencies"] == {"cli": ["typer>=0.12", "rich>=13"]}
    assert project["scripts"] == {"shotwire": "shotwire.cli:main"}
    assert (SDK / "src" / "shotwire" / "py.typed").exists() and (CONTRACT / "py.typed").exists()
    setuptools = tomllib.loads((SDK / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"]["shotwire_contract"] == "../layers/shared/python/shotwire_contract"


def test_the_sdk_imports_no_server_code_and_no_aws_or_browser_package() -> None:
    loaded = json.loads(
        run_python(
            "import json, sys; import shotwire, shotwire.client, shotwire.async_client, shotwire.models;"
            "shotwire.Client(api_key='k'); print(json.dumps(sorted(sys.modules)))"
        )
    )
    roots = {name.split(".")[0] for name in loaded}
    assert not roots & {"shotwire_core", "boto3", "botocore", "playwright", "aws_lambda_powertools", "devstack"}


def test_import_shotwire_loads_neither_httpx_nor_pydantic_until_a_client_is_used() -> None:
    # A webhook receiver needs only shotwire.webhooks: standard library only.
    loaded = json.loads(
        run_python(
            "import json, sys; import shotwire; shotwire.webhooks.verify; print(json.dumps(sorted(sys.modules)))"
        )
    )
    assert "httpx" not in loaded and "pydantic" not in loaded
    lazily = run_python(
        "import sys, shotwire; shotwire.Client; print('httpx' in sys.modules, 'pydantic' in sys.modules)"
    )
    assert lazily.split() == ["True", "True"]


def test_the_public_names() -> None:
    for name in shotwire.__all__:
        assert getattr(shotwire, name) is not None, name
    assert issubclass(shotwire.InvalidRequestError, shotwire.APIError)
    assert issubclass(shotwire.APIError, shotwire.ShotwireError)
    assert shotwire.WebhookVerificationError is shotwire.webhooks.WebhookVerificationError
