"""The zip functions' layers: ours only, and a dependencies layer that holds exactly what the tests ran,
both with bytecode compiled by the functions' runtime's Python.

`make layer` (part of `make setup`) builds both into build/layers; these tests read those directories and
need no network. The local venv's Python (3.11) cannot import the layers (their extension modules and
bytecode are for the runtime's version, say cp313), so the tests that import them run the interpreter that
compiled them, which the layers' stamps name; where it is gone they are skipped, saying why, and the
closure, platform-tag and import-graph tests below stand in for them.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from packaging import tags
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.defaults import ARCHITECTURE, BYTECODE_TAG, REPO_ROOT, RUNTIME
from infra.layers import (
    DEPENDENCIES_DIR,
    DEPENDENCIES_REQUIREMENTS,
    DEPENDENCIES_STAMP,
    SHARED_DIR,
    SHARED_SOURCE,
    SHARED_STAMP,
    LayerNotBuiltError,
    built_dependencies_dir,
    built_shared_dir,
)
from infra.stack import ShotwireStack

ZIP_SERVICES = ["api", "dispatcher"]
LAYER = DEPENDENCIES_DIR / "python"
SHARED = SHARED_DIR / "python"
# Each built layer: its directory and its stamp.
BUILT = {"dependencies": (DEPENDENCIES_DIR, DEPENDENCIES_STAMP), "shared": (SHARED_DIR, SHARED_STAMP)}

# Lambda's Python runtimes (3.12 and later) run on Amazon Linux 2023, whose glibc is 2.34.
LAMBDA_GLIBC_MINOR = 34
# Everything a function unpacks, its code and all its layers together, must stay under this.
LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000

# Packages no metadata asks for, which a package here imports when it can (so the tests' venv ran with them).
OPTIONAL_IMPORTS = {"certifi": "botocore.httpsession takes its CA bundle"}

PYTHON_VERSION = RUNTIME.name.removeprefix("python")  # "3.13"
PY_MAJOR, PY_MINOR = (int(part) for part in PYTHON_VERSION.split("."))
MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}[ARCHITECTURE.name]


# --- helpers ---------------------------------------------------------------------------------------


def pins(path: Path) -> dict[str, Requirement]:
    """A requirements or constraints file's `name==version` lines, by canonical name."""
    found: dict[str, Requirement] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        found[canonicalize_name(requirement.name)] = requirement
    return found


def pinned_version(requirement: Requirement) -> str:
    (specifier,) = requirement.specifier
    assert specifier.operator == "==", f"{requirement} is not an exact pin"
    return specifier.version


def layer_distributions() -> dict[str, importlib.metadata.Distribution]:
    return {canonicalize_name(d.metadata["Name"]): d for d in importlib.metadata.distributions(path=[str(LAYER)])}


def target_environment(extra: str) -> dict[str, str]:
    """PEP 508 marker values on the functions' runtime, not on this machine."""
    version = f"{PY_MAJOR}.{PY_MINOR}"
    return {
        "python_version": version,
        "python_full_version": f"{version}.0",
        "implementation_name": "cpython",
        "implementation_version": f"{version}.0",
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "platform_machine": MACHINE,
        "sys_platform": "linux",
        "os_name": "posix",
        "extra": extra,
    }


def files_under(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


def layer_logical_id(stack: ShotwireStack, layer: lambda_.LayerVersion) -> str:
    cfn = layer.node.default_child
    assert isinstance(cfn, lambda_.CfnLayerVersion)
    return stack.get_logical_id(cfn)


def function_props(template: Template, service: str) -> dict[str, Any]:
    found = template.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": f"shotwire-{service}"}}}},
    )
    assert len(found) == 1, f"expected one function for service {service}"
    props: dict[str, Any] = next(iter(found.values()))["Properties"]
    return props


# --- the template ----------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ZIP_SERVICES)
def test_zip_functions_use_the_shared_and_the_dependencies_layer(
    template: Template, stack: ShotwireStack, service: str
) -> None:
    layers = function_props(template, service)["Layers"]
    assert layers == [
        {"Ref": layer_logical_id(stack, stack.layers.dependencies)},
        {"Ref": layer_logical_id(stack, stack.layers.shared)},
    ]


def test_no_layer_comes_from_aws_or_from_an_ssm_lookup(template: Template) -> None:
    # CDK's own BootstrapVersion is the one SSM-typed parameter; the public Powertools ARN parameter is gone.
    ssm = {
        name
        for name, parameter in template.to_json().get("Parameters", {}).items()
        if parameter["Type"].startswith("AWS::SSM::Parameter::Value")
    }
    assert ssm <= {"BootstrapVersion"}
    for function in template.find_resources("AWS::Lambda::Function").values():
        for layer in function["Properties"].get("Layers", []):
            assert set(layer) == {"Ref"}, f"a layer that is not one of the stack's own: {layer}"


def test_dependencies_layer_is_for_the_functions_runtime_and_architecture(
    template: Template, stack: ShotwireStack
) -> None:
    props = template.to_json()["Resources"][layer_logical_id(stack, stack.layers.dependencies)]["Properties"]
    assert props["CompatibleRuntimes"] == [RUNTIME.name]
    assert props["CompatibleArchitectures"] == [ARCHITECTURE.name]


@pytest.mark.parametrize("name", BUILT)
def test_each_layer_deploys_its_built_directory_bytecode_included(
    template: Template, stack: ShotwireStack, name: str
) -> None:
    layer = stack.layers.dependencies if name == "dependencies" else stack.layers.shared
    props = template.to_json()["Resources"][layer_logical_id(stack, layer)]["Properties"]
    asset_hash = props["Content"]["S3Key"].removesuffix(".zip")
    app = stack.node.root
    assert isinstance(app, App)
    staged = Path(app.outdir) / f"asset.{asset_hash}"
    directory = BUILT[name][0]
    assert sorted(p.relative_to(staged) for p in files_under(staged)) == sorted(
        p.relative_to(directory) for p in files_under(directory)
    )
    assert any(p.suffix == ".pyc" for p in files_under(staged))


# --- the pins --------------------------------------------------------------------------------------


def test_layer_pins_are_the_pins_the_tests_ran() -> None:
    layer = pins(DEPENDENCIES_REQUIREMENTS)
    constraints = pins(REPO_ROOT / "constraints.txt")
    requirements = pins(REPO_ROOT / "requirements.txt")
    for name, requirement in layer.items():
        assert name in constraints, f"{name} is in the layer but not in constraints.txt"
        assert pinned_version(requirement) == pinned_version(constraints[name]), f"{name}: layer vs constraints.txt"
        if name in requirements:
            assert pinned_version(requirement) == pinned_version(requirements[name]), f"{name}: layer vs requirements"
            assert requirements[name].extras <= requirement.extras, f"{name}: the tests ran it with more extras"


def test_layer_holds_exactly_the_pinned_closure() -> None:
    """Every dependency (for the target Python) of every package is in the layer, and nothing else is."""
    installed = layer_distributions()
    layer = pins(DEPENDENCIES_REQUIREMENTS)
    assert {name: d.version for name, d in installed.items()} == {name: pinned_version(r) for name, r in layer.items()}

    reached: set[str] = set()
    todo = [(name, set(r.extras)) for name, r in layer.items()]
    while todo:
        name, extras = todo.pop()
        reached.add(name)
        for line in installed[name].requires or []:
            dependency = Requirement(line)
            marker = dependency.marker
            if marker is not None and not any(marker.evaluate(target_environment(e)) for e in {"", *extras}):
                continue
            wanted = canonicalize_name(dependency.name)
            assert wanted in installed, f"{name} needs {dependency}, which the layer lacks"
            assert dependency.specifier.contains(installed[wanted].version, prereleases=True), (
                f"{name} needs {dependency}, the layer has {installed[wanted].version}"
            )
            if wanted not in reached or dependency.extras:
                todo.append((wanted, set(dependency.extras)))
    unneeded = set(installed) - reached - set(OPTIONAL_IMPORTS)
    assert not unneeded, f"pinned but needed by nothing pinned: {unneeded}"


def test_every_package_the_zip_functions_import_is_in_the_layer() -> None:
    """Imports each handler in a fresh interpreter of this venv and maps what it loaded to distributions."""
    # An AWS client too: the AWS SDK (and Powertools' idempotency) are imported by the first request that
    # calls out, not by the handler's import (services build their adapters on first use).
    probe = (
        "import importlib.metadata, json, sys\n"
        "before = set(sys.modules)\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import handler\n"
        "from shotwire_core.services import get_services\n"
        "get_services()\n"
        "from shotwire_core.adapters.aws import client\n"
        "client('sqs')\n"
        "owners = importlib.metadata.packages_distributions()\n"
        "top = {m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)\n"
        "print(json.dumps(sorted({d for t in top for d in owners.get(t, [])})))\n"
    )
    layer = set(pins(DEPENDENCIES_REQUIREMENTS))
    for service in ZIP_SERVICES:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(REPO_ROOT / "functions" / service)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            cwd=REPO_ROOT,
            env={**os.environ, "AWS_DEFAULT_REGION": "eu-west-1"},
        )
        imported = {canonicalize_name(d) for d in json.loads(done.stdout)}
        assert {"aws-lambda-powertools", "pydantic", "pydantic-core", "boto3", "botocore"} <= imported
        assert imported <= layer, f"{service} imports {imported - layer}, which the layer does not hold"


# --- the built directory ---------------------------------------------------------------------------


def test_layer_is_built_for_lambdas_python_not_the_local_one() -> None:
    abi = f"cp{PY_MAJOR}{PY_MINOR}"
    assert (LAYER / "pydantic_core" / f"_pydantic_core.cpython-{PY_MAJOR}{PY_MINOR}-{MACHINE}-linux-gnu.so").is_file()
    assert (LAYER / "aws_lambda_powertools" / "__init__.py").is_file()
    local = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    if local != f"cpython-{PY_MAJOR}{PY_MINOR}":
        assert not [p for p in files_under(LAYER) if local in p.name], f"{local} files in the layer"

    # Every wheel's tags must be ones Lambda's Python accepts: cpXY or pure Python, manylinux up to 2.34.
    platforms = [f"manylinux_2_{m}_{MACHINE}" for m in range(LAMBDA_GLIBC_MINOR, 4, -1)]
    platforms += [f"manylinux{legacy}_{MACHINE}" for legacy in ("2014", "2010", "1")]
    supported = set(tags.cpython_tags((PY_MAJOR, PY_MINOR), abis=[abi], platforms=platforms))
    supported |= set(tags.compatible_tags((PY_MAJOR, PY_MINOR), interpreter=abi, platforms=platforms))
    for wheel in LAYER.glob("*.dist-info/WHEEL"):
        lines = [
            line.removeprefix("Tag:").strip() for line in wheel.read_text().splitlines() if line.startswith("Tag:")
        ]
        wheel_tags = {tag for line in lines for tag in tags.parse_tag(line)}
        assert wheel_tags & supported, f"{wheel.parent.name} is tagged {sorted(map(str, wheel_tags))}"


def pyc_flags(pyc: Path) -> int:
    """The pyc header's flags (PEP 552): bit 0 hash-based, bit 1 check the source."""
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


@pytest.mark.parametrize("root", [LAYER, SHARED], ids=["dependencies", "shared"])
def test_every_module_has_unchecked_bytecode_for_the_runtime_and_no_other(root: Path) -> None:
    assert not (root / "bin").exists()
    sources = [p for p in files_under(root) if p.suffix == ".py"]
    pycs = {p for p in files_under(root) if p.suffix in {".pyc", ".pyo"}}
    wanted = {p.parent / "__pycache__" / f"{p.stem}.{BYTECODE_TAG}.pyc" for p in sources}
    assert pycs == wanted, f"missing {sorted(wanted - pycs)[:3]}, not wanted {sorted(pycs - wanted)[:3]}"
    # Unchecked hash-based: Lambda unzips with 1980 mtimes, which would make timestamp-based ones all stale.
    assert {pyc_flags(p) for p in pycs} == {0b01}


def test_layers_fit_well_inside_lambdas_unzipped_limit() -> None:
    size = sum(p.stat().st_size for root in (LAYER, SHARED) for p in files_under(root))
    assert size < LAMBDA_UNZIPPED_LIMIT_BYTES // 2, f"layers unzip to {size / 1e6:.0f} MB"


def test_shared_layer_is_the_source_tree_as_it_is() -> None:
    assert built_shared_dir() == SHARED_DIR
    assert (SHARED / "shotwire_core" / "__init__.py").read_bytes() == (
        SHARED_SOURCE / "shotwire_core" / "__init__.py"
    ).read_bytes()


def compiled_by(stamp: Path) -> str:
    """The interpreter a layer's stamp says compiled its bytecode: `bytecode <tag> <mode> <version> <path>`."""
    (line,) = [line for line in stamp.read_text().splitlines() if line.startswith("bytecode ")]
    tag, mode, _version, path = line.split(maxsplit=4)[1:]
    assert (tag, mode) == (BYTECODE_TAG, "unchecked-hash"), line
    return path


def test_both_layers_were_compiled_by_one_interpreter() -> None:
    assert compiled_by(DEPENDENCIES_STAMP) == compiled_by(SHARED_STAMP)


def lambda_python() -> str:
    """The runtime's Python that compiled the layers, or the test is skipped (the machine has lost it)."""
    python = compiled_by(DEPENDENCIES_STAMP)
    check = f"import sys; sys.exit(sys.version_info[:2] != ({PY_MAJOR}, {PY_MINOR}))"
    if not os.access(python, os.X_OK) or subprocess.run([python, "-c", check], timeout=30).returncode != 0:
        pytest.skip(
            f"{python}, which compiled the layers, is no longer a {RUNTIME.name} interpreter: the layer's "
            f"cp{PY_MAJOR}{PY_MINOR} modules and bytecode cannot be imported by another Python, so only the "
            "closure, tag and import-graph tests check the layer (`make layer` finds another)"
        )
    return python


# Run by the runtime's Python over a layer: every pyc loads (right magic number, a hash-based header) and
# carries the hash of the source beside it, so none can be stale.
CHECK_PYCS = """
import _imp, importlib.util, pathlib, sys
from importlib._bootstrap_external import _classify_pyc
bad = []
for pyc in pathlib.Path(sys.argv[1]).rglob("*.pyc"):
    source = importlib.util.source_from_cache(str(pyc))
    data = pyc.read_bytes()
    _classify_pyc(data, pyc.name, {"name": pyc.name, "path": str(pyc)})  # raises on another version's magic
    if data[8:16] != _imp.source_hash(importlib.util._RAW_MAGIC_NUMBER, pathlib.Path(source).read_bytes()):
        bad.append(source)
print(len(bad), bad[:3])
"""


@pytest.mark.parametrize("root", [LAYER, SHARED], ids=["dependencies", "shared"])
def test_bytecode_loads_under_the_runtimes_python_and_matches_its_source(root: Path) -> None:
    done = subprocess.run(
        [lambda_python(), "-I", "-S", "-c", CHECK_PYCS, str(root)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("0 "), f"stale bytecode: {done.stdout}"


# Run with -I -S: only the standard library and the two layers are importable, as on Lambda, where /opt/python
# comes before the runtime's own packages.
SMOKE = """
import sys
function, *layers = sys.argv[1:]
sys.path[:0] = [function, *layers]
import handler
import pydantic_core, aws_xray_sdk.core
assert pydantic_core.__file__.startswith(layers[0]), pydantic_core.__file__

class Context:
    function_name = "smoke"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:smoke"
    aws_request_id = "smoke"
    def get_remaining_time_in_millis(self):
        return 10_000

if function.endswith("api"):
    for path in ("/health", "/openapi.json", "/docs"):
        event = {
            "resource": "/{proxy+}", "path": path, "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
            "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": {"proxy": path[1:]}, "stageVariables": None, "body": None, "isBase64Encoded": False,
            "requestContext": {"requestId": "smoke", "stage": "v1", "resourcePath": "/{proxy+}",
                               "httpMethod": "GET", "path": path, "identity": {"sourceIp": "127.0.0.1"}},
        }
        answer = handler.lambda_handler(event, Context())
        assert answer["statusCode"] == 200, answer

# What the first request that calls AWS imports (the SDK, X-Ray's patches, Powertools' idempotency).
from shotwire_core.services import get_services
get_services()
print("ok")
"""


@pytest.mark.parametrize("service", ZIP_SERVICES)
def test_handlers_import_and_answer_under_lambdas_python(service: str) -> None:
    # -B: nothing written beside the function's code or into the layers.
    command = [lambda_python(), "-I", "-S", "-B", "-c", SMOKE]
    done = subprocess.run(
        [*command, str(REPO_ROOT / "functions" / service), str(LAYER), str(SHARED)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": os.environ.get("PATH", ""),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "AWS_DEFAULT_REGION": "eu-west-1",
        },
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


# --- refusing to synth without it ------------------------------------------------------------------


def test_synth_refuses_a_missing_or_stale_layer(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(DEPENDENCIES_REQUIREMENTS.read_text())
    directory, stamp = tmp_path / "dependencies", tmp_path / "dependencies.stamp"

    with pytest.raises(LayerNotBuiltError, match="make layer"):
        built_dependencies_dir(requirements, directory, stamp)

    (directory / "python").mkdir(parents=True)
    stamp.write_text(DEPENDENCIES_STAMP.read_text())
    assert built_dependencies_dir(requirements, directory, stamp) == directory

    requirements.write_text(requirements.read_text() + "six==1.16.0\n")
    with pytest.raises(LayerNotBuiltError, match=r"other pins.*make layer"):
        built_dependencies_dir(requirements, directory, stamp)

    requirements.write_text(DEPENDENCIES_REQUIREMENTS.read_text())
    stamp.write_text(DEPENDENCIES_STAMP.read_text().replace(f"runtime {RUNTIME.name} ", "runtime python3.9 "))
    with pytest.raises(LayerNotBuiltError, match=r"another runtime.*make layer"):
        built_dependencies_dir(requirements, directory, stamp)

    # A layer built before it shipped bytecode.
    stamp.write_text(
        "".join(line for line in DEPENDENCIES_STAMP.read_text().splitlines(True) if "bytecode" not in line)
    )
    with pytest.raises(LayerNotBuiltError, match=rf"no {BYTECODE_TAG} bytecode.*make layer"):
        built_dependencies_dir(requirements, directory, stamp)


def test_synth_refuses_a_shared_layer_that_is_not_a_copy_of_the_source(tmp_path: Path) -> None:
    source, directory, stamp = tmp_path / "source", tmp_path / "shared", tmp_path / "shared.stamp"
    (source / "pkg" / "__pycache__").mkdir(parents=True)
    (source / "pkg" / "a.py").write_text("A = 1\n")
    (source / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"local bytecode is no part of it")

    with pytest.raises(LayerNotBuiltError, match=r"shared layer is not built.*make layer"):
        built_shared_dir(source, directory, stamp)

    (directory / "python" / "pkg" / "__pycache__").mkdir(parents=True)
    (directory / "python" / "pkg" / "a.py").write_text("A = 1\n")
    (directory / "python" / "pkg" / "__pycache__" / f"a.{BYTECODE_TAG}.pyc").write_bytes(b"compiled")
    stamp.write_text(SHARED_STAMP.read_text())
    assert built_shared_dir(source, directory, stamp) == directory

    (source / "pkg" / "a.py").write_text("A = 2\n")
    with pytest.raises(LayerNotBuiltError, match=r"not a copy.*pkg/a.py differ.*make layer"):
        built_shared_dir(source, directory, stamp)

    (source / "pkg" / "a.py").write_text("A = 1\n")
    (source / "pkg" / "b.py").write_text("B = 1\n")
    with pytest.raises(LayerNotBuiltError, match=r"pkg/b.py differ"):
        built_shared_dir(source, directory, stamp)

    (source / "pkg" / "b.py").unlink()
    stamp.write_text(SHARED_STAMP.read_text().replace(f"runtime {RUNTIME.name} ", "runtime python3.9 "))
    with pytest.raises(LayerNotBuiltError, match=r"another runtime.*make layer"):
        built_shared_dir(source, directory, stamp)
