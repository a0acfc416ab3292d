#!/usr/bin/env bash
# Builds the zip functions' two layers for the Lambda runtime and architecture that infra/defaults.py gives
# the functions (RUNTIME, ARCHITECTURE), each with its bytecode compiled by that runtime's Python:
#
# - build/layers/dependencies/python: the pinned wheels in layers/dependencies/requirements.txt.
# - build/layers/shared/python: a copy of layers/shared/python (shotwire_core).
#
# No Docker: pip is told the target platform, so it downloads that Python's manylinux wheels and only
# unpacks them (--only-binary: nothing is built, no setup.py runs); pip's own Python can be any version.
# --no-deps: requirements.txt lists the whole closure, so pip resolves nothing.
#
# Bytecode: a cold start that finds no .pyc compiles every module it imports, on every cold start, since
# Lambda's filesystem is read-only and nothing can be cached (docs/benchmarks.md: 2.5 times the import
# time). .pyc files are specific to a Python minor version, so they are compiled by an interpreter of
# exactly the runtime's version: SHOTWIRE_LAMBDA_PYTHON, pythonX.Y on PATH, or pyenv's; the stamps name
# it, and the layer tests and bench/cold_start.py run it.
#
# They are hash-based and unchecked: a timestamp pyc is valid only while its source's mtime matches, and
# CDK zips every asset with its mtimes reset to 1980, so on Lambda every one of them would be stale and
# recompiled (and, the filesystem being read-only, never rewritten); a checked-hash pyc would read and
# hash its source at every import. The layers are rebuilt whole from their sources, so a pyc can never
# be older than its source, and the runtime can trust them without looking. The file names in them are
# /opt/python/... (compileall -s/-p), as on Lambda, so the bytes do not depend on where the repository
# is checked out, and two builds give the same files (and the same asset hashes).
#
# The dependencies layer is rebuilt only when the target, the pins, the compiling interpreter or this
# script change (its stamp records them); the shared layer whenever its copy differs from
# layers/shared/python (a second or two). infra/layers.py refuses to synth with either missing or stale.
# The first build needs PyPI; afterwards synth and the tests read the built directories, no network.
#
# Usage: scripts/build-layer.sh [--force]      (PYTHON=... picks the interpreter whose pip is used)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
REQUIREMENTS=layers/dependencies/requirements.txt
OUT=build/layers/dependencies
STAMP=build/layers/dependencies.stamp
SHARED_SOURCE=layers/shared/python
SHARED_OUT=build/layers/shared
SHARED_STAMP=build/layers/shared.stamp
# Never part of a layer: other interpreters' bytecode and the tools' caches in the source tree.
SOURCE_JUNK=(__pycache__ .mypy_cache .pytest_cache .ruff_cache)

# The target, read from infra/defaults.py without importing CDK: `RUNTIME = lambda_.Runtime.PYTHON_3_13`,
# `ARCHITECTURE = lambda_.Architecture.X86_64`. infra/layers.py refuses a layer built for another one.
PYTHON_VERSION=$(sed -nE 's/^RUNTIME = lambda_\.Runtime\.PYTHON_([0-9]+)_([0-9]+)$/\1.\2/p' infra/defaults.py)
case $(sed -nE 's/^ARCHITECTURE = lambda_\.Architecture\.([A-Z0-9_]+)$/\1/p' infra/defaults.py) in
    X86_64) ARCH=x86_64 MACHINE=x86_64 ;;
    ARM_64) ARCH=arm64 MACHINE=aarch64 ;;
    *) ARCH= ;;
esac
if [[ -z $PYTHON_VERSION || -z $ARCH ]]; then
    echo "build-layer: cannot read RUNTIME = lambda_.Runtime.PYTHON_3_x and ARCHITECTURE from infra/defaults.py" >&2
    exit 1
fi
TAG=cpython-${PYTHON_VERSION/./}

# The runtime's Python: the first candidate that really is CPython X.Y with the GIL (a pyenv shim for a
# version that is not selected, or a free-threaded build, is not). Its resolved path goes into the stamps,
# and bench/cold_start.py and the layer tests run the same one.
find_lambda_python() {
    local candidate found check
    check="import sys, sysconfig; print(sys.executable if sys.implementation.cache_tag == '$TAG'"
    check+=" and not sysconfig.get_config_var('Py_GIL_DISABLED') else '')"
    for candidate in "${SHOTWIRE_LAMBDA_PYTHON:-}" "$(command -v "python$PYTHON_VERSION" || true)" \
        "${PYENV_ROOT:-$HOME/.pyenv}/versions/$PYTHON_VERSION"*/bin/"python$PYTHON_VERSION"; do
        [[ -n $candidate && -x $candidate ]] || continue
        found=$("$candidate" -I -c "$check" 2>/dev/null) || continue
        [[ -n $found ]] && { echo "$found"; return 0; }
    done
    return 1
}
if ! LAMBDA_PYTHON=$(find_lambda_python); then
    echo "build-layer: the layers ship bytecode for python$PYTHON_VERSION, which only python$PYTHON_VERSION can" \
        "compile, and none was found (SHOTWIRE_LAMBDA_PYTHON, python$PYTHON_VERSION on PATH, pyenv's" \
        "versions/$PYTHON_VERSION*). Install it (pyenv install $PYTHON_VERSION) or point SHOTWIRE_LAMBDA_PYTHON at it." >&2
    exit 1
fi
# "bytecode cpython-313 unchecked-hash 3.13.0 /path/to/python3.13": the path last, as it may hold spaces.
BYTECODE="bytecode $TAG unchecked-hash $("$LAMBDA_PYTHON" -I -c 'import platform; print(platform.python_version())') $LAMBDA_PYTHON"

# Compiles every .py under $1/python for /opt/python/..., exactly where Lambda unpacks a layer.
compile_layer() {
    local log
    if ! log=$("$LAMBDA_PYTHON" -I -m compileall -q -j0 --invalidation-mode unchecked-hash \
        -s "$1/python" -p /opt/python "$1/python" 2>&1); then
        echo "$log" >&2
        echo "build-layer: $LAMBDA_PYTHON could not compile $1/python" >&2
        exit 1
    fi
}

# Swap in whole, so a failed build leaves the previous layer (and its stamp) as they were.
swap_in() {  # tmp dir, out dir, stamp, stamp text
    rm -rf "$2"
    mv "$1" "$2"
    printf '%s\n' "$4" >"$3"
}

hash_of() { sha256sum "$1" | cut -d' ' -f1; }
script_hash=$(hash_of "$0")
mkdir -p build/layers

# --- the dependencies layer -------------------------------------------------------------------------

# Lambda's Python runtimes from 3.12 on run on Amazon Linux 2023 (glibc 2.34): any manylinux wheel up to
# 2_34 runs there. pip does not widen PEP 600 tags by itself, so every glibc from 2_34 down to 2_17 is
# named; manylinux2014 brings manylinux2010 and manylinux1 along.
PLATFORM_ARGS=()
for minor in $(seq 34 -1 17); do PLATFORM_ARGS+=(--platform "manylinux_2_${minor}_${MACHINE}"); done
PLATFORM_ARGS+=(--platform "manylinux2014_${MACHINE}")

wanted="runtime python$PYTHON_VERSION $ARCH
requirements sha256 $(hash_of "$REQUIREMENTS")
script sha256 $script_hash
$BYTECODE"

if [[ ${1:-} != --force && -d $OUT/python && -f $STAMP && $(<"$STAMP") == "$wanted" ]]; then
    echo "dependencies layer for python$PYTHON_VERSION $ARCH is up to date ($OUT)"
else
    started=$SECONDS
    tmp=$OUT.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp/python"

    "$PYTHON" -m pip install --quiet \
        --target "$tmp/python" \
        --implementation cp --python-version "$PYTHON_VERSION" "${PLATFORM_ARGS[@]}" \
        --only-binary=:all: --no-deps --no-compile \
        --no-warn-script-location \
        -r "$REQUIREMENTS"

    # Nothing Lambda imports: console scripts. dist-info directories stay: they are small, and
    # importlib.metadata (and the tests) read versions from them.
    rm -rf "$tmp/python/bin"
    compile_layer "$tmp"
    swap_in "$tmp" "$OUT" "$STAMP" "$wanted"
    echo "dependencies layer for python$PYTHON_VERSION $ARCH built in $((SECONDS - started)) s:" \
        "$(du -sh "$OUT/python" | cut -f1) unzipped ($OUT)"
fi

# --- the shared layer -------------------------------------------------------------------------------

shared_wanted="runtime python$PYTHON_VERSION $ARCH
script sha256 $script_hash
$BYTECODE"
diff_args=()
for junk in "${SOURCE_JUNK[@]}"; do diff_args+=(--exclude="$junk"); done

if [[ ${1:-} != --force && -d $SHARED_OUT/python && -f $SHARED_STAMP && $(<"$SHARED_STAMP") == "$shared_wanted" ]] &&
    diff -rq "${diff_args[@]}" "$SHARED_SOURCE" "$SHARED_OUT/python" >/dev/null; then
    echo "shared layer for python$PYTHON_VERSION is up to date ($SHARED_OUT)"
else
    tmp=$SHARED_OUT.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp"
    cp -R "$SHARED_SOURCE" "$tmp/python"
    for junk in "${SOURCE_JUNK[@]}"; do find "$tmp/python" -depth -name "$junk" -exec rm -rf {} +; done
    compile_layer "$tmp"
    swap_in "$tmp" "$SHARED_OUT" "$SHARED_STAMP" "$shared_wanted"
    echo "shared layer for python$PYTHON_VERSION built from $SHARED_SOURCE ($SHARED_OUT)"
fi

touch "$STAMP"  # make's target: a newer mtime keeps make from asking again
