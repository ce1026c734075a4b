// One scaling evaluation with every signal present: recommendation, stability rules, decision
// record and, in the second benchmark, the record's JSON. Target: under 20 us per evaluation.
#include <benchmark/benchmark.h>

#include "scaling/engine.h"

namespace ollamaflow::scaling {
namespace {

EngineInputs full_inputs(MonoTime now, int queued) {
  EngineInputs inputs;
  inputs.agents = 6;
  inputs.starting_agents = 1;
  inputs.workload.queue_length = queued;
  inputs.workload.busy_agents = 5;
  inputs.workload.idle_agents = 0;
  inputs.workload.starting_agents = 1;
  inputs.workload.arrival_rate = 0.4;
  inputs.workload.mean_service_s = 15;
  inputs.workload.busy_agents_mean = 4.6;
  inputs.workload.sampled_at = now;
  GpuSignal gpu;
  gpu.used_mib = 14000;
  gpu.total_mib = 24000;
  gpu.free_mib = 10000;
  gpu.temperature_c = 68;
  gpu.utilization = 0.7;
  gpu.sampled_at = now;
  inputs.gpu = gpu;
  CapacitySignal capacity;
  capacity.slot_ceiling = 12;
  capacity.server_slots = 8;
  capacity.reason = "llama3.1:8b q4_0, 8192 ctx, 1024 MiB buffer";
  capacity.sampled_at = now;
  inputs.capacity = capacity;
  return inputs;
}

void run(benchmark::State& state, bool with_json) {
  auto clock = std::make_shared<FakeClock>();
  Config config;
  config.gpu_scaling.max_agents = 16;
  auto engine = ScalingEngine::create(clock, config).value();
  int step = 0;
  for (auto _ : state) {
    clock->advance(std::chrono::seconds(15));
    // Alternate the queue so the engine takes the scale-up, hold and none paths.
    const Decision decision = engine->evaluate(full_inputs(clock->now(), (step++ % 4) * 2));
    benchmark::DoNotOptimize(decision);
    if (with_json) {
      std::string json = decision.to_json().dump();
      benchmark::DoNotOptimize(json);
    }
  }
}

void BM_EvaluateAllSignals(benchmark::State& state) {
  run(state, false);
}
void BM_EvaluateWithJson(benchmark::State& state) {
  run(state, true);
}

BENCHMARK(BM_EvaluateAllSignals);
BENCHMARK(BM_EvaluateWithJson);

}  // namespace
}  // namespace ollamaflow::scaling

BENCHMARK_MAIN();
