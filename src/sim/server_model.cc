#include "sim/server_model.h"

#include <algorithm>
#include <cmath>

namespace ollamaflow::sim {

double ServerParams::solo_seconds(int prompt_tokens, int output_tokens) const {
  return prompt_tokens / prompt_tokens_per_s + output_tokens / output_tokens_per_s;
}

SimServer::SimServer(ServerParams params) : params_(params) {}

double SimServer::speed(int running) const {
  return 1.0 / (1.0 + params_.slowdown_per_slot * std::max(0, running - 1));
}

void SimServer::advance(double now) {
  if (now > updated_at_) {
    progress_ += (now - updated_at_) * speed(running());
    updated_at_ = now;
  }
}

Admission SimServer::submit(uint64_t id, int prompt_tokens, int output_tokens, double now) {
  advance(now);
  if (reject_all_ || (running() >= params_.slots && waiting() >= params_.max_queue)) {
    ++rejected_;
    return Admission::kRejected;
  }
  const double work = params_.solo_seconds(prompt_tokens, output_tokens);
  if (running() < params_.slots) {
    start(id, work, now);
    return Admission::kStarted;
  }
  waiting_.push_back({id, work});
  return Admission::kQueued;
}

void SimServer::start(uint64_t id, double work, double now) {
  const double finish = progress_ + work;
  running_.insert({finish, id});
  finish_of_[id] = finish;
  max_running_ = std::max(max_running_, running());
  check_memory();
  if (on_start_) {
    on_start_(id, now);
  }
}

void SimServer::fill_slots(double now) {
  while (running() < params_.slots && !waiting_.empty()) {
    const Waiting next = waiting_.front();
    waiting_.pop_front();
    start(next.id, next.work, now);
  }
}

bool SimServer::cancel(uint64_t id, double now) {
  advance(now);
  const auto found = finish_of_.find(id);
  if (found != finish_of_.end()) {
    running_.erase({found->second, id});
    finish_of_.erase(found);
    fill_slots(now);
    check_memory();
    return true;
  }
  const auto queued = std::find_if(waiting_.begin(), waiting_.end(),
                                   [id](const Waiting& entry) { return entry.id == id; });
  if (queued == waiting_.end()) {
    return false;
  }
  waiting_.erase(queued);
  return true;
}

std::optional<double> SimServer::next_completion() const {
  if (running_.empty()) {
    return std::nullopt;
  }
  const double remaining = std::max(0.0, running_.begin()->first - progress_);
  return updated_at_ + remaining / speed(running());
}

uint64_t SimServer::complete_next(double now) {
  advance(now);
  const uint64_t id = running_.begin()->second;
  running_.erase(running_.begin());
  finish_of_.erase(id);
  fill_slots(now);
  check_memory();
  return id;
}

void SimServer::set_foreign_mib(double mib, double now) {
  advance(now);
  foreign_mib_ = mib;
  check_memory();
}

double SimServer::used_mib() const {
  return params_.weights_mib + params_.graph_mib + params_.reserve_mib +
         params_.kv_per_slot_mib * running() + foreign_mib_;
}

int SimServer::slot_ceiling(double buffer_mib, double margin_fraction) const {
  const double left = params_.gpu_total_mib * (1 - margin_fraction) - buffer_mib - foreign_mib_ -
                      params_.weights_mib - params_.graph_mib - params_.reserve_mib;
  return std::max(0, static_cast<int>(std::floor(left / params_.kv_per_slot_mib)));
}

void SimServer::check_memory() {
  const bool over = used_mib() > params_.gpu_total_mib;
  if (over && !overcommitted_) {
    ++overcommits_;
  }
  overcommitted_ = over;
}

}  // namespace ollamaflow::sim
