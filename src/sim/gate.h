// The seam between the threaded agent manager and the simulator's virtual time. Every agent
// thread blocks only in simulator code: in its warm-up, in the task executor while the simulated
// server works, and in the task queue while it has nothing to do. Each of those waits "parks"
// the thread here. The driver advances the clock only when every agent thread is parked, and
// releases one parked thread per event, so the run is deterministic although the agents are
// real threads.
//
// Thread-safe: every method locks mutex(). The driver must not call the agent manager while it
// holds mutex(), because the manager calls the queue with its own lock held.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "queue/task_queue.h"

namespace ollamaflow::sim {

// The reason a parked thread was released.
enum class Wake { kNone, kDone, kTask, kKicked, kCancelled, kShutdown };

// One agent thread's parking record. Guarded by Gate::mutex().
struct Waiter {
  enum class Kind { kTimer, kExecute, kPop };

  std::string agent_id;
  Kind kind = Kind::kTimer;
  bool parked = false;
  double wake_at = 0;                   // kTimer: virtual seconds
  uint64_t request = 0;                 // kExecute: the server request id
  const CancelToken* cancel = nullptr;  // kExecute: the task's token
  double parked_at = 0;
  std::optional<queue::Task> task;  // kPop: the task handed over
  Wake wake = Wake::kNone;
  std::condition_variable wakeup;
};

class Gate {
 public:
  std::mutex& mutex() { return mutex_; }

  // Registers the calling agent thread (on its first park, in the warm-up) and returns its
  // record. The registration ends when the thread exits. Call with mutex() held.
  Waiter& register_current(const std::string& agent_id);
  // Returns the calling thread's record, or null for a thread that never registered.
  static Waiter* current();

  // Parks the calling thread until release(). `lock` holds mutex(). Returns at once after
  // shutdown() with wake kShutdown.
  Wake park(std::unique_lock<std::mutex>& lock, Waiter& waiter, Waiter::Kind kind, double now);
  // Parks until the virtual time `wake_at`, which the driver reads from next_timer().
  Wake park_until(std::unique_lock<std::mutex>& lock, Waiter& waiter, double wake_at, double now);
  // Releases a parked thread. Call with mutex() held.
  void release(Waiter& waiter, Wake wake);

  // Driver side, mutex() held: the earliest timer, and releasing it.
  std::optional<double> next_timer() const;
  void release_next_timer();
  // Parked poppers, oldest first with the agent id as the tie-break.
  Waiter* first_popper();
  std::vector<Waiter*> parked_executors() const;
  Waiter* find_parked(const std::string& agent_id, Waiter::Kind kind);

  // Blocks the driver until every registered thread is parked and, after expect_launches(),
  // `all_registered` confirms that no new agent thread is still on its way to its first park.
  // `all_registered` is called without mutex() held, with the ids of the registered threads.
  void wait_quiet(const std::function<bool(const std::set<std::string>&)>& all_registered);
  // Marks that the last step may have started agent threads.
  void expect_launches();

  // Releases every parked thread and makes later parks return at once.
  void shutdown();
  bool is_shutdown() const;

  int parked() const;
  int alive() const;

 private:
  friend struct ThreadRegistration;
  void unregister(Waiter* waiter);

  mutable std::mutex mutex_;
  std::condition_variable quiet_;
  // Guarded by mutex_.
  std::vector<std::unique_ptr<Waiter>> waiters_;  // kept until the gate ends
  std::set<std::string> alive_ids_;
  std::set<std::tuple<double, std::string, Waiter*>> timers_;
  int alive_ = 0;
  int parked_ = 0;
  uint64_t generation_ = 0;  // changes at every park, registration and exit
  bool check_launches_ = false;
  bool shutdown_ = false;
};

// The task queue of a simulated run: the in-process queue's semantics, with pop_wait parking
// the agent thread in the gate instead of waiting on real time. A pushed task goes straight to
// the longest-parked popper.
class SimQueue final : public queue::TaskQueue {
 public:
  explicit SimQueue(Gate& gate, std::function<double()> now) : gate_(gate), now_(std::move(now)) {}

  bool push(queue::Task task) override;
  bool requeue_front(queue::Task task) override;
  std::optional<queue::Task> try_pop(const std::string& role = "") override;
  std::optional<queue::Task> pop_wait(Duration timeout, const std::string& role = "") override;
  size_t size() const override;
  std::map<std::string, int> roles_waiting() const override;
  void close() override;
  bool closed() const override;
  // Closes the queue at the end of a simulation and drops its tasks. Later pushes and requeues
  // succeed and drop the task, because the figures are final by then and the agents that
  // stop must not report the tasks they hand back as lost.
  void discard();

 private:
  bool add_locked(queue::Task task, bool front);
  std::optional<queue::Task> pop_locked(const std::string& role);

  Gate& gate_;
  std::function<double()> now_;
  // Guarded by gate_.mutex().
  std::deque<queue::Task> tasks_;
  bool closed_ = false;
  bool discarding_ = false;
};

}  // namespace ollamaflow::sim
