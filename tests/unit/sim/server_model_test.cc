#include "sim/server_model.h"

#include <gtest/gtest.h>

#include <map>

namespace ollamaflow::sim {
namespace {

class SimServerTest : public ::testing::Test {
 protected:
  SimServerTest() {
    params_.gpu_total_mib = 10000;
    params_.weights_mib = 4000;
    params_.graph_mib = 500;
    params_.reserve_mib = 500;
    params_.kv_per_slot_mib = 1000;
    params_.slots = 2;
    params_.max_queue = 2;
    params_.prompt_tokens_per_s = 100;
    params_.output_tokens_per_s = 10;
    params_.slowdown_per_slot = 0.5;
  }

  ServerParams params_;
};

TEST_F(SimServerTest, SoloRequestTakesItsTokenTime) {
  SimServer server(params_);
  EXPECT_EQ(server.submit(1, 100, 10, 0), Admission::kStarted);
  ASSERT_TRUE(server.next_completion().has_value());
  EXPECT_DOUBLE_EQ(*server.next_completion(), 2.0);  // 1 s prompt + 1 s output
}

TEST_F(SimServerTest, ConcurrentRequestsSlowDown) {
  SimServer server(params_);
  server.submit(1, 100, 10, 0);
  server.submit(2, 100, 10, 0);
  // Two sequences run at 1 / (1 + 0.5) of the solo speed.
  EXPECT_DOUBLE_EQ(*server.next_completion(), 3.0);
}

TEST_F(SimServerTest, BeyondSlotsRequestsWaitInOrder) {
  SimServer server(params_);
  std::map<uint64_t, double> starts;
  server.set_start_listener([&](uint64_t id, double at) { starts[id] = at; });
  server.submit(1, 100, 10, 0);
  server.submit(2, 100, 10, 0);
  EXPECT_EQ(server.submit(3, 100, 10, 0), Admission::kQueued);
  EXPECT_EQ(server.waiting(), 1);
  EXPECT_EQ(server.complete_next(3.0), 1u);
  EXPECT_DOUBLE_EQ(starts.at(3), 3.0);
  EXPECT_EQ(server.running(), 2);
}

TEST_F(SimServerTest, FullQueueAnswers503) {
  SimServer server(params_);
  for (uint64_t id = 1; id <= 4; ++id) {
    EXPECT_NE(server.submit(id, 1, 1, 0), Admission::kRejected) << id;
  }
  EXPECT_EQ(server.submit(5, 1, 1, 0), Admission::kRejected);
  EXPECT_EQ(server.rejected(), 1);
}

TEST_F(SimServerTest, RejectAllAnswers503) {
  SimServer server(params_);
  server.set_reject_all(true);
  EXPECT_EQ(server.submit(1, 1, 1, 0), Admission::kRejected);
  server.set_reject_all(false);
  EXPECT_EQ(server.submit(2, 1, 1, 0), Admission::kStarted);
  EXPECT_EQ(server.rejected(), 1);
}

TEST_F(SimServerTest, CancelFreesTheSlot) {
  SimServer server(params_);
  server.submit(1, 100, 10, 0);
  server.submit(2, 100, 10, 0);
  server.submit(3, 100, 10, 0);
  EXPECT_TRUE(server.cancel(1, 1.0));
  EXPECT_EQ(server.running(), 2);
  EXPECT_EQ(server.waiting(), 0);
  EXPECT_TRUE(server.cancel(3, 1.0));
  EXPECT_FALSE(server.cancel(99, 1.0));
}

TEST_F(SimServerTest, MemoryFollowsRunningSequences) {
  SimServer server(params_);
  EXPECT_DOUBLE_EQ(server.used_mib(), 5000);
  server.submit(1, 1, 1, 0);
  EXPECT_DOUBLE_EQ(server.used_mib(), 6000);
}

TEST_F(SimServerTest, ForeignMemoryCausesOneOvercommit) {
  SimServer server(params_);
  server.submit(1, 100, 10, 0);
  server.set_foreign_mib(3900, 0.5);  // 6000 + 3900 fits in 10000
  EXPECT_EQ(server.overcommits(), 0);
  server.submit(2, 100, 10, 0.5);  // 7000 + 3900 does not
  EXPECT_EQ(server.overcommits(), 1);
  server.set_foreign_mib(4000, 0.6);  // still over: the same overcommit
  EXPECT_EQ(server.overcommits(), 1);
}

TEST_F(SimServerTest, SlotCeilingUsesPlannerFormula) {
  SimServer server(params_);
  // 10000 * 0.9 - 1000 buffer - 5000 resident = 3000 -> 3 slots.
  EXPECT_EQ(server.slot_ceiling(1000, 0.1), 3);
  server.set_foreign_mib(1001, 0);
  EXPECT_EQ(server.slot_ceiling(1000, 0.1), 1);
}

}  // namespace
}  // namespace ollamaflow::sim
