// Feeds agent and task events of a run to the metrics collector and the journal.
#pragma once

#include <string>

#include "agents/agent_info.h"
#include "store/journal.h"
#include "workload/collector.h"

namespace ollamaflow::flow {

// Called on agent threads, one call at a time (see AgentObserver). The collector is
// thread-safe; journal failures are logged, counted and left to the journal's sticky health.
class RunObserver final : public agents::AgentObserver {
 public:
  RunObserver(std::string run_id, workload::MetricsCollector& collector, store::Journal* journal);

  void on_state_changed(const agents::AgentInfo& agent, agents::AgentState from) override;
  void on_task_started(const agents::AgentInfo& agent, const queue::Task& task,
                       Duration wait) override;
  void on_task_finished(const agents::AgentInfo& agent, const queue::Task& task,
                        const agents::TaskOutcome& outcome, Duration duration) override;
  void on_task_requeued(const agents::AgentInfo& agent, const queue::Task& task,
                        const agents::TaskRequeue& requeue) override;

 private:
  void journal_event(const std::string& kind, nlohmann::json detail);

  const std::string run_id_;
  workload::MetricsCollector& collector_;
  store::Journal* journal_;  // may be null
};

}  // namespace ollamaflow::flow
