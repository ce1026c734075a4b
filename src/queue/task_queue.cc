#include "queue/task_queue.h"

#include <algorithm>

namespace ollamaflow::queue {

bool MemoryTaskQueue::push(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      return false;
    }
    tasks_.push_back(std::move(task));
  }
  available_.notify_one();
  return true;
}

bool MemoryTaskQueue::requeue_front(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      return false;
    }
    tasks_.push_front(std::move(task));
  }
  available_.notify_one();
  return true;
}

std::optional<Task> MemoryTaskQueue::pop_locked(const std::string& role) {
  if (tasks_.empty()) {
    return std::nullopt;
  }
  auto it = tasks_.begin();
  if (!role.empty()) {
    auto match = std::find_if(tasks_.begin(), tasks_.end(),
                              [&](const Task& task) { return task.role == role; });
    if (match != tasks_.end()) {
      it = match;
    }
  }
  Task task = std::move(*it);
  tasks_.erase(it);
  return task;
}

std::optional<Task> MemoryTaskQueue::try_pop(const std::string& role) {
  std::lock_guard lock(mutex_);
  return pop_locked(role);
}

std::optional<Task> MemoryTaskQueue::pop_wait(Duration timeout, const std::string& role) {
  std::unique_lock lock(mutex_);
  available_.wait_for(lock, timeout, [&] { return !tasks_.empty() || closed_; });
  return pop_locked(role);
}

size_t MemoryTaskQueue::size() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

std::map<std::string, int> MemoryTaskQueue::roles_waiting() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, int> counts;
  for (const Task& task : tasks_) {
    ++counts[task.role];
  }
  return counts;
}

void MemoryTaskQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  available_.notify_all();
}

bool MemoryTaskQueue::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

}  // namespace ollamaflow::queue
