#include "flow/machine.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "core/log.h"
#include "gpu/system.h"
#include "model/capacity.h"
#include "model/ggml_type.h"
#include "model/model_resolver.h"
#include "scaling/strategy.h"

namespace ollamaflow::flow {
namespace {

std::filesystem::path ollama_models_dir() {
  if (const char* dir = std::getenv("OLLAMA_MODELS"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".ollama" / "models";
  }
  return {};
}

// Finds the server's slot count: the one the server reports, else the simulated backend's, else
// the configured one.
void find_server_slots(const Config& config, const std::string& backend,
                       const std::optional<workload::ServerSignal>& reported, CapacityView& view) {
  if (reported && reported->total_slots) {
    view.server_slots = reported->total_slots;
    view.server_slots_source = reported->source;
  } else if (backend == "sim") {
    view.server_slots = config.server.sim_slots;
    view.server_slots_source = "simulated backend (server.sim_slots)";
  } else if (config.server.num_parallel) {
    const llm::ConfiguredSlots configured = llm::configured_slots(config);
    view.server_slots = configured.slots;
    view.server_slots_source = configured.source;
  }
}

CapacityView estimate_capacity(const Config& config, const gpu::GpuSnapshot& snapshot,
                               const std::string& model, const std::string& backend,
                               const std::optional<workload::ServerSignal>& reported) {
  CapacityView view;
  find_server_slots(config, backend, reported, view);
  model::ResolveOptions resolve;
  resolve.models_dir = ollama_models_dir();
  Result<model::ResolvedModel> resolved = model::resolve_model(model, config, resolve);
  if (!resolved) {
    // The first line gives the cause; the rest lists each source that was tried.
    const std::string message = resolved.status().message();
    view.reason =
        "memory of model '" + model + "' unknown: " + message.substr(0, message.find('\n'));
    return view;
  }
  model::ModelDemand demand;
  demand.spec = resolved->spec;
  demand.ctx_per_slot = static_cast<uint64_t>(config.server.num_ctx);
  demand.cache_k = model::parse_cache_type(config.kv_cache_type_k).value_or(nullptr);
  demand.cache_v = model::parse_cache_type(config.kv_cache_type_v).value_or(nullptr);
  model::CapacityOptions options;
  options.buffer_bytes = static_cast<uint64_t>(config.gpu_scaling.memory_buffer_mb * 1024 * 1024);
  options.safety_margin = config.gpu_scaling.memory_safety_margin;
  if (view.server_slots) {
    options.server_slots = static_cast<uint32_t>(*view.server_slots);
  }
  Result<model::CapacityPlan> plan =
      model::plan_capacity({demand}, model::budgets_from_snapshot(snapshot), options);
  if (!plan) {
    view.reason = "capacity of '" + model + "' unknown: " + plan.status().message();
    return view;
  }
  if (!plan->models.empty() && plan->models.front().memory_slots > 0) {
    view.agent_ceiling = static_cast<int>(plan->models.front().memory_slots);
  } else if (plan->agent_ceiling) {
    view.agent_ceiling = static_cast<int>(*plan->agent_ceiling);
  }
  view.reason = plan->models.empty() ? plan->limiting_resource : plan->models.front().reason;
  // The planner's advice names the settings of a real server, which the simulated one lacks.
  if (backend == "sim" && view.server_slots && !plan->models.empty() &&
      plan->models.front().limiting_resource == "server slots") {
    view.reason =
        fmt::format("the simulated backend runs {} slot(s) (server.sim_slots), and memory fits {}",
                    *view.server_slots, plan->models.front().memory_slots);
  }
  if (resolved->spec.source.find("estimate") != std::string::npos) {
    view.reason += " (estimate from the built-in table)";
  }
  return view;
}

}  // namespace

std::optional<std::string> strategy_signal_warning(const Config& config,
                                                   const gpu::GpuSnapshot& snapshot) {
  const Result<scaling::Strategy> strategy = scaling::parse_strategy(config.strategy);
  if (!snapshot.devices.empty() || !strategy || *strategy != scaling::Strategy::kGpuMemoryBased) {
    return std::nullopt;
  }
  return std::string(
      "strategy GPU_MEMORY_BASED sizes the pool by GPU memory, and no GPU is monitored on this "
      "machine, so the pool never scales; use --strategy HYBRID or WORKLOAD_BASED to "
      "scale by the workload");
}

std::optional<scaling::GpuSignal> gpu_signal(const gpu::GpuSnapshot& snapshot) {
  if (snapshot.devices.empty()) {
    return std::nullopt;
  }
  scaling::GpuSignal signal;
  signal.sampled_at = snapshot.taken_at_mono;
  double used = 0;
  double total = 0;
  double free = 0;
  bool memory_known = true;
  for (const gpu::GpuDevice& device : snapshot.devices) {
    if (!device.memory_total || !device.memory_free) {
      memory_known = false;
    } else {
      total += static_cast<double>(device.memory_total->value) / gpu::kMiB;
      free += static_cast<double>(device.memory_free->value) / gpu::kMiB;
      used += device.memory_used
                  ? static_cast<double>(device.memory_used->value) / gpu::kMiB
                  : static_cast<double>(device.memory_total->value - device.memory_free->value) /
                        gpu::kMiB;
    }
    if (device.temperature_c) {
      signal.temperature_c =
          std::max(signal.temperature_c.value_or(-1e9), device.temperature_c->value);
    }
    if (device.utilization_percent) {
      signal.utilization =
          std::max(signal.utilization.value_or(0), device.utilization_percent->value / 100.0);
    }
  }
  if (memory_known) {
    signal.used_mib = used;
    signal.total_mib = total;
    signal.free_mib = free;
  }
  return signal;
}

MachineView::MachineView(const Config& config, std::shared_ptr<Clock> clock,
                         const std::string& model, const std::string& backend,
                         CancelTokenPtr cancel)
    : clock_(std::move(clock)) {
  // run_goal() rejects a malformed memory override first, so a run never takes the fallback.
  Result<gpu::ProbeContext> context = gpu::machine_probe_context(clock_, process_env());
  auto prober = std::make_unique<gpu::SnapshotProber>(
      context ? std::move(context).value() : gpu::system_probe_context(clock_), clock_);
  monitor_ = std::make_unique<gpu::GpuMonitor>(
      std::move(prober), clock_, from_seconds(config.gpu_scaling.scale_check_interval));
  std::shared_ptr<const gpu::GpuSnapshot> first = monitor_->refresh();
  if (std::optional<std::string> warning = strategy_signal_warning(config, *first)) {
    get_logger("flow")->warn("{}", *warning);
    notes_.push_back(std::move(*warning));
  }
  waits_ = std::make_shared<ServerWaitTracker>();
  Result<ServerSignalSource> server =
      make_server_signal_source(config, backend, clock_, waits_, std::move(cancel));
  if (server) {
    server_ = std::move(server).value();
  } else {
    get_logger("flow")->warn("server signals not read: {}", server.status().message());
  }
  std::optional<workload::ServerSignal> reported;
  if (server_ && backend == "openai") {
    reported = server_();
  }
  capacity_ = estimate_capacity(config, *first, model, backend, reported);
  get_logger("flow")->info(
      "capacity of {}: ceiling {} server slots {} from {} ({})", model,
      capacity_.agent_ceiling ? std::to_string(*capacity_.agent_ceiling) : "unknown",
      capacity_.server_slots ? std::to_string(*capacity_.server_slots) : "unknown",
      capacity_.server_slots_source.empty() ? "unknown" : capacity_.server_slots_source,
      capacity_.reason);
  monitor_->start();
}

MachineView::~MachineView() {
  monitor_->stop();
}

std::shared_ptr<const gpu::GpuSnapshot> MachineView::snapshot() const {
  return monitor_->snapshot();
}

ScalingSources MachineView::sources() const {
  ScalingSources sources;
  gpu::GpuMonitor* monitor = monitor_.get();
  sources.gpu = [monitor]() -> std::optional<scaling::GpuSignal> {
    std::shared_ptr<const gpu::GpuSnapshot> snapshot = monitor->snapshot();
    if (!snapshot) {
      return std::nullopt;
    }
    return gpu_signal(*snapshot);
  };
  const CapacityView capacity = capacity_;
  std::shared_ptr<Clock> clock = clock_;
  sources.capacity = [capacity, clock]() -> std::optional<scaling::CapacitySignal> {
    if (!capacity.agent_ceiling && !capacity.server_slots) {
      return std::nullopt;
    }
    scaling::CapacitySignal signal;
    signal.slot_ceiling = capacity.agent_ceiling;
    signal.server_slots = capacity.server_slots;
    signal.server_slots_source = capacity.server_slots_source;
    signal.reason = capacity.reason;
    signal.sampled_at = clock->now();
    return signal;
  };
  sources.server = server_;
  return sources;
}

std::unique_ptr<llm::LlmClient> MachineView::observe(llm::LlmClient& inner) const {
  return std::make_unique<WaitRecordingClient>(inner, waits_);
}

}  // namespace ollamaflow::flow
