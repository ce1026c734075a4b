#include "sim/driver.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "core/log.h"
#include "sim/simulation.h"

namespace ollamaflow::sim {

double Simulation::now_s() const {
  return to_seconds(clock_->now() - epoch_);
}

MonoTime Simulation::to_mono(double t) const {
  return epoch_ + from_seconds(t);
}

void Simulation::schedule(double t, EventKind kind, size_t payload) {
  events_.push(Event{t, sequence_++, kind, payload});
}

void Simulation::wait_quiet() {
  gate_.wait_quiet([this](const std::set<std::string>& registered) {
    for (const agents::AgentInfo& agent : manager_->agents()) {
      const bool has_thread =
          agent.state == agents::AgentState::kInitializing ||
          agent.state == agents::AgentState::kActive || agent.state == agents::AgentState::kIdle ||
          agent.state == agents::AgentState::kBusy || agent.state == agents::AgentState::kDraining;
      if (has_thread && registered.count(agent.id) == 0) {
        return false;
      }
    }
    return true;
  });
}

bool Simulation::all_done() const {
  return completed_ + failed_ >= static_cast<int64_t>(trace_.requests.size());
}

// Runs the earliest event: a server completion first, then an agent's timer, then a scheduled
// event, so that ties resolve the same way in every run. Returns false when the run is over.
bool Simulation::step() {
  wait_quiet();
  std::optional<double> completion;
  std::optional<double> timer;
  bool done = false;
  {
    std::lock_guard lock(gate_.mutex());
    completion = server_.next_completion();
    timer = gate_.next_timer();
    done = all_done();
  }
  const double scheduled = events_.empty() ? INFINITY : events_.top().t;
  const double next =
      std::min({completion.value_or(INFINITY), timer.value_or(INFINITY), scheduled});
  if (!std::isfinite(next) || next > end_limit_ || (next >= trace_.duration_s && done)) {
    return false;
  }
  clock_->set(std::max(clock_->now(), to_mono(next)));
  if (completion && *completion == next) {
    std::lock_guard lock(gate_.mutex());
    const uint64_t id = server_.complete_next(next);
    const auto found = in_flight_.find(id);
    if (found != in_flight_.end()) {
      gate_.release(*found->second.waiter, Wake::kDone);
      in_flight_.erase(found);
    }
    return true;
  }
  if (timer && *timer == next) {
    {
      std::lock_guard lock(gate_.mutex());
      gate_.release_next_timer();
    }
    // A warm-up that ends may start the next creation batch.
    gate_.expect_launches();
    return true;
  }
  const Event event = events_.top();
  events_.pop();
  handle(event);
  return true;
}

void Simulation::handle(const Event& event) {
  switch (event.kind) {
    case EventKind::kArrival:
      on_arrival(event.payload);
      break;
    case EventKind::kEvaluate:
      on_evaluate(event.payload);
      break;
    case EventKind::kTick:
      on_tick();
      break;
    case EventKind::kSample:
      on_sample();
      break;
    case EventKind::kFault:
      apply_faults();
      break;
  }
}

void Simulation::on_arrival(size_t index) {
  const double now = now_s();
  queue::Task task;
  task.id = fmt::format("t{}", index);
  task.role = "developer";
  task.enqueued_at = clock_->now();
  collector_->task_queued(task.id);
  ++arrivals_since_sample_;
  {
    std::lock_guard lock(gate_.mutex());
    if (gate_.first_popper() == nullptr) {
      result_.unplaceable_s.push_back(now);
    }
  }
  queue_.push(std::move(task));
  if (policy_->evaluates_on_arrival() && !poke_pending_ && now >= 0) {
    poke_pending_ = true;
    schedule(now + 0.1, EventKind::kEvaluate, evaluate_generation_);
  }
}

void Simulation::on_evaluate(size_t generation) {
  if (generation != evaluate_generation_) {
    return;  // replaced by a later evaluation
  }
  const double now = now_s();
  poke_pending_ = false;
  const Observation observation = observe();
  const PolicyDecision decision = policy_->decide(observation);
  ++result_.evaluations;
  if (decision.act && decision.target > observation.agents) {
    result_.scale_up_decisions_s.push_back(now);
  }
  if (decision.act) {
    Result<agents::ScaleResult> scaled = manager_->scale_to(decision.target, decision.reason);
    policy_->on_outcome(decision, scaled.is_ok(), 0);
    if (scaled && scaled->to != scaled->from) {
      result_.actions.push_back(
          {now, scaled->from, scaled->to, decision.recorded, decision.reason});
    }
    if (scaled) {
      kick_removed(scaled->removed);
    }
    gate_.expect_launches();
  }
  ++evaluate_generation_;
  schedule(now + policy_->interval_s(), EventKind::kEvaluate, evaluate_generation_);
}

void Simulation::on_tick() {
  const int creating = manager_->count_by_state().at(agents::AgentState::kCreating);
  manager_->tick();
  const std::map<agents::AgentState, int> states = manager_->count_by_state();
  const int ended =
      states.at(agents::AgentState::kTerminated) + states.at(agents::AgentState::kError);
  if (ended != terminated_seen_) {
    terminated_seen_ = ended;
    kick_final_poppers();
  }
  cancel_drained();
  if (creating > 0) {
    gate_.expect_launches();
  }
  if (settings_.faults.metric_delay_s > 0) {
    remember_signals();
  }
  schedule(now_s() + settings_.manager_tick_s, EventKind::kTick);
}

void Simulation::on_sample() {
  const double now = now_s();
  TimePoint point;
  point.t = now;
  point.arrival_rate = now > last_sample_t_ ? arrivals_since_sample_ / (now - last_sample_t_) : 0;
  point.queued = static_cast<int>(queue_.size());
  {
    std::lock_guard lock(gate_.mutex());
    point.queued += server_.waiting();
    point.running = server_.running();
  }
  const std::map<agents::AgentState, int> states = manager_->count_by_state();
  for (const auto state :
       {agents::AgentState::kInitializing, agents::AgentState::kActive, agents::AgentState::kIdle,
        agents::AgentState::kBusy, agents::AgentState::kDraining}) {
    point.agents += states.at(state);
  }
  result_.points.push_back(point);
  arrivals_since_sample_ = 0;
  last_sample_t_ = now;
  if (now + settings_.sample_interval_s <= trace_.duration_s) {
    schedule(now + settings_.sample_interval_s, EventKind::kSample);
  }
}

Result<RunResult> Simulation::run() {
  const auto wall_start = std::chrono::steady_clock::now();
  Result<std::vector<std::string>> started = manager_->start(policy_->initial_agents());
  if (!started) {
    return started.status();
  }
  gate_.expect_launches();
  while (step()) {
    if (settings_.cancel && settings_.cancel->cancelled()) {
      return Status(ErrorCode::kCancelled,
                    fmt::format("simulation of {} interrupted at {:.0f} s of {:.0f} s",
                                policy_->name(), now_s(), trace_.duration_s));
    }
  }
  RunResult result = finish();
  result.wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

Result<RunResult> run_simulation(const Trace& trace, const std::string& policy,
                                 const ScenarioSettings& settings) {
  Simulation simulation(trace, settings);
  Status prepared = simulation.prepare(policy);
  if (!prepared) {
    return prepared;
  }
  return simulation.run();
}

}  // namespace ollamaflow::sim
