#include "model/capacity.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include <fmt/format.h>

#include "gpu/text_table.h"

namespace ollamaflow::model {
namespace {

using gpu::format_mib;

DeviceKind kind_of(gpu::Vendor vendor) {
  switch (vendor) {
    case gpu::Vendor::kNvidia:
      return DeviceKind::kCuda;
    case gpu::Vendor::kAmd:
      return DeviceKind::kRocm;
    case gpu::Vendor::kIntel:
      return DeviceKind::kOtherGpu;
  }
  return DeviceKind::kOtherGpu;
}

// The working state of one model during planning.
struct Working {
  const ModelDemand* demand = nullptr;
  ModelPlacement placement;
  std::vector<size_t> devices;  // indexes into the device list
  // The device with the most room, which the reason names when the model does not fit.
  std::optional<size_t> nearest;
  uint32_t slots = 0;
  uint64_t bytes = 0;  // model memory at `slots`
  bool growing = false;
};

class Planner {
 public:
  Planner(const std::vector<ModelDemand>& models, const std::vector<DeviceBudget>& budgets,
          const CapacityOptions& options)
      : models_(models), budgets_(budgets), options_(options) {}

  Result<CapacityPlan> run();

 private:
  void prepare_devices();
  Result<uint64_t> model_bytes(const ModelDemand& demand, uint32_t slots) const;
  uint64_t room(const std::vector<size_t>& devices) const;
  void take(const std::vector<size_t>& devices, uint64_t bytes);
  std::string memory_name(const std::vector<size_t>& devices) const;
  Status place(Working& model);
  Status grow(std::vector<Working>& models);
  void finish(Working& model);
  std::vector<size_t> split_set(uint64_t need, uint64_t graph) const;

  const std::vector<ModelDemand>& models_;
  const std::vector<DeviceBudget>& budgets_;
  const CapacityOptions& options_;
  std::vector<DeviceUse> uses_;
  bool max_agents_hit_ = false;
};

void Planner::prepare_devices() {
  for (const DeviceBudget& budget : budgets_) {
    DeviceUse use;
    use.id = budget.id;
    use.name = budget.name;
    use.free_bytes = budget.free_bytes;
    uint64_t reserve = options_.reserve_bytes.value_or(device_reserve_bytes(budget.kind));
    uint64_t base = budget.total_bytes.value_or(budget.free_bytes.value_or(0));
    auto margin =
        static_cast<uint64_t>(std::llround(options_.safety_margin * static_cast<double>(base)));
    use.held_back = reserve + options_.buffer_bytes + margin;
    if (!budget.free_bytes) {
      use.reason = budget.unknown_reason.empty() ? "free memory unknown" : budget.unknown_reason;
    } else {
      use.usable = true;
      use.remaining = *budget.free_bytes > use.held_back ? *budget.free_bytes - use.held_back : 0;
    }
    uses_.push_back(std::move(use));
  }
}

Result<uint64_t> Planner::model_bytes(const ModelDemand& demand, uint32_t slots) const {
  EstimateOptions options;
  options.ctx_per_slot = demand.ctx_per_slot;
  options.parallel = slots;
  options.cache_k = demand.cache_k;
  options.cache_v = demand.cache_v;
  options.batch = options_.batch;
  Result<MemoryEstimate> estimate = estimate_memory(demand.spec, options);
  if (!estimate)
    return estimate.status();
  return estimate->model_bytes();
}

uint64_t Planner::room(const std::vector<size_t>& devices) const {
  uint64_t sum = 0;
  for (size_t i : devices)
    sum += uses_[i].remaining;
  return sum;
}

// Spreads `bytes` over the devices in proportion to their remaining memory.
void Planner::take(const std::vector<size_t>& devices, uint64_t bytes) {
  uint64_t total = room(devices);
  uint64_t left = bytes;
  for (size_t k = 0; k < devices.size(); ++k) {
    DeviceUse& use = uses_[devices[k]];
    uint64_t share = k + 1 == devices.size()
                         ? left
                         : static_cast<uint64_t>(static_cast<double>(bytes) *
                                                 static_cast<double>(use.remaining) /
                                                 static_cast<double>(std::max<uint64_t>(total, 1)));
    share = std::min({share, left, use.remaining});
    use.remaining -= share;
    use.planned += share;
    left -= share;
  }
}

std::string Planner::memory_name(const std::vector<size_t>& devices) const {
  std::string name;
  for (size_t i : devices)
    name += (name.empty() ? "" : "+") + uses_[i].id;
  return name + " memory";
}

// Returns the fewest GPUs, most room first, that together have room for `need` plus one compute
// graph per extra device. Returns an empty set when all of them together are too small.
std::vector<size_t> Planner::split_set(uint64_t need, uint64_t graph) const {
  std::vector<size_t> order;
  for (size_t i = 0; i < uses_.size(); ++i) {
    if (uses_[i].usable && budgets_[i].kind != DeviceKind::kCpu)
      order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [this](size_t a, size_t b) { return uses_[a].remaining > uses_[b].remaining; });
  std::vector<size_t> chosen;
  for (size_t i : order) {
    chosen.push_back(i);
    if (chosen.size() > 1 && room(chosen) >= need + graph * (chosen.size() - 1))
      return chosen;
  }
  return {};
}

Status Planner::place(Working& model) {
  const ModelDemand& demand = *model.demand;
  uint32_t start = demand.parallel.value_or(1);
  Result<uint64_t> need = model_bytes(demand, start);
  if (!need)
    return need.status();

  std::vector<size_t> best;
  for (size_t i = 0; i < uses_.size(); ++i) {
    if (!uses_[i].usable || uses_[i].remaining < *need)
      continue;
    if (best.empty() || uses_[i].remaining > uses_[best[0]].remaining)
      best = {i};
  }
  if (best.empty()) {
    std::string formula;
    uint64_t graph = demand.spec.table ? 0
                                       : graph_bytes(demand.spec, demand.ctx_per_slot, start,
                                                     options_.batch, 0, formula);
    best = split_set(*need, graph);
    if (!best.empty())
      *need += graph * (best.size() - 1);
  }
  if (best.empty()) {
    size_t largest = 0;
    for (size_t i = 0; i < uses_.size(); ++i) {
      if (uses_[i].remaining > uses_[largest].remaining)
        largest = i;
    }
    uint64_t max_room = uses_.empty() ? 0 : uses_[largest].remaining;
    if (!uses_.empty())
      model.nearest = largest;
    model.placement.limiting_resource = uses_.empty() ? "memory" : memory_name({largest});
    model.placement.reason = fmt::format(
        "needs {} with {} slot(s) of {} tokens; the most room on one device is {} on {}",
        format_mib(*need), start, demand.ctx_per_slot, format_mib(max_room),
        uses_.empty() ? "none" : uses_[largest].id);
    // With a fixed slot count, say how many would fit on that device.
    for (uint32_t fewer = start - 1; fewer >= 1 && demand.parallel; --fewer) {
      Result<uint64_t> smaller = model_bytes(demand, fewer);
      if (!smaller)
        return smaller.status();
      if (*smaller <= max_room) {
        model.slots = fewer;
        model.placement.reason += fmt::format("; {} slot(s) would fit", fewer);
        break;
      }
    }
    return Status::ok();
  }
  take(best, *need);
  model.devices = best;
  model.slots = start;
  model.bytes = *need;
  model.placement.fits = true;
  model.growing = true;
  return Status::ok();
}

Status Planner::grow(std::vector<Working>& models) {
  bool progress = true;
  while (progress) {
    progress = false;
    for (Working& model : models) {
      if (!model.growing)
        continue;
      uint32_t total = 0;
      for (const Working& m : models)
        total += m.slots;
      if (options_.max_agents && total >= *options_.max_agents) {
        max_agents_hit_ = true;
        for (Working& m : models)
          m.growing = false;
        return Status::ok();
      }
      if (model.slots >= options_.max_slots) {
        model.growing = false;
        model.placement.limiting_resource = kSlotSearchLimit;
        continue;
      }
      Result<uint64_t> next = model_bytes(*model.demand, model.slots + 1);
      if (!next)
        return next.status();
      uint64_t delta = *next > model.bytes ? *next - model.bytes : 0;
      if (room(model.devices) < delta) {
        model.growing = false;
        model.placement.limiting_resource = memory_name(model.devices);
        continue;
      }
      take(model.devices, delta);
      model.bytes += delta;
      ++model.slots;
      progress = true;
    }
  }
  return Status::ok();
}

void Planner::finish(Working& model) {
  ModelPlacement& placement = model.placement;
  const bool search_capped = placement.limiting_resource == kSlotSearchLimit;
  const ModelDemand& demand = *model.demand;
  placement.model = demand.spec.name;
  for (size_t i : model.devices)
    placement.devices.push_back(uses_[i].id);
  placement.memory_slots = model.slots;
  placement.server_slots = demand.parallel;
  placement.agent_ceiling = placement.fits ? model.slots : 0;
  if (demand.parallel && placement.fits) {
    // Count the slots that would still fit beside the fixed ones, without taking the memory.
    uint32_t extra = 0;
    uint64_t room_left = room(model.devices);
    while (model.slots + extra < options_.max_slots) {
      Result<uint64_t> more = model_bytes(demand, model.slots + extra + 1);
      if (!more || *more - model.bytes > room_left)
        break;
      ++extra;
    }
    placement.memory_slots = model.slots + extra;
    placement.limiting_resource = "server slots";
    placement.reason = fmt::format("the server runs {} slot(s), which fit; memory fits {}",
                                   *demand.parallel, placement.memory_slots);
  } else if (placement.fits && max_agents_hit_) {
    placement.limiting_resource = "max_agents";
    placement.reason = fmt::format("max_agents {} is reached", *options_.max_agents);
  } else if (placement.fits && search_capped) {
    placement.reason = fmt::format(
        "at least {} slot(s) of {} tokens fit: the search stops at {} slots, before memory runs "
        "out",
        model.slots, demand.ctx_per_slot, options_.max_slots);
  } else if (placement.fits) {
    placement.reason = fmt::format("{} slot(s) of {} tokens fit before {} runs out", model.slots,
                                   demand.ctx_per_slot, placement.limiting_resource);
  }
  if (placement.fits && options_.server_slots && *options_.server_slots < model.slots &&
      !demand.parallel) {
    placement.agent_ceiling = *options_.server_slots;
    placement.limiting_resource = "server slots";
    // llama-server splits -c among its slots, so -np needs a -c that keeps each slot's context.
    placement.reason = fmt::format(
        "the server runs {} slot(s) but memory fits {}{}: set OLLAMA_NUM_PARALLEL={} "
        "(llama-server -np {} -c {})",
        *options_.server_slots, search_capped ? "at least " : "", model.slots, model.slots,
        model.slots, uint64_t{model.slots} * demand.ctx_per_slot);
  }

  if (placement.fits) {
    placement.recommended_slots = demand.parallel.value_or(model.slots);
  } else if (model.slots > 0) {
    // A fixed slot count that does not fit, where fewer slots do.
    placement.recommended_slots = model.slots;
  }

  EstimateOptions options;
  options.ctx_per_slot = demand.ctx_per_slot;
  options.parallel = placement.recommended_slots.value_or(demand.parallel.value_or(1));
  options.cache_k = demand.cache_k;
  options.cache_v = demand.cache_v;
  options.batch = options_.batch;
  options.buffer_bytes = options_.buffer_bytes;
  options.safety_margin = options_.safety_margin;
  // The reserve and margin are those that prepare_devices() subtracts on the device that the
  // model uses or that the reason names: no reserve in host memory, and a margin of the total.
  const std::optional<size_t> device =
      model.devices.empty() ? model.nearest : std::optional<size_t>(model.devices.front());
  if (device) {
    const DeviceBudget& budget = budgets_[*device];
    options.device = budget.kind;
    options.device_total_bytes = budget.total_bytes.value_or(budget.free_bytes.value_or(0));
  }
  if (Result<MemoryEstimate> estimate = estimate_memory(demand.spec, options)) {
    placement.estimate = std::move(estimate).value();
    if (options_.reserve_bytes)
      placement.estimate.reserve = *options_.reserve_bytes;
  }
}

Result<CapacityPlan> Planner::run() {
  if (models_.empty()) {
    return Result<CapacityPlan>(ErrorCode::kInvalidArgument, "no model to plan for");
  }
  prepare_devices();
  std::vector<Working> models(models_.size());
  for (size_t i = 0; i < models_.size(); ++i)
    models[i].demand = &models_[i];

  // Largest models first, so that a small one does not take the only device a large one fits.
  std::vector<std::pair<uint64_t, size_t>> order;
  for (size_t i = 0; i < models.size(); ++i) {
    Result<uint64_t> bytes = model_bytes(models_[i], models_[i].parallel.value_or(1));
    if (!bytes)
      return bytes.status();
    order.emplace_back(*bytes, i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [bytes, i] : order) {
    if (Status s = place(models[i]); !s)
      return s;
    if (models_[i].parallel)
      models[i].growing = false;
  }
  if (Status s = grow(models); !s)
    return s;

  CapacityPlan plan;
  bool any_usable =
      std::any_of(uses_.begin(), uses_.end(), [](const DeviceUse& u) { return u.usable; });
  uint32_t ceiling = 0;
  plan.all_fit = true;
  for (Working& model : models) {
    if (!any_usable) {
      model.placement.reason = "no device has a known amount of free memory";
      model.placement.limiting_resource = "unknown memory";
    }
    finish(model);
    ceiling += model.placement.agent_ceiling;
    plan.all_fit = plan.all_fit && model.placement.fits;
    plan.models.push_back(std::move(model.placement));
  }
  if (options_.max_agents)
    ceiling = std::min(ceiling, *options_.max_agents);
  if (any_usable)
    plan.agent_ceiling = ceiling;
  plan.limiting_resource = max_agents_hit_ ? "max_agents" : plan.models.front().limiting_resource;
  plan.devices = uses_;
  return plan;
}

}  // namespace

std::vector<DeviceBudget> budgets_from_snapshot(const gpu::GpuSnapshot& snapshot) {
  std::vector<DeviceBudget> budgets;
  for (const gpu::GpuDevice& device : snapshot.devices) {
    DeviceBudget budget;
    budget.id = device.id;
    budget.name = device.name;
    budget.kind = kind_of(device.vendor);
    if (device.memory_total)
      budget.total_bytes = device.memory_total->value;
    if (device.memory_free) {
      budget.free_bytes = device.memory_free->value;
      budget.source = device.memory_free->source;
    } else {
      budget.unknown_reason = device.notes.empty() ? "free memory unknown" : device.notes.back();
    }
    budgets.push_back(std::move(budget));
  }
  if (!budgets.empty())
    return budgets;
  DeviceBudget host;
  host.id = "host";
  host.name = "host memory (no GPU found)";
  host.kind = DeviceKind::kCpu;
  if (snapshot.host.total)
    host.total_bytes = snapshot.host.total->value;
  if (snapshot.host.available) {
    host.free_bytes = snapshot.host.available->value;
    host.source = snapshot.host.available->source;
  } else {
    host.unknown_reason =
        snapshot.host.notes.empty() ? "host memory unknown" : snapshot.host.notes.back();
  }
  budgets.push_back(std::move(host));
  return budgets;
}

Result<CapacityPlan> plan_capacity(const std::vector<ModelDemand>& models,
                                   const std::vector<DeviceBudget>& devices,
                                   const CapacityOptions& options) {
  return Planner(models, devices, options).run();
}

}  // namespace ollamaflow::model
