// The fixture shared by the AgentManager tests: a fake clock, an in-process queue, gated
// warm-ups and tasks, and a recording observer.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent_test_support.h"
#include "agents/manager.h"
#include "core/clock.h"
#include "queue/task_queue.h"

namespace ollamaflow::agents::testing {

class AgentManagerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    warm_up_gate.open();
    task_gate.open();
    if (manager) {
      manager->stop(false);
      EXPECT_EQ(manager->stats().invalid_transitions, 0);
      EXPECT_EQ(manager->stats().callback_errors, 0);
    }
  }

  // Limits as configured by default, with a short poll interval so that removals are seen fast.
  static ManagerSettings default_settings() {
    ManagerSettings settings;
    settings.limits.min_agents = 1;
    settings.limits.max_agents = 8;
    settings.limits.batch_creation_size = 3;
    settings.limits.graceful_shutdown_timeout = 30;
    settings.limits.agent_timeout_seconds = 300;
    settings.limits.idle_timeout_seconds = 600;
    settings.default_role = "developer";
    settings.default_model = "llama3.1:8b";
    settings.poll_interval = std::chrono::milliseconds(5);
    return settings;
  }

  static ManagerSettings settings_with_min(int min_agents) {
    ManagerSettings settings = default_settings();
    settings.limits.min_agents = min_agents;
    return settings;
  }

  void make_manager(ManagerSettings settings, WarmUp warm_up = {}) {
    auto created = AgentManager::create(clock, std::move(settings), queue, executor(),
                                        std::move(warm_up), recorder);
    ASSERT_TRUE(created.is_ok()) << created.status().to_string();
    manager = std::move(created).value();
  }

  // Warm-up that waits for a permit of warm_up_gate.
  WarmUp gated_warm_up() {
    return [this](const AgentInfo&) {
      warm_up_gate.pass();
      return Status::ok();
    };
  }

  // Runs tasks by their payload: "block" waits for a permit of task_gate (only while attempt is
  // below "block_attempts" when that is given), "fail" fails, "retry_attempts" returns retry
  // while attempt is below it, "throw" throws. Every run is counted in `runs`.
  TaskExecutor executor() {
    return [this](const AgentInfo&, const queue::Task& task, const CancelToken& cancel) {
      {
        std::lock_guard lock(runs_mutex);
        ++runs[task.id];
      }
      const nlohmann::json& payload = task.payload;
      TaskOutcome outcome;
      const bool blocks =
          payload.value("block", false) && task.attempt < payload.value("block_attempts", 1 << 30);
      if (blocks && !task_gate.pass(&cancel)) {
        outcome.error = "cancelled";
        outcome.code = ErrorCode::kCancelled;
        return outcome;
      }
      if (payload.value("throw", false)) {
        throw std::runtime_error("executor exploded");
      }
      if (payload.value("fail", false)) {
        outcome.error = "model reply was empty";
        outcome.code = ErrorCode::kParseError;
        return outcome;
      }
      if (task.attempt < payload.value("retry_attempts", 0)) {
        outcome.error = "server busy";
        outcome.code = ErrorCode::kServerBusy;
        outcome.retry = true;
        return outcome;
      }
      outcome.ok = true;
      return outcome;
    };
  }

  void push(const std::string& id, const std::string& role = "developer",
            nlohmann::json payload = nlohmann::json::object()) {
    queue::Task task;
    task.id = id;
    task.run_id = "run-1";
    task.role = role;
    task.payload = std::move(payload);
    task.enqueued_at = clock->now();
    ASSERT_TRUE(queue.push(std::move(task)));
  }

  void push_blocking(const std::string& id, const std::string& role = "developer") {
    push(id, role, {{"block", true}});
  }

  int count(AgentState state) { return manager->count_by_state()[state]; }

  // Waits until `count` agents are in `state`.
  bool wait_for_state(AgentState state, int expected) {
    return recorder->wait_until([&] { return count(state) == expected; });
  }

  int runs_of(const std::string& task) {
    std::lock_guard lock(runs_mutex);
    return runs[task];
  }

  // Returns the role that each agent of `ids` was created for; "?" for an unknown id.
  std::vector<std::string> roles_of(const std::vector<std::string>& ids) {
    std::vector<std::string> roles;
    for (const std::string& id : ids) {
      const std::optional<AgentInfo> info = manager->find_agent(id);
      roles.push_back(info ? info->role : "?");
    }
    return roles;
  }

  std::vector<std::string> ids_in(AgentState state) {
    std::vector<std::string> ids;
    for (const AgentInfo& info : manager->agents()) {
      if (info.state == state) {
        ids.push_back(info.id);
      }
    }
    return ids;
  }

  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  queue::MemoryTaskQueue queue;
  std::shared_ptr<Recorder> recorder = std::make_shared<Recorder>();
  Gate warm_up_gate;
  Gate task_gate;
  std::mutex runs_mutex;
  std::map<std::string, int> runs;  // guarded by runs_mutex
  std::unique_ptr<AgentManager> manager;
};

}  // namespace ollamaflow::agents::testing
