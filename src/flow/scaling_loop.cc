#include "flow/scaling_loop.h"

#include "core/count_text.h"
#include "core/log.h"

namespace ollamaflow::flow {
namespace {

// Shortest gap between two evaluations that poke() may cause.
constexpr auto kMinGap = std::chrono::milliseconds(100);

}  // namespace

ScalingLoop::ScalingLoop(std::shared_ptr<Clock> clock, Duration interval,
                         scaling::ScalingEngine& engine, workload::MetricsCollector& collector,
                         agents::AgentManager& manager, ScalingSources sources)
    : clock_(std::move(clock)),
      interval_(interval),
      engine_(engine),
      collector_(collector),
      manager_(manager),
      sources_(std::move(sources)) {}

ScalingLoop::~ScalingLoop() {
  stop();
}

void ScalingLoop::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ScalingLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void ScalingLoop::poke() {
  {
    std::lock_guard lock(mutex_);
    poked_ = true;
  }
  wake_.notify_all();
}

void merge_server_signal(const workload::ServerSignal& server,
                         std::optional<scaling::CapacitySignal>& capacity) {
  if (!server.total_slots && !server.busy_slots && !server.queued_requests) {
    return;
  }
  if (!capacity) {
    capacity.emplace();
    capacity->reason = "no memory estimate";
    capacity->sampled_at = server.sampled_at;
  }
  if (server.total_slots) {
    capacity->server_slots = server.total_slots;
    capacity->server_slots_source = server.source;
  }
  capacity->server_busy_slots = server.busy_slots;
  capacity->server_queued_requests = server.queued_requests;
}

scaling::EngineInputs ScalingLoop::build_inputs() {
  std::optional<workload::ServerSignal> server;
  if (sources_.server) {
    server = sources_.server();
    if (server) {
      collector_.set_server_signal(*server);
    }
  }
  scaling::EngineInputs inputs;
  const std::map<agents::AgentState, int> states = manager_.count_by_state();
  inputs.agents = manager_.capacity();
  inputs.starting_agents =
      states.at(agents::AgentState::kCreating) + states.at(agents::AgentState::kInitializing);
  inputs.workload = workload::to_signal(collector_.get_current_metrics());
  if (sources_.gpu) {
    inputs.gpu = sources_.gpu();
  }
  if (sources_.capacity) {
    inputs.capacity = sources_.capacity();
  }
  if (server) {
    merge_server_signal(*server, inputs.capacity);
  }
  return inputs;
}

void ScalingLoop::act(const scaling::Decision& decision) {
  const bool changes_count = decision.action == scaling::Action::kScaleUp ||
                             decision.action == scaling::Action::kScaleDown ||
                             decision.action == scaling::Action::kShed;
  if (!changes_count || engine_.get_scaling_status().dry_run) {
    return;
  }
  const MonoTime begin = clock_->now();
  Result<agents::ScaleResult> result = manager_.scale_to(decision.to, decision.reason);
  const Duration took = clock_->now() - begin;
  if (!result) {
    get_logger("scaling")->warn("decision={} {} {} -> {} failed: {}", decision.id,
                                scaling::action_name(decision.action), decision.from, decision.to,
                                result.status().message());
  }
  // The manager clamps the target to its own min_agents and max_agents. A decision that the
  // clamp undid left the pool as it was, so it failed, whatever scale_to() returned.
  const bool carried_out = result && result->to == decision.to;
  if (result && !carried_out) {
    get_logger("scaling")->warn(
        "decision={} {} {} -> {} not carried out: the agent manager clamped the target to {} "
        "by its min_agents or max_agents, and the pool has {}",
        decision.id, scaling::action_name(decision.action), decision.from, decision.to,
        result->target, count_text(result->to, "agent"));
  }
  Status booked = engine_.record_outcome(decision.id, carried_out, took);
  if (!booked) {
    get_logger("scaling")->debug("decision={} outcome not booked: {}", decision.id,
                                 booked.message());
  }
}

scaling::Decision ScalingLoop::evaluate_once() {
  std::lock_guard evaluate_lock(evaluate_mutex_);
  const scaling::Decision decision = engine_.evaluate(build_inputs());
  act(decision);
  std::lock_guard lock(mutex_);
  counts_.push_back({clock_->now(), manager_.capacity()});
  return decision;
}

std::vector<AgentCountPoint> ScalingLoop::agent_counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

void ScalingLoop::run() {
  while (true) {
    evaluate_once();
    std::unique_lock lock(mutex_);
    // Real-time wait on purpose: this thread paces a live run. Tests drive evaluate_once().
    wake_.wait_for(lock, interval_, [this] { return stopping_ || poked_; });
    if (stopping_) {
      return;
    }
    if (poked_) {
      poked_ = false;
      lock.unlock();
      std::this_thread::sleep_for(kMinGap);
    }
  }
}

}  // namespace ollamaflow::flow
