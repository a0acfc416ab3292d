#!/usr/bin/env bash
# The SDK's import time: the median of RUNS fresh interpreters per statement (in-process perf_counter
# around the import, so interpreter start-up is not counted). Usage: scripts/sdk-import-time.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
RUNS=${1:-15}
for stmt in "import shotwire" "import shotwire.webhooks" "from shotwire import Client" "from shotwire import AsyncClient"; do
  for _ in $(seq "$RUNS"); do
    PYTHONPATH=sdk/src "$PYTHON" -c "import time; t = time.perf_counter(); $stmt; print((time.perf_counter() - t) * 1000)"
  done | sort -n | awk -v stmt="$stmt" '{v[NR] = $1} END {printf "%-34s median %6.1f ms  (min %.1f, max %.1f, %d runs)\n", stmt, v[int((NR + 1) / 2)], v[1], v[NR], NR}'
done
