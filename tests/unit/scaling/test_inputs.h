// Builders for scaling inputs in tests: a fresh snapshot of each signal at a given time.
#pragma once

#include "scaling/signals.h"

namespace ollamaflow::scaling::test {

// A pool of `agents` with `busy` working and `queued` waiting, sampled at `now`.
inline EngineInputs pool(MonoTime now, int agents, int busy, int queued) {
  EngineInputs inputs;
  inputs.agents = agents;
  inputs.workload.busy_agents = busy;
  inputs.workload.idle_agents = agents - busy;
  inputs.workload.queue_length = queued;
  inputs.workload.sampled_at = now;
  return inputs;
}

// A GPU with `used_mib` of `total_mib` in use at `temperature_c`, sampled at `now`.
inline GpuSignal gpu(MonoTime now, double used_mib, double total_mib, double temperature_c = 50) {
  GpuSignal signal;
  signal.used_mib = used_mib;
  signal.total_mib = total_mib;
  signal.free_mib = total_mib - used_mib;
  signal.temperature_c = temperature_c;
  signal.sampled_at = now;
  return signal;
}

inline CapacitySignal capacity(MonoTime now, std::optional<int> slot_ceiling,
                               std::optional<int> server_slots = std::nullopt) {
  CapacitySignal signal;
  signal.slot_ceiling = slot_ceiling;
  signal.server_slots = server_slots;
  signal.reason = "test planner";
  signal.sampled_at = now;
  return signal;
}

}  // namespace ollamaflow::scaling::test
