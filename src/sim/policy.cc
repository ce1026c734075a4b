#include "sim/policy.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/count_text.h"
#include "sim/baselines.h"

namespace ollamaflow::sim {
namespace {

constexpr double kOracleBlockS = 300;

// The product's scaling engine with one strategy, evaluated every check interval and 0.1 s
// after arrivals, as the flow's scaling loop runs it.
class EnginePolicy final : public Policy {
 public:
  EnginePolicy(std::unique_ptr<scaling::ScalingEngine> engine, PolicySettings settings)
      : engine_(std::move(engine)), settings_(std::move(settings)) {}

  std::string name() const override {
    return std::string(scaling::strategy_name(engine_->strategy_params().strategy));
  }
  double interval_s() const override { return engine_->strategy_params().check_interval_s; }
  bool evaluates_on_arrival() const override { return true; }
  int initial_agents() const override {
    const scaling::StrategyParams params = engine_->strategy_params();
    return std::clamp(settings_.initial_agents, std::max(1, params.min_agents), params.max_agents);
  }

  PolicyDecision decide(const Observation& observation) override {
    const scaling::Decision decision = engine_->evaluate(observation.inputs);
    PolicyDecision result;
    result.target = decision.to;
    result.reason = decision.reason;
    result.decision_id = decision.id;
    result.act = (decision.action == scaling::Action::kScaleUp ||
                  decision.action == scaling::Action::kScaleDown ||
                  decision.action == scaling::Action::kShed) &&
                 decision.to != observation.agents;
    if (result.act) {
      // The record counts when the engine kept the event with its inputs and reason.
      for (const scaling::ScalingEvent& event : engine_->events()) {
        result.recorded =
            result.recorded || (event.decision_id == decision.id && !event.reason.empty());
      }
    }
    return result;
  }

  void on_outcome(const PolicyDecision& decision, bool ok, double seconds) override {
    if (decision.decision_id) {
      // An unknown id only means the event left the bounded history; nothing to book then.
      (void)engine_->record_outcome(*decision.decision_id, ok, from_seconds(seconds));
    }
  }

 private:
  std::unique_ptr<scaling::ScalingEngine> engine_;
  PolicySettings settings_;
};

class FixedPolicy final : public Policy {
 public:
  explicit FixedPolicy(int agents) : agents_(agents) {}

  std::string name() const override { return "fixed"; }
  double interval_s() const override { return 60; }
  int initial_agents() const override { return agents_; }
  PolicyDecision decide(const Observation& observation) override {
    PolicyDecision decision;
    decision.target = observation.agents;
    decision.reason = fmt::format("fixed pool of {}", agents_);
    decision.recorded = true;
    return decision;
  }

 private:
  int agents_;
};

class OraclePolicy final : public Policy {
 public:
  OraclePolicy(const PolicySettings& settings, std::vector<int> blocks, double block_s)
      : blocks_(std::move(blocks)) {
    for (size_t b = 1; b < blocks_.size(); ++b) {
      const double start = static_cast<double>(b) * block_s;
      const int increase = blocks_[b] - blocks_[b - 1];
      // An increase starts early by one start-up time plus one second. The model is resident
      // from the first block on, so the agent manager starts all its creation batches at once.
      const double lead = increase > 0 ? settings.startup_s + 1 : 0;
      plan_.emplace(start - lead, blocks_[b]);
    }
  }

  std::string name() const override { return "oracle"; }
  double interval_s() const override { return 1; }
  int initial_agents() const override { return blocks_.empty() ? 1 : blocks_.front(); }

  PolicyDecision decide(const Observation& observation) override {
    PolicyDecision decision;
    decision.recorded = true;
    decision.target = observation.agents;
    auto next = plan_.upper_bound(observation.now_s);
    if (next == plan_.begin()) {
      decision.reason = "oracle: first block";
      return decision;
    }
    // Never below the busy agents: a smaller pool would drain them and kill their tasks. The
    // pool then shrinks at the later evaluations, as agents become idle.
    const int planned = std::prev(next)->second;
    const int target = std::max(planned, observation.busy);
    decision.act = target != observation.agents;
    decision.target = target;
    decision.reason = fmt::format("oracle: {} planned for this block, {} busy",
                                  count_text(planned, "agent"), observation.busy);
    return decision;
  }

 private:
  std::vector<int> blocks_;
  std::multimap<double, int> plan_;  // action time -> agents
};

}  // namespace

const std::vector<std::string>& policy_names() {
  static const std::vector<std::string> names = {"HYBRID",
                                                 "GPU_MEMORY_BASED",
                                                 "WORKLOAD_BASED",
                                                 "CONSERVATIVE",
                                                 "AGGRESSIVE",
                                                 "fixed",
                                                 "hpa",
                                                 "knative",
                                                 "ray",
                                                 "python-origin",
                                                 "oracle"};
  return names;
}

bool is_engine_policy(const std::string& name) {
  return scaling::parse_strategy(name).is_ok();
}

std::unique_ptr<Policy> make_fixed(const PolicySettings& /*settings*/, int agents) {
  return std::make_unique<FixedPolicy>(agents);
}

std::unique_ptr<Policy> make_oracle(const PolicySettings& settings, std::vector<int> blocks,
                                    double block_s) {
  return std::make_unique<OraclePolicy>(settings, std::move(blocks), block_s);
}

Result<std::unique_ptr<Policy>> make_engine_policy(const PolicySettings& settings,
                                                   const std::string& strategy) {
  Config config = settings.config;
  config.strategy = strategy;
  Result<std::unique_ptr<scaling::ScalingEngine>> engine =
      scaling::ScalingEngine::create(settings.clock, config);
  if (!engine) {
    return engine.status();
  }
  std::unique_ptr<Policy> policy =
      std::make_unique<EnginePolicy>(std::move(engine).value(), settings);
  return policy;
}

Result<std::unique_ptr<Policy>> make_policy(const std::string& name, const PolicySettings& settings,
                                            const ServerParams& server) {
  if (is_engine_policy(name)) {
    return make_engine_policy(settings, name);
  }
  const int max_agents = settings.config.gpu_scaling.max_agents.value_or(8);
  auto blocks = [&] {
    return settings.trace == nullptr
               ? std::vector<int>{}
               : oracle_blocks(*settings.trace, server, settings.wait_target_s, max_agents,
                               kOracleBlockS);
  };
  std::unique_ptr<Policy> policy;
  if (name == "hpa") {
    policy = make_hpa(settings);
  } else if (name == "knative") {
    policy = make_knative(settings);
  } else if (name == "ray") {
    policy = make_ray(settings);
  } else if (name == "python-origin") {
    policy = make_python_origin(settings);
  } else if (name == "fixed") {
    const std::vector<int> plan = blocks();
    policy = make_fixed(settings, plan.empty() ? settings.initial_agents
                                               : *std::max_element(plan.begin(), plan.end()));
  } else if (name == "oracle") {
    policy = make_oracle(settings, blocks(), kOracleBlockS);
  } else {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("unknown strategy \"{}\": use one of HYBRID, GPU_MEMORY_BASED, "
                              "WORKLOAD_BASED, CONSERVATIVE, AGGRESSIVE, fixed, hpa, knative, "
                              "ray, python-origin, oracle or all",
                              name));
  }
  return policy;
}

}  // namespace ollamaflow::sim
