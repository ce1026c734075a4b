#!/usr/bin/env bash
# Installs the dependencies, builds ollama-flow and runs the main job once. Without a reachable
# model server the run uses the built-in simulated backend and says so.
# Usage: scripts/demo.sh [GOAL]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target ollama-flow
goal=${1:-"Create a Python web app"}
exec ./build/release/src/ollama-flow run "$goal" --auto-scaling --strategy HYBRID
