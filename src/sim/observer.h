// The simulator's agent observer.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>

#include "agents/agent_info.h"
#include "agents/collector_feed.h"
#include "workload/collector.h"

namespace ollamaflow::sim {

// Feeds the collector as the flow's run observer does, and counts agents for the agent-seconds.
// The manager calls it one event at a time; the driver reads it only while every agent thread
// is parked.
class SimObserver final : public agents::AgentObserver {
 public:
  // `now` returns the virtual time in seconds from the trace start.
  SimObserver(workload::MetricsCollector& collector, std::function<double()> now, double duration_s)
      : collector_(collector), now_(std::move(now)), duration_s_(duration_s) {}

  void on_state_changed(const agents::AgentInfo& agent, agents::AgentState from) override {
    using agents::AgentState;
    agents::record_agent_state(collector_, agent, from);
    // Live agents for the agent-seconds: counted from initializing until they end.
    if (agent.state == AgentState::kInitializing && from == AgentState::kCreating) {
      change_live(+1);
    } else if ((agent.state == AgentState::kTerminated || agent.state == AgentState::kError) &&
               from != AgentState::kCreating) {
      change_live(-1);
    }
  }

  void on_task_started(const agents::AgentInfo& agent, const queue::Task& task,
                       Duration /*wait*/) override {
    collector_.task_started(task.id, agent.id);
  }

  void on_task_finished(const agents::AgentInfo& /*agent*/, const queue::Task& task,
                        const agents::TaskOutcome& outcome, Duration /*duration*/) override {
    agents::record_task_outcome(collector_, task.id, outcome.ok, outcome.code);
  }

  void on_task_requeued(const agents::AgentInfo& /*agent*/, const queue::Task& task,
                        const agents::TaskRequeue& requeue) override {
    collector_.task_retried(task.id);
    if (requeue.reason == agents::RequeueReason::kDrainTimeout ||
        requeue.reason == agents::RequeueReason::kShutdown) {
      ++killed_;
    }
  }

  // Books the agent-seconds up to now, counting only time from the trace start to its end.
  void book(double now) {
    const double from = std::clamp(booked_at_, 0.0, duration_s_);
    const double to = std::clamp(now, 0.0, duration_s_);
    agent_seconds_ += live_ * std::max(0.0, to - from);
    if (to > from || (now >= 0 && now < duration_s_)) {
      peak_ = std::max(peak_, live_);
    }
    booked_at_ = now;
  }

  double agent_seconds() const { return agent_seconds_; }
  int peak() const { return peak_; }
  int64_t killed() const { return killed_; }

 private:
  void change_live(int delta) {
    book(now_());
    live_ += delta;
    book(now_());
  }

  workload::MetricsCollector& collector_;
  std::function<double()> now_;
  const double duration_s_;
  int live_ = 0;
  int peak_ = 0;
  double booked_at_ = -INFINITY;
  double agent_seconds_ = 0;
  int64_t killed_ = 0;
};

}  // namespace ollamaflow::sim
