// The discrete-event driver: replays a trace against the real metrics collector, scaling engine
// (or a baseline) and agent manager, with a simulated model server, all in virtual time.
//
// The agent manager runs its agents on real threads. They block only in the simulator's gate
// (gate.h), and the driver moves the FakeClock to the next event only when every agent thread
// is parked, so one seed always gives the same figures. The driver runs on the calling thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/config.h"
#include "core/status.h"
#include "sim/faults.h"
#include "sim/server_model.h"
#include "sim/trace.h"

namespace ollamaflow::sim {

struct ScenarioSettings {
  // The engine's and the agent manager's configuration (agent bounds, batch size, timeouts).
  Config config;
  ServerParams server;
  double startup_s = 10;  // agent start-up time L: from creation batch start to ready
  double wait_target_s = 5;
  int initial_agents = 4;  // the reactive policies' pool at the trace start
  FaultPlan faults;
  double sample_interval_s = 10;  // spacing of the plotted points
  double manager_tick_s = 1;      // AgentManager::tick() period
  double drain_limit_s = 1800;    // the run ends at most this long after the trace
  int max_retries = 4;            // per request, after a 503
  double retry_base_s = 0.5;      // the first retry delay; doubles per retry
  double retry_max_s = 8;
  // Cancelled by Ctrl-C: the run stops at the next event and returns kCancelled. May be null.
  CancelTokenPtr cancel;
};

// Returns the simulator's defaults: a 48 GiB GPU, Llama 3.1 8B at Q4_K_M with 8192-token slots
// from the memory model, slots up to the capacity planner's ceiling, max_agents 32.
ScenarioSettings default_scenario();

// One plotted point.
struct TimePoint {
  double t = 0;
  double arrival_rate = 0;  // arrivals per second since the previous point
  int queued = 0;           // tasks waiting in the task queue and inside the server
  int agents = 0;           // agents started and not ended (starting, ready, busy, draining)
  int running = 0;          // requests the server runs
};

// An action that changed the pool.
struct ActionRecord {
  double t = 0;
  int from = 0;
  int to = 0;
  bool recorded = false;  // a decision record exists for it
  std::string reason;
};

// Everything a run measured; figures.h turns it into the reported figures.
struct RunResult {
  std::string policy;
  std::string trace;
  std::string trace_description;
  double duration_s = 0;
  double ended_at_s = 0;  // when the last task finished or the drain limit hit
  // Queue wait per task: first server start - arrival, or for a task that never started, the
  // end of the run - arrival. A task that failed without starting has none.
  std::vector<double> waits_s;
  int unstarted = 0;  // tasks never started by the end (their wait is censored)
  int64_t completed = 0;
  int64_t failed = 0;            // tasks that failed after the retries
  int64_t failed_unstarted = 0;  // of those, the tasks that never started, so not in waits_s
  int64_t killed = 0;            // started tasks cancelled by a drain or a shutdown
  int64_t rejected_503 = 0;      // server responses with HTTP 503
  int64_t overcommits = 0;       // memory overcommits of the server
  double agent_seconds = 0;      // over [0, duration_s]
  int peak_agents = 0;
  std::vector<ActionRecord> actions;
  std::vector<double> scale_up_decisions_s;  // times of decisions that added agents
  std::vector<double> unplaceable_s;         // arrivals that found no idle agent
  std::vector<double> late_arrivals_s;       // arrivals whose wait exceeded the wait target
  std::vector<double> surges_s;              // from the trace
  std::vector<TimePoint> points;
  int64_t evaluations = 0;
  double wall_s = 0;  // real seconds the run took
};

// Runs `policy` (a strategy or a baseline name) on `trace`. Returns kInvalidArgument for an
// unknown policy or invalid settings.
Result<RunResult> run_simulation(const Trace& trace, const std::string& policy,
                                 const ScenarioSettings& settings);

}  // namespace ollamaflow::sim
