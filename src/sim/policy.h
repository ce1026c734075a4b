// Scaling policies the simulator compares: the product's scaling engine (one policy per
// strategy) and the baselines people use today, all acting through the same agent manager.
// A policy is called on the driver thread only; it needs no locking.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/status.h"
#include "scaling/engine.h"
#include "scaling/signals.h"
#include "sim/server_model.h"
#include "sim/trace.h"
#include "workload/metrics.h"

namespace ollamaflow::sim {

// The input of one policy evaluation. `inputs` and `metrics` are what the metrics pipeline
// delivers (delayed or stale under the metric faults); the agent counts are current.
struct Observation {
  double now_s = 0;
  int agents = 0;    // the manager's capacity: starting, ready and busy agents
  int starting = 0;  // waiting for their creation batch or in warm-up
  int ready = 0;     // idle or busy
  int busy = 0;
  bool metrics_stale = false;         // the metric dropout fault is on
  double cumulative_wait_mean_s = 0;  // mean queue wait of every task started so far
  workload::WorkloadMetrics metrics;
  scaling::EngineInputs inputs;

  // Tasks in the system as the metrics report them: running plus queued.
  int in_system() const { return metrics.running_tasks + metrics.queue_length; }
};

struct PolicyDecision {
  bool act = false;  // call scale_to(target)
  int target = 0;
  std::string reason;
  // The engine's decision id, booked with the outcome; nullopt for baselines.
  std::optional<uint64_t> decision_id;
  // A machine-readable record of the decision exists (inputs, proposal, rule, reason).
  bool recorded = false;
};

class Policy {
 public:
  virtual ~Policy() = default;

  virtual std::string name() const = 0;
  // Seconds between evaluations.
  virtual double interval_s() const = 0;
  // Also evaluates 0.1 s after each arrival, as the product's scaling loop does when tasks are
  // queued.
  virtual bool evaluates_on_arrival() const { return false; }
  // The pool size at the trace start.
  virtual int initial_agents() const = 0;
  virtual PolicyDecision decide(const Observation& observation) = 0;
  // The agent manager's result for an acting decision.
  virtual void on_outcome(const PolicyDecision& /*decision*/, bool /*ok*/, double /*seconds*/) {}
};

// Shared settings of the policies.
struct PolicySettings {
  Config config;           // the engine's configuration; its agent bounds bind every policy
  int initial_agents = 4;  // reactive policies start with this pool
  double startup_s = 10;   // agent start-up time, for the oracle's lead
  double wait_target_s = 5;
  int server_slots = 0;          // the oracle never plans beyond the slots
  const Trace* trace = nullptr;  // the oracle and the fixed pool read the future from it
  std::shared_ptr<Clock> clock;  // the engine's clock
};

// Returns the names: the five strategies, then fixed, hpa, knative, ray, python-origin, oracle.
// `all` on the command line means every one of them.
const std::vector<std::string>& policy_names();

// Returns true for the names of the scaling engine's strategies.
bool is_engine_policy(const std::string& name);

// Builds the policy `name` (a strategy name such as HYBRID, or a baseline name). The oracle and
// the fixed pool need the trace and the server parameters to size themselves. Returns
// kInvalidArgument listing the valid names for an unknown one.
Result<std::unique_ptr<Policy>> make_policy(const std::string& name, const PolicySettings& settings,
                                            const ServerParams& server);

// The block oracle's plan: for each 5-minute block, the fewest agents that meet the p95 wait
// target for that block's requests (found by replaying them on the server model), capped at the
// server's slots and max_agents.
std::vector<int> oracle_blocks(const Trace& trace, const ServerParams& server, double wait_target_s,
                               int max_agents, double block_s = 300);

// Replays `requests` on the server model with `agents` sequences at once, starting empty, and
// returns each request's wait for a slot in arrival order.
std::vector<double> replay_waits(const std::vector<Request>& requests, const ServerParams& server,
                                 int agents);

// Returns the q-quantile (0..1) of `values` by the nearest-rank method; 0 when empty.
double quantile(std::vector<double> values, double q);

}  // namespace ollamaflow::sim
