"""Lambda layers for the zip functions: our shared package, and the pinned third-party packages it needs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.defaults import ARCHITECTURE, ASSET_EXCLUDE, REPO_ROOT, RUNTIME

# Pins in the repository; scripts/build-layer.sh (`make layer`, part of `make setup`) unpacks their manylinux
# wheels for RUNTIME and ARCHITECTURE into DEPENDENCIES_DIR/python, and records that target and the pins'
# hash in DEPENDENCIES_STAMP.
DEPENDENCIES_REQUIREMENTS = REPO_ROOT / "layers" / "dependencies" / "requirements.txt"
DEPENDENCIES_DIR = REPO_ROOT / "build" / "layers" / "dependencies"
DEPENDENCIES_STAMP = REPO_ROOT / "build" / "layers" / "dependencies.stamp"


class LayerNotBuiltError(RuntimeError):
    """The dependencies layer is missing, or was built for another runtime or from other pins."""


def built_dependencies_dir(
    requirements: Path = DEPENDENCIES_REQUIREMENTS,
    directory: Path = DEPENDENCIES_DIR,
    stamp: Path = DEPENDENCIES_STAMP,
) -> Path:
    """The built layer's directory, refusing a missing or stale build rather than deploying without it."""
    if not (directory / "python").is_dir() or not stamp.is_file():
        raise LayerNotBuiltError(
            f"The dependencies layer is not built ({directory} is missing). Run `make layer` "
            "(or `make setup`): it downloads the pinned wheels for the functions' Lambda runtime once."
        )
    recorded = stamp.read_text().splitlines()
    target = f"{RUNTIME.name} {ARCHITECTURE.name}"
    if f"runtime {target}" not in recorded:
        raise LayerNotBuiltError(
            f"The dependencies layer in {directory} was built for another runtime than the functions' ({target}). "
            "Run `make layer` to rebuild it."
        )
    if f"requirements sha256 {hashlib.sha256(requirements.read_bytes()).hexdigest()}" not in recorded:
        raise LayerNotBuiltError(
            f"The dependencies layer in {directory} was built from other pins than {requirements}. "
            "Run `make layer` to rebuild it."
        )
    return directory


class Layers(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)

        # layers/shared holds python/shotwire_core; Lambda adds /opt/python to sys.path.
        self.shared = lambda_.LayerVersion(
            self,
            "Shared",
            code=lambda_.Code.from_asset(str(REPO_ROOT / "layers" / "shared"), exclude=ASSET_EXCLUDE),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="shotwire_core: models, settings and AWS adapters shared by the functions",
        )

        # Powertools (with the X-Ray tracer), pydantic v2 and the AWS SDK, at exactly the versions the tests
        # ran. /opt/python comes before the runtime's own libraries on sys.path, so these are the ones imported.
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(str(built_dependencies_dir()), exclude=ASSET_EXCLUDE),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Powertools, pydantic and boto3 as pinned in layers/dependencies/requirements.txt",
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.dependencies, self.shared]
