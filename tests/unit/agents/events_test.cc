#include "agents/events.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ollamaflow::agents {
namespace {

class RecordingObserver : public AgentObserver {
 public:
  void on_state_changed(const AgentInfo& agent, AgentState from) override {
    log.push_back(agent.id + ":" + std::string(agent_state_name(from)) + ">" +
                  std::string(agent_state_name(agent.state)));
  }
  void on_task_finished(const AgentInfo& agent, const queue::Task& task, const TaskOutcome& outcome,
                        Duration) override {
    log.push_back(agent.id + ":finished " + task.id + (outcome.ok ? " ok" : " failed"));
  }
  std::vector<std::string> log;
};

AgentEvent state_event(const std::string& id, AgentState from, AgentState to) {
  AgentEvent event;
  event.agent.id = id;
  event.agent.state = to;
  event.from = from;
  return event;
}

class EventDispatcherTest : public ::testing::Test {
 protected:
  std::shared_ptr<RecordingObserver> observer = std::make_shared<RecordingObserver>();
  EventDispatcher dispatcher{observer};
};

TEST_F(EventDispatcherTest, DeliversInPostOrder) {
  dispatcher.post(state_event("a", AgentState::kCreating, AgentState::kInitializing));
  dispatcher.post(state_event("b", AgentState::kCreating, AgentState::kInitializing));
  AgentEvent finished;
  finished.kind = AgentEvent::Kind::kTaskFinished;
  finished.agent.id = "a";
  finished.task = std::make_shared<queue::Task>(queue::Task{"t1", "run", "developer", {}, 0, {}});
  finished.outcome.ok = true;
  dispatcher.post(finished);
  EXPECT_TRUE(observer->log.empty());

  dispatcher.deliver();
  const std::vector<std::string> expected = {"a:creating>initializing", "b:creating>initializing",
                                             "a:finished t1 ok"};
  EXPECT_EQ(observer->log, expected);
}

TEST_F(EventDispatcherTest, CallbacksRunForEnteredState) {
  std::vector<std::string> ready;
  dispatcher.add_lifecycle_callback(AgentState::kActive,
                                    [&](const AgentInfo& info) { ready.push_back(info.id); });
  dispatcher.post(state_event("a", AgentState::kInitializing, AgentState::kActive));
  dispatcher.post(state_event("a", AgentState::kActive, AgentState::kBusy));
  dispatcher.post(state_event("b", AgentState::kInitializing, AgentState::kActive));
  dispatcher.deliver_all();
  EXPECT_EQ(ready, (std::vector<std::string>{"a", "b"}));
}

TEST_F(EventDispatcherTest, ThrowingCallbackDoesNotStopOthers) {
  int calls = 0;
  dispatcher.add_lifecycle_callback(AgentState::kIdle,
                                    [](const AgentInfo&) { throw std::runtime_error("boom"); });
  dispatcher.add_lifecycle_callback(AgentState::kIdle, [&](const AgentInfo&) { ++calls; });
  dispatcher.post(state_event("a", AgentState::kBusy, AgentState::kIdle));
  dispatcher.post(state_event("a", AgentState::kIdle, AgentState::kBusy));
  dispatcher.post(state_event("a", AgentState::kBusy, AgentState::kIdle));
  dispatcher.deliver();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(dispatcher.callback_errors(), 2);
  EXPECT_EQ(observer->log.size(), 3u);
}

TEST_F(EventDispatcherTest, EventPostedFromCallbackIsDelivered) {
  dispatcher.add_lifecycle_callback(AgentState::kActive, [&](const AgentInfo& info) {
    dispatcher.post(state_event(info.id, AgentState::kActive, AgentState::kBusy));
    dispatcher.deliver();  // returns at once: this thread is already delivering
  });
  dispatcher.post(state_event("a", AgentState::kInitializing, AgentState::kActive));
  dispatcher.deliver();
  const std::vector<std::string> expected = {"a:initializing>active", "a:active>busy"};
  EXPECT_EQ(observer->log, expected);
}

TEST_F(EventDispatcherTest, NullObserverStillRunsCallbacks) {
  EventDispatcher quiet(nullptr);
  int calls = 0;
  quiet.add_lifecycle_callback(AgentState::kError, [&](const AgentInfo&) { ++calls; });
  quiet.post(state_event("a", AgentState::kInitializing, AgentState::kError));
  quiet.deliver();
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace ollamaflow::agents
