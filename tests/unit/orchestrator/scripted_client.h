// A scripted LlmClient for orchestrator tests: returns queued replies or failures in order and
// records every request.
#pragma once

#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "llm/client.h"

namespace ollamaflow::orchestrator::testing {

class ScriptedClient final : public llm::LlmClient {
 public:
  // Queues a reply with `content` and done_reason "stop".
  void reply(std::string content, int64_t prompt_tokens = 10, int64_t output_tokens = 20) {
    llm::ChatResponse response;
    response.content = std::move(content);
    response.done_reason = "stop";
    response.model = "scripted-model";
    response.usage.prompt_tokens = prompt_tokens;
    response.usage.output_tokens = output_tokens;
    push(std::move(response));
  }
  // Queues `response`, after tries that the client retried and that spent `retried_prompt` and
  // `retried_output` tokens.
  void push(llm::ChatResponse response, int64_t retried_prompt = 0, int64_t retried_output = 0) {
    std::lock_guard lock(mutex_);
    script_.push_back(
        {std::move(response), Status::ok(), usage_of(retried_prompt, retried_output)});
  }
  // Queues a failed request that spent these tokens before it failed.
  void fail(ErrorCode code, std::string message, int64_t prompt_tokens = 0,
            int64_t output_tokens = 0) {
    std::lock_guard lock(mutex_);
    script_.push_back(
        {std::nullopt, Status(code, std::move(message)), usage_of(prompt_tokens, output_tokens)});
  }
  // Queues a request that is cancelled after it spent these tokens.
  void cancel_spent(int64_t prompt_tokens, int64_t output_tokens) {
    fail(ErrorCode::kCancelled, "request cancelled while streaming", prompt_tokens, output_tokens);
  }

  Result<llm::ChatResponse> chat(const llm::ChatRequest& request, const CancelToken& cancel,
                                 const llm::TokenCallback& /*on_token*/,
                                 llm::ChatProgress* progress) override {
    std::lock_guard lock(mutex_);
    if (++arrivals_ == cancel_on_arrival_) {
      arrival_target_->cancel();
    }
    if (cancel.cancelled()) {
      return Result<llm::ChatResponse>(ErrorCode::kCancelled, "request cancelled");
    }
    requests_.push_back(request);
    if (progress != nullptr) {
      progress->sent = true;
    }
    if (clock_ != nullptr) {
      clock_->advance(request_duration_);
    }
    if (cancel_after_ >= 0 && static_cast<int>(requests_.size()) >= cancel_after_) {
      cancel_target_->cancel();
    }
    if (script_.empty()) {
      return Result<llm::ChatResponse>(ErrorCode::kInternal, "the script has no more replies");
    }
    Step next = std::move(script_.front());
    script_.pop_front();
    if (progress != nullptr) {
      progress->failed_usage = next.failed_usage;
    }
    if (!next.response) {
      return next.failure;
    }
    return std::move(*next.response);
  }

  // Advances `clock` by `duration` inside every request that is not cancelled, as a server
  // that takes that long to reply.
  void take_time(FakeClock* clock, Duration duration) {
    clock_ = clock;
    request_duration_ = duration;
  }

  // Cancels `token` as request number `arrival` (from 1) arrives, before the client's own cancel
  // check, as a Ctrl-C that lands between the caller's check and the client's.
  void cancel_on_arrival(int arrival, CancelToken* token) {
    cancel_on_arrival_ = arrival;
    arrival_target_ = token;
  }

  // Cancels `token` from inside the request after `requests` requests were received.
  void cancel_after(int requests, CancelToken* token) {
    cancel_after_ = requests;
    cancel_target_ = token;
  }

  Result<std::vector<llm::ModelInfo>> list_models() override {
    return std::vector<llm::ModelInfo>{};
  }
  Result<std::string> version() override { return std::string("scripted"); }
  Result<std::vector<llm::LoadedModel>> loaded_models() override {
    return std::vector<llm::LoadedModel>{};
  }
  std::string backend_name() const override { return "scripted"; }
  std::string endpoint() const override { return "scripted://test"; }

  std::vector<llm::ChatRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  size_t remaining() const {
    std::lock_guard lock(mutex_);
    return script_.size();
  }

 private:
  // One scripted request: a reply, or else a failure, and the tokens for ChatProgress.
  struct Step {
    std::optional<llm::ChatResponse> response;
    Status failure;
    llm::ChatUsage failed_usage;
  };

  static llm::ChatUsage usage_of(int64_t prompt_tokens, int64_t output_tokens) {
    llm::ChatUsage usage;
    usage.prompt_tokens = prompt_tokens;
    usage.output_tokens = output_tokens;
    return usage;
  }

  mutable std::mutex mutex_;
  std::deque<Step> script_;
  std::vector<llm::ChatRequest> requests_;
  int arrivals_ = 0;  // chat() calls, the cancelled ones included
  int cancel_on_arrival_ = -1;
  CancelToken* arrival_target_ = nullptr;
  int cancel_after_ = -1;
  CancelToken* cancel_target_ = nullptr;
  FakeClock* clock_ = nullptr;
  Duration request_duration_{};
};

}  // namespace ollamaflow::orchestrator::testing
