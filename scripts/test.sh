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

# The GGUF reader's fuzz target, for a bounded time.
bash scripts/fuzz.sh "${OLLAMA_FLOW_FUZZ_SECONDS:-30}"
