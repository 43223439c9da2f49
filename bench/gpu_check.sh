#!/usr/bin/env bash
# One-shot GPU check (see bench/gpu_check.py): bash bench/gpu_check.sh [--dry-run]
# The GPU machine reaches no package registry: hydra-core, omegaconf and antlr4 come as wheels carried in
# bench/wheels/ (fetch them beforehand: pip download hydra-core omegaconf -d bench/wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
if ! "$PYTHON" -c "import hydra, omegaconf" 2>/dev/null; then
    "$PYTHON" -m pip install --no-index --find-links bench/wheels hydra-core omegaconf
fi
exec "$PYTHON" bench/gpu_check.py "$@"
