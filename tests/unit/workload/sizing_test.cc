#include "workload/sizing.h"

#include <gtest/gtest.h>

namespace ollamaflow::workload {
namespace {

TEST(SizeWorkloadTest, BusyPlusQueuedWithoutServiceTime) {
  WorkloadSignal signal;
  signal.busy_agents = 3;
  signal.queue_length = 4;
  const WorkloadSizing sizing = size_workload(signal, SizingParams{});
  EXPECT_EQ(sizing.demand_now, 7);
  EXPECT_FALSE(sizing.erlang.has_value());
  EXPECT_FALSE(sizing.utilization.has_value());
  EXPECT_EQ(sizing.desired, 7);
}

TEST(SizeWorkloadTest, EmptyQueueKeepsBusyAgents) {
  WorkloadSignal signal;
  signal.busy_agents = 3;
  signal.idle_agents = 0;
  const WorkloadSizing sizing = size_workload(signal, SizingParams{});
  EXPECT_EQ(sizing.desired, 3);
}

TEST(SizeWorkloadTest, ShortTasksShareAgentsWithinWaitTarget) {
  // 100 queued tasks of 1 s each drain within 5 s on 20 agents.
  WorkloadSignal signal;
  signal.queue_length = 100;
  signal.mean_service_s = 1.0;
  const WorkloadSizing sizing = size_workload(signal, SizingParams{});
  EXPECT_EQ(sizing.demand_now, 20);
}

TEST(SizeWorkloadTest, LongTasksEachNeedAnAgent) {
  WorkloadSignal signal;
  signal.queue_length = 5;
  signal.mean_service_s = 5.0;  // equal to the target: every task needs its own agent
  EXPECT_EQ(size_workload(signal, SizingParams{}).demand_now, 5);
  signal.mean_service_s = 4.9;
  EXPECT_EQ(size_workload(signal, SizingParams{}).demand_now, 5);  // ceil(5 * 4.9 / 5) = 5
  signal.mean_service_s = 3.9;
  EXPECT_EQ(size_workload(signal, SizingParams{}).demand_now, 4);  // ceil(3.9) = 4
}

TEST(SizeWorkloadTest, BusyAgentsAbsorbSmallQueue) {
  // 10 busy agents with E[S] 15 s: about 10 * (1 - e^(-1/3)) = 2.8 finish within 5 s.
  WorkloadSignal signal;
  signal.busy_agents = 10;
  signal.mean_service_s = 15.0;
  SizingParams params;
  params.busy_agents_absorb_queue = true;
  signal.queue_length = 2;
  EXPECT_EQ(size_workload(signal, params).demand_now, 10);
  signal.queue_length = 3;
  EXPECT_EQ(size_workload(signal, params).demand_now, 11);
}

TEST(SizeWorkloadTest, QueuedTaskNeedsAgentByDefault) {
  WorkloadSignal signal;
  signal.busy_agents = 10;
  signal.mean_service_s = 15.0;
  signal.queue_length = 1;
  const WorkloadSizing sizing = size_workload(signal, SizingParams{});
  EXPECT_EQ(sizing.demand_now, 11);
  EXPECT_TRUE(sizing.wait_breached);

  // An idle agent takes the queued task, so nothing is breached.
  signal.idle_agents = 1;
  EXPECT_FALSE(size_workload(signal, SizingParams{}).wait_breached);
}

TEST(SizeWorkloadTest, ErlangWinsOverSmallBacklog) {
  WorkloadSignal signal;
  signal.busy_agents = 2;
  signal.arrival_rate = 1.0;
  signal.mean_service_s = 15.0;
  const WorkloadSizing sizing = size_workload(signal, SizingParams{});
  ASSERT_TRUE(sizing.erlang.has_value());
  EXPECT_EQ(*sizing.erlang, 20);
  EXPECT_EQ(sizing.desired, 20);
}

// A quiet spell after a burst: 0.3/s now, 1.2/s at the recent peak, 10 s tasks, and 30 s to
// start an agent.
WorkloadSignal quiet_after_burst(double startup_s) {
  WorkloadSignal signal;
  signal.busy_agents = 3;
  signal.idle_agents = 3;
  signal.arrival_rate = 0.3;
  signal.recent_arrival_rate = 0.3;
  signal.peak_arrival_rate = 1.2;
  signal.mean_service_s = 10.0;
  signal.startup_s = startup_s;
  return signal;
}

TEST(SizeWorkloadTest, SlowStartupKeepsHeadroomForThePeak) {
  SizingParams params;
  params.startup_headroom = true;
  const WorkloadSizing without = size_workload(quiet_after_burst(10), params);
  EXPECT_EQ(without.headroom, 0);  // ready within 2 x the wait target
  const WorkloadSizing slow = size_workload(quiet_after_burst(30), params);
  // 0.9/s above the current rate, for min(30 - 2 x 5, 10) s.
  EXPECT_EQ(slow.headroom, 9);
  EXPECT_EQ(slow.desired, without.desired + 9);
  EXPECT_NE(slow.reason.find("start-up headroom 9"), std::string::npos) << slow.reason;
  const WorkloadSizing short_span = size_workload(quiet_after_burst(15), params);
  EXPECT_EQ(short_span.headroom, 4);  // 0.9/s for 5 s
}

TEST(SizeWorkloadTest, HeadroomNeedsARiseAndTheSetting) {
  SizingParams params;
  params.startup_headroom = true;
  WorkloadSignal at_peak = quiet_after_burst(30);
  at_peak.recent_arrival_rate = 1.2;
  EXPECT_EQ(size_workload(at_peak, params).headroom, 0);
  params.startup_headroom = false;
  EXPECT_EQ(size_workload(quiet_after_burst(30), params).headroom, 0);
}

TEST(SizeWorkloadTest, ErlangBeyondLimitReportsLimit) {
  WorkloadSignal signal;
  signal.arrival_rate = 4.0;
  signal.mean_service_s = 15.0;
  SizingParams params;
  params.search_limit = 8;
  const WorkloadSizing sizing = size_workload(signal, params);
  ASSERT_TRUE(sizing.erlang.has_value());
  EXPECT_EQ(*sizing.erlang, 8);
}

TEST(SizeWorkloadTest, UtilizationTargetKeepsReserve) {
  WorkloadSignal signal;
  signal.busy_agents = 3;
  signal.busy_agents_mean = 3.0;
  SizingParams params;
  params.target_utilization = 0.8;
  const WorkloadSizing sizing = size_workload(signal, params);
  ASSERT_TRUE(sizing.utilization.has_value());
  EXPECT_EQ(*sizing.utilization, 4);  // ceil(3 / 0.8)
  EXPECT_EQ(sizing.desired, 4);
}

TEST(SizeWorkloadTest, FullUtilizationTargetAddsNothing) {
  WorkloadSignal signal;
  signal.busy_agents = 3;
  signal.busy_agents_mean = 3.0;
  EXPECT_EQ(size_workload(signal, SizingParams{}).desired, 3);
}

TEST(SizeWorkloadTest, SpareAgentsOnTop) {
  WorkloadSignal signal;
  signal.busy_agents = 10;
  SizingParams params;
  params.spare_fraction = 0.2;
  params.min_spare = 1;
  EXPECT_EQ(size_workload(signal, params).spare, 2);
  EXPECT_EQ(size_workload(signal, params).desired, 12);
  signal.busy_agents = 0;
  EXPECT_EQ(size_workload(signal, params).desired, 1);  // min_spare with no work
}

TEST(SizeWorkloadTest, ReasonNamesEachProposal) {
  WorkloadSignal signal;
  signal.busy_agents = 2;
  signal.queue_length = 1;
  signal.arrival_rate = 0.2;
  signal.mean_service_s = 15.0;
  const WorkloadSizing sizing = size_workload(signal, SizingParams{});
  EXPECT_NE(sizing.reason.find("demand 3"), std::string::npos) << sizing.reason;
  EXPECT_NE(sizing.reason.find("Erlang C 6"), std::string::npos) << sizing.reason;
}

TEST(SizeWorkloadTest, WaitBreachedProbe) {
  // 2 busy, 1 idle and 1 starting agent: a pool of 4. Without a service time every queued task
  // needs an agent, so 2 queued tasks fill the pool and a third breaches the wait target.
  WorkloadSignal signal;
  signal.busy_agents = 2;
  signal.idle_agents = 1;
  signal.starting_agents = 1;
  signal.queue_length = 2;
  EXPECT_FALSE(size_workload(signal, SizingParams{}).wait_breached);
  signal.queue_length = 3;
  const WorkloadSizing sizing = size_workload(signal, SizingParams{});
  EXPECT_TRUE(sizing.wait_breached);
  EXPECT_NE(sizing.reason.find("wait target breached"), std::string::npos) << sizing.reason;
}

TEST(SizeWorkloadTest, BreachSizesErlangByRecentRate) {
  WorkloadSignal signal;
  signal.busy_agents = 2;
  signal.idle_agents = 0;
  signal.arrival_rate = 0.2;
  signal.recent_arrival_rate = 1.0;
  signal.mean_service_s = 15.0;

  signal.queue_length = 0;  // demand 2 on a pool of 2: the smoothed rate sizes Erlang C
  WorkloadSizing sizing = size_workload(signal, SizingParams{});
  EXPECT_FALSE(sizing.wait_breached);
  ASSERT_TRUE(sizing.erlang_rate.has_value());
  EXPECT_DOUBLE_EQ(*sizing.erlang_rate, 0.2);
  ASSERT_TRUE(sizing.erlang.has_value());
  EXPECT_EQ(*sizing.erlang, 6);

  signal.queue_length = 1;  // demand 3 on a pool of 2: the recent rate sizes it
  sizing = size_workload(signal, SizingParams{});
  EXPECT_TRUE(sizing.wait_breached);
  ASSERT_TRUE(sizing.erlang_rate.has_value());
  EXPECT_DOUBLE_EQ(*sizing.erlang_rate, 1.0);
  ASSERT_TRUE(sizing.erlang.has_value());
  EXPECT_EQ(*sizing.erlang, 20);
  EXPECT_EQ(sizing.desired, 20);
}

TEST(SizeWorkloadTest, BreachKeepsHigherSmoothedRate) {
  WorkloadSignal signal;
  signal.busy_agents = 2;
  signal.queue_length = 1;
  signal.arrival_rate = 1.0;
  signal.recent_arrival_rate = 0.2;
  signal.mean_service_s = 15.0;
  const WorkloadSizing sizing = size_workload(signal, SizingParams{});
  EXPECT_TRUE(sizing.wait_breached);
  ASSERT_TRUE(sizing.erlang_rate.has_value());
  EXPECT_DOUBLE_EQ(*sizing.erlang_rate, 1.0);
}

TEST(SizeWorkloadTest, FollowDropSizesByLowerRate) {
  WorkloadSignal signal;
  signal.busy_agents = 2;
  signal.idle_agents = 4;
  signal.arrival_rate = 1.0;
  signal.recent_arrival_rate = 0.2;
  signal.mean_service_s = 15.0;
  SizingParams params;

  // Off by default: the smoothed rate sizes Erlang C.
  WorkloadSizing sizing = size_workload(signal, params);
  ASSERT_TRUE(sizing.erlang_rate.has_value());
  EXPECT_DOUBLE_EQ(*sizing.erlang_rate, 1.0);

  params.follow_drop = true;
  sizing = size_workload(signal, params);
  ASSERT_TRUE(sizing.erlang_rate.has_value());
  EXPECT_DOUBLE_EQ(*sizing.erlang_rate, 0.2);
  ASSERT_TRUE(sizing.erlang.has_value());
  EXPECT_EQ(*sizing.erlang, 6);

  // A queued task, even one that idle agents take, keeps the smoothed rate.
  signal.queue_length = 1;
  sizing = size_workload(signal, params);
  EXPECT_FALSE(sizing.wait_breached);
  ASSERT_TRUE(sizing.erlang_rate.has_value());
  EXPECT_DOUBLE_EQ(*sizing.erlang_rate, 1.0);
}

TEST(ToSignalTest, ProjectsSnapshot) {
  WorkloadMetrics metrics;
  metrics.queue_length = 4;
  metrics.busy_agents = 2;
  metrics.idle_agents = 1;
  metrics.starting_agents = 3;
  metrics.smoothed_arrival_rate = 0.5;
  metrics.long_window.arrivals = 10;
  metrics.short_window.service_mean_s = 9.0;
  metrics.short_window.busy_agents_mean = 1.5;
  metrics.short_window.arrivals = 48;
  metrics.short_window.arrival_rate = 0.8;
  const WorkloadSignal signal = to_signal(metrics);
  EXPECT_EQ(signal.queue_length, 4);
  EXPECT_EQ(signal.busy_agents, 2);
  EXPECT_EQ(signal.idle_agents, 1);
  EXPECT_EQ(signal.starting_agents, 3);
  EXPECT_EQ(signal.arrival_rate, 0.5);
  EXPECT_EQ(signal.mean_service_s, 9.0);  // long window has none, so the short one's
  EXPECT_EQ(signal.busy_agents_mean, 1.5);
  EXPECT_EQ(signal.recent_arrival_rate, 0.8);
}

TEST(ToSignalTest, NoArrivalsMeansNoRate) {
  WorkloadMetrics metrics;
  EXPECT_FALSE(to_signal(metrics).arrival_rate.has_value());
  EXPECT_FALSE(to_signal(metrics).recent_arrival_rate.has_value());
}

}  // namespace
}  // namespace ollamaflow::workload
