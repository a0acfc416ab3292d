#!/usr/bin/env bash
# Builds the zip functions' dependencies layer, build/layers/dependencies/python, from the pinned wheels
# in layers/dependencies/requirements.txt, for the Lambda runtime and architecture that infra/defaults.py
# gives the functions (RUNTIME, ARCHITECTURE).
#
# No Docker: pip is told the target platform, so it downloads that Python's manylinux wheels and only
# unpacks them (--only-binary: nothing is compiled, no setup.py runs); the local Python can be any
# version. --no-deps: requirements.txt lists the whole closure, so pip resolves nothing.
#
# Rebuilds only when the target, the pins or this script change: the stamp records all three. The first
# build needs PyPI; afterwards synth and the tests read the built directory and need no network.
#
# Usage: scripts/build-layer.sh [--force]      (PYTHON=... picks the interpreter whose pip is used)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
REQUIREMENTS=layers/dependencies/requirements.txt
OUT=build/layers/dependencies
STAMP=build/layers/dependencies.stamp

# The target, read from infra/defaults.py without importing CDK: `RUNTIME = lambda_.Runtime.PYTHON_3_14`,
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

# Lambda's Python runtimes from 3.12 on run on Amazon Linux 2023 (glibc 2.34): any manylinux wheel up to
# 2_34 runs there. pip does not widen PEP 600 tags by itself, so every glibc from 2_34 down to 2_17 is
# named; manylinux2014 brings manylinux2010 and manylinux1 along.
PLATFORM_ARGS=()
for minor in $(seq 34 -1 17); do PLATFORM_ARGS+=(--platform "manylinux_2_${minor}_${MACHINE}"); done
PLATFORM_ARGS+=(--platform "manylinux2014_${MACHINE}")

hash_of() { sha256sum "$1" | cut -d' ' -f1; }
wanted="runtime python$PYTHON_VERSION $ARCH
requirements sha256 $(hash_of "$REQUIREMENTS")
script sha256 $(hash_of "$0")"

if [[ ${1:-} != --force && -d $OUT/python && -f $STAMP && $(<"$STAMP") == "$wanted" ]]; then
    touch "$STAMP"  # up to date; a newer mtime keeps make from asking again
    echo "dependencies layer for python$PYTHON_VERSION $ARCH is up to date ($OUT)"
    exit 0
fi

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

# Nothing Lambda imports: console scripts, and bytecode (none with --no-compile; the runtime's Python
# would not use the local interpreter's anyway). dist-info directories stay: they are small, and importlib.metadata
# (and the tests) read versions from them.
rm -rf "$tmp/python/bin"
find "$tmp/python" -depth -name __pycache__ -type d -exec rm -rf {} +
find "$tmp/python" -name '*.py[co]' -delete

# Swap in whole, so a failed build leaves the previous layer (and its stamp) as they were.
rm -rf "$OUT"
mv "$tmp" "$OUT"
printf '%s\n' "$wanted" >"$STAMP"

echo "dependencies layer for python$PYTHON_VERSION $ARCH built in $((SECONDS - started)) s: $(du -sh "$OUT/python" | cut -f1) unzipped ($OUT)"
