#!/usr/bin/env bash
# Builds the GGUF fuzz target with the `fuzz` preset (clang, libFuzzer, ASan, UBSan) and runs it
# for a bounded time on the checked-in seed corpus.
# Usage: scripts/fuzz.sh [SECONDS]   (default 60; from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
cmake --preset fuzz
cmake --build --preset fuzz --target fuzz_gguf -j "$(nproc)"

# New inputs the fuzzer finds go to a scratch corpus, so the checked-in seeds stay small.
work="build/fuzz/corpus"
mkdir -p "$work" build/fuzz/artifacts
cp -n fuzz/corpus/*.gguf "$work"/
# A real model, when one is at hand, adds the first 64 KiB of its header as a seed.
tiny="${OLLAMA_FLOW_TINY_GGUF:-../shared/llama-server/tiny.gguf}"
if [[ -r "$tiny" ]]; then
  head -c 65536 "$tiny" > "$work/tiny_prefix.gguf"
fi
build/fuzz/fuzz/fuzz_gguf -max_total_time="$seconds" -max_len=262144 -timeout=10 \
  -rss_limit_mb=2048 -artifact_prefix=build/fuzz/artifacts/ "$work"
