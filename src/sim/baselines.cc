// The reactive baselines, each a re-implementation of the published default algorithm on the
// simulator's signal (tasks running plus queued). An agent runs one task at a time, so one
// "request in flight" per agent is full load.
#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>

#include <fmt/format.h>

#include "core/count_text.h"
#include "sim/baselines.h"

namespace ollamaflow::sim {
namespace {

int clamp_agents(int value, const PolicySettings& settings) {
  const int min_agents = settings.config.gpu_scaling.min_agents;
  const int max_agents = settings.config.gpu_scaling.max_agents.value_or(8);
  return std::clamp(value, std::max(1, min_agents), max_agents);
}

PolicyDecision act_to(int current, int target, std::string reason) {
  PolicyDecision decision;
  decision.act = target != current;
  decision.target = target;
  decision.reason = std::move(reason);
  decision.recorded = true;
  return decision;
}

// A time series of samples, trimmed to a window.
class Window {
 public:
  void add(double at, double value) { samples_.push_back({at, value}); }
  void trim(double now, double span) {
    while (!samples_.empty() && samples_.front().first <= now - span) {
      samples_.pop_front();
    }
  }
  double mean(double now, double span) const {
    double sum = 0;
    int count = 0;
    for (const auto& [at, value] : samples_) {
      if (at > now - span) {
        sum += value;
        ++count;
      }
    }
    return count == 0 ? 0 : sum / count;
  }
  double max(double now, double span) const {
    double best = 0;
    for (const auto& [at, value] : samples_) {
      if (at > now - span) {
        best = std::max(best, value);
      }
    }
    return best;
  }

 private:
  std::deque<std::pair<double, double>> samples_;
};

// Kubernetes HPA defaults: a 15 s loop and a 10 % tolerance. Scale-up adds at most
// max(+4, +100 %) per loop with no stabilization, and pods that are not ready count as idle.
// Scale-down goes to the maximum recommendation of the last 300 s, never while a metric is
// missing. The metric is tasks in flight per agent with a target of 0.8, the analog of the usual
// 80 % utilization target.
class HpaPolicy final : public Policy {
 public:
  explicit HpaPolicy(PolicySettings settings) : settings_(std::move(settings)) {}

  std::string name() const override { return "hpa"; }
  double interval_s() const override { return 15; }
  int initial_agents() const override { return clamp_agents(settings_.initial_agents, settings_); }

  PolicyDecision decide(const Observation& observation) override {
    const int current = observation.agents;
    if (observation.metrics_stale) {
      return act_to(current, current, "hold: metric missing, no scale-down");
    }
    const int ready = std::max(1, observation.ready);
    const double load = observation.in_system();
    double ratio = load / (ready * kTarget);
    int basis = ready;
    if (ratio > 1 && observation.starting > 0) {
      basis = ready + observation.starting;
      ratio = load / (basis * kTarget);
    }
    int desired =
        std::abs(1 - ratio) <= kTolerance ? current : static_cast<int>(std::ceil(ratio * basis));
    desired = clamp_agents(desired, settings_);
    recommendations_.add(observation.now_s, desired);
    recommendations_.trim(observation.now_s, kDownWindowS);
    if (desired > current) {
      const int limit = std::max(current + 4, 2 * current);
      const int target = std::min(desired, limit);
      return act_to(current, target,
                    fmt::format("scale_up: {:.1f} tasks in flight on {}, ratio {:.2f}", load,
                                count_text(basis, "agent"), ratio));
    }
    const int stabilized = static_cast<int>(recommendations_.max(observation.now_s, kDownWindowS));
    if (stabilized < current) {
      return act_to(current, clamp_agents(stabilized, settings_),
                    fmt::format("scale_down: max recommendation over 300 s is {}", stabilized));
    }
    return act_to(current, current, fmt::format("none: ratio {:.2f}", ratio));
  }

 private:
  static constexpr double kTarget = 0.8;
  static constexpr double kTolerance = 0.1;
  static constexpr double kDownWindowS = 300;

  PolicySettings settings_;
  Window recommendations_;
};

// Knative's autoscaler defaults: 2 s tick, 60 s stable and 6 s panic windows, and a target of
// 70 % of a concurrency of one. Panic starts when the panic window needs twice the ready pods and
// ends after a stable window without that condition. There is no scale-down while panicking, and
// at most halving per tick. Samples are taken at each tick instead of Knative's 1 s scrape.
class KnativePolicy final : public Policy {
 public:
  explicit KnativePolicy(PolicySettings settings) : settings_(std::move(settings)) {}

  std::string name() const override { return "knative"; }
  double interval_s() const override { return 2; }
  int initial_agents() const override { return clamp_agents(settings_.initial_agents, settings_); }

  PolicyDecision decide(const Observation& observation) override {
    const double now = observation.now_s;
    const int current = observation.agents;
    if (observation.metrics_stale) {
      return act_to(current, current, "hold: no metrics");
    }
    concurrency_.add(now, observation.in_system());
    concurrency_.trim(now, kStableS);
    const int ready = std::max(1, observation.ready);
    const double stable = concurrency_.mean(now, kStableS);
    const double panic = concurrency_.mean(now, kPanicS);
    const int low = static_cast<int>(std::floor(ready / kMaxDownRate));
    const int high = static_cast<int>(std::ceil(kMaxUpRate * ready));
    const int by_stable = std::clamp(static_cast<int>(std::ceil(stable / kTarget)), low, high);
    const int by_panic = std::clamp(static_cast<int>(std::ceil(panic / kTarget)), low, high);
    if (static_cast<double>(by_panic) / ready >= kPanicThreshold) {
      if (!panic_since_) {
        panic_since_ = now;
      }
      last_panic_condition_ = now;
    } else if (panic_since_ && now - last_panic_condition_ >= kStableS) {
      panic_since_.reset();
    }
    int desired = by_stable;
    std::string mode = "stable";
    if (panic_since_) {
      desired = std::max({by_stable, by_panic, current});
      mode = "panic";
    }
    desired = clamp_agents(desired, settings_);
    return act_to(current, desired,
                  fmt::format("{}: stable {:.2f} panic {:.2f} concurrency, target {}", mode, stable,
                              panic, kTarget));
  }

 private:
  static constexpr double kStableS = 60;
  static constexpr double kPanicS = 6;
  static constexpr double kTarget = 0.7;
  static constexpr double kPanicThreshold = 2.0;
  static constexpr double kMaxUpRate = 1000;
  static constexpr double kMaxDownRate = 2;

  PolicySettings settings_;
  Window concurrency_;
  std::optional<double> panic_since_;
  double last_panic_condition_ = 0;
};

// Ray Serve's default policy: metrics pushed every 10 s and averaged over a 30 s look-back,
// desired = ceil(ongoing / target) with factors 1.0, and a decision must persist for 30 s to
// scale up and 600 s to scale down. The loop runs every second instead of Ray's 0.1 s. The
// target is 1 ongoing request per agent instead of Ray's 2, because an agent runs one task at
// a time.
class RayPolicy final : public Policy {
 public:
  explicit RayPolicy(PolicySettings settings) : settings_(std::move(settings)) {}

  std::string name() const override { return "ray"; }
  double interval_s() const override { return kLoopS; }
  int initial_agents() const override { return clamp_agents(settings_.initial_agents, settings_); }

  PolicyDecision decide(const Observation& observation) override {
    const double now = observation.now_s;
    const int current = observation.agents;
    if (!observation.metrics_stale && now - last_push_ >= kMetricsIntervalS) {
      ongoing_.add(now, observation.in_system());
      last_push_ = now;
    }
    ongoing_.trim(now, kLookBackS);
    const double average = ongoing_.mean(now, kLookBackS);
    int desired = static_cast<int>(std::ceil(average / kTarget));
    if (average == 0 && current > 0) {
      desired = current - 1;
    }
    desired = clamp_agents(desired, settings_);
    if (desired > current) {
      counter_ = std::max(counter_, 0) + 1;
    } else if (desired < current) {
      counter_ = std::min(counter_, 0) - 1;
    } else {
      counter_ = 0;
    }
    const std::string detail =
        fmt::format("{:.2f} ongoing over 30 s, desired {}", average, desired);
    if (counter_ * kLoopS >= kUpDelayS) {
      counter_ = 0;
      return act_to(current, desired, "scale_up after 30 s: " + detail);
    }
    if (-counter_ * kLoopS >= kDownDelayS) {
      counter_ = 0;
      return act_to(current, desired, "scale_down after 600 s: " + detail);
    }
    return act_to(current, current, "hold: " + detail);
  }

 private:
  static constexpr double kLoopS = 1;
  static constexpr double kMetricsIntervalS = 10;
  static constexpr double kLookBackS = 30;
  static constexpr double kTarget = 1;
  static constexpr double kUpDelayS = 30;
  static constexpr double kDownDelayS = 600;

  PolicySettings settings_;
  Window ongoing_;
  double last_push_ = -1e18;
  int counter_ = 0;
};

}  // namespace

std::unique_ptr<Policy> make_hpa(const PolicySettings& settings) {
  return std::make_unique<HpaPolicy>(settings);
}

std::unique_ptr<Policy> make_knative(const PolicySettings& settings) {
  return std::make_unique<KnativePolicy>(settings);
}

std::unique_ptr<Policy> make_ray(const PolicySettings& settings) {
  return std::make_unique<RayPolicy>(settings);
}

}  // namespace ollamaflow::sim
