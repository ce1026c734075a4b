#include "workload/queueing.h"

#include <gtest/gtest.h>

namespace ollamaflow::workload {
namespace {

TEST(ErlangCTest, SingleServerEqualsUtilization) {
  // M/M/1: the probability of waiting is the utilization.
  EXPECT_NEAR(erlang_c(1, 0.5), 0.5, 1e-12);
}

TEST(ErlangCTest, TwoServersOneErlang) {
  // C(2, 1) = (1/2 * 2) / (1 + 1 + 1) = 1/3.
  EXPECT_NEAR(erlang_c(2, 1.0), 1.0 / 3.0, 1e-12);
}

TEST(ErlangCTest, OverloadedPoolAlwaysWaits) {
  EXPECT_EQ(erlang_c(3, 3.0), 1.0);
  EXPECT_EQ(erlang_c(3, 4.5), 1.0);
}

TEST(ErlangCTest, NoLoadNeverWaits) {
  EXPECT_EQ(erlang_c(1, 0.0), 0.0);
}

TEST(MeanWaitTest, SingleServerFormula) {
  // M/M/1 with lambda 0.5/s and E[S] 1 s: Wq = rho / (mu - lambda) = 0.5 / 0.5 = 1 s.
  const std::optional<double> wait = mean_wait_s(1, 0.5, 1.0);
  ASSERT_TRUE(wait.has_value());
  EXPECT_NEAR(*wait, 1.0, 1e-12);
}

TEST(MeanWaitTest, UnstablePoolHasNoMean) {
  EXPECT_FALSE(mean_wait_s(2, 1.0, 2.0).has_value());
}

TEST(WaitExceedProbabilityTest, DecaysWithWait) {
  const double at_zero = wait_exceed_probability(4, 0.2, 15, 0);
  const double at_five = wait_exceed_probability(4, 0.2, 15, 5);
  EXPECT_NEAR(at_zero, erlang_c(4, 3.0), 1e-12);
  EXPECT_LT(at_five, at_zero);
}

// Sizes for E[S] = 15 s and a p95 wait target, computed with the formulas in queueing.h.
struct SizeCase {
  double arrival_rate;
  double wait_target_s;
  int expected;
};

TEST(AgentsForWaitTargetTest, MatchesWorkedSizes) {
  const SizeCase cases[] = {
      {0.2, 5, 6},   {0.5, 5, 12}, {1.0, 5, 20}, {2.0, 5, 36}, {4.0, 5, 66},
      {0.2, 0, 7},   {1.0, 0, 23}, {4.0, 0, 75}, {0.2, 15, 5}, {1.0, 15, 18},
      {2.0, 15, 33}, {0.5, 1, 13}, {2.0, 1, 39},
  };
  for (const SizeCase& size : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "lambda " << size.arrival_rate << " W " << size.wait_target_s);
    const std::optional<int> agents =
        agents_for_wait_target(size.arrival_rate, 15, size.wait_target_s, 0.95, 1000);
    ASSERT_TRUE(agents.has_value());
    EXPECT_EQ(*agents, size.expected);
  }
}

TEST(AgentsForWaitTargetTest, ResultMeetsTargetAndOneLessMisses) {
  const std::optional<int> agents = agents_for_wait_target(1.0, 15, 5, 0.95, 1000);
  ASSERT_TRUE(agents.has_value());
  EXPECT_LE(wait_exceed_probability(*agents, 1.0, 15, 5), 0.05);
  EXPECT_GT(wait_exceed_probability(*agents - 1, 1.0, 15, 5), 0.05);
}

TEST(AgentsForWaitTargetTest, ZeroRateNeedsNoAgents) {
  EXPECT_EQ(agents_for_wait_target(0, 15, 5, 0.95, 10), 0);
}

TEST(AgentsForWaitTargetTest, LimitTooSmallReturnsNullopt) {
  EXPECT_FALSE(agents_for_wait_target(4.0, 15, 5, 0.95, 65).has_value());
  EXPECT_EQ(agents_for_wait_target(4.0, 15, 5, 0.95, 66), 66);
}

TEST(AgentsForWaitTargetTest, InvalidInputReturnsNullopt) {
  EXPECT_FALSE(agents_for_wait_target(-1, 15, 5, 0.95, 10).has_value());
  EXPECT_FALSE(agents_for_wait_target(1, 0, 5, 0.95, 10).has_value());
  EXPECT_FALSE(agents_for_wait_target(1, 15, -1, 0.95, 10).has_value());
  EXPECT_FALSE(agents_for_wait_target(1, 15, 5, 1.0, 10).has_value());
  EXPECT_FALSE(agents_for_wait_target(1, 15, 5, 0.95, 0).has_value());
}

}  // namespace
}  // namespace ollamaflow::workload
