// The Python origin's workload rules with its defaults: the workload collector's severity ladder
// and scale-up and scale-down predicates, sampled every 5 s, and the engine's step of one agent
// every 20 s within 1..8 agents. As in the origin, the mean wait is over every task since the
// start, and the cooldowns never engage because the origin never recorded its actions. Host CPU
// is not simulated, so the CPU rules never fire.
#include <algorithm>
#include <deque>

#include <fmt/format.h>

#include "sim/baselines.h"

namespace ollamaflow::sim {
namespace {

enum class Level { kVeryLow, kLow, kModerate, kHigh, kVeryHigh, kCritical };

struct Sample {
  int total = 0;
  int active = 0;
  int idle = 0;
  int queue = 0;
  double wait_mean_s = 0;
  double throughput = 0;
  double error_rate = 0;  // percent
};

const char* level_name(Level level) {
  static const char* const kNames[] = {"very_low", "low",       "moderate",
                                       "high",     "very_high", "critical"};
  return kNames[static_cast<int>(level)];
}

Level classify(const Sample& s) {
  const double total = s.total;
  if (s.error_rate > 15 || s.wait_mean_s > 120) {
    return Level::kCritical;
  }
  if (s.queue > 20 || s.wait_mean_s > 60) {
    return Level::kVeryHigh;
  }
  if (s.queue > 10 || s.wait_mean_s > 30 || s.idle < 0.2 * total) {
    return Level::kHigh;
  }
  if (s.queue > 3 || s.wait_mean_s > 10 || s.active > 0.7 * total) {
    return Level::kModerate;
  }
  if (s.queue > 1 || s.active > 0.3 * total) {
    return Level::kLow;
  }
  return Level::kVeryLow;
}

class OriginPolicy final : public Policy {
 public:
  explicit OriginPolicy(PolicySettings settings) : settings_(std::move(settings)) {}

  std::string name() const override { return "python-origin"; }
  double interval_s() const override { return kSampleS; }
  int initial_agents() const override {
    return std::clamp(settings_.initial_agents, kMinAgents, kMaxAgents);
  }

  PolicyDecision decide(const Observation& observation) override {
    const int current = observation.agents;
    PolicyDecision hold;
    hold.target = current;
    hold.recorded = true;
    hold.reason = "maintain";
    if (!observation.metrics_stale) {
      samples_.push_back(sample(observation));
      if (samples_.size() > 100) {
        samples_.pop_front();
      }
    }
    if (++calls_ % kSamplesPerDecision != 0 || samples_.empty()) {
      return hold;
    }
    const Sample& latest = samples_.back();
    const Level level = classify(latest);
    if (should_scale_up(latest, level)) {
      return step(current, std::min(current + 1, kMaxAgents), "scale_up", latest);
    }
    if (should_scale_down(latest, level)) {
      return step(current, std::max(current - 1, kMinAgents), "scale_down", latest);
    }
    hold.reason = fmt::format("maintain: workload stable, level {}", level_name(level));
    return hold;
  }

 private:
  static constexpr double kSampleS = 5;
  static constexpr int kSamplesPerDecision = 4;  // the engine loop runs every 20 s
  static constexpr int kMinAgents = 1;
  static constexpr int kMaxAgents = 8;

  static Sample sample(const Observation& observation) {
    Sample s;
    s.total = observation.agents;
    s.active = observation.busy;
    s.idle = std::max(0, observation.ready - observation.busy);
    s.queue = observation.metrics.queue_length;
    s.wait_mean_s = observation.cumulative_wait_mean_s;
    s.throughput = observation.metrics.short_window.throughput;
    s.error_rate = observation.metrics.long_window.error_rate.value_or(0) * 100;
    return s;
  }

  static bool should_scale_up(const Sample& s, Level level) {
    if (s.total >= 16) {
      return false;
    }
    if (level == Level::kCritical) {
      return true;
    }
    return (level == Level::kHigh || level == Level::kVeryHigh) &&
           (s.queue > 10 || s.wait_mean_s > 30);
  }

  bool should_scale_down(const Sample& s, Level level) const {
    if (s.total <= 2 || level > Level::kLow) {
      return false;
    }
    if (s.queue != 0 || s.idle < 0.7 * s.total || s.throughput >= 0.1) {
      return false;
    }
    int idle_samples = 0;
    const size_t first = samples_.size() > 5 ? samples_.size() - 5 : 0;
    for (size_t i = first; i < samples_.size(); ++i) {
      idle_samples += samples_[i].idle >= 0.7 * samples_[i].total ? 1 : 0;
    }
    return idle_samples >= 3;
  }

  static PolicyDecision step(int current, int target, const char* action, const Sample& s) {
    PolicyDecision decision;
    decision.act = target != current;
    decision.target = target;
    decision.recorded = true;
    decision.reason = fmt::format("{}: queue {}, mean wait {:.1f} s, idle {} of {}", action,
                                  s.queue, s.wait_mean_s, s.idle, s.total);
    return decision;
  }

  PolicySettings settings_;
  std::deque<Sample> samples_;
  uint64_t calls_ = 0;
};

}  // namespace

std::unique_ptr<Policy> make_python_origin(const PolicySettings& settings) {
  return std::make_unique<OriginPolicy>(settings);
}

}  // namespace ollamaflow::sim
