// Status, recommendations and run-time control of the scaling engine.
#include "core/log.h"
#include "scaling/engine.h"
#include "scaling/recommend.h"

namespace ollamaflow::scaling {

ScalingStatus ScalingEngine::get_scaling_status() const {
  std::lock_guard lock(mutex_);
  ScalingStatus status;
  status.strategy = params_.strategy;
  status.profile = config_.profile;
  status.active_agents = last_inputs_ ? last_inputs_->agents : 0;
  status.min_agents = params_.min_agents;
  status.max_agents = params_.max_agents;
  status.check_interval_s = params_.check_interval_s;
  status.dry_run = dry_run_;
  status.evaluations = evaluations_;
  if (!decisions_.empty()) {
    status.last_decision = decisions_.back();
  }
  const size_t first = events_.size() > 5 ? events_.size() - 5 : 0;
  status.recent_events.assign(events_.begin() + static_cast<long>(first), events_.end());
  return status;
}

Result<Recommendation> ScalingEngine::get_recommendations() const {
  std::lock_guard lock(mutex_);
  if (!last_inputs_) {
    return Status(ErrorCode::kNotFound,
                  "no scaling inputs yet; recommendations exist after the first evaluation");
  }
  return recommend(*last_inputs_, params_, clock_->now());
}

Status ScalingEngine::update_strategy(Strategy strategy) {
  std::lock_guard lock(mutex_);
  StrategyParams params = scaling::strategy_params(strategy, config_);
  if (Status status = params.validate(); !status) {
    return status;
  }
  config_.strategy = std::string(strategy_name(strategy));
  params_ = std::move(params);
  get_logger("scaling")->info("strategy={}", config_.strategy);
  return Status::ok();
}

Status ScalingEngine::update_strategy(std::string_view name) {
  Result<Strategy> strategy = parse_strategy(name);
  if (!strategy) {
    return strategy.status();
  }
  return update_strategy(*strategy);
}

Status ScalingEngine::use_profile(std::string_view name) {
  std::lock_guard lock(mutex_);
  Result<Config> config = apply_profile(config_, name);
  if (!config) {
    return config.status();
  }
  Result<Strategy> strategy = parse_strategy(config->strategy);
  if (!strategy) {
    return strategy.status();
  }
  StrategyParams params = scaling::strategy_params(*strategy, *config);
  if (Status status = params.validate(); !status) {
    return status;
  }
  config_ = std::move(*config);
  params_ = std::move(params);
  get_logger("scaling")->info("profile={} strategy={}", config_.profile, config_.strategy);
  return Status::ok();
}

Status ScalingEngine::set_strategy_params(const StrategyParams& params) {
  if (Status status = params.validate(); !status) {
    return status;
  }
  std::lock_guard lock(mutex_);
  params_ = params;
  return Status::ok();
}

StrategyParams ScalingEngine::strategy_params() const {
  std::lock_guard lock(mutex_);
  return params_;
}

void ScalingEngine::set_callbacks(NotificationCallback notification_callback) {
  std::lock_guard lock(mutex_);
  notify_ = std::move(notification_callback);
}

void ScalingEngine::set_dry_run(bool dry_run) {
  std::lock_guard lock(mutex_);
  dry_run_ = dry_run;
}

std::vector<ScalingEvent> ScalingEngine::events() const {
  std::lock_guard lock(mutex_);
  return {events_.begin(), events_.end()};
}

std::vector<Decision> ScalingEngine::recent_decisions() const {
  std::lock_guard lock(mutex_);
  return {decisions_.begin(), decisions_.end()};
}

nlohmann::json ScalingStatus::to_json() const {
  nlohmann::json events = nlohmann::json::array();
  for (const ScalingEvent& event : recent_events) {
    events.push_back(event.to_json());
  }
  return {
      {"strategy", strategy_name(strategy)},
      {"profile", profile},
      {"active_agents", active_agents},
      {"min_agents", min_agents},
      {"max_agents", max_agents},
      {"check_interval_s", check_interval_s},
      {"dry_run", dry_run},
      {"evaluations", evaluations},
      {"last_decision", last_decision ? last_decision->to_json() : nlohmann::json(nullptr)},
      {"recent_events", std::move(events)},
  };
}

}  // namespace ollamaflow::scaling
