// Agent-thread hooks of a simulation: the warm-up (the start-up time), the task executor (a
// request to the simulated server, with retries after 503), and the observer that feeds the
// metrics collector as the flow's run observer does.
#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "sim/simulation.h"

namespace ollamaflow::sim {

Status Simulation::warm_up(const agents::AgentInfo& agent) {
  std::unique_lock lock(gate_.mutex());
  Waiter& waiter = gate_.register_current(agent.id);
  const double now = now_s();
  const FaultPlan& faults = settings_.faults;
  const double startup = faults.slow_load && faults.slow_load->contains(now) ? faults.slow_load_s
                                                                             : settings_.startup_s;
  if (gate_.park_until(lock, waiter, now + startup, now) == Wake::kShutdown) {
    return Status(ErrorCode::kCancelled, "the simulation ended during the warm-up");
  }
  return Status::ok();
}

agents::TaskOutcome Simulation::execute(const agents::AgentInfo& /*agent*/, const queue::Task& task,
                                        const CancelToken& cancel) {
  agents::TaskOutcome cancelled;
  cancelled.code = ErrorCode::kCancelled;
  cancelled.error = "cancelled while the server worked on it";
  // The gate shuts down only after the figures are final. The agent hands the task back to the
  // queue, which drops it, so the end of a run logs no failed or lost task.
  agents::TaskOutcome ended;
  ended.code = ErrorCode::kCancelled;
  ended.error = "the simulation ended before the server finished the request";
  ended.retry = true;
  const size_t index = std::stoul(task.id.substr(1));
  const Request& request = trace_.requests[index];
  std::unique_lock lock(gate_.mutex());
  Waiter* waiter = Gate::current();
  for (int attempt = 0;; ++attempt) {
    const double now = now_s();
    const uint64_t id = next_request_++;
    in_flight_[id] = InFlight{index, waiter};
    const Admission admission =
        server_.submit(id, request.prompt_tokens, request.output_tokens, now);
    if (admission == Admission::kRejected) {
      in_flight_.erase(id);
      if (attempt >= settings_.max_retries) {
        ++failed_;
        tasks_[index].failed = true;
        agents::TaskOutcome failed;
        failed.code = ErrorCode::kServerBusy;
        failed.error = fmt::format("the server answered 503 to {} attempts", attempt + 1);
        failed.attempts = attempt + 1;
        return failed;
      }
      const double delay =
          std::min(settings_.retry_max_s, settings_.retry_base_s * std::pow(2.0, attempt));
      if (gate_.park_until(lock, *waiter, now + delay, now) == Wake::kShutdown) {
        return ended;
      }
      if (cancel.cancelled()) {
        return cancelled;
      }
      continue;
    }
    waiter->request = id;
    waiter->cancel = &cancel;
    const Wake wake = gate_.park(lock, *waiter, Waiter::Kind::kExecute, now);
    waiter->cancel = nullptr;
    if (wake == Wake::kShutdown) {
      in_flight_.erase(id);
      return ended;
    }
    if (wake != Wake::kDone) {
      return cancelled;
    }
    tasks_[index].done = true;
    ++completed_;
    agents::TaskOutcome done;
    done.ok = true;
    return done;
  }
}

void Simulation::kick_removed(const std::vector<std::string>& ids) {
  std::lock_guard lock(gate_.mutex());
  for (const std::string& id : ids) {
    if (Waiter* waiter = gate_.find_parked(id, Waiter::Kind::kPop)) {
      gate_.release(*waiter, Wake::kKicked);
    }
  }
}

void Simulation::kick_final_poppers() {
  std::vector<std::string> ended;
  for (const agents::AgentInfo& agent : manager_->agents()) {
    if (agents::is_final(agent.state)) {
      ended.push_back(agent.id);
    }
  }
  kick_removed(ended);
}

void Simulation::cancel_drained() {
  std::lock_guard lock(gate_.mutex());
  for (Waiter* waiter : gate_.parked_executors()) {
    if (waiter->cancel != nullptr && waiter->cancel->cancelled()) {
      server_.cancel(waiter->request, now_s());
      in_flight_.erase(waiter->request);
      gate_.release(*waiter, Wake::kCancelled);
    }
  }
}

}  // namespace ollamaflow::sim
