// The driver's private state, shared by driver.cc (event loop), agent_hooks.cc (warm-up and
// executor) and setup.cc (construction, observations, faults and results). Used on the driver
// thread, except for the members marked as written by agent threads under the gate's mutex.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "agents/manager.h"
#include "core/clock.h"
#include "core/log.h"
#include "scaling/signals.h"
#include "sim/driver.h"
#include "sim/gate.h"
#include "sim/observer.h"
#include "sim/policy.h"
#include "workload/collector.h"

namespace ollamaflow::sim {

class Simulation {
 public:
  Simulation(const Trace& trace, ScenarioSettings settings);
  ~Simulation();

  Status prepare(const std::string& policy_name);
  Result<RunResult> run();

 private:
  enum class EventKind { kArrival, kEvaluate, kTick, kSample, kFault };
  struct Event {
    double t;
    uint64_t sequence;
    EventKind kind;
    size_t payload;  // arrival: request index; evaluate: generation

    bool operator>(const Event& other) const {
      return std::tie(t, sequence) > std::tie(other.t, other.sequence);
    }
  };
  struct TaskState {
    double first_start = -1;
    bool done = false;
    bool failed = false;
  };
  struct InFlight {
    size_t task;
    Waiter* waiter;
  };
  // The delayed or frozen part of the observation.
  struct SignalSnapshot {
    double t = 0;
    workload::WorkloadMetrics metrics;
    scaling::GpuSignal gpu;
    scaling::CapacitySignal capacity;
  };

  // Setup and results, in setup.cc.
  void schedule_initial_events();

  // Event loop, in driver.cc.
  void schedule(double t, EventKind kind, size_t payload = 0);
  bool step();
  void handle(const Event& event);
  void on_arrival(size_t index);
  void on_evaluate(size_t generation);
  void on_tick();
  void on_sample();
  void apply_faults();
  void wait_quiet();
  bool all_done() const;
  RunResult finish();

  // Agent threads, in agent_hooks.cc.
  Status warm_up(const agents::AgentInfo& agent);
  agents::TaskOutcome execute(const agents::AgentInfo& agent, const queue::Task& task,
                              const CancelToken& cancel);
  void kick_removed(const std::vector<std::string>& ids);
  void kick_final_poppers();
  void cancel_drained();

  // Observations, in observation.cc.
  Observation observe();
  SignalSnapshot snapshot_signals();
  SignalSnapshot visible_signals();
  void remember_signals();

  double now_s() const;
  MonoTime to_mono(double t) const;

  // Declared first, so that it ends last: the manager logs its counts of repeated lines when it
  // stops, in the destructor, and those lines carry the virtual time too.
  std::optional<SimulatedLogTime> log_time_;
  const Trace& trace_;
  const ScenarioSettings settings_;
  std::shared_ptr<FakeClock> clock_;
  MonoTime epoch_{};   // virtual time 0 (the trace start)
  double warm_s_ = 0;  // the initial pool starts this long before 0

  Gate gate_;
  SimQueue queue_;
  SimServer server_;  // guarded by gate_.mutex()
  std::unique_ptr<workload::MetricsCollector> collector_;
  std::shared_ptr<SimObserver> observer_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<agents::AgentManager> manager_;

  // Guarded by gate_.mutex(): agent threads write them in the executor and the server callback.
  std::vector<TaskState> tasks_;
  std::unordered_map<uint64_t, InFlight> in_flight_;  // server request id -> task
  uint64_t next_request_ = 1;
  double wait_sum_ = 0;
  int64_t started_ = 0;
  int64_t completed_ = 0;
  int64_t failed_ = 0;

  // Driver thread only.
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  uint64_t sequence_ = 0;
  size_t evaluate_generation_ = 0;
  bool poke_pending_ = false;
  std::deque<SignalSnapshot> history_;    // for the metric delay
  std::optional<SignalSnapshot> frozen_;  // during the metric dropout
  RunResult result_;
  int arrivals_since_sample_ = 0;
  double last_sample_t_ = 0;
  int terminated_seen_ = 0;
  double end_limit_ = 0;
};

}  // namespace ollamaflow::sim
