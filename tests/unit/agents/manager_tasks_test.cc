// AgentManager: task outcomes, observer and lifecycle callbacks, status, and a large pool.
#include <chrono>
#include <mutex>
#include <numeric>
#include <utility>

#include "core/log.h"
#include "fakes/log_capture.h"
#include "manager_fixture.h"

namespace ollamaflow::agents::testing {
namespace {

using std::chrono::seconds;

TEST_F(AgentManagerTest, LifecycleCallbacksFirePerState) {
  make_manager(settings_with_min(0));
  std::mutex mutex;
  std::vector<std::pair<AgentState, std::string>> entered;
  for (AgentState state : kAllAgentStates) {
    manager->add_lifecycle_callback(state, [&, state](const AgentInfo& info) {
      std::lock_guard lock(mutex);
      EXPECT_EQ(info.state, state);
      entered.emplace_back(state, info.id);
    });
  }
  ASSERT_TRUE(manager->add_agents(1, {}, "test").is_ok());
  push("a");
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->finished.size() == 1; }));
  ASSERT_TRUE(manager->remove_agents(1, "quiet").is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kTerminated, 1));
  manager->stop(false);

  std::lock_guard lock(mutex);
  const std::vector<std::pair<AgentState, std::string>> expected = {
      {AgentState::kCreating, "agent-1"}, {AgentState::kInitializing, "agent-1"},
      {AgentState::kActive, "agent-1"},   {AgentState::kBusy, "agent-1"},
      {AgentState::kIdle, "agent-1"},     {AgentState::kTerminated, "agent-1"},
  };
  EXPECT_EQ(entered, expected);
}

TEST_F(AgentManagerTest, LifecycleCallbacksSeeDrainingAndError) {
  make_manager(settings_with_min(0), [](const AgentInfo& info) {
    return info.role == "analyst" ? Status(ErrorCode::kUnavailable, "connection refused")
                                  : Status::ok();
  });
  std::mutex mutex;
  std::vector<std::string> draining;
  std::vector<std::string> failed;
  manager->add_lifecycle_callback(AgentState::kDraining, [&](const AgentInfo& info) {
    std::lock_guard lock(mutex);
    draining.push_back(info.id);
  });
  manager->add_lifecycle_callback(AgentState::kError, [&](const AgentInfo& info) {
    std::lock_guard lock(mutex);
    failed.push_back(info.id + ": " + info.error);
  });
  ASSERT_TRUE(manager->add_agents(1, {"developer"}, "test").is_ok());
  ASSERT_TRUE(manager->add_agents(1, {"analyst"}, "test").is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kError, 1));
  push_blocking("a");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 1));
  ASSERT_TRUE(manager->remove_agents(1, "quiet").is_ok());
  task_gate.release(1);
  ASSERT_TRUE(wait_for_state(AgentState::kTerminated, 1));
  manager->stop(false);

  std::lock_guard lock(mutex);
  EXPECT_EQ(draining, std::vector<std::string>{"agent-1"});
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0], "agent-2: warm-up failed: unavailable: connection refused");
}

TEST_F(AgentManagerTest, ThrowingCallbackIsCounted) {
  make_manager(settings_with_min(0));
  manager->add_lifecycle_callback(
      AgentState::kActive, [](const AgentInfo&) { throw std::runtime_error("dashboard gone"); });
  ASSERT_TRUE(manager->add_agents(1, {}, "test").is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 1));
  push("a");
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->finished.size() == 1; }));
  manager->stop(false);
  EXPECT_EQ(manager->stats().callback_errors, 1);
  EXPECT_EQ(manager->stats().tasks_completed, 1);
  manager.reset();  // TearDown expects no callback errors
}

TEST_F(AgentManagerTest, ObserverGetsWaitSinceEnqueued) {
  make_manager(settings_with_min(0));
  push("a");
  clock->advance(seconds(7));
  ASSERT_TRUE(manager->add_agents(1, {}, "test").is_ok());
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->finished.size() == 1; }));
  EXPECT_EQ(recorder->read<Duration>([&] { return recorder->waits.at("a"); }), seconds(7));
}

TEST_F(AgentManagerTest, FailedTaskIsCountedNotRequeued) {
  make_manager(settings_with_min(0));
  ASSERT_TRUE(manager->add_agents(1, {}, "test").is_ok());
  push("a", "developer", {{"fail", true}});
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->finished.size() == 1; }));
  EXPECT_FALSE(recorder->read<bool>([&] { return recorder->finished[0].ok; }));
  EXPECT_EQ(manager->stats().tasks_failed, 1);
  EXPECT_EQ(manager->stats().tasks_requeued, 0);
  EXPECT_EQ(queue.size(), 0u);
  EXPECT_EQ(manager->agents().at(0).tasks_failed, 1);
  EXPECT_EQ(runs_of("a"), 1);
}

// The "task failed" lines are rate-limited in the manager's clock time, so that a simulation in
// virtual time gets a new interval when its clock passes one, not when the wall clock does.
TEST_F(AgentManagerTest, FailureLinesLimitedByManagerClock) {
  ollamaflow::testing::LogCapture log("agents");
  ManagerSettings settings = settings_with_min(0);
  settings.failure_log = {1, seconds(60)};
  make_manager(settings);
  ASSERT_TRUE(manager->add_agents(1, {}, "test").is_ok());
  const std::vector<std::string> ids = {"a", "b", "c"};
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == "c") {
      clock->advance(seconds(60));  // a new interval of the manager's clock
    }
    push(ids[i], "developer", {{"fail", true}});
    ASSERT_TRUE(recorder->wait_until([&] { return recorder->finished.size() == i + 1; }));
  }
  manager->stop(false);
  const std::string text = log.text();
  EXPECT_NE(text.find("task=a "), std::string::npos) << text;
  EXPECT_EQ(text.find("task=b "), std::string::npos) << text;
  EXPECT_NE(text.find("task failed: 1 more lines suppressed (the first 1 of every 60 s"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("task=c "), std::string::npos) << text;
}

// An agent takes tasks of every role, so its log lines call its role the preferred one.
TEST_F(AgentManagerTest, AgentLinesNameThePreferredRole) {
  ollamaflow::testing::LogCapture log("agents");
  make_manager(settings_with_min(0));
  ASSERT_TRUE(manager->add_agents(1, {}, "test").is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 1));
  manager->stop(false);
  EXPECT_NE(log.text().find("agent created: agent=agent-1 preferred_role=developer "),
            std::string::npos)
      << log.text();
  EXPECT_NE(log.text().find("agent ready: agent=agent-1 preferred_role=developer "),
            std::string::npos)
      << log.text();
}

TEST_F(AgentManagerTest, RetryOutcomeRequeuesAtBack) {
  make_manager(settings_with_min(0));
  push("a", "developer", {{"retry_attempts", 2}});
  push("b");
  ASSERT_TRUE(manager->add_agents(1, {}, "test").is_ok());
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->finished.size() == 2; }));
  EXPECT_EQ(runs_of("a"), 3);
  EXPECT_EQ(runs_of("b"), 1);
  EXPECT_EQ(manager->stats().tasks_requeued, 2);
  EXPECT_EQ(manager->stats().tasks_completed, 2);
  // The first retry of "a" went behind "b", so "b" finished first.
  EXPECT_EQ(recorder->read<std::string>([&] { return recorder->finished[0].task; }), "b");
  const auto requeued =
      recorder->read<std::vector<Recorder::Requeue>>([&] { return recorder->requeued; });
  ASSERT_EQ(requeued.size(), 2u);
  EXPECT_EQ(requeued[0].reason, RequeueReason::kRetry);
}

TEST_F(AgentManagerTest, ThrowingExecutorFailsTask) {
  make_manager(settings_with_min(0));
  ASSERT_TRUE(manager->add_agents(1, {}, "test").is_ok());
  push("a", "developer", {{"throw", true}});
  push("b");
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->finished.size() == 2; }));
  EXPECT_EQ(manager->stats().tasks_failed, 1);
  EXPECT_EQ(manager->stats().tasks_completed, 1);
  EXPECT_EQ(count(AgentState::kIdle), 1);
}

TEST_F(AgentManagerTest, ClosedQueueCountsLostTask) {
  make_manager(settings_with_min(1));
  ASSERT_TRUE(manager->start(2).is_ok());
  push_blocking("a");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 1));
  queue.close();
  manager->stop(false);
  EXPECT_EQ(manager->stats().tasks_lost, 1);
  EXPECT_EQ(manager->stats().tasks_requeued, 0);
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->requeued.size() == 1; }));
  EXPECT_FALSE(recorder->read<bool>([&] { return recorder->requeued[0].returned; }));
}

TEST_F(AgentManagerTest, DetailedStatusListsAgents) {
  make_manager(settings_with_min(1));
  ASSERT_TRUE(manager->start(2).is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 2));
  push_blocking("a");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 1));

  const nlohmann::json status = manager->get_detailed_status();
  EXPECT_EQ(status["running"], true);
  EXPECT_EQ(status["capacity"], 2);
  EXPECT_EQ(status["pending_creation"], 0);
  EXPECT_EQ(status["states"]["busy"], 1);
  EXPECT_EQ(status["states"]["active"], 1);
  EXPECT_EQ(status["states"]["terminated"], 0);
  EXPECT_EQ(status["roles"]["developer"], 2);
  EXPECT_EQ(status["limits"]["max_agents"], 8);
  EXPECT_EQ(status["stats"]["created"], 2);
  EXPECT_EQ(status["stats"]["creation_failures"], 0);
  ASSERT_EQ(status["agents"].size(), 2u);
  int with_task = 0;
  for (const nlohmann::json& agent : status["agents"]) {
    EXPECT_EQ(agent["role"], "developer");
    EXPECT_EQ(agent["model"], "llama3.1:8b");
    EXPECT_EQ(agent["tasks_done"], 0);
    EXPECT_EQ(agent["creation_reason"], "initial pool");
    if (agent["state"] == "busy") {
      EXPECT_EQ(agent["current_task"], "a");
      EXPECT_TRUE(agent["idle_seconds"].is_null());
      ++with_task;
    } else {
      EXPECT_TRUE(agent["current_task"].is_null());
      EXPECT_EQ(agent["idle_seconds"], 0.0);
    }
  }
  EXPECT_EQ(with_task, 1);
}

TEST_F(AgentManagerTest, StatusKeepsEndedAgents) {
  make_manager(settings_with_min(0));
  ASSERT_TRUE(manager->start(2).is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 2));
  clock->advance(seconds(40));
  ASSERT_TRUE(manager->remove_agents(2, "quiet").is_ok());
  manager->tick();
  const nlohmann::json status = manager->get_detailed_status();
  EXPECT_EQ(status["states"]["terminated"], 2);
  EXPECT_EQ(status["stats"]["terminated"], 2);
  EXPECT_EQ(status["stats"]["average_lifetime_seconds"], 40.0);
  ASSERT_EQ(status["agents"].size(), 2u);
  EXPECT_EQ(status["agents"][0]["termination_reason"], "quiet");
}

TEST_F(AgentManagerTest, ManyAgentsRunEveryTaskOnce) {
  ManagerSettings settings = settings_with_min(1);
  settings.limits.max_agents = 64;
  make_manager(settings);
  constexpr int kTasks = 10000;
  for (int i = 0; i < kTasks; ++i) {
    push("t" + std::to_string(i));
  }
  ASSERT_TRUE(manager->start(64).is_ok());
  ASSERT_TRUE(recorder->wait_until(
      [&] { return recorder->finished.size() == static_cast<size_t>(kTasks); }));
  manager->stop(true);

  for (int i = 0; i < kTasks; ++i) {
    ASSERT_EQ(runs_of("t" + std::to_string(i)), 1) << "task t" << i;
  }
  const ManagerStats stats = manager->stats();
  EXPECT_EQ(stats.tasks_completed, kTasks);
  EXPECT_EQ(stats.tasks_requeued, 0);
  EXPECT_EQ(stats.tasks_failed, 0);
  EXPECT_EQ(stats.created, 64);
  EXPECT_EQ(queue.size(), 0u);
  const std::vector<AgentInfo> agents = manager->agents();
  ASSERT_EQ(agents.size(), 64u);
  const int64_t done =
      std::accumulate(agents.begin(), agents.end(), int64_t{0},
                      [](int64_t sum, const AgentInfo& info) { return sum + info.tasks_done; });
  EXPECT_EQ(done, kTasks);
}

}  // namespace
}  // namespace ollamaflow::agents::testing
