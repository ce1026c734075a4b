// The five scaling strategies as parameter sets of one controller, and the environment profiles.
// Pure values and functions: safe to use from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "workload/sizing.h"

namespace ollamaflow::scaling {

enum class Strategy { kGpuMemoryBased, kWorkloadBased, kHybrid, kConservative, kAggressive };

// Returns the configuration name, e.g. "GPU_MEMORY_BASED".
std::string_view strategy_name(Strategy strategy);

// Parses a strategy name, case-insensitive. Returns kInvalidArgument listing the valid names.
Result<Strategy> parse_strategy(std::string_view name);

// Every knob of the controller. strategy_params() derives one set per strategy from the
// configuration; callers may also build their own (the simulator, the C17 replay test).
struct StrategyParams {
  Strategy strategy = Strategy::kHybrid;

  // Which signals size the pool and which limit it.
  bool size_by_workload = true;  // the workload proposal sizes the pool
  bool size_by_memory = false;   // the GPU memory proposal sizes the pool
  bool memory_limits = true;     // the memory ceiling and thresholds cap the pool
  bool server_slot_cap = true;   // the server's slot count caps the pool

  int min_agents = 1;
  int max_agents = 8;

  // Fractions of GPU memory in use. At or above the up threshold no agent is added. At or below
  // the down threshold, GPU_MEMORY_BASED returns an idle pool to min_agents.
  double scale_up_threshold = 0.75;
  double scale_down_threshold = 0.40;

  workload::SizingParams sizing;

  // Step sizes.
  int batch_size = 1;               // scale-up adds a multiple of this, up to the upper bound
  int max_up_step = 0;              // agents added per action at most; 0 means no limit
  double down_step_fraction = 0.1;  // removes max(1, floor(agents * fraction)) per action
  int down_dead_band = 0;           // scale down only when agents - window max > this
  // Scale down only when agents - window max > this fraction of agents as well, so that the
  // noise of a steady load does not move the pool.
  double down_tolerance = 0;

  // Stability, in seconds. A window is over recorded recommendations; a cooldown is a gap after
  // an action.
  double up_window_s = 0;      // scale-up follows the min recommendation over this window
  double down_window_s = 120;  // scale-down follows the max recommendation over this window
  // The drop rule: when the max recommendation over drop_window_s is at most drop_fraction of
  // the pool, and no scale-up came within down_window_s, scale-down goes to that maximum in one
  // action instead of waiting out down_window_s in steps. Noise on a steady load does not move
  // the recommendation that far, because the Erlang C size keeps it near the pool. 0 turns the
  // rule off.
  double drop_window_s = 0;
  double drop_fraction = 0.4;
  double up_cooldown_s = 60;    // gap from one scale-up to the next
  double flip_cooldown_s = 30;  // gap from an action to one in the opposite direction, and
                                // between two sheds
  // Gap between two scale-downs. The engine also evaluates soon after arrivals, so without it
  // the step limit would apply per arrival instead of per check interval.
  double down_interval_s = 0;
  double check_interval_s = 15;  // the caller's evaluation period
  double stale_after_s = 45;     // a signal older than this is missing
  // A scale-up while the wait target is breached skips up_cooldown_s, and with
  // breach_skips_flip_cooldown also flip_cooldown_s.
  bool breach_skips_up_cooldown = true;
  bool breach_skips_flip_cooldown = false;

  // Protection ladder.
  double temperature_warning_c = 75;
  double temperature_critical_c = 85;
  double temperature_emergency_c = 95;
  double vram_critical = 0.95;
  double vram_emergency = 0.98;

  // Returns an error naming the first invalid field, its value and the allowed range.
  Status validate() const;
};

// Derives the parameter set of `strategy` from `config`.
//   HYBRID            workload size under the memory ceiling and the server's slots. A queued
//                     task that no idle or starting agent will take adds an agent at once. The
//                     pool shrinks only past a 30 % band, or at once after a drop to 40 %
//   GPU_MEMORY_BASED  memory proposal only, growing to the ceiling while work exists, and no
//                     drop rule
//   WORKLOAD_BASED    workload size under max_agents only
//   CONSERVATIVE      HYBRID with lower memory thresholds, twice the wait target, busy agents
//                     counted as absorbing the queue, small steps, a 2.5x hold window,
//                     doubled cooldowns that a breach does not skip, and no drop rule
//   AGGRESSIVE        HYBRID with half the wait target, spare agents, batches of
//                     batch_creation_size, a half hold window and short cooldowns
StrategyParams strategy_params(Strategy strategy, const Config& config);

// An environment profile: a strategy with its check interval, cooldown and safety margin.
struct EnvironmentProfile {
  std::string name;
  Strategy strategy;
  double scale_check_interval = 0;
  double cooldown_period = 0;
  double memory_safety_margin = 0;
};

// Returns the built-in profiles: development, testing and production.
const std::vector<EnvironmentProfile>& environment_profiles();

// Finds a profile by name. Returns kInvalidArgument listing the valid names.
Result<EnvironmentProfile> find_profile(std::string_view name);

// Returns `config` with the profile's strategy, check interval, cooldown and safety margin set.
Result<Config> apply_profile(const Config& config, std::string_view name);

}  // namespace ollamaflow::scaling
