// Lifecycle events per second into the metrics collector: each iteration is one task's
// queued, started and completed events (3 events). Target: at least 1,000,000 events/s.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "workload/collector.h"

namespace ollamaflow::workload {
namespace {

void BM_IngestLifecycle(benchmark::State& state) {
  auto clock = system_clock();  // the real clock: reading time is part of each event's cost
  MetricsCollector collector(clock, CollectorSettings{});
  std::vector<std::string> ids;
  for (int i = 0; i < 4096; ++i) {
    ids.push_back("task-" + std::to_string(i));
  }
  collector.agent_registered("agent-1", true);
  size_t next = 0;
  for (auto _ : state) {
    const std::string& id = ids[next++ % ids.size()];
    collector.task_queued(id);
    collector.task_started(id, "agent-1");
    collector.task_completed(id);
  }
  state.SetItemsProcessed(state.iterations() * 3);
}

// The same with a standing queue of 1,000 tasks, so lookups run in a populated table.
void BM_IngestWithBacklog(benchmark::State& state) {
  MetricsCollector collector(system_clock(), CollectorSettings{});
  for (int i = 0; i < 1000; ++i) {
    collector.task_queued("backlog-" + std::to_string(i));
  }
  std::vector<std::string> ids;
  for (int i = 0; i < 4096; ++i) {
    ids.push_back("task-" + std::to_string(i));
  }
  size_t next = 0;
  for (auto _ : state) {
    const std::string& id = ids[next++ % ids.size()];
    collector.task_queued(id);
    collector.task_started(id, "agent-1");
    collector.task_completed(id);
  }
  state.SetItemsProcessed(state.iterations() * 3);
}

// One snapshot with full windows, for reference (not part of the ingest target).
void BM_Snapshot(benchmark::State& state) {
  MetricsCollector collector(system_clock(), CollectorSettings{});
  for (int i = 0; i < 20000; ++i) {
    const std::string id = "task-" + std::to_string(i);
    collector.task_queued(id);
    collector.task_started(id, "agent-1");
    collector.task_completed(id);
  }
  for (auto _ : state) {
    WorkloadMetrics metrics = collector.get_current_metrics();
    benchmark::DoNotOptimize(metrics);
  }
}

BENCHMARK(BM_IngestLifecycle);
BENCHMARK(BM_IngestWithBacklog);
BENCHMARK(BM_Snapshot);

}  // namespace
}  // namespace ollamaflow::workload

BENCHMARK_MAIN();
