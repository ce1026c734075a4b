// Inputs of one scaling evaluation. The flow code fills them from the GPU monitor, the capacity
// planner, the model server and the metrics collector; the engine reads nothing else. Plain
// values: safe to copy between threads.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "workload/sizing.h"

namespace ollamaflow::scaling {

// GPU telemetry, summed over the GPUs that serve the model (temperature: the hottest one).
// A field the probe could not read is nullopt: unknown, never 0.
struct GpuSignal {
  std::optional<double> used_mib;
  std::optional<double> total_mib;
  std::optional<double> free_mib;
  std::optional<double> temperature_c;
  std::optional<double> utilization;  // 0..1; recorded only, no rule reads it
  MonoTime sampled_at{};

  // Returns used / total, from used_mib or from total_mib - free_mib; nullopt when unknown.
  std::optional<double> memory_fraction() const;
};

// Capacity from the memory model and the model server.
struct CapacitySignal {
  std::optional<int> slot_ceiling;  // agents whose slots fit in GPU memory after reserves
  std::optional<int> server_slots;  // parallel slots the server runs (OLLAMA_NUM_PARALLEL, -np)
  // Source of server_slots: "llama-server at URL" when the server reported it, else the
  // configuration key and its source.
  std::string server_slots_source;
  std::optional<int> server_busy_slots;       // slots the server reports busy
  std::optional<int> server_queued_requests;  // requests waiting inside the server for a slot
  std::string reason;                         // how the planner got slot_ceiling
  MonoTime sampled_at{};
};

struct EngineInputs {
  int agents = 0;           // agents in the pool, starting ones included, draining ones not
  int starting_agents = 0;  // counted as capacity: they serve as soon as they are ready
  workload::WorkloadSignal workload;
  // nullopt: no GPU is monitored (a CPU-only host), so no GPU rule applies. A GpuSignal with
  // unknown or stale memory is a missing metric instead.
  std::optional<GpuSignal> gpu;
  std::optional<CapacitySignal> capacity;  // nullopt: nothing known about capacity

  nlohmann::json to_json() const;
};

}  // namespace ollamaflow::scaling
