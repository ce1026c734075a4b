// Decision records and scaling events: what one evaluation saw, what each signal proposed, the
// limit that applied, the action and its reason. Plain values: safe to copy between threads.
//
// Action values:
//   none        the pool already has the size the signals propose
//   scale_up    add agents
//   scale_down  remove idle agents (the agent manager drains busy ones)
//   hold        a change was proposed but a window, cooldown, missing metric or protection
//               rule blocked it
//   shed        the protection ladder removes agents at a critical GPU temperature or VRAM use
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "scaling/signals.h"
#include "scaling/strategy.h"

namespace ollamaflow::scaling {

enum class Action { kNone, kScaleUp, kScaleDown, kHold, kShed };

// Returns the record name, e.g. "scale_up".
std::string_view action_name(Action action);

// One signal's proposal within a decision.
struct SignalProposal {
  std::string signal;         // "workload", "gpu_memory", "server_slots" or "protection"
  std::optional<int> agents;  // nullopt: no proposal (missing signal or not applicable)
  bool missing = false;       // the signal is used but missing or stale
  std::string reason;

  nlohmann::json to_json() const;
};

// The pure part of a decision: proposals and limits, before windows and cooldowns.
struct Recommendation {
  int current = 0;
  std::vector<SignalProposal> proposals;
  std::vector<std::string> missing;  // names of used signals that are missing or stale
  int proposed = 0;                  // the sizing signal's proposal before any limit
  int desired = 0;                   // after bounds and limits
  int upper_bound = 0;               // the tightest upper limit; batches never pass it
  std::string limit = "none";        // the limit that set `desired`, e.g. "gpu_ceiling"
  bool ceiling_bound = false;        // desired < current only because the memory ceiling fell
  bool hold_up = false;              // the protection ladder blocks scale-up
  std::optional<int> shed_to;        // the protection ladder sheds agents to this count
  std::string shed_rule;             // e.g. "temperature_critical"
  std::string reason;
  // The queued tasks need more agents than the pool has, so the wait target is breached. A
  // scale-up then skips the scale-up cooldown.
  bool wait_breached = false;

  nlohmann::json to_json() const;
};

struct Decision {
  uint64_t id = 0;
  MonoTime at{};
  WallTime wall_time{};
  Strategy strategy = Strategy::kHybrid;
  EngineInputs inputs;
  Recommendation recommendation;
  Action action = Action::kNone;
  int from = 0;
  int to = 0;
  std::string reason;  // one line: the action and why

  nlohmann::json to_json() const;
};

enum class Outcome { kPending, kSucceeded, kFailed, kDryRun };

std::string_view outcome_name(Outcome outcome);

// A decision that changes the agent count, with its outcome as the agent manager reports it.
struct ScalingEvent {
  uint64_t decision_id = 0;
  WallTime time{};
  Action action = Action::kNone;
  int from = 0;
  int to = 0;
  Strategy strategy = Strategy::kHybrid;
  std::string reason;
  std::optional<double> gpu_memory_used_mib;
  std::optional<double> gpu_memory_fraction;
  std::optional<double> gpu_utilization;
  int queue_length = 0;
  Outcome outcome = Outcome::kPending;
  std::optional<double> duration_s;  // time the agent manager took to carry it out

  nlohmann::json to_json() const;
};

}  // namespace ollamaflow::scaling
