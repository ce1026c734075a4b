// JSON form of a GPU snapshot, shared by `ollama-flow gpu --json`, doctor and the HTTP API.
#pragma once

#include <nlohmann/json.hpp>

#include "gpu/types.h"

namespace ollamaflow::gpu {

// Returns {"devices": [...], "host": {...}, "warnings": [...], "taken_at": ISO-8601}. Each
// figure is {"value": N, "source": "..."} or null when unknown. Memory is in bytes.
nlohmann::json snapshot_to_json(const GpuSnapshot& snapshot);

nlohmann::json device_to_json(const GpuDevice& device);

}  // namespace ollamaflow::gpu
