// AgentManager: removal order, draining, idle reaping, busy agents on an empty queue, stop().
#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "manager_fixture.h"

namespace ollamaflow::agents::testing {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST_F(AgentManagerTest, RemovesIdleAgentsFirst) {
  make_manager(settings_with_min(1));
  ASSERT_TRUE(manager->start(4).is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 4));
  push_blocking("long");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 1));
  const std::string busy = ids_in(AgentState::kBusy).at(0);

  // One agent works 10 s later than the others were ready, so it has been idle the shortest.
  clock->advance(seconds(10));
  push("quick");
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->finished.size() == 1; }));
  const std::string recent = recorder->agent_of("quick");
  ASSERT_FALSE(recent.empty());

  auto removed = manager->remove_agents(2, "quiet");
  ASSERT_TRUE(removed.is_ok());
  ASSERT_EQ(removed->size(), 2u);
  for (const std::string& id : *removed) {
    EXPECT_NE(id, busy);
    EXPECT_NE(id, recent);
    EXPECT_EQ(manager->find_agent(id)->state, AgentState::kTerminated) << id;
  }

  auto next = manager->remove_agents(1, "quiet");
  ASSERT_TRUE(next.is_ok());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ(next->at(0), recent);

  // min_agents 1 is reached: the busy agent stays.
  auto none = manager->remove_agents(1, "quiet");
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(manager->find_agent(busy)->state, AgentState::kBusy);
}

TEST_F(AgentManagerTest, RemovesUnstartedAgentsBeforeWarmingOnes) {
  make_manager(settings_with_min(0), gated_warm_up());
  auto added = manager->add_agents(5, {}, "test");
  ASSERT_TRUE(added.is_ok());
  ASSERT_TRUE(warm_up_gate.wait_for_waiting(3));

  auto removed = manager->remove_agents(3, "quiet");
  ASSERT_TRUE(removed.is_ok());
  const std::vector<std::string> expected = {"agent-5", "agent-4", "agent-3"};
  EXPECT_EQ(*removed, expected);
  EXPECT_EQ(count(AgentState::kDraining), 1);
  EXPECT_EQ(count(AgentState::kTerminated), 2);
  EXPECT_EQ(manager->capacity(), 2);

  // The draining agent ends when its warm-up returns instead of becoming ACTIVE.
  warm_up_gate.release(3);
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 2));
  ASSERT_TRUE(wait_for_state(AgentState::kTerminated, 3));
}

TEST_F(AgentManagerTest, BusyAgentDrainsAndFinishes) {
  make_manager(settings_with_min(0));
  ASSERT_TRUE(manager->start(1).is_ok());
  push_blocking("a");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 1));
  const std::string agent = ids_in(AgentState::kBusy).at(0);

  auto removed = manager->remove_agents(1, "quiet");
  ASSERT_TRUE(removed.is_ok());
  ASSERT_EQ(removed->size(), 1u);
  EXPECT_EQ(count(AgentState::kDraining), 1);
  EXPECT_EQ(manager->capacity(), 0);

  clock->advance(seconds(30) - nanoseconds(1));
  manager->tick();
  EXPECT_EQ(count(AgentState::kDraining), 1);

  task_gate.release(1);
  ASSERT_TRUE(wait_for_state(AgentState::kTerminated, 1));
  EXPECT_EQ(manager->stats().tasks_completed, 1);
  EXPECT_EQ(manager->stats().tasks_requeued, 0);
  EXPECT_EQ(queue.size(), 0u);
  const std::vector<AgentState> expected = {AgentState::kCreating, AgentState::kInitializing,
                                            AgentState::kActive,   AgentState::kBusy,
                                            AgentState::kDraining, AgentState::kTerminated};
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->states.size() == expected.size(); }));
  EXPECT_EQ(recorder->states_of(agent), expected);
}

TEST_F(AgentManagerTest, DrainTimeoutRequeuesTaskForAnotherAgent) {
  make_manager(settings_with_min(0));
  ASSERT_TRUE(manager->start(1).is_ok());
  push("a", "developer", {{"block", true}, {"block_attempts", 1}});
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 1));
  const std::string first = ids_in(AgentState::kBusy).at(0);
  ASSERT_TRUE(manager->remove_agents(1, "quiet").is_ok());

  clock->advance(seconds(30) - nanoseconds(1));
  manager->tick();
  EXPECT_EQ(count(AgentState::kDraining), 1);
  EXPECT_EQ(manager->stats().tasks_requeued, 0);

  clock->advance(nanoseconds(1));
  manager->tick();
  ASSERT_TRUE(wait_for_state(AgentState::kTerminated, 1));
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->requeued.size() == 1; }));
  const Recorder::Requeue requeue =
      recorder->read<Recorder::Requeue>([&] { return recorder->requeued[0]; });
  EXPECT_EQ(requeue.agent, first);
  EXPECT_EQ(requeue.task, "a");
  EXPECT_EQ(requeue.reason, RequeueReason::kDrainTimeout);
  EXPECT_TRUE(requeue.returned);
  EXPECT_EQ(queue.size(), 1u);

  auto added = manager->add_agents(1, {}, "replacement");
  ASSERT_TRUE(added.is_ok());
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->finished.size() == 1; }));
  const Recorder::TaskEnd end =
      recorder->read<Recorder::TaskEnd>([&] { return recorder->finished[0]; });
  EXPECT_EQ(end.task, "a");
  EXPECT_TRUE(end.ok);
  EXPECT_EQ(end.agent, added->at(0));
  EXPECT_EQ(runs_of("a"), 2);
  EXPECT_EQ(manager->stats().tasks_completed, 1);
  EXPECT_EQ(manager->stats().tasks_requeued, 1);
  EXPECT_EQ(manager->stats().tasks_lost, 0);
}

TEST_F(AgentManagerTest, ReapsIdleAgentsNotBelowMin) {
  make_manager(settings_with_min(2));
  ASSERT_TRUE(manager->start(4).is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 4));

  clock->advance(seconds(600));
  EXPECT_TRUE(manager->reap_idle().empty());
  EXPECT_EQ(manager->capacity(), 4);

  clock->advance(nanoseconds(1));
  EXPECT_EQ(manager->reap_idle().size(), 2u);
  EXPECT_EQ(manager->capacity(), 2);

  clock->advance(seconds(3600));
  EXPECT_TRUE(manager->reap_idle().empty());
  EXPECT_EQ(manager->capacity(), 2);
  EXPECT_EQ(count(AgentState::kTerminated), 2);
}

TEST_F(AgentManagerTest, ReapCountsIdleFromLastTask) {
  make_manager(settings_with_min(1));
  ASSERT_TRUE(manager->start(3).is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 3));
  clock->advance(seconds(100));
  push("quick");
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->finished.size() == 1; }));
  const std::string worker = recorder->agent_of("quick");

  // 600 s + 1 ns after the start, two agents are over idle_timeout; the worker is 500 s idle.
  clock->advance(seconds(500) + nanoseconds(1));
  manager->tick();
  EXPECT_EQ(manager->capacity(), 1);
  EXPECT_EQ(manager->find_agent(worker)->state, AgentState::kIdle);
}

TEST_F(AgentManagerTest, BusyAgentsSurviveEmptyQueueTicks) {
  make_manager(settings_with_min(1));
  ASSERT_TRUE(manager->start(3).is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 3));
  push_blocking("a");
  push_blocking("b");
  push_blocking("c");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 3));
  ASSERT_EQ(queue.size(), 0u);

  // Each tick is past idle_timeout and graceful_shutdown_timeout: busy agents are not idle.
  for (int poll = 0; poll < 10; ++poll) {
    clock->advance(seconds(601));
    manager->tick();
    EXPECT_EQ(count(AgentState::kBusy), 3) << "poll " << poll;
    EXPECT_EQ(manager->capacity(), 3) << "poll " << poll;
  }
  EXPECT_EQ(manager->stats().terminated, 0);
}

TEST_F(AgentManagerTest, IdleCountSteadyOnEmptyQueue) {
  make_manager(settings_with_min(2));
  ASSERT_TRUE(manager->start(3).is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 3));
  clock->advance(seconds(590));
  // The tasks block until all three agents hold one, so each agent works at 590 s.
  push_blocking("a");
  push_blocking("b");
  push_blocking("c");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 3));
  task_gate.release(3);
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->finished.size() == 3; }));

  // The agents are 640 s old by the last poll but idle only since their last task.
  for (int poll = 0; poll < 10; ++poll) {
    clock->advance(seconds(5));
    manager->tick();
    EXPECT_EQ(manager->capacity(), 3) << "poll " << poll;
  }
  EXPECT_EQ(manager->stats().terminated, 0);
}

TEST_F(AgentManagerTest, StopWithoutDrainRequeuesTasks) {
  make_manager(settings_with_min(1));
  ASSERT_TRUE(manager->start(2).is_ok());
  ASSERT_TRUE(wait_for_state(AgentState::kActive, 2));
  push_blocking("a");
  push_blocking("b");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 2));
  push("c");

  manager->stop(false);
  EXPECT_FALSE(manager->running());
  EXPECT_EQ(manager->capacity(), 0);
  EXPECT_EQ(count(AgentState::kTerminated), 2);
  EXPECT_EQ(manager->stats().tasks_requeued, 2);
  EXPECT_EQ(manager->stats().tasks_lost, 0);
  ASSERT_EQ(queue.size(), 3u);
  std::set<std::string> front;
  front.insert(queue.try_pop()->id);
  front.insert(queue.try_pop()->id);
  EXPECT_EQ(front, (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(queue.try_pop()->id, "c");
  const std::vector<Recorder::Requeue> requeued =
      recorder->read<std::vector<Recorder::Requeue>>([&] { return recorder->requeued; });
  ASSERT_EQ(requeued.size(), 2u);
  for (const Recorder::Requeue& requeue : requeued) {
    EXPECT_EQ(requeue.reason, RequeueReason::kShutdown) << requeue.task;
  }
}

TEST_F(AgentManagerTest, GracefulStopWaitsForTask) {
  make_manager(settings_with_min(1));
  ASSERT_TRUE(manager->start(1).is_ok());
  push_blocking("a");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 1));

  std::thread stopper([&] { manager->stop(true); });
  ASSERT_TRUE(wait_for_state(AgentState::kDraining, 1));
  task_gate.release(1);
  stopper.join();
  EXPECT_EQ(manager->stats().tasks_completed, 1);
  EXPECT_EQ(manager->stats().tasks_requeued, 0);
  EXPECT_EQ(queue.size(), 0u);
  EXPECT_EQ(count(AgentState::kTerminated), 1);
}

TEST_F(AgentManagerTest, GracefulStopPastTimeoutRequeues) {
  make_manager(settings_with_min(1));
  ASSERT_TRUE(manager->start(1).is_ok());
  push_blocking("a");
  ASSERT_TRUE(wait_for_state(AgentState::kBusy, 1));

  std::thread stopper([&] { manager->stop(true); });
  ASSERT_TRUE(wait_for_state(AgentState::kDraining, 1));
  clock->advance(seconds(30));
  stopper.join();
  EXPECT_EQ(manager->stats().tasks_completed, 0);
  EXPECT_EQ(manager->stats().tasks_requeued, 1);
  ASSERT_EQ(queue.size(), 1u);
  const auto task = queue.try_pop();
  EXPECT_EQ(task->id, "a");
  EXPECT_EQ(task->attempt, 1);
  ASSERT_TRUE(recorder->wait_until([&] { return recorder->requeued.size() == 1; }));
  EXPECT_EQ(recorder->read<RequeueReason>([&] { return recorder->requeued[0].reason; }),
            RequeueReason::kDrainTimeout);
}

TEST_F(AgentManagerTest, StopTwiceIsSafe) {
  make_manager(settings_with_min(1));
  ASSERT_TRUE(manager->start(3).is_ok());
  manager->stop(true);
  manager->stop(false);
  manager->tick();
  EXPECT_EQ(manager->capacity(), 0);
  EXPECT_EQ(count(AgentState::kTerminated), 3);
}

TEST_F(AgentManagerTest, OperationsAfterStopFail) {
  make_manager(settings_with_min(1));
  manager->stop(false);
  EXPECT_EQ(manager->start(1).status().code(), ErrorCode::kCancelled);
  EXPECT_EQ(manager->scale_to(2, "late").status().code(), ErrorCode::kCancelled);
  EXPECT_EQ(manager->add_agents(1, {}, "late").status().code(), ErrorCode::kCancelled);
  EXPECT_EQ(manager->remove_agents(1, "late").status().code(), ErrorCode::kCancelled);
  EXPECT_TRUE(manager->reap_idle().empty());
}

TEST_F(AgentManagerTest, StopWaitsForWarmUp) {
  make_manager(settings_with_min(1), gated_warm_up());
  ASSERT_TRUE(manager->start(2).is_ok());
  ASSERT_TRUE(warm_up_gate.wait_for_waiting(2));
  std::thread stopper([&] { manager->stop(false); });
  ASSERT_TRUE(wait_for_state(AgentState::kDraining, 2));
  warm_up_gate.release(2);
  stopper.join();
  EXPECT_EQ(count(AgentState::kTerminated), 2);
  EXPECT_EQ(count(AgentState::kActive), 0);
}

}  // namespace
}  // namespace ollamaflow::agents::testing
