#include "sim/gate.h"

#include <gtest/gtest.h>

#include <thread>

namespace ollamaflow::sim {
namespace {

class GateTest : public ::testing::Test {
 protected:
  // Waits until the threads of `ids` registered and every registered thread is parked.
  void wait_parked(const std::set<std::string>& ids) {
    gate_.expect_launches();
    gate_.wait_quiet([&](const std::set<std::string>& registered) {
      for (const std::string& id : ids) {
        if (registered.count(id) == 0) {
          return false;
        }
      }
      return true;
    });
  }

  Gate gate_;
  double now_ = 0;
  SimQueue queue_{gate_, [this] { return now_; }};
};

TEST_F(GateTest, TimerParksUntilReleased) {
  bool woke = false;
  std::thread agent([&] {
    std::unique_lock lock(gate_.mutex());
    Waiter& waiter = gate_.register_current("agent-a");
    EXPECT_EQ(gate_.park_until(lock, waiter, 10, 0), Wake::kDone);
    woke = true;
  });
  wait_parked({"agent-a"});
  {
    std::lock_guard lock(gate_.mutex());
    ASSERT_TRUE(gate_.next_timer().has_value());
    EXPECT_DOUBLE_EQ(*gate_.next_timer(), 10);
    EXPECT_FALSE(woke);
    gate_.release_next_timer();
    EXPECT_FALSE(gate_.next_timer().has_value());
  }
  agent.join();
  EXPECT_TRUE(woke);
  EXPECT_EQ(gate_.alive(), 0);
}

TEST_F(GateTest, PushHandsTaskToParkedPopper) {
  std::optional<queue::Task> got;
  std::thread agent([&] {
    {
      std::lock_guard lock(gate_.mutex());
      gate_.register_current("agent-a");
    }
    got = queue_.pop_wait(Duration::zero(), "developer");
  });
  wait_parked({"agent-a"});
  EXPECT_EQ(gate_.parked(), 1);
  queue::Task task;
  task.id = "t1";
  task.role = "developer";
  EXPECT_TRUE(queue_.push(task));
  agent.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->id, "t1");
  EXPECT_EQ(queue_.size(), 0u);
}

TEST_F(GateTest, LongestParkedPopperGoesFirst) {
  std::vector<std::string> order;
  auto popper = [&](const std::string& id) {
    {
      std::lock_guard lock(gate_.mutex());
      gate_.register_current(id);
    }
    std::optional<queue::Task> task = queue_.pop_wait(Duration::zero());
    std::lock_guard lock(gate_.mutex());
    order.push_back(id + ":" + (task ? task->id : "none"));
  };
  now_ = 1;
  std::thread b(popper, "agent-b");
  wait_parked({"agent-b"});
  now_ = 2;
  std::thread a(popper, "agent-a");
  wait_parked({"agent-a", "agent-b"});
  queue::Task task;
  task.id = "t1";
  queue_.push(task);
  b.join();
  EXPECT_EQ(order, std::vector<std::string>{"agent-b:t1"});
  task.id = "t2";
  queue_.push(task);
  a.join();
  EXPECT_EQ(order.back(), "agent-a:t2");
}

TEST_F(GateTest, QueueKeepsTasksWithoutPoppers) {
  queue::Task task;
  task.id = "t1";
  task.role = "analyst";
  queue_.push(task);
  task.id = "t0";
  queue_.requeue_front(task);
  EXPECT_EQ(queue_.size(), 2u);
  EXPECT_EQ(queue_.roles_waiting().at("analyst"), 2);
  EXPECT_EQ(queue_.try_pop()->id, "t0");
  queue_.close();
  EXPECT_FALSE(queue_.push(task));
  EXPECT_TRUE(queue_.closed());
}

TEST_F(GateTest, DiscardDropsWaitingAndReturnedTasks) {
  queue::Task task;
  task.id = "t1";
  ASSERT_TRUE(queue_.push(task));
  queue_.discard();
  EXPECT_TRUE(queue_.closed());
  EXPECT_EQ(queue_.size(), 0u);
  EXPECT_FALSE(queue_.try_pop().has_value());
  // A stopping agent hands its task back: accepted, so it is not lost, and dropped.
  EXPECT_TRUE(queue_.requeue_front(task));
  EXPECT_TRUE(queue_.push(task));
  EXPECT_EQ(queue_.size(), 0u);
}

TEST_F(GateTest, ShutdownReleasesEveryThread) {
  Wake wake = Wake::kNone;
  std::thread agent([&] {
    std::unique_lock lock(gate_.mutex());
    Waiter& waiter = gate_.register_current("agent-a");
    wake = gate_.park(lock, waiter, Waiter::Kind::kExecute, 0);
    // Parks after shutdown return at once.
    EXPECT_EQ(gate_.park(lock, waiter, Waiter::Kind::kPop, 0), Wake::kShutdown);
  });
  wait_parked({"agent-a"});
  gate_.shutdown();
  agent.join();
  EXPECT_EQ(wake, Wake::kShutdown);
  EXPECT_TRUE(gate_.is_shutdown());
}

TEST_F(GateTest, QuietWaitsForUnregisteredLaunch) {
  // The check reports a missing registration until the new thread registered.
  std::thread agent;
  gate_.expect_launches();
  int checks = 0;
  gate_.wait_quiet([&](const std::set<std::string>& registered) {
    ++checks;
    if (checks == 1) {
      agent = std::thread([&] {
        std::unique_lock lock(gate_.mutex());
        Waiter& waiter = gate_.register_current("agent-new");
        gate_.park_until(lock, waiter, 5, 0);
      });
      return false;
    }
    return registered.count("agent-new") == 1;
  });
  EXPECT_GE(checks, 2);
  EXPECT_EQ(gate_.parked(), 1);
  gate_.shutdown();
  agent.join();
}

}  // namespace
}  // namespace ollamaflow::sim
