// Internal to flow/: the state of one plan execution, shared by the run loop (execution.cc) and
// the agents' task executor (task_runner.cc).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agents/manager.h"
#include "core/log.h"
#include "flow/execution.h"
#include "orchestrator/dag.h"
#include "orchestrator/drone.h"
#include "queue/task_queue.h"
#include "scaling/engine.h"
#include "workload/collector.h"

namespace ollamaflow::flow {

// The progress of one task beyond its status in the graph.
struct TaskProgress {
  std::string agent;
  std::string model;
  double duration_s = 0;
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  // The part of the tokens above that failed requests spent (orchestrator::failed_usage).
  int64_t failed_prompt_tokens = 0;
  int64_t failed_output_tokens = 0;
  int attempts = 0;  // model requests made for it, over every agent that ran it
  std::vector<std::string> files;
  std::string summary;
  std::string error;
  bool resumed = false;
};

// Thread-safety: mutex_ guards dag_, progress_, conflicts_, no_agent_reason_ and warm_up_usage_.
// The rest is set up before the agents start and read-only afterwards, or thread-safe itself
// (queue, collector, manager, engine, journal, client, workspace).
class PlanRun {
 public:
  explicit PlanRun(ExecutionSetup setup);

  Result<ExecutionResult> run();

  // The agents' task executor.
  agents::TaskOutcome run_task(const agents::AgentInfo& agent, const queue::Task& task,
                               const CancelToken& cancel);
  // The agents' warm-up: one short schema-constrained request with the run's options.
  Status warm_up(const agents::AgentInfo& agent);

 private:
  Status start();
  void wait_until_done();
  bool stop_when_no_agent_can_start();
  void shut_down();
  ExecutionResult collect_result();

  // Pushes the tasks in `ids` to the queue. Caller holds mutex_.
  void enqueue_locked(const std::vector<std::string>& ids);
  // Journals status changes from the graph (cascades included). Caller holds mutex_.
  void apply_changes_locked(const std::vector<orchestrator::StatusChange>& changes);
  // Returns the model for a task of `role`: the role's model, else the agent's.
  std::string model_for(const std::string& role, const agents::AgentInfo& agent) const;
  // The task's journal row with `status`, from the DAG and progress_; mutex_ held.
  store::TaskRecord task_record_locked(const std::string& id, const std::string& status);
  // Posts the row: the caller holds mutex_ and does not wait for the disk.
  void journal_task_locked(const std::string& id, const std::string& status);
  void record_attempts(const std::string& task_id, const std::string& agent_id,
                       const std::vector<orchestrator::Attempt>& attempts, int first_number);
  std::vector<orchestrator::DependencyResult> dependencies_of(const orchestrator::PlanTask& task);
  // Fails the task; `attempts` are those of this run of it (agents::TaskOutcome::attempts).
  agents::TaskOutcome finish_failed(const std::string& id, const Status& status, int attempts);
  agents::TaskOutcome finish_cancelled(const std::string& id, const CancelToken& cancel);
  void publish();
  llm::ChatOptions chat_options() const;

  ExecutionSetup setup_;
  queue::MemoryTaskQueue queue_;
  std::unique_ptr<workload::MetricsCollector> collector_;
  std::unique_ptr<scaling::ScalingEngine> engine_;
  std::unique_ptr<agents::AgentManager> manager_;
  std::unique_ptr<ScalingLoop> loop_;
  MonoTime started_at_{};
  // Rate limiters of the agents' per-request warnings ("reply truncated", "reply rejected" ...),
  // which can come from every agent at once, such as when num_predict is too small for the tasks.
  // reply_warnings_ points to setup_.warning_limits, else to own_reply_warnings_. shut_down()
  // logs the counts that are still open. The agent manager logs and limits the "task failed"
  // line. Thread-safe.
  orchestrator::ReplyWarningLimits own_reply_warnings_;
  orchestrator::ReplyWarningLimits* reply_warnings_ = nullptr;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<orchestrator::TaskDag> dag_;
  std::map<std::string, TaskProgress> progress_;
  std::vector<std::string> conflicts_;
  std::string no_agent_reason_;   // the reason the run stopped because no agent could start
  llm::ChatUsage warm_up_usage_;  // summed over the warm-ups, those that failed included
};

}  // namespace ollamaflow::flow
