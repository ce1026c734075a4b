#include "flow/run_observer.h"

#include "agents/collector_feed.h"
#include "core/log.h"

namespace ollamaflow::flow {

RunObserver::RunObserver(std::string run_id, workload::MetricsCollector& collector,
                         store::Journal* journal)
    : run_id_(std::move(run_id)), collector_(collector), journal_(journal) {}

void RunObserver::journal_event(const std::string& kind, nlohmann::json detail) {
  if (journal_ == nullptr) {
    return;
  }
  store::EventRecord event;
  event.run_id = run_id_;
  event.kind = kind;
  event.detail = std::move(detail);
  journal_->post_event(std::move(event));
}

void RunObserver::on_state_changed(const agents::AgentInfo& agent, agents::AgentState from) {
  using agents::AgentState;
  agents::record_agent_state(collector_, agent, from);
  if (agent.state == AgentState::kBusy || from == AgentState::kBusy) {
    return;  // task events cover these
  }
  journal_event("agent_" + std::string(agents::agent_state_name(agent.state)),
                {{"agent", agent.id},
                 {"role", agent.role},
                 {"model", agent.model},
                 {"from", agents::agent_state_name(from)},
                 {"reason", agent.state == AgentState::kCreating ? agent.creation_reason
                                                                 : agent.termination_reason},
                 {"error", agent.error}});
}

void RunObserver::on_task_started(const agents::AgentInfo& agent, const queue::Task& task,
                                  Duration wait) {
  collector_.task_started(task.id, agent.id);
  journal_event("task_started",
                {{"task", task.id}, {"agent", agent.id}, {"wait_s", to_seconds(wait)}});
}

void RunObserver::on_task_finished(const agents::AgentInfo& agent, const queue::Task& task,
                                   const agents::TaskOutcome& outcome, Duration duration) {
  agents::record_task_outcome(collector_, task.id, outcome.ok, outcome.code);
  journal_event("task_finished", {{"task", task.id},
                                  {"agent", agent.id},
                                  {"ok", outcome.ok},
                                  {"error", outcome.error},
                                  {"duration_s", to_seconds(duration)}});
}

void RunObserver::on_task_requeued(const agents::AgentInfo& agent, const queue::Task& task,
                                   const agents::TaskRequeue& requeue) {
  collector_.task_retried(task.id);
  journal_event("task_requeued", {{"task", task.id},
                                  {"agent", agent.id},
                                  {"reason", agents::requeue_reason_name(requeue.reason)},
                                  {"returned", requeue.returned},
                                  {"error", requeue.error}});
}

}  // namespace ollamaflow::flow
