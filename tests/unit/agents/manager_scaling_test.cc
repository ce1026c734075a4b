// AgentManager: creation in batches, warm-up, capacity, roles and the scaling bounds.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <stdexcept>

#include "manager_fixture.h"

namespace ollamaflow::agents::testing {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST_F(AgentManagerTest, CreatesAgentsInBatchesOfThree) {
  make_manager(default_settings(), gated_warm_up());
  auto added = manager->add_agents(7, {}, "test");
  ASSERT_TRUE(added.is_ok()) << added.status().to_string();
  EXPECT_EQ(added->size(), 7u);

  // No agent is ready, so the model may still be loading: one batch warms up at a time.
  ASSERT_TRUE(warm_up_gate.wait_for_waiting(3));
  EXPECT_EQ(count(AgentState::kInitializing), 3);
  EXPECT_EQ(count(AgentState::kCreating), 4);
  EXPECT_EQ(manager->capacity(), 7);

  // Once an agent on the model is ready, the remaining batches start together.
  warm_up_gate.release(3);
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 3));
  ASSERT_TRUE(warm_up_gate.wait_for_waiting(4));
  EXPECT_EQ(count(AgentState::kInitializing), 4);
  EXPECT_EQ(count(AgentState::kCreating), 0);

  warm_up_gate.release(4);
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 7));
  EXPECT_EQ(manager->stats().created, 7);
}

TEST_F(AgentManagerTest, ResidentModelStartsEveryBatch) {
  make_manager(default_settings(), gated_warm_up());
  ASSERT_TRUE(manager->add_agents(1, {}, "test").is_ok());
  ASSERT_TRUE(warm_up_gate.wait_for_waiting(1));
  warm_up_gate.release(1);
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 1));

  // 7 agents are three creation batches, and none waits for another.
  ASSERT_TRUE(manager->add_agents(7, {}, "burst").is_ok());
  ASSERT_TRUE(warm_up_gate.wait_for_waiting(7));
  EXPECT_EQ(count(AgentState::kInitializing), 7);
  EXPECT_EQ(count(AgentState::kCreating), 0);

  warm_up_gate.release(7);
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 8));
}

TEST_F(AgentManagerTest, FirstBatchIsOldestAgents) {
  make_manager(default_settings(), gated_warm_up());
  auto added = manager->add_agents(5, {}, "test");
  ASSERT_TRUE(added.is_ok());
  ASSERT_TRUE(warm_up_gate.wait_for_waiting(3));
  std::vector<std::string> warming = ids_in(AgentState::kInitializing);
  std::sort(warming.begin(), warming.end());
  std::vector<std::string> first(added->begin(), added->begin() + 3);
  std::sort(first.begin(), first.end());
  EXPECT_EQ(warming, first);
}

TEST_F(AgentManagerTest, WarmUpFailureGoesToError) {
  auto warm_up = [](const AgentInfo& info) {
    if (info.id == "agent-2") {
      return Status(ErrorCode::kNotFound, "model \"llama3.1:8b\" not found: pull it first");
    }
    return Status::ok();
  };
  make_manager(default_settings(), warm_up);
  ASSERT_TRUE(manager->add_agents(4, {}, "test").is_ok());

  // agent-4 starts once agent-1 is ready, so it may be ready before agent-2's warm-up fails.
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 3));
  ASSERT_TRUE(wait_for_state(AgentState::kError, 1));
  EXPECT_EQ(count(AgentState::kError), 1);
  EXPECT_EQ(manager->capacity(), 3);
  EXPECT_EQ(manager->stats().creation_failures, 1);
  const auto failed = manager->find_agent("agent-2");
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->state, AgentState::kError);
  EXPECT_NE(failed->error.find("not found: pull it first"), std::string::npos) << failed->error;
}

TEST_F(AgentManagerTest, WarmUpThrowingGoesToError) {
  make_manager(default_settings(),
               [](const AgentInfo&) -> Status { throw std::runtime_error("socket closed"); });
  ASSERT_TRUE(manager->add_agents(1, {}, "test").is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kError, 1));
  const std::vector<AgentInfo> agents = manager->agents();
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_NE(agents[0].error.find("socket closed"), std::string::npos) << agents[0].error;
}

TEST_F(AgentManagerTest, WarmUpTimeoutGoesToError) {
  make_manager(default_settings(), gated_warm_up());
  ASSERT_TRUE(manager->add_agents(4, {}, "test").is_ok());
  ASSERT_TRUE(warm_up_gate.wait_for_waiting(3));

  clock->advance(seconds(300) - nanoseconds(1));
  manager->tick();
  EXPECT_EQ(count(AgentState::kInitializing), 3);
  EXPECT_EQ(count(AgentState::kError), 0);

  clock->advance(nanoseconds(1));
  manager->tick();
  EXPECT_EQ(count(AgentState::kError), 3);
  EXPECT_EQ(manager->stats().creation_failures, 3);
  // The next batch starts once the previous one has failed.
  ASSERT_TRUE(warm_up_gate.wait_for_waiting(4));
  EXPECT_EQ(count(AgentState::kInitializing), 1);

  // A warm-up that returns after its timeout does not revive the agent. stop() joins every
  // thread, so the late warm-ups have all returned before the counts are read.
  warm_up_gate.release(4);
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 1));
  manager->stop(false);
  EXPECT_EQ(count(AgentState::kError), 3);
  EXPECT_EQ(count(AgentState::kTerminated), 1);
  const auto timed_out = manager->find_agent("agent-1");
  ASSERT_TRUE(timed_out.has_value());
  EXPECT_NE(timed_out->error.find("timed out after 300 s"), std::string::npos) << timed_out->error;
}

TEST_F(AgentManagerTest, CapacityCountsStartingAgents) {
  make_manager(default_settings(), gated_warm_up());
  ASSERT_TRUE(manager->add_agents(5, {}, "test").is_ok());
  EXPECT_EQ(manager->capacity(), 5);

  auto same = manager->scale_to(5, "steady");
  ASSERT_TRUE(same.is_ok());
  EXPECT_TRUE(same->added.empty());
  EXPECT_TRUE(same->removed.empty());
  EXPECT_EQ(same->from, 5);
  EXPECT_EQ(same->to, 5);

  auto more = manager->scale_to(6, "burst");
  ASSERT_TRUE(more.is_ok());
  EXPECT_EQ(more->added.size(), 1u);
  EXPECT_EQ(more->to, 6);
  EXPECT_EQ(manager->stats().created, 6);
}

TEST_F(AgentManagerTest, ScaleToClampsToLimits) {
  make_manager(default_settings());
  auto high = manager->scale_to(100, "surge");
  ASSERT_TRUE(high.is_ok());
  EXPECT_EQ(high->requested, 100);
  EXPECT_EQ(high->target, 8);
  EXPECT_EQ(high->to, 8);
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 8));

  auto low = manager->scale_to(0, "quiet");
  ASSERT_TRUE(low.is_ok());
  EXPECT_EQ(low->target, 1);
  EXPECT_EQ(low->to, 1);
  EXPECT_EQ(low->removed.size(), 7u);
  EXPECT_EQ(manager->capacity(), 1);
}

TEST_F(AgentManagerTest, ScaleToRejectsNegativeTarget) {
  make_manager(default_settings());
  auto result = manager->scale_to(-1, "bad");
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("-1"), std::string::npos);
}

TEST_F(AgentManagerTest, AddAgentsStopsAtMaxAgents) {
  make_manager(default_settings());
  auto first = manager->add_agents(7, {}, "test");
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->size(), 7u);
  auto second = manager->add_agents(3, {}, "test");
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(second->size(), 1u);
  EXPECT_EQ(manager->capacity(), 8);
}

TEST_F(AgentManagerTest, DrainingAgentsCountAgainstMax) {
  ManagerSettings settings = default_settings();
  settings.limits.min_agents = 0;
  settings.limits.max_agents = 2;
  make_manager(settings);
  ASSERT_TRUE(manager->add_agents(2, {}, "test").is_ok());
  push_blocking("a");
  push_blocking("b");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 2));
  ASSERT_TRUE(manager->remove_agents(2, "quiet").is_ok());
  EXPECT_EQ(count(AgentState::kDraining), 2);

  // Both agents still hold tasks, so explicit roles (which never revoke) find no room.
  auto added = manager->add_agents(1, {"analyst"}, "test");
  ASSERT_TRUE(added.is_ok());
  EXPECT_TRUE(added->empty());
}

TEST_F(AgentManagerTest, ScaleUpRevokesDraining) {
  ManagerSettings settings = default_settings();
  settings.limits.min_agents = 0;
  make_manager(settings);
  ASSERT_TRUE(manager->add_agents(1, {}, "test").is_ok());
  push_blocking("a");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 1));
  const std::string busy = ids_in(AgentState::kBusy).at(0);
  ASSERT_TRUE(manager->scale_to(0, "quiet").is_ok());
  EXPECT_EQ(count(AgentState::kDraining), 1);
  EXPECT_EQ(manager->capacity(), 0);

  auto grown = manager->scale_to(1, "burst");
  ASSERT_TRUE(grown.is_ok());
  ASSERT_EQ(grown->added.size(), 1u);
  EXPECT_EQ(grown->added[0], busy);
  EXPECT_EQ(count(AgentState::kBusy), 1);
  EXPECT_EQ(manager->stats().created, 1);

  // The revoked agent survives its old drain deadline and finishes the task.
  clock->advance(seconds(31));
  manager->tick();
  task_gate.release(1);
  ASSERT_TRUE(wait_for_state(AgentState::kIdle, 1));
  EXPECT_EQ(manager->stats().tasks_completed, 1);
  EXPECT_EQ(manager->stats().tasks_requeued, 0);
}

TEST_F(AgentManagerTest, StartCreatesFixedPool) {
  make_manager(default_settings());
  auto started = manager->start(4);
  ASSERT_TRUE(started.is_ok()) << started.status().to_string();
  EXPECT_EQ(started->size(), 4u);
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 4));

  // Nothing scales on its own: ticks with an empty queue keep the pool.
  for (int i = 0; i < 5; ++i) {
    clock->advance(seconds(60));
    manager->tick();
  }
  EXPECT_EQ(manager->capacity(), 4);
}

TEST_F(AgentManagerTest, StartRejectsCountOutsideLimits) {
  make_manager(default_settings());
  auto above = manager->start(9);
  ASSERT_FALSE(above.is_ok());
  EXPECT_EQ(above.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(above.status().message().find("9"), std::string::npos);
  EXPECT_NE(above.status().message().find("max_agents 8"), std::string::npos);

  auto below = manager->start(0);
  ASSERT_FALSE(below.is_ok());
  EXPECT_EQ(below.status().code(), ErrorCode::kInvalidArgument);

  EXPECT_TRUE(manager->start(8).is_ok());
}

TEST_F(AgentManagerTest, StartTwiceIsConflict) {
  make_manager(default_settings());
  ASSERT_TRUE(manager->start(2).is_ok());
  auto again = manager->start(2);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), ErrorCode::kConflict);
}

TEST_F(AgentManagerTest, NewAgentRolesFollowQueue) {
  make_manager(default_settings(), gated_warm_up());
  push("t1", "analyst");
  push("t2", "analyst");
  push("t3", "analyst");
  push("t4", "developer");
  auto added = manager->add_agents(4, {}, "test");
  ASSERT_TRUE(added.is_ok());
  const std::vector<std::string> expected = {"agent-1", "agent-2", "agent-3", "agent-4"};
  EXPECT_EQ(*added, expected);
  const std::vector<std::string> expected_roles = {"analyst", "analyst", "analyst", "developer"};
  EXPECT_EQ(roles_of(*added), expected_roles);

  // Every queued role now has one agent per task; the tie goes to the role with more tasks.
  auto more = manager->add_agents(2, {}, "test");
  ASSERT_TRUE(more.is_ok());
  const std::vector<std::string> expected_more = {"agent-5", "agent-6"};
  EXPECT_EQ(*more, expected_more);
  const std::vector<std::string> expected_more_roles = {"analyst", "developer"};
  EXPECT_EQ(roles_of(*more), expected_more_roles);
}

TEST_F(AgentManagerTest, NewAgentsTakeDefaultRoleOnEmptyQueue) {
  ManagerSettings settings = default_settings();
  settings.default_role = "it_architect";
  settings.role_models = {{"it_architect", "qwen2.5-coder:7b"}};
  make_manager(settings);
  auto added = manager->add_agents(2, {}, "test");
  ASSERT_TRUE(added.is_ok());
  const std::vector<std::string> expected = {"agent-1", "agent-2"};
  EXPECT_EQ(*added, expected);
  const auto info = manager->find_agent("agent-1");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->role, "it_architect");
  EXPECT_EQ(info->model, "qwen2.5-coder:7b");
}

TEST_F(AgentManagerTest, ExplicitRolesAreCycled) {
  make_manager(default_settings());
  auto added = manager->add_agents(3, {"analyst", "security_specialist"}, "test");
  ASSERT_TRUE(added.is_ok());
  const std::vector<std::string> expected_roles = {"analyst", "security_specialist", "analyst"};
  EXPECT_EQ(roles_of(*added), expected_roles);
  EXPECT_EQ(manager->find_agent("agent-1")->model, "llama3.1:8b");
}

TEST_F(AgentManagerTest, AddAgentsRejectsInvalidRole) {
  make_manager(default_settings());
  auto added = manager->add_agents(1, {"../../etc"}, "test");
  ASSERT_FALSE(added.is_ok());
  EXPECT_EQ(added.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(added.status().message().find("../../etc"), std::string::npos);
  EXPECT_EQ(manager->capacity(), 0);
}

TEST_F(AgentManagerTest, AddAgentsRejectsNegativeCount) {
  make_manager(default_settings());
  auto added = manager->add_agents(-2, {}, "test");
  ASSERT_FALSE(added.is_ok());
  EXPECT_EQ(added.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(AgentManagerTest, CreateRejectsInvalidSettings) {
  struct Case {
    const char* name;
    std::function<void(ManagerSettings&)> change;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"min above max", [](ManagerSettings& s) { s.limits.min_agents = 9; },
       "min_agents 9 is above max_agents 8"},
      {"negative min", [](ManagerSettings& s) { s.limits.min_agents = -1; }, "min_agents -1"},
      {"zero max", [](ManagerSettings& s) { s.limits.max_agents = 0; }, "max_agents 0"},
      {"zero batch", [](ManagerSettings& s) { s.limits.batch_creation_size = 0; },
       "batch_creation_size 0"},
      {"negative drain", [](ManagerSettings& s) { s.limits.graceful_shutdown_timeout = -1; },
       "graceful_shutdown_timeout -1"},
      {"zero warm-up", [](ManagerSettings& s) { s.limits.agent_timeout_seconds = 0; },
       "agent_timeout_seconds 0"},
      {"NaN idle", [](ManagerSettings& s) { s.limits.idle_timeout_seconds = std::nan(""); },
       "idle_timeout_seconds nan"},
      {"zero poll", [](ManagerSettings& s) { s.poll_interval = Duration::zero(); },
       "poll interval"},
      {"bad role", [](ManagerSettings& s) { s.default_role = "Data Scientist"; },
       "\"Data Scientist\""},
  };
  for (const Case& test_case : cases) {
    ManagerSettings settings = default_settings();
    test_case.change(settings);
    auto created = AgentManager::create(clock, settings, queue, executor(), {}, nullptr);
    ASSERT_FALSE(created.is_ok()) << test_case.name;
    EXPECT_EQ(created.status().code(), ErrorCode::kInvalidArgument) << test_case.name;
    EXPECT_NE(created.status().message().find(test_case.message), std::string::npos)
        << test_case.name << ": " << created.status().message();
  }
}

TEST_F(AgentManagerTest, CreateRejectsMissingExecutor) {
  auto created = AgentManager::create(clock, default_settings(), queue, {}, {}, nullptr);
  ASSERT_FALSE(created.is_ok());
  EXPECT_EQ(created.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(created.status().message().find("executor"), std::string::npos);
}

}  // namespace
}  // namespace ollamaflow::agents::testing
