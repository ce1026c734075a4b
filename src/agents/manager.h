// The dynamic agent manager: a pool of agents, one worker thread each, that take tasks from the
// queue, plus the operations that grow and shrink the pool without losing work.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/agent_info.h"
#include "agents/events.h"
#include "agents/lifecycle.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/status.h"
#include "queue/task_queue.h"

namespace ollamaflow::agents {

struct ManagerSettings {
  // min_agents, max_agents, batch_creation_size and the timeouts in seconds.
  // cleanup_interval_seconds is not read here, because the owner decides how often to call tick().
  AgentManagementSettings limits;
  std::string default_role = "developer";  // role of new agents when no task waits
  std::string default_model;               // model of agents whose role has no entry below
  std::map<std::string, std::string> role_models;
  // Real time that an idle agent waits in TaskQueue::pop_wait before it checks again whether
  // it was removed or the manager stops. It bounds how long removal and stop take to be noticed.
  Duration poll_interval = std::chrono::milliseconds(200);
  size_t history_size = 64;  // ended agents kept for get_detailed_status()
  // Limit of the "task failed" and "task lost" lines, each counted on its own, with intervals in
  // the manager's clock time.
  LogLimit failure_log;
};

// Counters over the manager's life.
struct ManagerStats {
  int64_t created = 0;
  int64_t terminated = 0;
  int64_t creation_failures = 0;  // failed or timed-out warm-ups and threads that did not start
  // Creation failures since the last agent that became ready, and the error of the latest one.
  int64_t creation_failures_in_a_row = 0;
  std::string last_creation_error;
  int64_t tasks_completed = 0;
  int64_t tasks_failed = 0;
  int64_t tasks_requeued = 0;  // started tasks put back in the queue
  int64_t tasks_lost = 0;      // tasks the queue rejected on requeue because it was closed
  int64_t callback_errors = 0;
  // State changes that the lifecycle table rejects. They are skipped and logged; any count
  // above zero is a bug in the manager.
  int64_t invalid_transitions = 0;
  double average_lifetime_seconds = 0;  // over TERMINATED agents; 0 when none ended yet
};

// The outcome of one scale_to() call.
struct ScaleResult {
  int requested = 0;
  int target = 0;                    // `requested` clamped to [min_agents, max_agents]
  int from = 0;                      // capacity before
  int to = 0;                        // capacity after
  std::vector<std::string> added;    // new agents and agents whose removal was revoked
  std::vector<std::string> removed;  // agents terminated or set draining
};

// Owns the agent threads. Every public method is thread-safe and may be called from any thread,
// except stop() and the destructor, which must not run on an agent thread (so not from the
// executor, the warm-up, a lifecycle callback or the observer).
//
// Rules the manager keeps:
// - capacity() counts agents that are starting, ready or busy; DRAINING ones are on their way
//   out and do not count. Removals never take capacity below min_agents, and the number of
//   agents that are not final (draining included) never exceeds max_agents. Failed warm-ups can
//   leave fewer than min_agents, and the manager never creates agents on its own.
// - An agent that has a task is never terminated directly. It drains: it finishes the task, or
//   after graceful_shutdown_timeout its task is cancelled through its CancelToken and, once the
//   executor returns, put back at the front of the queue.
// - Time (warm-up, drain and idle timeouts, durations) comes from the injected Clock and is
//   checked by tick(). The only timed waits on real time are the agents' pop_wait calls and
//   the polling wait in a graceful stop().
class AgentManager {
 public:
  // Validates the settings and returns a manager with no agents. `queue` must outlive it.
  // `warm_up` may be empty, in which case agents are ready as soon as their thread runs.
  // `observer` may be null.
  static Result<std::unique_ptr<AgentManager>> create(std::shared_ptr<Clock> clock,
                                                      ManagerSettings settings,
                                                      queue::TaskQueue& queue,
                                                      TaskExecutor executor, WarmUp warm_up,
                                                      std::shared_ptr<AgentObserver> observer);

  // Calls stop(false).
  ~AgentManager();

  AgentManager(const AgentManager&) = delete;
  AgentManager& operator=(const AgentManager&) = delete;

  // Creates the initial pool of `count` agents for a fixed-size run; nothing scales afterwards
  // unless asked. Returns kInvalidArgument when `count` is outside [min_agents, max_agents] and
  // kConflict when called twice. Returns the new agent ids.
  Result<std::vector<std::string>> start(int count);

  // Grows or shrinks capacity() to `target`, clamped to [min_agents, max_agents]. Growing first
  // revokes the removal of DRAINING agents, then creates agents with roles from the queue.
  Result<ScaleResult> scale_to(int target, const std::string& reason);

  // Creates up to `count` agents, fewer when max_agents would be exceeded. With `roles` empty,
  // draining agents are revoked first and new roles follow the queue (see choose_roles);
  // otherwise agent i gets roles[i % roles.size()]. Returns the ids of the agents added.
  Result<std::vector<std::string>> add_agents(int count, const std::vector<std::string>& roles,
                                              const std::string& reason);

  // Selects up to `count` agents for removal, never going below min_agents. Agents still
  // waiting for their creation batch go first (newest first), because they cost nothing yet.
  // Then come ready agents (longest idle first), agents in warm-up (newest first) and last busy
  // agents (earliest task start first), which drain. Returns the ids selected.
  Result<std::vector<std::string>> remove_agents(int count, const std::string& reason);

  // Terminates ready agents idle longer than idle_timeout_seconds, longest idle first, never
  // below min_agents. Returns the ids terminated.
  std::vector<std::string> reap_idle();

  // Runs maintenance: fails warm-ups older than agent_timeout_seconds, cancels the tasks of
  // agents draining longer than graceful_shutdown_timeout, reaps idle agents, starts the next
  // creation batch and joins threads that ended. Call it about once a second, because timeouts
  // are enforced no more precisely than the tick period.
  void tick();

  // Stops taking tasks and ends every agent. With `graceful`, busy agents may finish their
  // tasks for up to graceful_shutdown_timeout of clock time. After that, or at once without
  // `graceful`, their tasks are cancelled and put back in the queue. Joins every thread, and
  // waits for a thread still in its warm-up, because a warm-up cannot be cancelled. Safe to
  // call twice: later calls return at once.
  void stop(bool graceful);

  // Registers `callback` for entry to `state`. Callbacks run like observer calls.
  void add_lifecycle_callback(AgentState state, LifecycleCallback callback);

  // Returns the number of agents in each state, every state present. TERMINATED and ERROR
  // count every agent that ever reached them.
  std::map<AgentState, int> count_by_state() const;
  // Returns the number of agents that are CREATING, INITIALIZING, ACTIVE, IDLE or BUSY.
  int capacity() const;
  // Returns the agents that are not final, then up to history_size ended ones.
  std::vector<AgentInfo> agents() const;
  std::optional<AgentInfo> find_agent(const std::string& id) const;
  ManagerStats stats() const;
  // Returns counts by state and role, stats, limits and one record per agent (see agents()).
  nlohmann::json get_detailed_status() const;
  // Returns false once stop() has begun.
  bool running() const;

 private:
  struct Agent;

  AgentManager(std::shared_ptr<Clock> clock, ManagerSettings settings, queue::TaskQueue& queue,
               TaskExecutor executor, WarmUp warm_up, std::shared_ptr<AgentObserver> observer);

  // Scaling steps, in manager.cc. `waiting_by_role` is read from the queue before the lock.
  std::vector<std::string> add_locked(int count, const std::vector<std::string>& roles,
                                      const std::map<std::string, int>& waiting_by_role,
                                      const std::string& reason);
  int revoke_removals_locked(int count, std::vector<std::string>& ids);
  std::vector<std::string> remove_locked(int count, const std::string& reason);
  std::vector<Agent*> removal_order_locked();
  void remove_agent_locked(Agent& agent, const std::string& reason);
  // Starts the pending agents in creation batches of batch_creation_size. A batch waits for the
  // one before it to finish its warm-up only while no agent on its model is ready: the first
  // warm-ups load the model, and several loads at once only compete for memory and disk. Once an
  // agent on the model is ready, a warm-up is one short request, so every batch starts at once.
  void start_next_batch_locked();
  // Returns true when an agent on `model` is ready or busy, so the server has the model loaded.
  bool model_resident_locked(const std::string& model) const;
  void launch_locked(Agent& agent);
  std::vector<std::string> reap_idle_locked(MonoTime now);
  Status check_running_locked() const;

  // Timeouts, joins and stop, in maintenance.cc.
  void enforce_timeouts_locked(MonoTime now);
  void cancel_task_locked(Agent& agent, RequeueReason reason);
  std::vector<std::thread> collect_ended_locked();
  void begin_stop_locked(bool graceful);
  void wait_for_drain(MonoTime deadline);

  // State changes, counts and status, in manager_state.cc.
  void set_state_locked(Agent& agent, AgentState to);
  void post_state_event_locked(const Agent& agent, AgentState from);
  int capacity_locked() const;
  int live_locked() const;
  std::map<std::string, int> roles_locked() const;
  std::string model_for(const std::string& role) const;
  void record_ended_locked(const Agent& agent);
  std::map<AgentState, int> count_by_state_locked() const;
  std::vector<AgentInfo> agents_locked() const;
  ManagerStats stats_locked() const;

  // The worker thread, in agent_thread.cc.
  void run_agent(Agent* agent);
  bool warm_up(Agent* agent);
  bool finish_warm_up_locked(Agent& agent, const Status& status);
  void count_creation_failure_locked(const std::string& error);
  std::shared_ptr<queue::Task> next_task(Agent* agent);
  void begin_task_locked(Agent& agent, const std::shared_ptr<queue::Task>& task);
  void run_task(Agent* agent, const std::shared_ptr<queue::Task>& task);
  void finish_task_locked(Agent& agent, const std::shared_ptr<queue::Task>& task,
                          const TaskOutcome& outcome, std::optional<RequeueReason> requeue);
  void return_untaken_task(Agent* agent, const std::shared_ptr<queue::Task>& task);

  const std::shared_ptr<Clock> clock_;
  const ManagerSettings settings_;
  queue::TaskQueue& queue_;
  const TaskExecutor executor_;
  const WarmUp warm_up_;
  EventDispatcher events_;

  std::mutex stop_mutex_;  // serializes stop() calls

  // Rate limiter of the "task failed" warnings, which can come once per task while the server
  // rejects every request. This line is the only warning of a failed task in a run, and one
  // manager serves one run, so the limit is per run. stop() logs the count that is still open.
  // Exceptions from the executor are also logged as errors, which are not limited.
  LogRateLimiter failure_log_{get_logger("agents"), spdlog::level::warn, "task failed",
                              settings_.failure_log.burst, settings_.failure_log.interval};
  // A stop while many agents run tasks loses all of those tasks at once.
  LogRateLimiter lost_log_{get_logger("agents"), spdlog::level::err, "task lost",
                           settings_.failure_log.burst, settings_.failure_log.interval};

  mutable std::mutex mutex_;
  std::condition_variable wake_;  // notified on every state change
  // Guarded by mutex_. Agent records stay at one address until their thread is joined, and an
  // agent thread touches its record only under mutex_.
  std::vector<std::unique_ptr<Agent>> agents_;
  std::deque<Agent*> pending_;  // CREATING agents in creation order
  std::deque<AgentInfo> history_;
  std::map<AgentState, int> final_counts_;
  ManagerStats stats_;  // average_lifetime_seconds is computed in stats()
  double lifetime_total_seconds_ = 0;
  int64_t next_sequence_ = 1;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
};

}  // namespace ollamaflow::agents
