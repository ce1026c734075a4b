// Delivery of agent events to the observer and the lifecycle callbacks, in the order in which
// the manager posted them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agents/agent_info.h"

namespace ollamaflow::agents {

struct AgentEvent {
  enum class Kind { kStateChanged, kTaskStarted, kTaskFinished, kTaskRequeued };

  Kind kind = Kind::kStateChanged;
  AgentInfo agent;                          // the agent after the event
  AgentState from = AgentState::kCreating;  // kStateChanged only
  std::shared_ptr<const queue::Task> task;  // task events only
  Duration wait{};                          // kTaskStarted only
  Duration duration{};                      // kTaskFinished only
  TaskOutcome outcome;                      // kTaskFinished only
  TaskRequeue requeue;                      // kTaskRequeued only
};

// Thread-safe. post() only appends, so the manager calls it while holding its own lock, which
// fixes the order. deliver() runs the observer and callbacks with no lock held. The first thread
// that calls it delivers every posted event until none is left. A thread that finds a delivery
// running returns at once and leaves its events to that thread. So callbacks run one at a time,
// and a callback that calls back into the manager does not deadlock.
class EventDispatcher {
 public:
  explicit EventDispatcher(std::shared_ptr<AgentObserver> observer);

  void add_lifecycle_callback(AgentState state, LifecycleCallback callback);
  void post(AgentEvent event);
  void deliver();
  // Delivers what is pending and waits for another thread's delivery to finish, unless the
  // caller is the delivering thread itself.
  void deliver_all();

  // Callbacks and observer calls that threw; each is logged and skipped.
  int64_t callback_errors() const;

 private:
  using CallbackMap = std::map<AgentState, std::vector<LifecycleCallback>>;

  void dispatch(const AgentEvent& event, const CallbackMap& callbacks);
  void dispatch_to_observer(const AgentEvent& event);
  // Runs `call`, and logs and counts an exception that it throws.
  void run_guarded(const AgentEvent& event, const std::function<void()>& call);

  const std::shared_ptr<AgentObserver> observer_;

  mutable std::mutex mutex_;
  std::condition_variable idle_;
  // Guarded by mutex_.
  std::vector<AgentEvent> pending_;
  std::shared_ptr<const CallbackMap> callbacks_;
  bool delivering_ = false;
  std::thread::id delivering_thread_;
  int64_t callback_errors_ = 0;
};

}  // namespace ollamaflow::agents
