// Capacity: how many parallel slots of one or more models fit in the devices' free memory, on
// which devices, what limits the count, and the agent ceiling that the scaling engine uses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "gpu/types.h"
#include "model/memory_estimate.h"
#include "model/model_spec.h"

namespace ollamaflow::model {

// The memory one device offers. A device whose free memory is unknown gets no slots.
struct DeviceBudget {
  std::string id;  // "gpu0", ... or "host"
  std::string name;
  DeviceKind kind = DeviceKind::kCuda;
  std::optional<uint64_t> total_bytes;
  std::optional<uint64_t> free_bytes;
  std::string source;          // where the free figure came from
  std::string unknown_reason;  // why free_bytes is unknown
};

// Returns one budget per GPU of the snapshot. A machine without any GPU gets one "host" budget
// from the host's available memory (MemAvailable capped by the cgroup).
std::vector<DeviceBudget> budgets_from_snapshot(const gpu::GpuSnapshot& snapshot);

struct ModelDemand {
  ModelSpec spec;
  uint64_t ctx_per_slot = 8192;
  const GgmlType* cache_k = nullptr;  // null means f16
  const GgmlType* cache_v = nullptr;
  // The slot count the server is (or will be) started with. Unset: as many as memory allows.
  std::optional<uint32_t> parallel;
};

struct CapacityOptions {
  uint64_t buffer_bytes = 1024ull * 1024 * 1024;  // memory_buffer_mb, held back per device
  double safety_margin = 0.15;                    // memory_safety_margin, of each device's total
  std::optional<uint64_t> reserve_bytes;          // per device; unset: by device kind
  std::optional<uint32_t> max_agents;             // cap on all agents together
  std::optional<uint32_t> server_slots;           // the server's parallel setting, when known
  uint32_t batch = 512;
  uint32_t max_slots = 512;  // search bound per model
};

// The plan's use of one device's memory.
struct DeviceUse {
  std::string id;
  std::string name;
  std::optional<uint64_t> free_bytes;
  uint64_t held_back = 0;  // reserve + buffer + safety margin
  uint64_t planned = 0;    // the models' memory placed here
  uint64_t remaining = 0;  // free - held_back - planned
  bool usable = false;
  std::string reason;  // why the device takes no model
};

// The limiting resource of a model whose slot search stopped at CapacityOptions::max_slots
// before memory ran out, so its slot count is a lower bound.
inline constexpr char kSlotSearchLimit[] = "slot search limit";

struct ModelPlacement {
  std::string model;
  bool fits = false;                 // true when at least one slot (or the fixed count) fits
  std::vector<std::string> devices;  // ids the model is placed on (several when split)
  uint32_t memory_slots = 0;         // slots that fit in memory: the max OLLAMA_NUM_PARALLEL
  // The slot count the server runs (ModelDemand::parallel), for which the settings are then
  // recommended when it fits. Unset: memory_slots is the recommendation.
  std::optional<uint32_t> server_slots;
  // The slot count to configure the server with: server_slots when they fit, else
  // memory_slots. Unset when not even one slot fits.
  std::optional<uint32_t> recommended_slots;
  uint32_t agent_ceiling = 0;     // min(memory_slots, server slots, fixed count, max_agents)
  std::string limiting_resource;  // "gpu0 memory", "host memory", "server slots", "max_agents"
  std::string reason;             // one sentence for people
  // The memory at recommended_slots, else at the slot count that was tried (server_slots, or
  // 1). The device reserve and safety margin are those of the device the model is placed on,
  // or of the device with the most room when it does not fit.
  MemoryEstimate estimate;
};

struct CapacityPlan {
  std::vector<ModelPlacement> models;
  std::vector<DeviceUse> devices;
  // The scaling engine's agent ceiling; nullopt when no device has known free memory.
  std::optional<uint32_t> agent_ceiling;
  std::string limiting_resource;
  bool all_fit = false;  // every model fits with at least one slot (or its fixed count)
  std::vector<std::string> notes;
};

// Places the models on the devices and grows their slot counts in turns while memory lasts.
// Each model first takes its minimum (one slot, or its fixed count) on the device with the most
// room, split over several GPUs when no single one has room. Then the models gain one slot at a
// time, round-robin, until memory, max_agents or max_slots stops each of them. Models that do
// not fit are reported with fits = false, so the result says which combination fits. Returns
// kInvalidArgument for an empty model list or a zero context.
Result<CapacityPlan> plan_capacity(const std::vector<ModelDemand>& models,
                                   const std::vector<DeviceBudget>& devices,
                                   const CapacityOptions& options);

}  // namespace ollamaflow::model
