#include <gtest/gtest.h>

#include "workload/metrics.h"

namespace ollamaflow::workload {
namespace {

class SeverityTest : public ::testing::Test {
 protected:
  Severity classify(const WorkloadMetrics& metrics) const {
    return classify_severity(metrics, settings_, 5).first;
  }

  WorkloadScalingSettings settings_;  // defaults: queue 10, wait 30 s, CPU 80 %, memory 85 %
};

TEST_F(SeverityTest, EmptySnapshotIsVeryLow) {
  const auto [severity, reason] = classify_severity(WorkloadMetrics{}, settings_, 5);
  EXPECT_EQ(severity, Severity::kVeryLow);
  EXPECT_FALSE(reason.empty());
}

TEST_F(SeverityTest, QueueLengthLadder) {
  // Each level starts just above its threshold: 1, 3, 10 and 20 tasks.
  const std::pair<int, Severity> cases[] = {
      {1, Severity::kVeryLow},  {2, Severity::kLow},       {3, Severity::kLow},
      {4, Severity::kModerate}, {10, Severity::kModerate}, {11, Severity::kHigh},
      {20, Severity::kHigh},    {21, Severity::kVeryHigh},
  };
  for (const auto& [queue, expected] : cases) {
    WorkloadMetrics metrics;
    metrics.queue_length = queue;
    EXPECT_EQ(classify(metrics), expected) << "queue " << queue;
  }
}

TEST_F(SeverityTest, WaitLadderUsesOldestQueuedAge) {
  const std::pair<double, Severity> cases[] = {
      {10.0, Severity::kVeryLow},   {10.1, Severity::kModerate}, {30.0, Severity::kModerate},
      {30.1, Severity::kHigh},      {60.1, Severity::kVeryHigh}, {120.0, Severity::kVeryHigh},
      {120.1, Severity::kCritical},
  };
  for (const auto& [wait, expected] : cases) {
    WorkloadMetrics metrics;
    metrics.oldest_queued_s = wait;
    EXPECT_EQ(classify(metrics), expected) << "wait " << wait;
  }
}

TEST_F(SeverityTest, WaitLadderUsesWindowP95) {
  WorkloadMetrics metrics;
  metrics.short_window.wait_p95_s = 30.1;
  EXPECT_EQ(classify(metrics), Severity::kHigh);
}

TEST_F(SeverityTest, ErrorRateNeedsEnoughFinishedTasks) {
  WorkloadMetrics metrics;
  metrics.long_window.completed = 3;
  metrics.long_window.failed = 1;
  metrics.long_window.error_rate = 0.25;
  EXPECT_EQ(classify(metrics), Severity::kVeryLow);  // 4 finished < 5
  metrics.long_window.completed = 4;
  metrics.long_window.error_rate = 0.20;
  EXPECT_EQ(classify(metrics), Severity::kCritical);
}

TEST_F(SeverityTest, ErrorRateThreshold) {
  WorkloadMetrics metrics;
  metrics.long_window.completed = 100;
  metrics.long_window.error_rate = 0.15;
  EXPECT_EQ(classify(metrics), Severity::kVeryLow);
  metrics.long_window.error_rate = 0.151;
  EXPECT_EQ(classify(metrics), Severity::kCritical);
}

TEST_F(SeverityTest, HostCpuLadder) {
  const std::pair<double, Severity> cases[] = {
      {60.0, Severity::kVeryLow},  {60.1, Severity::kModerate}, {80.1, Severity::kHigh},
      {85.1, Severity::kVeryHigh}, {95.0, Severity::kVeryHigh}, {95.1, Severity::kCritical},
  };
  for (const auto& [cpu, expected] : cases) {
    WorkloadMetrics metrics;
    metrics.host.cpu_percent = cpu;
    EXPECT_EQ(classify(metrics), expected) << "cpu " << cpu;
  }
}

TEST_F(SeverityTest, HostMemoryLadder) {
  const std::pair<double, Severity> cases[] = {
      {85.0, Severity::kVeryLow},
      {85.1, Severity::kHigh},
      {90.1, Severity::kVeryHigh},
      {95.1, Severity::kCritical},
  };
  for (const auto& [memory, expected] : cases) {
    WorkloadMetrics metrics;
    metrics.host.memory_percent = memory;
    EXPECT_EQ(classify(metrics), expected) << "memory " << memory;
  }
}

TEST_F(SeverityTest, UnknownHostLoadIsNoSignal) {
  WorkloadMetrics metrics;
  metrics.host.cpu_percent.reset();
  metrics.host.memory_percent.reset();
  EXPECT_EQ(classify(metrics), Severity::kVeryLow);
}

TEST_F(SeverityTest, FewIdleAgentsWithQueueIsHigh) {
  WorkloadMetrics metrics;
  metrics.queue_length = 1;
  metrics.busy_agents = 9;
  metrics.idle_agents = 1;  // idle 10 % < 20 %
  metrics.utilization_now = 0.9;
  EXPECT_EQ(classify(metrics), Severity::kHigh);
  metrics.busy_agents = 8;
  metrics.idle_agents = 2;  // idle 20 %: not below the threshold
  metrics.utilization_now = 0.8;
  EXPECT_EQ(classify(metrics), Severity::kModerate);  // utilization 80 % >= 80 %
}

TEST_F(SeverityTest, BusyAgentsWithoutQueue) {
  WorkloadMetrics metrics;
  metrics.busy_agents = 3;
  metrics.utilization_now = 0.79;
  EXPECT_EQ(classify(metrics), Severity::kLow);
  metrics.utilization_now = 0.30;
  EXPECT_EQ(classify(metrics), Severity::kVeryLow);
}

TEST_F(SeverityTest, ReasonNamesRule) {
  WorkloadMetrics metrics;
  metrics.queue_length = 21;
  const auto [severity, reason] = classify_severity(metrics, settings_, 5);
  EXPECT_EQ(severity, Severity::kVeryHigh);
  EXPECT_EQ(reason, "queue length 21 > 20");
}

TEST(SeverityNameTest, AllNames) {
  EXPECT_EQ(severity_name(Severity::kVeryLow), "very_low");
  EXPECT_EQ(severity_name(Severity::kLow), "low");
  EXPECT_EQ(severity_name(Severity::kModerate), "moderate");
  EXPECT_EQ(severity_name(Severity::kHigh), "high");
  EXPECT_EQ(severity_name(Severity::kVeryHigh), "very_high");
  EXPECT_EQ(severity_name(Severity::kCritical), "critical");
}

}  // namespace
}  // namespace ollamaflow::workload
