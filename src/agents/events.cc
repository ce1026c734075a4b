#include "agents/events.h"

#include <exception>
#include <functional>
#include <string>
#include <utility>

#include "core/log.h"

namespace ollamaflow::agents {

EventDispatcher::EventDispatcher(std::shared_ptr<AgentObserver> observer)
    : observer_(std::move(observer)), callbacks_(std::make_shared<CallbackMap>()) {}

void EventDispatcher::add_lifecycle_callback(AgentState state, LifecycleCallback callback) {
  std::lock_guard lock(mutex_);
  auto updated = std::make_shared<CallbackMap>(*callbacks_);
  (*updated)[state].push_back(std::move(callback));
  callbacks_ = std::move(updated);
}

void EventDispatcher::post(AgentEvent event) {
  std::lock_guard lock(mutex_);
  pending_.push_back(std::move(event));
}

void EventDispatcher::deliver() {
  std::unique_lock lock(mutex_);
  if (delivering_ || pending_.empty()) {
    return;
  }
  delivering_ = true;
  delivering_thread_ = std::this_thread::get_id();
  std::vector<AgentEvent> batch;
  while (!pending_.empty()) {
    batch.swap(pending_);
    const std::shared_ptr<const CallbackMap> callbacks = callbacks_;
    lock.unlock();
    for (const AgentEvent& event : batch) {
      dispatch(event, *callbacks);
    }
    batch.clear();
    lock.lock();
  }
  delivering_ = false;
  delivering_thread_ = std::thread::id();
  idle_.notify_all();
}

void EventDispatcher::deliver_all() {
  deliver();
  std::unique_lock lock(mutex_);
  if (delivering_ && delivering_thread_ == std::this_thread::get_id()) {
    return;
  }
  idle_.wait(lock, [&] { return !delivering_ && pending_.empty(); });
}

int64_t EventDispatcher::callback_errors() const {
  std::lock_guard lock(mutex_);
  return callback_errors_;
}

void EventDispatcher::dispatch(const AgentEvent& event, const CallbackMap& callbacks) {
  run_guarded(event, [&] { dispatch_to_observer(event); });
  if (event.kind != AgentEvent::Kind::kStateChanged) {
    return;
  }
  const auto entry = callbacks.find(event.agent.state);
  if (entry == callbacks.end()) {
    return;
  }
  for (const LifecycleCallback& callback : entry->second) {
    run_guarded(event, [&] { callback(event.agent); });
  }
}

void EventDispatcher::run_guarded(const AgentEvent& event, const std::function<void()>& call) {
  std::string failure;
  try {
    call();
    return;
  } catch (const std::exception& error) {
    failure = error.what();
  } catch (...) {
    failure = "unknown exception";
  }
  {
    std::lock_guard lock(mutex_);
    ++callback_errors_;
  }
  get_logger("agents")->warn("agent event callback failed: agent={} state={} error={}",
                             event.agent.id, agent_state_name(event.agent.state), failure);
}

void EventDispatcher::dispatch_to_observer(const AgentEvent& event) {
  if (!observer_) {
    return;
  }
  switch (event.kind) {
    case AgentEvent::Kind::kStateChanged:
      observer_->on_state_changed(event.agent, event.from);
      break;
    case AgentEvent::Kind::kTaskStarted:
      observer_->on_task_started(event.agent, *event.task, event.wait);
      break;
    case AgentEvent::Kind::kTaskFinished:
      observer_->on_task_finished(event.agent, *event.task, event.outcome, event.duration);
      break;
    case AgentEvent::Kind::kTaskRequeued:
      observer_->on_task_requeued(event.agent, *event.task, event.requeue);
      break;
  }
}

}  // namespace ollamaflow::agents
