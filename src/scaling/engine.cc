#include "scaling/engine.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/count_text.h"
#include "core/log.h"
#include "scaling/recommend.h"

namespace ollamaflow::scaling {
namespace {

bool changes_pool(Action action) {
  return action == Action::kScaleUp || action == Action::kScaleDown || action == Action::kShed;
}

// Limits that stop a proposed change: reaching one of them is a hold, not "none".
bool is_blocking_limit(const std::string& limit) {
  return limit != "none" && limit != "no_signal" && limit != "min_agents";
}

}  // namespace

ScalingEngine::ScalingEngine(std::shared_ptr<Clock> clock, Config config, StrategyParams params)
    : clock_(std::move(clock)),
      config_(std::move(config)),
      params_(std::move(params)),
      dry_run_(config_.dry_run) {}

Result<std::unique_ptr<ScalingEngine>> ScalingEngine::create(std::shared_ptr<Clock> clock,
                                                             const Config& config) {
  // load_config already applied config.profile to the keys no flag set; it is kept for status.
  Result<Strategy> strategy = parse_strategy(config.strategy);
  if (!strategy) {
    return strategy.status();
  }
  StrategyParams params = scaling::strategy_params(*strategy, config);
  if (Status status = params.validate(); !status) {
    return status;
  }
  return std::unique_ptr<ScalingEngine>(
      new ScalingEngine(std::move(clock), config, std::move(params)));
}

std::optional<double> ScalingEngine::seconds_since(const std::optional<MonoTime>& time,
                                                   MonoTime now) const {
  if (!time) {
    return std::nullopt;
  }
  return to_seconds(now - *time);
}

void ScalingEngine::remember(MonoTime now, int desired) {
  history_.push_back({now, desired});
  const Duration keep = from_seconds(std::max(params_.up_window_s, params_.down_window_s));
  while (!history_.empty() && history_.front().at < now - keep) {
    history_.pop_front();
  }
}

int ScalingEngine::window_min(MonoTime now) const {
  const MonoTime since = now - from_seconds(params_.up_window_s);
  int result = history_.back().desired;
  for (const Record& record : history_) {
    if (record.at >= since) {
      result = std::min(result, record.desired);
    }
  }
  return result;
}

int ScalingEngine::window_max(MonoTime now, double window_s) const {
  const MonoTime since = now - from_seconds(window_s);
  int result = history_.back().desired;
  for (const Record& record : history_) {
    if (record.at >= since) {
      result = std::max(result, record.desired);
    }
  }
  return result;
}

ScalingEngine::Verdict ScalingEngine::decide_shed(const Recommendation& rec, MonoTime now) const {
  const std::optional<double> since = seconds_since(last_shed_, now);
  if (since && *since < params_.flip_cooldown_s) {
    return {Action::kHold, rec.current,
            fmt::format("{}: shed held, {:.0f} s since the last shed < {:g} s", rec.shed_rule,
                        *since, params_.flip_cooldown_s)};
  }
  return {Action::kShed, *rec.shed_to,
          fmt::format("{}: shed {} -> {}", rec.shed_rule, rec.current, *rec.shed_to)};
}

ScalingEngine::Verdict ScalingEngine::decide_up(const Recommendation& rec, MonoTime now) const {
  const int current = rec.current;
  int target = rec.desired;
  if (params_.up_window_s > 0) {
    const int lowest = window_min(now);
    target = std::min(target, lowest);
    if (target <= current) {
      return {Action::kHold, current,
              fmt::format("scale-up window: min recommendation {} over {:g} s <= {}", lowest,
                          params_.up_window_s, current)};
    }
  }
  // The scale-up cooldown stops a pool from growing again before the last scale-up has had an
  // effect. While queued tasks wait past the target, that scale-up is known to fall short.
  std::string skipped;
  if (const std::optional<double> since = seconds_since(last_up_, now);
      since && *since < params_.up_cooldown_s) {
    if (!rec.wait_breached || !params_.breach_skips_up_cooldown) {
      return {Action::kHold, current,
              fmt::format("scale-up cooldown: {:.0f} s since the last scale-up < {:g} s", *since,
                          params_.up_cooldown_s)};
    }
    skipped = fmt::format(" (scale-up cooldown skipped at {:.0f} s: wait target breached)", *since);
  }
  if (const std::optional<double> since = seconds_since(last_down_, now);
      since && *since < params_.flip_cooldown_s) {
    if (!rec.wait_breached || !params_.breach_skips_flip_cooldown) {
      return {Action::kHold, current,
              fmt::format("cooldown: {:.0f} s since the last scale-down < {:g} s", *since,
                          params_.flip_cooldown_s)};
    }
    skipped += fmt::format(
        " (cooldown after the scale-down skipped at {:.0f} s: wait target "
        "breached)",
        *since);
  }
  std::string step_text;
  if (params_.max_up_step > 0 && target > current + params_.max_up_step) {
    target = current + params_.max_up_step;
    step_text = fmt::format(" (at most {} per scale-up)", count_text(params_.max_up_step, "agent"));
  }
  if (params_.batch_size > 1) {
    const int batches = (target - current + params_.batch_size - 1) / params_.batch_size;
    const int rounded =
        std::min(current + batches * params_.batch_size, std::max(target, rec.upper_bound));
    if (rounded != target) {
      step_text = fmt::format(" (rounded up to batches of {})", params_.batch_size);
    }
    target = rounded;
  }
  // The decision carries the action and both counts, and every output prints them beside the
  // reason, so the reason does not repeat them.
  return {Action::kScaleUp, target, rec.reason + step_text + skipped};
}

ScalingEngine::Verdict ScalingEngine::decide_down(const Recommendation& rec, MonoTime now) const {
  const int current = rec.current;
  if (!rec.missing.empty()) {
    std::string names;
    for (const std::string& name : rec.missing) {
      names += names.empty() ? name : ", " + name;
    }
    return {Action::kHold, current,
            fmt::format("no scale-down while a metric is missing ({})", names)};
  }
  if (const std::optional<double> since = seconds_since(last_up_, now);
      since && *since < params_.flip_cooldown_s) {
    return {Action::kHold, current,
            fmt::format("cooldown: {:.0f} s since the last scale-up < {:g} s", *since,
                        params_.flip_cooldown_s)};
  }
  if (const std::optional<double> since = seconds_since(last_down_, now);
      since && *since < params_.down_interval_s && !rec.ceiling_bound) {
    return {Action::kHold, current,
            fmt::format("scale-down interval: {:.0f} s since the last scale-down < {:g} s", *since,
                        params_.down_interval_s)};
  }
  if (rec.ceiling_bound) {
    const int target = std::min(current - 1, rec.upper_bound);
    return {Action::kScaleDown, target, "memory ceiling below the pool; " + rec.reason};
  }
  const double observed_s = to_seconds(now - *first_evaluation_);
  if (observed_s < params_.down_window_s) {
    return {
        Action::kHold, current,
        fmt::format("hold window: {:.0f} s of {:g} s observed", observed_s, params_.down_window_s)};
  }
  if (std::optional<Verdict> drop = decide_drop(rec, now, observed_s)) {
    return *drop;
  }
  const int highest = window_max(now, params_.down_window_s);
  const double tolerated_excess =
      std::max<double>(params_.down_dead_band, params_.down_tolerance * current);
  if (current - highest <= tolerated_excess) {
    std::string tolerance_text;
    if (tolerated_excess > 0 && highest < current) {
      tolerance_text =
          fmt::format(", within {:g} agents of the pool", std::floor(tolerated_excess));
    }
    return {Action::kHold, current,
            fmt::format("hold window: max recommendation {} over {:g} s{}", highest,
                        params_.down_window_s, tolerance_text)};
  }
  const int step = std::max(1, static_cast<int>(std::floor(current * params_.down_step_fraction)));
  const int target = std::max(highest, current - step);
  return {Action::kScaleDown, target,
          fmt::format("max recommendation {} over {:g} s; {}", highest, params_.down_window_s,
                      rec.reason)};
}

std::optional<ScalingEngine::Verdict> ScalingEngine::decide_drop(const Recommendation& rec,
                                                                 MonoTime now,
                                                                 double observed_s) const {
  if (params_.drop_window_s <= 0 || observed_s < params_.drop_window_s) {
    return std::nullopt;
  }
  // A scale-up within the long window means the load was rising, so the drop may be noise.
  if (const std::optional<double> since = seconds_since(last_up_, now);
      since && *since < params_.down_window_s) {
    return std::nullopt;
  }
  const int current = rec.current;
  const int recent = window_max(now, params_.drop_window_s);
  if (recent > params_.drop_fraction * current) {
    return std::nullopt;
  }
  return Verdict{
      Action::kScaleDown, recent,
      fmt::format("load dropped, max recommendation {} over {:g} s is at most {:g} % of "
                  "the pool; {}",
                  recent, params_.drop_window_s, params_.drop_fraction * 100, rec.reason)};
}

ScalingEngine::Verdict ScalingEngine::decide_locked(const Recommendation& rec, MonoTime now) const {
  if (rec.shed_to) {
    return decide_shed(rec, now);
  }
  if (rec.desired > rec.current) {
    return decide_up(rec, now);
  }
  if (rec.desired < rec.current) {
    return decide_down(rec, now);
  }
  if (rec.proposed != rec.current && is_blocking_limit(rec.limit)) {
    return {Action::kHold, rec.current,
            fmt::format("held at {} by {}: proposed {}; {}", rec.current, rec.limit, rec.proposed,
                        rec.reason)};
  }
  return {Action::kNone, rec.current, fmt::format("at desired size; {}", rec.reason)};
}

ScalingEvent ScalingEngine::make_event(const Decision& decision) const {
  ScalingEvent event;
  event.decision_id = decision.id;
  event.time = decision.wall_time;
  event.action = decision.action;
  event.from = decision.from;
  event.to = decision.to;
  event.strategy = decision.strategy;
  event.reason = decision.reason;
  if (decision.inputs.gpu) {
    event.gpu_memory_used_mib = decision.inputs.gpu->used_mib;
    event.gpu_memory_fraction = decision.inputs.gpu->memory_fraction();
    event.gpu_utilization = decision.inputs.gpu->utilization;
  }
  event.queue_length = decision.inputs.workload.queue_length;
  event.outcome = dry_run_ ? Outcome::kDryRun : Outcome::kPending;
  return event;
}

Decision ScalingEngine::evaluate(const EngineInputs& inputs) {
  const MonoTime now = clock_->now();
  Decision decision;
  std::optional<ScalingEvent> event;
  NotificationCallback notify;
  bool dry_run = false;
  {
    std::lock_guard lock(mutex_);
    if (!first_evaluation_) {
      first_evaluation_ = now;
    }
    evaluations_++;
    Recommendation rec = recommend(inputs, params_, now);
    remember(now, rec.desired);
    Verdict verdict = decide_locked(rec, now);

    decision.id = next_id_++;
    decision.at = now;
    decision.wall_time = clock_->wall_now();
    decision.strategy = params_.strategy;
    decision.inputs = inputs;
    decision.recommendation = std::move(rec);
    decision.action = verdict.action;
    decision.from = inputs.agents;
    decision.to = verdict.to;
    decision.reason = std::move(verdict.reason);

    if (decision.action == Action::kScaleUp) {
      last_up_ = now;
    } else if (decision.action == Action::kScaleDown) {
      last_down_ = now;
    } else if (decision.action == Action::kShed) {
      last_down_ = now;
      last_shed_ = now;
    }
    if (changes_pool(decision.action)) {
      event = make_event(decision);
      events_.push_back(*event);
      if (events_.size() > kMaxEvents) {
        events_.pop_front();
      }
      notify = notify_;
    }
    decisions_.push_back(decision);
    if (decisions_.size() > kMaxDecisions) {
      decisions_.pop_front();
    }
    last_inputs_ = inputs;
    dry_run = dry_run_;
  }

  if (event) {
    get_logger("scaling")->info("decision={} action={} from={} to={} dry_run={} reason=\"{}\"",
                                decision.id, action_name(decision.action), decision.from,
                                decision.to, dry_run, decision.reason);
    if (notify) {
      notify(*event);
    }
  } else {
    get_logger("scaling")->debug("decision={} action={} agents={} reason=\"{}\"", decision.id,
                                 action_name(decision.action), decision.from, decision.reason);
  }
  return decision;
}

Status ScalingEngine::record_outcome(uint64_t decision_id, bool success, Duration duration) {
  ScalingEvent updated;
  NotificationCallback notify;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(events_.begin(), events_.end(), [&](const ScalingEvent& event) {
      return event.decision_id == decision_id;
    });
    if (it == events_.end()) {
      return Status(ErrorCode::kNotFound,
                    fmt::format("scaling decision {} has no event; it made no change or left "
                                "the history of the last {} events",
                                decision_id, kMaxEvents));
    }
    if (it->outcome == Outcome::kDryRun) {
      return Status(ErrorCode::kConflict,
                    fmt::format("scaling decision {} was made in dry run; nothing was executed",
                                decision_id));
    }
    it->outcome = success ? Outcome::kSucceeded : Outcome::kFailed;
    it->duration_s = to_seconds(duration);
    updated = *it;
    notify = notify_;
  }
  if (!success) {
    get_logger("scaling")->warn("decision={} action={} from={} to={} failed after {:.1f} s",
                                updated.decision_id, action_name(updated.action), updated.from,
                                updated.to, *updated.duration_s);
  }
  if (notify) {
    notify(updated);
  }
  return Status::ok();
}

}  // namespace ollamaflow::scaling
