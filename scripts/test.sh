#!/usr/bin/env bash
# Installs the dependencies, checks the formatting, builds with warnings as errors and runs
# every test.
# Usage: scripts/test.sh            (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/check-format.sh
cmake --preset ci
cmake --build --preset ci -j "$(nproc)"
ctest --preset ci -j "$(nproc)"

# ctest counts each test binary as one test, so skips inside a binary (no llama-server found)
# do not show in its summary.
log=build/ci/Testing/Temporary/LastTest.log
skipped=$(grep -cE '^\[  SKIPPED \] [A-Za-z].*\([0-9]+ ms\)$' "$log" || true)
echo "test: ${skipped} tests skipped; their reasons: grep -A1 'SKIP' $log"

# The GGUF reader's fuzz target, for a bounded time.
bash scripts/fuzz.sh "${OLLAMA_FLOW_FUZZ_SECONDS:-30}"
