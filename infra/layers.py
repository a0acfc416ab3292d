"""Lambda layers for the zip functions: our shared package, and the pinned third-party packages it needs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.defaults import ARCHITECTURE, BYTECODE_TAG, LAYER_ASSET_EXCLUDE, REPO_ROOT, RUNTIME

# scripts/build-layer.sh (`make layer`, part of `make setup`) builds both layers for RUNTIME and ARCHITECTURE,
# each with its bytecode compiled by that runtime's Python, and records what it built in a stamp:
# - the pins' manylinux wheels, unpacked into DEPENDENCIES_DIR/python;
# - a copy of SHARED_SOURCE (shotwire_core) in SHARED_DIR/python.
DEPENDENCIES_REQUIREMENTS = REPO_ROOT / "layers" / "dependencies" / "requirements.txt"
DEPENDENCIES_DIR = REPO_ROOT / "build" / "layers" / "dependencies"
DEPENDENCIES_STAMP = REPO_ROOT / "build" / "layers" / "dependencies.stamp"
SHARED_SOURCE = REPO_ROOT / "layers" / "shared" / "python"
SHARED_DIR = REPO_ROOT / "build" / "layers" / "shared"
SHARED_STAMP = REPO_ROOT / "build" / "layers" / "shared.stamp"
# What the build leaves out of the shared layer's copy (build-layer.sh's SOURCE_JUNK).
SOURCE_JUNK = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


class LayerNotBuiltError(RuntimeError):
    """A layer is missing, or was built for another runtime, from other pins or from other sources."""


def _check_stamp(name: str, directory: Path, stamp: Path) -> list[str]:
    """The stamp's lines, once it is there and says the layer was built and compiled for RUNTIME."""
    if not (directory / "python").is_dir() or not stamp.is_file():
        raise LayerNotBuiltError(
            f"The {name} layer is not built ({directory} is missing). Run `make layer` (or `make setup`): "
            "it builds both layers for the functions' Lambda runtime (the first time, it downloads the pinned wheels)."
        )
    recorded = stamp.read_text().splitlines()
    target = f"{RUNTIME.name} {ARCHITECTURE.name}"
    if f"runtime {target}" not in recorded:
        raise LayerNotBuiltError(
            f"The {name} layer in {directory} was built for another runtime than the functions' ({target}). "
            "Run `make layer` to rebuild it."
        )
    if not any(line.startswith(f"bytecode {BYTECODE_TAG} ") for line in recorded):
        raise LayerNotBuiltError(
            f"The {name} layer in {directory} holds no {BYTECODE_TAG} bytecode. Run `make layer` to rebuild it."
        )
    return recorded


def built_dependencies_dir(
    requirements: Path = DEPENDENCIES_REQUIREMENTS,
    directory: Path = DEPENDENCIES_DIR,
    stamp: Path = DEPENDENCIES_STAMP,
) -> Path:
    """The built layer's directory, refusing a missing or stale build rather than deploying without it."""
    recorded = _check_stamp("dependencies", directory, stamp)
    if f"requirements sha256 {hashlib.sha256(requirements.read_bytes()).hexdigest()}" not in recorded:
        raise LayerNotBuiltError(
            f"The dependencies layer in {directory} was built from other pins than {requirements}. "
            "Run `make layer` to rebuild it."
        )
    return directory


def _source_files(root: Path) -> dict[Path, Path]:
    """The files under `root` that belong in the layer, by path relative to it (bytecode and caches not)."""
    return {
        path.relative_to(root): path
        for path in root.rglob("*")
        if path.is_file() and path.suffix != ".pyc" and not SOURCE_JUNK.intersection(path.relative_to(root).parts)
    }


def built_shared_dir(source: Path = SHARED_SOURCE, directory: Path = SHARED_DIR, stamp: Path = SHARED_STAMP) -> Path:
    """The built shared layer's directory, refusing one missing or copied from other sources than the tree's:
    synth must never deploy a shotwire_core older than the one the tests ran."""
    _check_stamp("shared", directory, stamp)
    wanted, built = _source_files(source), _source_files(directory / "python")
    differing = sorted(
        {str(name) for name in wanted.keys() ^ built.keys()}
        | {str(name) for name in wanted.keys() & built.keys() if wanted[name].read_bytes() != built[name].read_bytes()}
    )
    if differing:
        shown = ", ".join(differing[:3]) + (f" and {len(differing) - 3} more" if len(differing) > 3 else "")
        raise LayerNotBuiltError(
            f"The shared layer in {directory} is not a copy of {source} ({shown} differ). "
            "Run `make layer` to rebuild it."
        )
    return directory


class Layers(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)

        # build/layers/shared holds python/shotwire_core; Lambda adds /opt/python to sys.path.
        self.shared = lambda_.LayerVersion(
            self,
            "Shared",
            code=lambda_.Code.from_asset(str(built_shared_dir()), exclude=LAYER_ASSET_EXCLUDE),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="shotwire_core: models, settings and AWS adapters shared by the functions",
        )

        # Powertools (with the X-Ray tracer), pydantic v2 and the AWS SDK, at exactly the versions the tests
        # ran. /opt/python comes before the runtime's own libraries on sys.path, so these are the ones imported.
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(str(built_dependencies_dir()), exclude=LAYER_ASSET_EXCLUDE),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Powertools, pydantic and boto3 as pinned in layers/dependencies/requirements.txt",
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.dependencies, self.shared]
