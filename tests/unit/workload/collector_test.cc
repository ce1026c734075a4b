#include "workload/collector.h"

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "fakes/test_paths.h"

namespace ollamaflow::workload {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class MetricsCollectorTest : public ::testing::Test {
 protected:
  MetricsCollectorTest() : clock_(std::make_shared<FakeClock>()) {}

  MetricsCollector& collector() {
    if (!collector_) {
      collector_ = std::make_unique<MetricsCollector>(clock_, settings_);
    }
    return *collector_;
  }

  void advance(double s) { clock_->advance(from_seconds(s)); }

  // Runs one task on `agent`: queued now, waits `wait_s`, runs `service_s`, then finishes.
  void run_task(const std::string& id, const std::string& agent, double wait_s, double service_s,
                bool success = true) {
    collector().task_queued(id);
    advance(wait_s);
    collector().task_started(id, agent);
    advance(service_s);
    if (success) {
      collector().task_completed(id);
    } else {
      collector().task_failed(id);
    }
  }

  std::shared_ptr<FakeClock> clock_;
  CollectorSettings settings_;
  std::unique_ptr<MetricsCollector> collector_;
};

TEST_F(MetricsCollectorTest, EmptySnapshotHasNoSamples) {
  const WorkloadMetrics metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.queue_length, 0);
  EXPECT_EQ(metrics.short_window.arrivals, 0);
  EXPECT_FALSE(metrics.short_window.wait_p95_s.has_value());
  EXPECT_FALSE(metrics.short_window.service_mean_s.has_value());
  EXPECT_FALSE(metrics.short_window.error_rate.has_value());
  EXPECT_FALSE(metrics.short_window.utilization.has_value());
  EXPECT_FALSE(metrics.utilization_now.has_value());
  EXPECT_EQ(metrics.severity, Severity::kVeryLow);
}

TEST_F(MetricsCollectorTest, QueueLengthAndOldestAge) {
  collector().task_queued("a");
  advance(2);
  collector().task_queued("b");
  advance(3);
  const WorkloadMetrics metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.queue_length, 2);
  EXPECT_DOUBLE_EQ(metrics.oldest_queued_s, 5.0);
}

TEST_F(MetricsCollectorTest, OldestAgeSkipsStartedTasks) {
  collector().task_queued("a");
  advance(2);
  collector().task_queued("b");
  collector().task_started("a", "agent-1");
  advance(1);
  EXPECT_DOUBLE_EQ(collector().get_current_metrics().oldest_queued_s, 1.0);
}

TEST_F(MetricsCollectorTest, WaitPercentiles) {
  // Waits of 1..20 s: nearest-rank p50 = 10, p95 = 19, max = 20.
  for (int i = 1; i <= 20; ++i) {
    collector().task_queued("t" + std::to_string(i));
  }
  for (int i = 1; i <= 20; ++i) {
    advance(1);
    collector().task_started("t" + std::to_string(i), "");
  }
  const WindowStats window = collector().get_current_metrics().short_window;
  EXPECT_EQ(window.started, 20);
  ASSERT_TRUE(window.wait_p50_s.has_value());
  EXPECT_NEAR(*window.wait_p50_s, 10.0, 1e-6);
  EXPECT_NEAR(*window.wait_p95_s, 19.0, 1e-6);
  EXPECT_NEAR(*window.wait_max_s, 20.0, 1e-6);
}

TEST_F(MetricsCollectorTest, ServiceTimeAndThroughput) {
  run_task("a", "agent-1", 0, 2);
  run_task("b", "agent-1", 0, 4);
  run_task("c", "agent-1", 0, 6);
  advance(48);  // 60 s since start
  const WindowStats window = collector().get_current_metrics().short_window;
  EXPECT_EQ(window.completed, 3);
  ASSERT_TRUE(window.service_mean_s.has_value());
  EXPECT_NEAR(*window.service_mean_s, 4.0, 1e-6);
  EXPECT_NEAR(*window.service_p95_s, 6.0, 1e-6);
  EXPECT_NEAR(window.throughput, 3.0 / 60.0, 1e-9);
}

TEST_F(MetricsCollectorTest, ErrorRateUsesOneWindow) {
  run_task("old-fail", "agent-1", 0, 1, /*success=*/false);
  advance(120);  // the failure leaves the 1-minute window but stays in the 5-minute one
  run_task("a", "agent-1", 0, 1);
  run_task("b", "agent-1", 0, 1);
  run_task("c", "agent-1", 0, 1, /*success=*/false);
  const WorkloadMetrics metrics = collector().get_current_metrics();
  ASSERT_TRUE(metrics.short_window.error_rate.has_value());
  EXPECT_NEAR(*metrics.short_window.error_rate, 1.0 / 3.0, 1e-9);
  ASSERT_TRUE(metrics.long_window.error_rate.has_value());
  EXPECT_NEAR(*metrics.long_window.error_rate, 2.0 / 4.0, 1e-9);
}

TEST_F(MetricsCollectorTest, WindowsForgetOldEvents) {
  run_task("a", "agent-1", 1, 1);
  advance(61);
  WorkloadMetrics metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.short_window.arrivals, 0);
  EXPECT_FALSE(metrics.short_window.wait_p95_s.has_value());
  EXPECT_EQ(metrics.long_window.arrivals, 1);
  EXPECT_TRUE(metrics.long_window.wait_p95_s.has_value());
  advance(300);
  metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.long_window.arrivals, 0);
  EXPECT_FALSE(metrics.long_window.service_mean_s.has_value());
}

TEST_F(MetricsCollectorTest, ArrivalRateOverWindow) {
  for (int i = 0; i < 120; ++i) {
    collector().task_queued("t" + std::to_string(i));
    advance(0.5);
  }
  const WorkloadMetrics metrics = collector().get_current_metrics();
  EXPECT_NEAR(metrics.short_window.arrival_rate, 2.0, 0.05);
  EXPECT_NEAR(metrics.long_window.arrival_rate, 2.0, 0.05);  // young collector: divided by 60 s
}

TEST_F(MetricsCollectorTest, SmoothedRateTracksSteadyArrivals) {
  for (int i = 0; i < 600; ++i) {
    collector().task_queued("t" + std::to_string(i));
    advance(0.5);
  }
  EXPECT_NEAR(collector().get_current_metrics().smoothed_arrival_rate, 2.0, 0.05);
}

TEST_F(MetricsCollectorTest, SmoothedRateIsUnbiasedEarly) {
  for (int i = 0; i < 10; ++i) {
    collector().task_queued("t" + std::to_string(i));
    advance(1);
  }
  // Without the bias correction the raw value would be about 0.15/s after 10 s.
  EXPECT_NEAR(collector().get_current_metrics().smoothed_arrival_rate, 1.0, 0.15);
}

TEST_F(MetricsCollectorTest, SmoothedRateDecaysWhenArrivalsStop) {
  for (int i = 0; i < 300; ++i) {
    collector().task_queued("t" + std::to_string(i));
    advance(1);
  }
  advance(60);  // one time constant: about e^-1 of the rate remains
  EXPECT_NEAR(collector().get_current_metrics().smoothed_arrival_rate, 0.37, 0.03);
}

TEST_F(MetricsCollectorTest, PeakRateKeepsTheBusiestMinute) {
  for (int i = 0; i < 90; ++i) {  // 1.5/s for 60 s
    collector().task_queued("t" + std::to_string(i));
    advance(2.0 / 3.0);
  }
  for (int i = 0; i < 60; ++i) {  // then 0.1/s for 10 minutes
    collector().task_queued("q" + std::to_string(i));
    advance(10);
  }
  const WorkloadMetrics metrics = collector().get_current_metrics();
  // The minute may straddle three 30 s spans, so two of them hold at least two thirds of it.
  EXPECT_GE(metrics.peak_arrival_rate, 1.0);
  EXPECT_LE(metrics.peak_arrival_rate, 91.0 / 60 + 1e-9);  // the burst and one quiet arrival
  EXPECT_LT(metrics.smoothed_arrival_rate, 0.2);
}

TEST_F(MetricsCollectorTest, PeakRateForgetsAfterHorizon) {
  settings_.peak_horizon_s = 600;
  for (int i = 0; i < 60; ++i) {
    collector().task_queued("t" + std::to_string(i));
    advance(1);
  }
  EXPECT_NEAR(collector().get_current_metrics().peak_arrival_rate, 1.0, 1e-9);
  advance(700);
  EXPECT_EQ(collector().get_current_metrics().peak_arrival_rate, 0.0);
}

TEST_F(MetricsCollectorTest, StartupMeanFromRegisterToReady) {
  EXPECT_FALSE(collector().get_current_metrics().startup_mean_s.has_value());
  collector().agent_registered("a1", /*ready=*/false);
  advance(10);
  collector().agent_registered("a2", /*ready=*/false);
  advance(20);
  collector().agent_ready("a1");  // 30 s
  collector().agent_ready("a2");  // 20 s
  collector().agent_registered("a3", /*ready=*/true);
  collector().agent_registered("a4", /*ready=*/false);
  advance(100);
  collector().agent_unregistered("a4");  // removed while starting: no start-up time
  const std::optional<double> mean = collector().get_current_metrics().startup_mean_s;
  ASSERT_TRUE(mean.has_value());
  EXPECT_NEAR(*mean, 25.0, 1e-9);
}

TEST_F(MetricsCollectorTest, RetryRequeuesAndCountsFailedAttempt) {
  collector().task_queued("a");
  collector().task_started("a", "agent-1");
  advance(2);
  collector().task_retried("a");
  WorkloadMetrics metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.queue_length, 1);
  EXPECT_EQ(metrics.running_tasks, 0);
  EXPECT_EQ(metrics.idle_agents, 1);
  EXPECT_EQ(metrics.short_window.arrivals, 2);
  EXPECT_EQ(metrics.short_window.retried, 1);

  collector().task_started("a", "agent-1");
  advance(2);
  collector().task_completed("a");
  metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.queue_length, 0);
  EXPECT_EQ(metrics.short_window.completed, 1);
  ASSERT_TRUE(metrics.short_window.error_rate.has_value());
  EXPECT_NEAR(*metrics.short_window.error_rate, 0.5, 1e-9);
}

TEST_F(MetricsCollectorTest, CancelFromQueueAndFromRunning) {
  collector().task_queued("a");
  collector().task_queued("b");
  collector().task_started("b", "agent-1");
  collector().task_cancelled("a");
  collector().task_cancelled("b");
  const WorkloadMetrics metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.queue_length, 0);
  EXPECT_EQ(metrics.running_tasks, 0);
  EXPECT_EQ(metrics.busy_agents, 0);
  EXPECT_EQ(metrics.idle_agents, 1);
  EXPECT_EQ(metrics.short_window.cancelled, 2);
}

TEST_F(MetricsCollectorTest, AgentStatesFollowTasks) {
  collector().agent_registered("agent-1", /*ready=*/false);
  collector().agent_registered("agent-2", /*ready=*/true);
  WorkloadMetrics metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.starting_agents, 1);
  EXPECT_EQ(metrics.idle_agents, 1);

  collector().agent_ready("agent-1");
  collector().task_queued("a");
  collector().task_started("a", "agent-1");
  metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.starting_agents, 0);
  EXPECT_EQ(metrics.busy_agents, 1);
  EXPECT_EQ(metrics.idle_agents, 1);
  ASSERT_TRUE(metrics.utilization_now.has_value());
  EXPECT_DOUBLE_EQ(*metrics.utilization_now, 0.5);

  collector().agent_unregistered("agent-2");
  metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.idle_agents, 0);
  EXPECT_DOUBLE_EQ(*metrics.utilization_now, 1.0);
}

TEST_F(MetricsCollectorTest, UtilizationIsTimeWeighted) {
  collector().agent_registered("agent-1", true);
  collector().agent_registered("agent-2", true);
  collector().task_queued("a");
  collector().task_started("a", "agent-1");
  advance(30);
  collector().task_completed("a");
  advance(30);
  const WindowStats window = collector().get_current_metrics().short_window;
  ASSERT_TRUE(window.utilization.has_value());
  EXPECT_NEAR(*window.utilization, 0.25, 1e-6);  // 30 busy agent-s of 120 ready agent-s
  EXPECT_NEAR(*window.busy_agents_mean, 0.5, 1e-6);
  EXPECT_NEAR(*window.ready_agents_mean, 2.0, 1e-6);
}

TEST_F(MetricsCollectorTest, UtilizationCountsTimeSinceLastEvent) {
  collector().agent_registered("agent-1", true);
  collector().task_queued("a");
  collector().task_started("a", "agent-1");
  advance(60);  // no event for a minute: the snapshot books the minute itself
  const WindowStats window = collector().get_current_metrics().short_window;
  ASSERT_TRUE(window.utilization.has_value());
  EXPECT_NEAR(*window.utilization, 1.0, 1e-6);
}

TEST_F(MetricsCollectorTest, FullTaskTableEvictsOldestQueued) {
  settings_.max_live_tasks = 3;
  collector().task_queued("a");
  collector().task_queued("b");
  collector().task_queued("c");
  collector().task_queued("d");
  WorkloadMetrics metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.queue_length, 3);
  EXPECT_EQ(metrics.evicted_tasks, 1);
  collector().task_started("a", "agent-1");  // "a" was evicted
  EXPECT_EQ(collector().unknown_events(), 1);
  collector().task_started("d", "agent-1");
  EXPECT_EQ(collector().get_current_metrics().running_tasks, 1);
}

TEST_F(MetricsCollectorTest, OldestAgeSurvivesManyTasksPassing) {
  collector().task_queued("stuck");
  for (int i = 0; i < 5000; ++i) {
    const std::string id = "t" + std::to_string(i);
    collector().task_queued(id);
    collector().task_started(id, "agent-1");
    collector().task_completed(id);
    advance(0.001);
  }
  const WorkloadMetrics metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.queue_length, 1);
  EXPECT_NEAR(metrics.oldest_queued_s, 5.0, 1e-6);
}

TEST_F(MetricsCollectorTest, UnknownEventsAreCounted) {
  collector().task_completed("never-queued");
  collector().task_started("never-queued", "agent-1");
  collector().agent_ready("nobody");
  collector().task_queued("a");
  collector().task_queued("a");  // duplicate
  EXPECT_EQ(collector().unknown_events(), 4);
  EXPECT_EQ(collector().get_current_metrics().queue_length, 1);
}

TEST_F(MetricsCollectorTest, SampleRingsStayBounded) {
  settings_.sample_capacity = 4;
  for (int i = 0; i < 10; ++i) {
    run_task("t" + std::to_string(i), "agent-1", i, 1);
  }
  // Only the last 4 waits (6..9 s) are kept.
  const WindowStats window = collector().get_current_metrics().long_window;
  ASSERT_TRUE(window.wait_max_s.has_value());
  EXPECT_NEAR(*window.wait_max_s, 9.0, 1e-6);
  EXPECT_NEAR(*window.wait_p50_s, 7.0, 1e-6);
  EXPECT_EQ(window.started, 10);  // counters are per-second buckets, not samples
}

TEST_F(MetricsCollectorTest, ServerSignalPassesThrough) {
  ServerSignal signal;
  signal.busy_slots = 3;
  signal.total_slots = 4;
  collector().set_server_signal(signal);
  const WorkloadMetrics metrics = collector().get_current_metrics();
  EXPECT_EQ(metrics.server.busy_slots, 3);
  EXPECT_EQ(metrics.server.total_slots, 4);
  EXPECT_FALSE(metrics.server.queued_requests.has_value());
}

TEST_F(MetricsCollectorTest, HostSampleFromProcRoot) {
  testing::TempDir proc;
  std::ofstream(proc.path() / "stat") << "cpu  10 0 10 80 0 0 0 0 0 0\n";
  std::ofstream(proc.path() / "meminfo") << "MemTotal: 1000 kB\nMemAvailable: 50 kB\n";
  settings_.proc_root = proc.path().string();
  ASSERT_TRUE(collector().sample_host().is_ok());
  std::ofstream(proc.path() / "stat") << "cpu  60 0 50 90 0 0 0 0 0 0\n";
  ASSERT_TRUE(collector().sample_host().is_ok());
  const WorkloadMetrics metrics = collector().get_current_metrics();
  ASSERT_TRUE(metrics.host.cpu_percent.has_value());
  EXPECT_NEAR(*metrics.host.cpu_percent, 90.0, 1e-9);  // 90 busy of 100 jiffies
  EXPECT_NEAR(*metrics.host.memory_percent, 95.0, 1e-9);
  EXPECT_EQ(metrics.severity, Severity::kVeryHigh);
  EXPECT_EQ(metrics.severity_reason, "host CPU 90.0% > 85.0%");
}

TEST_F(MetricsCollectorTest, SeverityFromStalledQueue) {
  collector().task_queued("a");
  advance(30);
  EXPECT_EQ(collector().get_current_metrics().severity, Severity::kModerate);
  advance(0.1);
  EXPECT_EQ(collector().get_current_metrics().severity, Severity::kHigh);
}

TEST_F(MetricsCollectorTest, RecommendationKeepsBusyAgentsWithEmptyQueue) {
  for (const char* agent : {"agent-1", "agent-2", "agent-3"}) {
    collector().agent_registered(agent, true);
    collector().task_queued(std::string("task-") + agent);
    collector().task_started(std::string("task-") + agent, agent);
  }
  for (int poll = 0; poll < 10; ++poll) {
    advance(5);
    const WorkloadRecommendation recommendation = collector().get_scaling_recommendations();
    EXPECT_EQ(recommendation.current_agents, 3) << "poll " << poll;
    EXPECT_EQ(recommendation.desired_agents, 3) << "poll " << poll;
    EXPECT_EQ(recommendation.action, "none") << "poll " << poll;
  }
}

TEST_F(MetricsCollectorTest, RecommendationScalesUpForBacklog) {
  collector().agent_registered("agent-1", true);
  for (int i = 0; i < 5; ++i) {
    collector().task_queued("t" + std::to_string(i));
  }
  const WorkloadRecommendation recommendation = collector().get_scaling_recommendations();
  EXPECT_EQ(recommendation.desired_agents, 5);
  EXPECT_EQ(recommendation.action, "scale_up");
  EXPECT_NE(recommendation.reason.find("1 -> 5"), std::string::npos) << recommendation.reason;
  EXPECT_EQ(recommendation.to_json()["desired_agents"], 5);
}

TEST_F(MetricsCollectorTest, RecommendationRespectsMaxAgents) {
  settings_.max_agents = 4;
  for (int i = 0; i < 9; ++i) {
    collector().task_queued("t" + std::to_string(i));
  }
  EXPECT_EQ(collector().get_scaling_recommendations().desired_agents, 4);
}

TEST_F(MetricsCollectorTest, SnapshotJsonHasNullForUnknown) {
  const nlohmann::json json = collector().get_current_metrics().to_json();
  EXPECT_TRUE(json["short_window"]["wait_p95_s"].is_null());
  EXPECT_TRUE(json["host"]["cpu_percent"].is_null());
  EXPECT_EQ(json["severity"], "very_low");
}

TEST(CollectorSettingsTest, ValidateNamesField) {
  CollectorSettings settings;
  EXPECT_TRUE(settings.validate().is_ok());
  settings.short_window_s = 0;
  Status status = settings.validate();
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("short_window_s"), std::string::npos) << status.message();

  settings = CollectorSettings{};
  settings.long_window_s = 30;
  status = settings.validate();
  EXPECT_NE(status.message().find("long_window_s"), std::string::npos) << status.message();

  settings = CollectorSettings{};
  settings.min_agents = 5;
  settings.max_agents = 4;
  EXPECT_EQ(settings.validate().code(), ErrorCode::kInvalidArgument);
}

TEST(CollectorSettingsTest, CreateRejectsInvalidSettings) {
  CollectorSettings settings;
  settings.sample_capacity = 0;
  auto collector = MetricsCollector::create(std::make_shared<FakeClock>(), settings);
  EXPECT_FALSE(collector.is_ok());
}

TEST(CollectorSettingsTest, FromConfig) {
  Config config;
  config.workload.high_queue_length = 7;
  config.gpu_scaling.min_agents = 2;
  config.gpu_scaling.max_agents = 12;
  const CollectorSettings settings = collector_settings(config);
  EXPECT_EQ(settings.thresholds.high_queue_length, 7);
  EXPECT_EQ(settings.min_agents, 2);
  EXPECT_EQ(settings.max_agents, 12);
}

}  // namespace
}  // namespace ollamaflow::workload
