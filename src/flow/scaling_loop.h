// Connects the scaling engine to a live run: it builds the engine inputs from the metrics
// collector, the agent manager, the GPU monitor and the capacity planner, evaluates, and carries
// out the decision through the agent manager.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "agents/manager.h"
#include "core/clock.h"
#include "scaling/engine.h"
#include "workload/collector.h"

namespace ollamaflow::flow {

struct ScalingSources {
  // Returns the GPU signal; nullopt on a host without a monitored GPU.
  std::function<std::optional<scaling::GpuSignal>()> gpu;
  // Returns the capacity signal; nullopt when nothing is known.
  std::function<std::optional<scaling::CapacitySignal>()> capacity;
  // Returns the model server's own signals; nullopt or empty when the backend has none. Called
  // once per evaluation: it may block for a few seconds on a slow server.
  std::function<std::optional<workload::ServerSignal>()> server;
};

// Puts the server's slot count, busy slots and queue into `capacity`, creating it when it is
// nullopt. A slot count the server reports replaces the configured one, because it is what the
// server runs. A signal without any of the three leaves `capacity` as it is.
void merge_server_signal(const workload::ServerSignal& server,
                         std::optional<scaling::CapacitySignal>& capacity);

// One point of the agent count over time, for the report.
struct AgentCountPoint {
  MonoTime at;
  int agents = 0;
};

// Thread-safe. start() runs evaluations on a background thread every `interval` of real time,
// and sooner after poke(); evaluate_once() runs one on the calling thread (tests use it with a
// fake clock and never start the thread).
class ScalingLoop {
 public:
  ScalingLoop(std::shared_ptr<Clock> clock, Duration interval, scaling::ScalingEngine& engine,
              workload::MetricsCollector& collector, agents::AgentManager& manager,
              ScalingSources sources);
  ~ScalingLoop();
  ScalingLoop(const ScalingLoop&) = delete;
  ScalingLoop& operator=(const ScalingLoop&) = delete;

  void start();
  void stop();
  // Asks for an evaluation as soon as the minimum gap between evaluations allows, e.g. when
  // tasks were queued, so that a surge is met without waiting a whole interval.
  void poke();
  // Builds the inputs, evaluates and acts. Returns the decision.
  scaling::Decision evaluate_once();

  std::vector<AgentCountPoint> agent_counts() const;

 private:
  scaling::EngineInputs build_inputs();
  void act(const scaling::Decision& decision);
  void run();

  std::shared_ptr<Clock> clock_;
  const Duration interval_;
  scaling::ScalingEngine& engine_;
  workload::MetricsCollector& collector_;
  agents::AgentManager& manager_;
  ScalingSources sources_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // Guarded by mutex_.
  bool stopping_ = false;
  bool poked_ = false;
  std::vector<AgentCountPoint> counts_;
  std::thread thread_;
  std::mutex evaluate_mutex_;  // one evaluation at a time
};

}  // namespace ollamaflow::flow
