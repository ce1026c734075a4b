#!/usr/bin/env bash
# Installs the dependencies, builds ollama-flow and runs the main job once. Without a reachable
# model server the run uses the built-in simulated backend and reports that. The configuration paces
# that backend like a small GPU, so that the report shows the pool growing; a real server ignores
# it.
# Usage: scripts/demo.sh [GOAL]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target ollama-flow
goal=${1:-"Create a Python web app"}
exec ./build/release/src/ollama-flow run "$goal" --auto-scaling --strategy HYBRID \
  --config examples/paced-simulation.json
