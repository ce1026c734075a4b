// Test doubles for the agent manager: a gate that blocks warm-ups and tasks until the test lets
// them pass, and an observer that records every event and lets the test wait for a condition.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "agents/agent_info.h"
#include "core/cancel.h"

namespace ollamaflow::agents::testing {

// Real-time bound on every wait in these tests. It only keeps a broken test from hanging, so it
// is generous and never decides an outcome.
inline constexpr std::chrono::seconds kWaitLimit{20};

// Blocks callers until the test releases permits. Thread-safe.
class Gate {
 public:
  // Blocks until a permit is free, the gate is open or `cancel` is cancelled. Returns true when
  // the caller may pass, false when it was cancelled.
  bool pass(const CancelToken* cancel = nullptr) {
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    while (!open_ && permits_ == 0) {
      if (cancel != nullptr && cancel->cancelled()) {
        --waiting_;
        changed_.notify_all();
        return false;
      }
      // CancelToken has no notification, so a cancelled token is noticed by polling.
      changed_.wait_for(lock, std::chrono::milliseconds(1));
    }
    if (!open_) {
      --permits_;
    }
    --waiting_;
    changed_.notify_all();
    return true;
  }

  void release(int permits) {
    std::lock_guard lock(mutex_);
    permits_ += permits;
    changed_.notify_all();
  }

  // Lets every caller pass from now on.
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

  // Waits until `count` callers are blocked. Returns false after kWaitLimit.
  bool wait_for_waiting(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWaitLimit, [&] { return waiting_ == count; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int permits_ = 0;
  int waiting_ = 0;
  bool open_ = false;
};

// Records observer events in delivery order. Thread-safe.
class Recorder : public AgentObserver {
 public:
  struct StateChange {
    std::string agent;
    AgentState from;
    AgentState to;
  };
  struct TaskEnd {
    std::string agent;
    std::string task;
    bool ok;
  };
  struct Requeue {
    std::string agent;
    std::string task;
    RequeueReason reason;
    bool returned;
  };

  void on_state_changed(const AgentInfo& agent, AgentState from) override {
    record([&] { states.push_back({agent.id, from, agent.state}); });
  }
  void on_task_started(const AgentInfo& agent, const queue::Task& task, Duration wait) override {
    record([&] {
      started.emplace_back(agent.id, task.id);
      waits[task.id] = wait;
    });
  }
  void on_task_finished(const AgentInfo& agent, const queue::Task& task, const TaskOutcome& outcome,
                        Duration /*duration*/) override {
    record([&] { finished.push_back({agent.id, task.id, outcome.ok}); });
  }
  void on_task_requeued(const AgentInfo& agent, const queue::Task& task,
                        const TaskRequeue& requeue) override {
    record([&] { requeued.push_back({agent.id, task.id, requeue.reason, requeue.returned}); });
  }

  // Waits until `condition` is true. It is checked after every event. Returns false after
  // kWaitLimit.
  bool wait_until(const std::function<bool()>& condition) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWaitLimit, condition);
  }

  // Runs `read` under the recorder's lock, for reading the vectors below from the test thread.
  template <typename T>
  T read(const std::function<T()>& read) {
    std::lock_guard lock(mutex_);
    return read();
  }

  // Returns the agent that started `task` first, or an empty string when none did.
  std::string agent_of(const std::string& task) {
    std::lock_guard lock(mutex_);
    for (const auto& [agent, task_id] : started) {
      if (task_id == task) {
        return agent;
      }
    }
    return "";
  }

  // Returns the states `agent` entered, in order.
  std::vector<AgentState> states_of(const std::string& agent) {
    std::lock_guard lock(mutex_);
    std::vector<AgentState> result;
    for (const StateChange& change : states) {
      if (change.agent == agent) {
        result.push_back(change.to);
      }
    }
    return result;
  }

  size_t finished_count() {
    std::lock_guard lock(mutex_);
    return finished.size();
  }

  // Guarded by the recorder's lock: use read(), or wait_until() conditions.
  std::vector<StateChange> states;
  std::vector<std::pair<std::string, std::string>> started;
  std::map<std::string, Duration> waits;
  std::vector<TaskEnd> finished;
  std::vector<Requeue> requeued;

 private:
  void record(const std::function<void()>& change) {
    {
      std::lock_guard lock(mutex_);
      change();
    }
    changed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
};

}  // namespace ollamaflow::agents::testing
