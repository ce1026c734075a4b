#include "scaling/strategy.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace ollamaflow::scaling {
namespace {

constexpr Strategy kAllStrategies[] = {Strategy::kGpuMemoryBased, Strategy::kWorkloadBased,
                                       Strategy::kHybrid, Strategy::kConservative,
                                       Strategy::kAggressive};

// Differences of CONSERVATIVE and AGGRESSIVE from HYBRID.
constexpr double kConservativeThresholdShift = -0.10;  // stop adding at 65 % instead of 75 %
constexpr double kConservativeWaitFactor = 2.0;
constexpr double kConservativeWindowFactor = 2.5;
constexpr double kConservativeCooldownFactor = 2.0;
constexpr double kAggressiveThresholdShift = 0.05;  // keep adding up to 80 %
constexpr double kAggressiveWaitFactor = 0.5;
constexpr double kAggressiveWindowFactor = 0.5;
constexpr double kAggressiveUpCooldownFactor = 0.5;  // of cooldown_period
constexpr double kStaleIntervals = 3;                // missed evaluations before a signal is stale

// Scale-down rules of HYBRID. In the simulator (bench_scaling, steady Poisson load), a pool held
// only by the 120 s window changed direction about twice per 10 minutes on noise alone. The
// 30 % band keeps a steady pool in place, at the price of more agent-seconds. Half the pool per
// step lets it follow the window down after a surge instead of 10 % per check interval.
constexpr double kDownTolerance = 0.3;
constexpr double kDownStepFraction = 0.5;
// The drop rule looks at two check intervals. In the simulator it cut the agent-seconds on bursts
// from 1.28 to 1.13 times the block oracle's, and after a 10x step from 1.56 to 1.43.
constexpr double kDropWindowIntervals = 2;
constexpr double kDropFraction = 0.4;

std::string upper(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return result;
}

std::string all_strategy_names() {
  std::string names;
  for (Strategy strategy : kAllStrategies) {
    names += names.empty() ? "" : ", ";
    names += strategy_name(strategy);
  }
  return names;
}

Status invalid(std::string_view field, double value, std::string_view range) {
  return Status(
      ErrorCode::kInvalidArgument,
      fmt::format("scaling parameter {} = {} is invalid; it must be {}", field, value, range));
}

StrategyParams hybrid_params(const Config& config) {
  StrategyParams params;
  params.min_agents = config.gpu_scaling.min_agents;
  params.max_agents = config.gpu_scaling.max_agents.value_or(8);
  params.scale_up_threshold = config.gpu_scaling.scale_up_threshold;
  params.scale_down_threshold = config.gpu_scaling.scale_down_threshold;
  params.sizing.wait_target_s = config.workload.wait_target;
  params.sizing.search_limit = std::max(1, params.max_agents);
  params.sizing.startup_headroom = true;
  params.sizing.follow_drop = true;
  params.down_window_s = config.workload.scale_down_cooldown;
  params.down_tolerance = kDownTolerance;
  params.down_step_fraction = kDownStepFraction;
  params.drop_window_s = kDropWindowIntervals * config.gpu_scaling.scale_check_interval;
  params.drop_fraction = kDropFraction;
  params.breach_skips_flip_cooldown = true;
  params.up_cooldown_s = config.workload.scale_up_cooldown;
  params.flip_cooldown_s = config.gpu_scaling.cooldown_period;
  params.check_interval_s = config.gpu_scaling.scale_check_interval;
  params.down_interval_s = config.gpu_scaling.scale_check_interval;
  params.stale_after_s = kStaleIntervals * config.gpu_scaling.scale_check_interval;
  params.temperature_warning_c = config.gpu_scaling.temperature_warning_c;
  params.temperature_critical_c = config.gpu_scaling.temperature_critical_c;
  params.temperature_emergency_c = config.gpu_scaling.temperature_emergency_c;
  params.vram_critical = config.gpu_scaling.vram_critical_threshold;
  params.vram_emergency = config.gpu_scaling.vram_emergency_threshold;
  return params;
}

void make_conservative(StrategyParams& params, const Config& config) {
  params.scale_up_threshold =
      std::max(0.05, params.scale_up_threshold + kConservativeThresholdShift);
  params.scale_down_threshold =
      std::max(0.0, params.scale_down_threshold + kConservativeThresholdShift);
  params.sizing.wait_target_s *= kConservativeWaitFactor;
  params.max_up_step = std::max(1, config.agent_management.batch_creation_size);
  params.down_step_fraction = 0;  // one agent per scale-down
  params.down_window_s *= kConservativeWindowFactor;
  params.up_cooldown_s *= kConservativeCooldownFactor;
  params.flip_cooldown_s *= kConservativeCooldownFactor;
  params.breach_skips_up_cooldown = false;
  params.breach_skips_flip_cooldown = false;
  params.sizing.busy_agents_absorb_queue = true;
  params.sizing.startup_headroom = false;
  params.sizing.follow_drop = false;
  params.drop_window_s = 0;
}

void make_aggressive(StrategyParams& params, const Config& config) {
  params.scale_up_threshold =
      std::min(params.vram_critical, params.scale_up_threshold + kAggressiveThresholdShift);
  params.sizing.wait_target_s *= kAggressiveWaitFactor;
  params.sizing.target_utilization = config.workload.agent_overload_threshold;
  params.sizing.spare_fraction = config.workload.low_idle_agents;
  params.sizing.min_spare = 1;
  params.batch_size = std::max(1, config.agent_management.batch_creation_size);
  // Agents added by batch rounding are the spare agents AGGRESSIVE keeps, so removing fewer
  // than a batch would only undo the rounding.
  params.down_dead_band = params.batch_size - 1;
  params.down_window_s *= kAggressiveWindowFactor;
  params.up_cooldown_s = config.gpu_scaling.cooldown_period * kAggressiveUpCooldownFactor;
}

}  // namespace

std::string_view strategy_name(Strategy strategy) {
  switch (strategy) {
    case Strategy::kGpuMemoryBased:
      return "GPU_MEMORY_BASED";
    case Strategy::kWorkloadBased:
      return "WORKLOAD_BASED";
    case Strategy::kHybrid:
      return "HYBRID";
    case Strategy::kConservative:
      return "CONSERVATIVE";
    case Strategy::kAggressive:
      return "AGGRESSIVE";
  }
  return "UNKNOWN";
}

Result<Strategy> parse_strategy(std::string_view name) {
  const std::string wanted = upper(name);
  for (Strategy strategy : kAllStrategies) {
    if (strategy_name(strategy) == wanted) {
      return strategy;
    }
  }
  return Status(
      ErrorCode::kInvalidArgument,
      fmt::format("strategy '{}' is not known; use one of {}", name, all_strategy_names()));
}

Status StrategyParams::validate() const {
  if (min_agents < 0) {
    return invalid("min_agents", min_agents, ">= 0");
  }
  if (max_agents < std::max(1, min_agents)) {
    return invalid("max_agents", max_agents, fmt::format(">= max(1, min_agents = {})", min_agents));
  }
  if (!(scale_up_threshold > 0 && scale_up_threshold <= 1)) {
    return invalid("scale_up_threshold", scale_up_threshold, "in (0, 1]");
  }
  if (!(scale_down_threshold >= 0 && scale_down_threshold < scale_up_threshold)) {
    return invalid("scale_down_threshold", scale_down_threshold,
                   fmt::format("in [0, scale_up_threshold = {})", scale_up_threshold));
  }

  if (!(sizing.wait_quantile > 0 && sizing.wait_quantile < 1)) {
    return invalid("wait_quantile", sizing.wait_quantile, "in (0, 1)");
  }
  if (!(sizing.wait_target_s >= 0)) {
    return invalid("wait_target_s", sizing.wait_target_s, ">= 0");
  }
  if (!(sizing.target_utilization > 0 && sizing.target_utilization <= 1)) {
    return invalid("target_utilization", sizing.target_utilization, "in (0, 1]");
  }

  if (batch_size < 1) {
    return invalid("batch_size", batch_size, ">= 1");
  }
  if (max_up_step < 0) {
    return invalid("max_up_step", max_up_step, ">= 0 (0 means no limit)");
  }
  if (!(down_tolerance >= 0 && down_tolerance < 1)) {
    return invalid("down_tolerance", down_tolerance, "in [0, 1)");
  }
  if (!(down_step_fraction >= 0 && down_step_fraction <= 1)) {
    return invalid("down_step_fraction", down_step_fraction, "in [0, 1]");
  }
  if (!(drop_fraction > 0 && drop_fraction < 1)) {
    return invalid("drop_fraction", drop_fraction, "in (0, 1)");
  }

  for (const auto& [field, value] :
       {std::pair<std::string_view, double>{"up_window_s", up_window_s},
        {"down_window_s", down_window_s},
        {"drop_window_s", drop_window_s},
        {"up_cooldown_s", up_cooldown_s},
        {"flip_cooldown_s", flip_cooldown_s},
        {"down_interval_s", down_interval_s}}) {
    if (!(value >= 0)) {
      return invalid(field, value, ">= 0 seconds");
    }
  }
  if (!(check_interval_s > 0)) {
    return invalid("check_interval_s", check_interval_s, "> 0 seconds");
  }
  if (!(stale_after_s > 0)) {
    return invalid("stale_after_s", stale_after_s, "> 0 seconds");
  }

  if (!(temperature_warning_c <= temperature_critical_c &&
        temperature_critical_c <= temperature_emergency_c)) {
    return invalid("temperature_critical_c", temperature_critical_c,
                   "between temperature_warning_c and temperature_emergency_c");
  }
  if (!(vram_critical > 0 && vram_critical <= vram_emergency && vram_emergency <= 1)) {
    return invalid("vram_critical", vram_critical,
                   "in (0, vram_emergency] with vram_emergency <= 1");
  }
  return Status::ok();
}

StrategyParams strategy_params(Strategy strategy, const Config& config) {
  StrategyParams params = hybrid_params(config);
  params.strategy = strategy;
  switch (strategy) {
    case Strategy::kHybrid:
      break;
    case Strategy::kGpuMemoryBased:
      params.size_by_workload = false;
      params.size_by_memory = true;
      // Its proposal jumps between the ceiling and min_agents whenever work starts or stops, so
      // a deep drop is its normal noise: only the window may shrink the pool.
      params.drop_window_s = 0;
      break;
    case Strategy::kWorkloadBased:
      params.memory_limits = false;
      params.server_slot_cap = false;
      break;
    case Strategy::kConservative:
      make_conservative(params, config);
      break;
    case Strategy::kAggressive:
      make_aggressive(params, config);
      break;
  }
  return params;
}

const std::vector<EnvironmentProfile>& environment_profiles() {
  static const std::vector<EnvironmentProfile> profiles = {
      {"development", Strategy::kAggressive, 10, 15, 0.10},
      {"testing", Strategy::kHybrid, 15, 25, 0.15},
      {"production", Strategy::kConservative, 30, 60, 0.20},
  };
  return profiles;
}

Result<EnvironmentProfile> find_profile(std::string_view name) {
  std::string names;
  for (const EnvironmentProfile& profile : environment_profiles()) {
    if (profile.name == name) {
      return profile;
    }
    names += names.empty() ? "" : ", ";
    names += profile.name;
  }
  return Status(ErrorCode::kInvalidArgument,
                fmt::format("profile '{}' is not known; use one of {}", name, names));
}

Result<Config> apply_profile(const Config& config, std::string_view name) {
  Result<EnvironmentProfile> profile = find_profile(name);
  if (!profile) {
    return profile.status();
  }
  Config result = config;
  result.profile = profile->name;
  result.strategy = std::string(strategy_name(profile->strategy));
  result.gpu_scaling.scale_check_interval = profile->scale_check_interval;
  result.gpu_scaling.cooldown_period = profile->cooldown_period;
  result.gpu_scaling.memory_safety_margin = profile->memory_safety_margin;
  return result;
}

}  // namespace ollamaflow::scaling
