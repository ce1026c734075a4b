#include "sim/figures.h"

#include <cmath>

#include <gtest/gtest.h>

#include "sim/policy.h"

namespace ollamaflow::sim {
namespace {

class FiguresTest : public ::testing::Test {
 protected:
  FiguresTest() {
    run_.policy = "HYBRID";
    run_.trace = "step";
    run_.duration_s = 1200;
    run_.ended_at_s = 1200;
  }

  const GoalCheck* find(const std::vector<GoalCheck>& goals, const std::string& prefix) {
    for (const GoalCheck& goal : goals) {
      if (goal.goal.rfind(prefix, 0) == 0) {
        return &goal;
      }
    }
    return nullptr;
  }

  RunResult run_;
};

TEST_F(FiguresTest, QuantileUsesNearestRank) {
  std::vector<double> values;
  for (int i = 1; i <= 100; ++i) {
    values.push_back(i);
  }
  EXPECT_DOUBLE_EQ(quantile(values, 0.95), 95);
  EXPECT_DOUBLE_EQ(quantile(values, 0.99), 99);
  EXPECT_DOUBLE_EQ(quantile(values, 0.5), 50);
  EXPECT_DOUBLE_EQ(quantile({}, 0.5), 0);
}

// Two failed tasks, one of which had started: only the one that never started is outside the
// waits, and neither is counted twice among the requests.
TEST_F(FiguresTest, FailedRequestsWithoutStartHaveNoWait) {
  run_.waits_s = {0.5, 1.0, 2.0};
  run_.failed = 2;
  run_.failed_unstarted = 1;
  const Figures figures = compute_figures(run_);
  EXPECT_EQ(figures.requests, 4);
  EXPECT_EQ(figures.wait_count, 3);
  EXPECT_DOUBLE_EQ(figures.wait_p50_s, 1.0);
  const nlohmann::json json = figures.to_json();
  EXPECT_EQ(json.at("requests"), 4);
  EXPECT_EQ(json.at("wait_count"), 3);
}

// A request that failed without starting has no wait of its own, but the wait goals count it as
// an endless wait, so that a policy whose requests fail cannot pass them on the few that ran.
TEST_F(FiguresTest, WaitGoalsCountFailedRequestsAsEndless) {
  run_.waits_s = {0.5};
  run_.failed = 361;
  run_.failed_unstarted = 361;
  const Figures figures = compute_figures(run_);
  EXPECT_DOUBLE_EQ(figures.wait_p95_s, 0.5);
  EXPECT_TRUE(std::isinf(figures.goal_wait_p95_s));
  const nlohmann::json json = figures.to_json();
  EXPECT_TRUE(json.at("goal_wait_p95_s").is_null()) << json.dump();
  for (const GoalCheck& goal : check_goals(figures, "steady", 10)) {
    if (goal.goal.find("wait <=") != std::string::npos) {
      EXPECT_FALSE(goal.met) << goal.goal;
    }
  }

  // One failed request in 200 is within the 5 % that p95 leaves out.
  run_.waits_s.assign(199, 1.0);
  run_.failed = run_.failed_unstarted = 1;
  const Figures few = compute_figures(run_);
  EXPECT_DOUBLE_EQ(few.goal_wait_p95_s, 1.0);
  EXPECT_DOUBLE_EQ(few.goal_wait_p99_s, 1.0);
}

TEST_F(FiguresTest, DirectionChangesAndGap) {
  run_.actions = {{10, 2, 4, true, "up"},
                  {20, 4, 6, true, "up"},
                  {200, 6, 5, true, "down"},
                  {290, 5, 7, true, "up"}};
  const Figures figures = compute_figures(run_);
  // Two reversals in 1200 s are 1.0 per 10 minutes; the shortest is 90 s.
  EXPECT_DOUBLE_EQ(figures.flips_per_10min, 1.0);
  ASSERT_TRUE(figures.min_dwell_s.has_value());
  EXPECT_DOUBLE_EQ(*figures.min_dwell_s, 90);
  EXPECT_EQ(figures.actions, 4);
}

TEST_F(FiguresTest, NoReversalMeansNoGap) {
  run_.actions = {{10, 2, 4, true, "up"}, {20, 4, 6, true, "up"}};
  const Figures figures = compute_figures(run_);
  EXPECT_DOUBLE_EQ(figures.flips_per_10min, 0);
  EXPECT_FALSE(figures.min_dwell_s.has_value());
}

TEST_F(FiguresTest, ReactionRunsFromOnsetToDecision) {
  run_.surges_s = {400};
  run_.unplaceable_s = {100, 400.5, 401};
  run_.late_arrivals_s = {401};
  run_.scale_up_decisions_s = {50, 401.2};
  const Figures figures = compute_figures(run_);
  ASSERT_TRUE(figures.reaction_s.has_value());
  EXPECT_NEAR(*figures.reaction_s, 0.7, 1e-9);
}

TEST_F(FiguresTest, UnansweredSurgeLastsToTheEnd) {
  run_.surges_s = {400};
  run_.unplaceable_s = {410};
  run_.late_arrivals_s = {410};
  const Figures figures = compute_figures(run_);
  ASSERT_TRUE(figures.reaction_s.has_value());
  EXPECT_DOUBLE_EQ(*figures.reaction_s, 790);
}

TEST_F(FiguresTest, SurgeWithoutWaitingHasNoReaction) {
  run_.surges_s = {400};
  run_.unplaceable_s = {600};  // more than 120 s after the surge
  run_.late_arrivals_s = {600};
  EXPECT_FALSE(compute_figures(run_).reaction_s.has_value());
}

TEST_F(FiguresTest, SurgeWithinWaitTargetHasNoReaction) {
  run_.surges_s = {400};
  run_.unplaceable_s = {405};  // no idle agent, but every task started within the target
  run_.late_arrivals_s = {100, 530};
  EXPECT_FALSE(compute_figures(run_).reaction_s.has_value());

  run_.late_arrivals_s = {100, 407};
  ASSERT_TRUE(compute_figures(run_).reaction_s.has_value());
  EXPECT_DOUBLE_EQ(*compute_figures(run_).reaction_s, 795);
}

TEST_F(FiguresTest, RecordedShareCountsRecords) {
  run_.actions = {{10, 2, 4, true, "up"}, {20, 4, 6, false, ""}};
  EXPECT_DOUBLE_EQ(compute_figures(run_).recorded_share, 0.5);
}

TEST_F(FiguresTest, OracleRatios) {
  Figures figures;
  figures.agent_seconds = 1250;
  figures.peak_agents = 12;
  Figures oracle;
  oracle.agent_seconds = 1000;
  oracle.peak_agents = 10;
  compare_with_oracle(figures, oracle);
  EXPECT_DOUBLE_EQ(*figures.oracle_ratio, 1.25);
  EXPECT_DOUBLE_EQ(*figures.peak_ratio, 1.2);
}

TEST_F(FiguresTest, WaitGoalsJustBelowAndAbove) {
  Figures figures;
  figures.goal_wait_p95_s = 5.0;
  figures.goal_wait_p99_s = 10.0;
  std::vector<GoalCheck> goals = check_goals(figures, "steady", 10);
  EXPECT_TRUE(find(goals, "p95 wait")->met);
  EXPECT_TRUE(find(goals, "p99 wait")->met);
  figures.goal_wait_p95_s = 5.01;
  figures.goal_wait_p99_s = 10.01;
  goals = check_goals(figures, "steady", 10);
  EXPECT_FALSE(find(goals, "p95 wait")->met);
  EXPECT_FALSE(find(goals, "p99 wait")->met);
}

TEST_F(FiguresTest, CostGoalNeedsTheWaitGoal) {
  Figures figures;
  figures.oracle_ratio = 1.24;
  figures.goal_wait_p95_s = 1;
  figures.goal_wait_p99_s = 2;
  EXPECT_TRUE(find(check_goals(figures, "bursty", 10), "agent-seconds")->met);
  figures.oracle_ratio = 1.26;
  EXPECT_FALSE(find(check_goals(figures, "bursty", 10), "agent-seconds")->met);
  figures.oracle_ratio = 1.3;
  EXPECT_TRUE(find(check_goals(figures, "step", 10), "agent-seconds")->met);
  figures.goal_wait_p95_s = 6;
  EXPECT_FALSE(find(check_goals(figures, "step", 10), "agent-seconds")->met);
}

TEST_F(FiguresTest, LongStartupRelaxesBurstWait) {
  Figures figures;
  figures.goal_wait_p95_s = 11.9;
  const std::vector<GoalCheck> goals = check_goals(figures, "bursty", 30);
  const GoalCheck* wait = find(goals, "p95 wait");
  ASSERT_NE(wait, nullptr);
  EXPECT_DOUBLE_EQ(wait->limit, 12);
  EXPECT_TRUE(wait->met);
  EXPECT_EQ(find(goals, "p99 wait"), nullptr);
}

TEST_F(FiguresTest, LongStartupChecksOnlyWaitAndSafety) {
  Figures figures;
  figures.flips_per_10min = 5;
  figures.min_dwell_s = 10;
  figures.reaction_s = 3;
  const std::vector<GoalCheck> goals = check_goals(figures, "bursty", 30);
  EXPECT_EQ(find(goals, "<= 3 direction"), nullptr);
  EXPECT_EQ(find(goals, ">= 120 s"), nullptr);
  EXPECT_EQ(find(goals, "decision <= 1 s"), nullptr);
  EXPECT_NE(find(goals, "p95 wait"), nullptr);
  EXPECT_NE(find(goals, "0 tasks killed"), nullptr);
  EXPECT_NE(find(check_goals(figures, "bursty", 10), "decision <= 1 s"), nullptr);
}

TEST_F(FiguresTest, StabilityGoalsPerTrace) {
  Figures figures;
  figures.flips_per_10min = 1.01;
  figures.min_dwell_s = 119;
  EXPECT_FALSE(find(check_goals(figures, "steady", 10), "<= 1 direction")->met);
  EXPECT_TRUE(find(check_goals(figures, "bursty", 10), "<= 3 direction")->met);
  EXPECT_FALSE(find(check_goals(figures, "bursty", 10), ">= 120 s")->met);
  figures.min_dwell_s = 120;
  EXPECT_TRUE(find(check_goals(figures, "bursty", 10), ">= 120 s")->met);
}

TEST_F(FiguresTest, SafetyGoalsAreZeroCounts) {
  Figures figures;
  EXPECT_TRUE(find(check_goals(figures, "steady", 10), "0 tasks killed")->met);
  figures.killed = 1;
  figures.rejected_503 = 1;
  figures.overcommits = 1;
  figures.recorded_share = 0.99;
  const std::vector<GoalCheck> goals = check_goals(figures, "steady", 10);
  EXPECT_FALSE(find(goals, "0 tasks killed")->met);
  EXPECT_FALSE(find(goals, "0 server 503s")->met);
  EXPECT_FALSE(find(goals, "0 memory overcommits")->met);
  EXPECT_FALSE(find(goals, "every action recorded")->met);
}

}  // namespace
}  // namespace ollamaflow::sim
