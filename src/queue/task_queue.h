// The task queue between the scheduler and the agents. The in-process queue is the embedded
// default; a distributed queue implements the same interface.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.h"

namespace ollamaflow::queue {

// One unit of work: a subtask of a plan, or a request submitted through the API.
struct Task {
  std::string id;
  std::string run_id;
  std::string role;  // the agent role that should take it
  nlohmann::json payload;
  int attempt = 0;  // how many times it was handed to an agent before
  MonoTime enqueued_at{};
};

// Thread-safe: every method may be called from any thread.
class TaskQueue {
 public:
  virtual ~TaskQueue() = default;

  // Appends a task. Returns false when the queue is closed.
  virtual bool push(Task task) = 0;
  // Puts a task back at the front, e.g. one returned by an agent that was drained.
  virtual bool requeue_front(Task task) = 0;
  // Removes and returns the oldest task, preferring `role` when not empty; nullopt when empty.
  virtual std::optional<Task> try_pop(const std::string& role = "") = 0;
  // Like try_pop, but waits up to `timeout` of real time for a task or close().
  virtual std::optional<Task> pop_wait(Duration timeout, const std::string& role = "") = 0;
  virtual size_t size() const = 0;
  // Returns the number of queued tasks per role.
  virtual std::map<std::string, int> roles_waiting() const = 0;
  // Wakes all waiters; later pushes fail and pops drain what is left.
  virtual void close() = 0;
  virtual bool closed() const = 0;
};

class MemoryTaskQueue final : public TaskQueue {
 public:
  bool push(Task task) override;
  bool requeue_front(Task task) override;
  std::optional<Task> try_pop(const std::string& role = "") override;
  std::optional<Task> pop_wait(Duration timeout, const std::string& role = "") override;
  size_t size() const override;
  std::map<std::string, int> roles_waiting() const override;
  void close() override;
  bool closed() const override;

 private:
  std::optional<Task> pop_locked(const std::string& role);

  mutable std::mutex mutex_;
  std::condition_variable available_;
  // Guarded by mutex_.
  std::deque<Task> tasks_;
  bool closed_ = false;
};

}  // namespace ollamaflow::queue
