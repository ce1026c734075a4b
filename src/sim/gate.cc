#include "sim/gate.h"

#include <algorithm>
#include <tuple>

namespace ollamaflow::sim {

// Ends a thread's registration when the thread exits, after the agent manager's last call on
// it, so that the driver waits for exiting threads too.
struct ThreadRegistration {
  Gate* gate = nullptr;
  Waiter* waiter = nullptr;

  ~ThreadRegistration() {
    if (gate != nullptr) {
      gate->unregister(waiter);
    }
  }
};

namespace {
thread_local ThreadRegistration registration;
}  // namespace

Waiter& Gate::register_current(const std::string& agent_id) {
  if (registration.gate == this) {
    return *registration.waiter;
  }
  waiters_.push_back(std::make_unique<Waiter>());
  Waiter& waiter = *waiters_.back();
  waiter.agent_id = agent_id;
  registration.gate = this;
  registration.waiter = &waiter;
  alive_ids_.insert(agent_id);
  ++alive_;
  ++generation_;
  quiet_.notify_all();
  return waiter;
}

Waiter* Gate::current() {
  return registration.waiter;
}

void Gate::unregister(Waiter* waiter) {
  std::lock_guard lock(mutex_);
  alive_ids_.erase(waiter->agent_id);
  --alive_;
  ++generation_;
  quiet_.notify_all();
}

Wake Gate::park(std::unique_lock<std::mutex>& lock, Waiter& waiter, Waiter::Kind kind, double now) {
  if (shutdown_) {
    return Wake::kShutdown;
  }
  waiter.kind = kind;
  waiter.parked = true;
  waiter.parked_at = now;
  waiter.wake = Wake::kNone;
  ++parked_;
  ++generation_;
  quiet_.notify_all();
  waiter.wakeup.wait(lock, [&] { return !waiter.parked; });
  return waiter.wake;
}

Wake Gate::park_until(std::unique_lock<std::mutex>& lock, Waiter& waiter, double wake_at,
                      double now) {
  if (shutdown_) {
    return Wake::kShutdown;
  }
  waiter.wake_at = wake_at;
  timers_.insert({wake_at, waiter.agent_id, &waiter});
  return park(lock, waiter, Waiter::Kind::kTimer, now);
}

void Gate::release(Waiter& waiter, Wake wake) {
  if (!waiter.parked) {
    return;
  }
  if (waiter.kind == Waiter::Kind::kTimer) {
    timers_.erase({waiter.wake_at, waiter.agent_id, &waiter});
  }
  waiter.parked = false;
  waiter.wake = wake;
  --parked_;
  ++generation_;
  waiter.wakeup.notify_one();
}

std::optional<double> Gate::next_timer() const {
  if (timers_.empty()) {
    return std::nullopt;
  }
  return std::get<0>(*timers_.begin());
}

void Gate::release_next_timer() {
  if (!timers_.empty()) {
    release(*std::get<2>(*timers_.begin()), Wake::kDone);
  }
}

Waiter* Gate::first_popper() {
  Waiter* best = nullptr;
  for (const auto& waiter : waiters_) {
    if (!waiter->parked || waiter->kind != Waiter::Kind::kPop) {
      continue;
    }
    if (best == nullptr ||
        std::tie(waiter->parked_at, waiter->agent_id) < std::tie(best->parked_at, best->agent_id)) {
      best = waiter.get();
    }
  }
  return best;
}

std::vector<Waiter*> Gate::parked_executors() const {
  std::vector<Waiter*> found;
  for (const auto& waiter : waiters_) {
    if (waiter->parked && waiter->kind == Waiter::Kind::kExecute) {
      found.push_back(waiter.get());
    }
  }
  return found;
}

Waiter* Gate::find_parked(const std::string& agent_id, Waiter::Kind kind) {
  for (const auto& waiter : waiters_) {
    if (waiter->parked && waiter->kind == kind && waiter->agent_id == agent_id) {
      return waiter.get();
    }
  }
  return nullptr;
}

void Gate::wait_quiet(const std::function<bool(const std::set<std::string>&)>& all_registered) {
  std::unique_lock lock(mutex_);
  for (;;) {
    quiet_.wait(lock, [&] { return parked_ == alive_; });
    if (!check_launches_) {
      return;
    }
    const uint64_t generation = generation_;
    const std::set<std::string> ids = alive_ids_;
    lock.unlock();
    const bool registered = all_registered(ids);
    lock.lock();
    if (generation != generation_) {
      continue;
    }
    if (registered) {
      check_launches_ = false;
      return;
    }
    // A new agent thread is on its way to its warm-up; its registration changes the generation.
    quiet_.wait(lock, [&] { return generation_ != generation; });
  }
}

void Gate::expect_launches() {
  std::lock_guard lock(mutex_);
  check_launches_ = true;
}

void Gate::shutdown() {
  std::lock_guard lock(mutex_);
  shutdown_ = true;
  for (const auto& waiter : waiters_) {
    release(*waiter, Wake::kShutdown);
  }
}

bool Gate::is_shutdown() const {
  std::lock_guard lock(mutex_);
  return shutdown_;
}

int Gate::parked() const {
  std::lock_guard lock(mutex_);
  return parked_;
}

int Gate::alive() const {
  std::lock_guard lock(mutex_);
  return alive_;
}

bool SimQueue::add_locked(queue::Task task, bool front) {
  if (discarding_) {
    return true;
  }
  if (closed_) {
    return false;
  }
  if (Waiter* popper = gate_.first_popper()) {
    popper->task = std::move(task);
    gate_.release(*popper, Wake::kTask);
    return true;
  }
  if (front) {
    tasks_.push_front(std::move(task));
  } else {
    tasks_.push_back(std::move(task));
  }
  return true;
}

bool SimQueue::push(queue::Task task) {
  std::lock_guard lock(gate_.mutex());
  return add_locked(std::move(task), /*front=*/false);
}

bool SimQueue::requeue_front(queue::Task task) {
  std::lock_guard lock(gate_.mutex());
  return add_locked(std::move(task), /*front=*/true);
}

std::optional<queue::Task> SimQueue::pop_locked(const std::string& role) {
  if (tasks_.empty()) {
    return std::nullopt;
  }
  auto found = std::find_if(tasks_.begin(), tasks_.end(),
                            [&](const queue::Task& task) { return task.role == role; });
  if (role.empty() || found == tasks_.end()) {
    found = tasks_.begin();
  }
  queue::Task task = std::move(*found);
  tasks_.erase(found);
  return task;
}

std::optional<queue::Task> SimQueue::try_pop(const std::string& role) {
  std::lock_guard lock(gate_.mutex());
  return pop_locked(role);
}

std::optional<queue::Task> SimQueue::pop_wait(Duration /*timeout*/, const std::string& role) {
  std::unique_lock lock(gate_.mutex());
  if (std::optional<queue::Task> task = pop_locked(role)) {
    return task;
  }
  Waiter* waiter = Gate::current();
  if (closed_ || waiter == nullptr) {
    return std::nullopt;
  }
  const double now = now_();
  gate_.park(lock, *waiter, Waiter::Kind::kPop, now);
  std::optional<queue::Task> task = std::move(waiter->task);
  waiter->task.reset();
  return task;
}

size_t SimQueue::size() const {
  std::lock_guard lock(gate_.mutex());
  return tasks_.size();
}

std::map<std::string, int> SimQueue::roles_waiting() const {
  std::lock_guard lock(gate_.mutex());
  std::map<std::string, int> counts;
  for (const queue::Task& task : tasks_) {
    ++counts[task.role];
  }
  return counts;
}

void SimQueue::close() {
  std::lock_guard lock(gate_.mutex());
  closed_ = true;
}

void SimQueue::discard() {
  std::lock_guard lock(gate_.mutex());
  closed_ = true;
  discarding_ = true;
  tasks_.clear();
}

bool SimQueue::closed() const {
  std::lock_guard lock(gate_.mutex());
  return closed_;
}

}  // namespace ollamaflow::sim
