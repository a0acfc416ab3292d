"""The SDK on its own, as a user gets it: `pip install "./sdk[cli]"` into a fresh venv outside the checkout.

- Every module the SDK distribution ships imports only the standard library, the distribution's own packages
  and its declared dependencies (sdk/pyproject.toml): never the repository's devstack or admin, so the
  repository's tooling (devstack/shotwire_cli.py) builds on the SDK and there is no import cycle.
- Installed into a venv of its own and run from a directory outside the checkout, its `shotwire` offers the
  client commands (`capture`, `batch`, `listen`, …) and works: help, usage errors, `listen` verifying a
  signed delivery, and (e2e) a real `capture` against the local stack.

The install is offline. setuptools builds a copy of the sources (`build_py`: the files the distribution
ships, as sdk/pyproject.toml maps them; `egg_info`: its metadata and entry points), packed as a wheel here
(this venv has no `wheel` package for setuptools' bdist_wheel), and pip installs that wheel with --no-deps.
The new venv sees the dependencies through a .pth line naming this venv's site-packages: a directory named
in a .pth is not a site directory, so this venv's shotwire-src.pth, which puts the checkout on the path, is
not read there.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest
from PIL import Image

from tests.cli.conftest import Cli, post_status, signed, wait_until_listening
from tests.e2e.conftest import API_KEY, SECRET, Stack
from tests.support import ROOT, free_port

SDK = ROOT / "sdk"
PYPROJECT = tomllib.loads((SDK / "pyproject.toml").read_text())
CLIENT_COMMANDS = {"capture", "submit", "status", "list", "delete", "deliveries", "redeliver", "test-webhook"}
CLIENT_COMMANDS |= {"batch", "listen"}
TOOLING_COMMANDS = {"dev", "keys", "tenants"}
# Imported by name though not declared: each is installed with a declared dependency and versioned with it.
COMES_WITH = {"pydantic": {"pydantic_core"}, "httpx": {"anyio"}}


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;@(]", requirement, maxsplit=1)[0].lower().replace("-", "_")


def allowed_third_party() -> set[str]:
    """Import names of the SDK's dependencies, the `cli` extra's included."""
    project = PYPROJECT["project"]
    requirements = [*project.get("dependencies", []), *project.get("optional-dependencies", {}).get("cli", [])]
    names = {_requirement_name(requirement) for requirement in requirements}
    return names.union(*(COMES_WITH.get(name, set()) for name in names))


def shipped_packages() -> dict[str, Path]:
    """The distribution's top-level packages and their source directories, as sdk/pyproject.toml maps them
    (`packages.find` under src/, explicit `packages`, and `package-dir` entries such as one outside sdk/)."""
    setuptools = PYPROJECT.get("tool", {}).get("setuptools", {})
    package_dir: dict[str, str] = setuptools.get("package-dir", {})
    base = SDK / package_dir.get("", ".")
    found: dict[str, Path] = {}
    packages = setuptools.get("packages", {})
    if isinstance(packages, dict):
        find = packages.get("find", {})
        include, exclude = find.get("include", ["*"]), find.get("exclude", [])
        for where in find.get("where", ["."]):
            for child in sorted((SDK / where).iterdir()):
                wanted = any(fnmatch(child.name, pattern) for pattern in include)
                unwanted = any(fnmatch(child.name, pattern) for pattern in exclude)
                if wanted and not unwanted and (child / "__init__.py").is_file():
                    found[child.name] = child
    else:
        for name in packages:
            top = name.split(".")[0]
            found[top] = SDK / package_dir[top] if top in package_dir else base / top
    for name, directory in package_dir.items():
        if name and "." not in name:
            found[name] = SDK / directory
    return {name: path.resolve() for name, path in found.items()}


def _imported_roots(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, top-level module) of every absolute import, and of importlib.import_module("…")/__import__("…")."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value.split(".")[0]


def test_every_shipped_module_imports_only_the_standard_library_and_the_declared_dependencies() -> None:
    packages = shipped_packages()
    assert "shotwire" in packages and packages["shotwire"] == (SDK / "src" / "shotwire").resolve()
    allowed = set(sys.stdlib_module_names) | set(packages) | allowed_third_party()
    assert {"httpx", "pydantic", "typer", "rich"} <= allowed
    problems = []
    modules = 0
    for directory in packages.values():
        for path in sorted(directory.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            modules += 1
            for line, root in _imported_roots(ast.parse(path.read_text(), filename=str(path))):
                if root not in allowed:
                    problems.append(f"{path.relative_to(ROOT)}:{line} imports {root}")
    assert modules > 10
    assert not problems, "\n".join(problems)


def test_the_sdk_loads_nothing_of_the_repository_and_the_tooling_builds_on_it() -> None:
    """In this venv the checkout is importable, so a lazy import of devstack or admin would show here."""
    code = (
        "import json, sys\n"
        "from shotwire.cli.runner import run\n"
        "import shotwire.cli.listen, shotwire.cli.batch\n"
        "assert run(['--help']) == 0 and run(['listen', '--help']) == 0\n"
        "sdk = sorted({name.split('.')[0] for name in sys.modules})\n"
        "import typer.main, devstack.shotwire_cli\n"
        "tool = sorted(typer.main.get_command(devstack.shotwire_cli.app).commands)\n"
        "print(json.dumps({'sdk': sdk, 'tool': tool}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SDK / "src"), "COLUMNS": "200"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert not set(report["sdk"]) & {"devstack", "admin", "shotwire_core", "boto3", "botocore", "moto", "playwright"}
    assert set(report["tool"]) == CLIENT_COMMANDS | TOOLING_COMMANDS


# --- installed into a venv of its own -----------------------------------------------------------------------


@dataclass
class Installed:
    venv: Path
    home: Path  # a directory outside the checkout, the commands' cwd

    @property
    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.venv / 'bin'}:/usr/bin:/bin", "HOME": str(self.home), "COLUMNS": "200"}

    def shotwire(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "shotwire"), *args],
            env={**self.env, **(env or {})},
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def python(self, code: str) -> str:
        done = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", code],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


def _copy_sources(target: Path) -> Path:
    """sdk/ and any package directory it maps from outside itself, at the same relative places under `target`
    (the build writes build/ and *.egg-info next to the sources: into the copy, not the checkout)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".*_cache")
    shutil.copytree(SDK, target / "sdk", ignore=ignore)
    for directory in shipped_packages().values():
        if not directory.is_relative_to(SDK):
            shutil.copytree(directory, target / directory.relative_to(ROOT), ignore=ignore)
    return target / "sdk"


def _build_wheel(sdk: Path, out: Path) -> Path:
    """setuptools' build of the sources in `sdk` as a py3-none-any wheel."""
    lib, meta = out / "lib", out / "meta"
    meta.mkdir(parents=True)
    subprocess.run(
        [
            *(sys.executable, "-W", "ignore", "-c", "from setuptools import setup; setup()", "--quiet"),
            *("build_py", "--build-lib", str(lib), "egg_info", "--egg-base", str(meta)),
        ],
        cwd=sdk,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (egg_info,) = meta.glob("*.egg-info")
    project = PYPROJECT["project"]
    dist_info = f"{project['name']}-{project['version']}.dist-info"
    files = {path.relative_to(lib).as_posix(): path.read_bytes() for path in sorted(lib.rglob("*")) if path.is_file()}
    files[f"{dist_info}/METADATA"] = (egg_info / "PKG-INFO").read_bytes()
    files[f"{dist_info}/entry_points.txt"] = (egg_info / "entry_points.txt").read_bytes()
    files[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for name, data in files.items()
    ]
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,", ""]).encode()
    wheel = out / f"{project['name']}-{project['version']}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("installed-sdk")
    assert not base.resolve().is_relative_to(ROOT)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site_packages) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = _build_wheel(_copy_sources(base / "source"), base / "wheel")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"),
            *("install", "--quiet", "--no-deps", "--no-index", str(wheel)),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=base,
    )
    home = base / "home"
    home.mkdir()
    return Installed(venv=venv, home=home)


def _commands(help_text: str) -> set[str]:
    return set(re.findall(r"^│ ([a-z][a-z-]*) ", help_text, flags=re.MULTILINE))


def test_the_installed_package_is_the_copy_in_its_venv_and_loads_nothing_of_the_checkout(
    installed: Installed,
) -> None:
    report = json.loads(
        installed.python(
            "import importlib, json, pkgutil, sys, typer.main\n"
            "import shotwire, shotwire.cli.app\n"
            "names = [m.name for m in pkgutil.walk_packages(shotwire.__path__, 'shotwire.')]\n"
            "for name in names:\n"
            "    if not name.endswith('__main__'):\n"
            "        importlib.import_module(name)\n"
            "try:\n"
            "    import devstack\n"
            "    checkout = True\n"
            "except ModuleNotFoundError:\n"
            "    checkout = False\n"
            "print(json.dumps({'file': shotwire.__file__, 'modules': names, 'checkout': checkout,\n"
            "    'commands': sorted(typer.main.get_command(shotwire.cli.app.app).commands),\n"
            "    'loaded': sorted({name.split('.')[0] for name in sys.modules})}))"
        )
    )
    assert Path(report["file"]).is_relative_to(installed.venv)
    assert "shotwire.cli.listen" in report["modules"] and "shotwire.cli.app" in report["modules"]
    assert not report["checkout"]  # the repository is not on this venv's path at all
    assert set(report["commands"]) == CLIENT_COMMANDS
    assert not set(report["loaded"]) & {"devstack", "admin", "shotwire_core", "boto3", "moto", "playwright"}


def test_the_installed_command_offers_the_client_commands_from_outside_the_checkout(installed: Installed) -> None:
    main_help = installed.shotwire("--help")
    assert main_help.returncode == 0, main_help.stderr
    assert _commands(main_help.stdout) == CLIENT_COMMANDS
    for command in ("capture", "batch", "listen"):
        result = installed.shotwire(command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert f"Usage: shotwire {command}" in result.stdout
    assert installed.shotwire("--version").stdout.strip() == f"shotwire {PYPROJECT['project']['version']}"


@pytest.mark.parametrize("command", sorted(TOOLING_COMMANDS))
def test_a_tooling_command_says_where_it_lives(installed: Installed, command: str) -> None:
    result = installed.shotwire(command)
    assert result.returncode == 2, result.stderr
    assert "repository's own tooling" in result.stderr and "Traceback" not in result.stderr


def test_installed_batch_and_capture_check_their_input_before_sending(installed: Installed) -> None:
    (installed.home / "urls.txt").write_text("https://a.example/\nftp://nope/\n")
    key = {"SHOTWIRE_API_KEY": "sw_not_a_real_key_000000", "SHOTWIRE_API_URL": "http://127.0.0.1:9"}
    batch = installed.shotwire("batch", "urls.txt", "--out", "out", env=key)
    assert batch.returncode == 2 and "line 2" in batch.stderr and "nothing submitted" in batch.stderr
    capture = installed.shotwire("capture", "https://example.com", "--width", "0", env=key)
    assert capture.returncode == 2 and "width" in capture.stderr
    assert "Traceback" not in batch.stderr + capture.stderr


def test_installed_listen_needs_a_secret_and_verifies_with_it(installed: Installed) -> None:
    none = installed.shotwire("listen", "--port", "0", "--count", "1")
    assert none.returncode == 2 and "no webhook secret" in none.stderr  # no default outside the repository

    port = free_port()
    process = subprocess.Popen(
        [str(installed.venv / "bin" / "shotwire"), "listen", "--port", str(port), "--count", "1", "--json"],
        env={**installed.env, "SHOTWIRE_WEBHOOK_SECRET": SECRET},
        cwd=installed.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_listening(f"http://127.0.0.1:{port}/", process)
        body = json.dumps({"type": "webhook.test", "tenantId": "t", "sentAt": "now", "webhookId": "msg_i"}).encode()
        assert post_status(f"http://127.0.0.1:{port}/hook", body, signed(body, SECRET, "msg_i")) == 204
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    (line,) = [json.loads(text) for text in stdout.splitlines()]
    assert (line["verified"], line["type"], line["id"]) == (True, "webhook.test", "msg_i")


@pytest.mark.e2e
def test_installed_capture_against_the_local_stack(installed: Installed, stack: Stack, site: str) -> None:
    env = {"SHOTWIRE_API_KEY": API_KEY, "SHOTWIRE_API_URL": stack.api_url}
    result = installed.shotwire("capture", f"{site}/simple", "-o", "shot.png", "-W", "320", "-H", "200", env=env)
    assert result.returncode == 0, result.stderr
    assert "saved shot.png" in result.stdout
    with Image.open(io.BytesIO((installed.home / "shot.png").read_bytes())) as image:
        assert (image.format, image.size) == ("PNG", (320, 200))


def test_the_checkout_command_is_the_sdk_s_plus_the_tooling(offline_cli: Cli) -> None:
    listed = offline_cli.invoke("--help")
    assert listed.exit_code == 0
    assert _commands(listed.stdout) == CLIENT_COMMANDS | TOOLING_COMMANDS
