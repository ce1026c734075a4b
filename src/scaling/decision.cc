#include "scaling/decision.h"

#include "workload/metrics.h"

namespace ollamaflow::scaling {
namespace {

template <typename T>
nlohmann::json optional_json(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json workload_json(const workload::WorkloadSignal& signal) {
  return {
      {"queue_length", signal.queue_length},
      {"busy_agents", signal.busy_agents},
      {"idle_agents", signal.idle_agents},
      {"starting_agents", signal.starting_agents},
      {"arrival_rate", optional_json(signal.arrival_rate)},
      {"mean_service_s", optional_json(signal.mean_service_s)},
      {"busy_agents_mean", optional_json(signal.busy_agents_mean)},
      {"severity", workload::severity_name(signal.severity)},
  };
}

}  // namespace

std::optional<double> GpuSignal::memory_fraction() const {
  if (!total_mib || *total_mib <= 0) {
    return std::nullopt;
  }
  if (used_mib) {
    return *used_mib / *total_mib;
  }
  if (free_mib) {
    return (*total_mib - *free_mib) / *total_mib;
  }
  return std::nullopt;
}

nlohmann::json EngineInputs::to_json() const {
  nlohmann::json json = {
      {"agents", agents},
      {"starting_agents", starting_agents},
      {"workload", workload_json(workload)},
      {"gpu", nullptr},
      {"capacity", nullptr},
  };
  if (gpu) {
    json["gpu"] = {
        {"used_mib", optional_json(gpu->used_mib)},
        {"total_mib", optional_json(gpu->total_mib)},
        {"free_mib", optional_json(gpu->free_mib)},
        {"memory_fraction", optional_json(gpu->memory_fraction())},
        {"temperature_c", optional_json(gpu->temperature_c)},
        {"utilization", optional_json(gpu->utilization)},
    };
  }
  if (capacity) {
    json["capacity"] = {
        {"slot_ceiling", optional_json(capacity->slot_ceiling)},
        {"server_slots", optional_json(capacity->server_slots)},
        {"server_slots_source", capacity->server_slots_source},
        {"server_busy_slots", optional_json(capacity->server_busy_slots)},
        {"server_queued_requests", optional_json(capacity->server_queued_requests)},
        {"reason", capacity->reason},
    };
  }
  return json;
}

std::string_view action_name(Action action) {
  switch (action) {
    case Action::kNone:
      return "none";
    case Action::kScaleUp:
      return "scale_up";
    case Action::kScaleDown:
      return "scale_down";
    case Action::kHold:
      return "hold";
    case Action::kShed:
      return "shed";
  }
  return "unknown";
}

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPending:
      return "pending";
    case Outcome::kSucceeded:
      return "succeeded";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kDryRun:
      return "dry_run";
  }
  return "unknown";
}

nlohmann::json SignalProposal::to_json() const {
  return {{"signal", signal},
          {"agents", optional_json(agents)},
          {"missing", missing},
          {"reason", reason}};
}

nlohmann::json Recommendation::to_json() const {
  nlohmann::json proposal_list = nlohmann::json::array();
  for (const SignalProposal& proposal : proposals) {
    proposal_list.push_back(proposal.to_json());
  }
  return {
      {"current", current},     {"proposals", std::move(proposal_list)},
      {"missing", missing},     {"proposed", proposed},
      {"desired", desired},     {"upper_bound", upper_bound},
      {"limit", limit},         {"wait_breached", wait_breached},
      {"hold_up", hold_up},     {"shed_to", optional_json(shed_to)},
      {"shed_rule", shed_rule}, {"reason", reason},
  };
}

nlohmann::json Decision::to_json() const {
  return {
      {"id", id},
      {"time", format_iso8601(wall_time)},
      {"strategy", strategy_name(strategy)},
      {"inputs", inputs.to_json()},
      {"recommendation", recommendation.to_json()},
      {"action", action_name(action)},
      {"from", from},
      {"to", to},
      {"reason", reason},
  };
}

nlohmann::json ScalingEvent::to_json() const {
  return {
      {"decision_id", decision_id},
      {"time", format_iso8601(time)},
      {"action", action_name(action)},
      {"from", from},
      {"to", to},
      {"strategy", strategy_name(strategy)},
      {"reason", reason},
      {"gpu_memory_used_mib", optional_json(gpu_memory_used_mib)},
      {"gpu_memory_fraction", optional_json(gpu_memory_fraction)},
      {"gpu_utilization", optional_json(gpu_utilization)},
      {"queue_length", queue_length},
      {"outcome", outcome_name(outcome)},
      {"duration_s", optional_json(duration_s)},
  };
}

}  // namespace ollamaflow::scaling
