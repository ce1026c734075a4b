// Retries of chat requests that a model server failed for a transient reason (busy, 5xx), with
// exponential backoff and full jitter, waiting on the injected Clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "core/clock.h"
#include "core/config.h"
#include "llm/client.h"

namespace ollamaflow::llm {

struct RetryPolicy {
  int max_retries = 4;  // retries after the first attempt; 0 disables retries
  double base_delay_s = 0.5;
  double max_delay_s = 8;
  bool retry_unavailable = false;  // also retry kUnavailable (refused connection, DNS)
  bool retry_timeout = false;      // also retry kTimeout (gateway timeouts, stalled streams)

  // Returns max_retries, retry_base_delay_s and retry_max_delay_s of `server`.
  static RetryPolicy from(const ServerSettings& server);
};

// Counters of a RetryingClient.
struct RetryStats {
  uint64_t requests = 0;  // chat() calls
  uint64_t attempts = 0;  // requests sent to the wrapped client
  uint64_t retries = 0;   // attempts after the first, all causes
  uint64_t retried_busy = 0;
  uint64_t retried_server_error = 0;
  uint64_t retried_unavailable = 0;
  uint64_t retried_timeout = 0;
  uint64_t recovered = 0;  // requests that succeeded after at least one retry
  uint64_t exhausted = 0;  // requests that failed with a retryable code after the last retry
  double backoff_seconds = 0;
};

// An LlmClient that forwards to another and retries chat() on kServerBusy and kServerError
// (and kUnavailable or kTimeout when the policy enables them). Retry n waits a uniformly random
// time in [0, min(max_delay_s, base_delay_s × 2^(n−1))) on the clock ("full jitter"), checking
// the CancelToken at least every 0.25 s of clock time. Other errors (kTruncated, kParseError,
// kSchemaUnsupported, ...) return at once, because only the caller can change the request.
// `progress` gets the tokens that every failed try spent, so a caller also counts the tokens of
// the tries that a retry replaced. The other methods are forwarded without retries.
//
// NOTE: `on_token` receives the pieces of every attempt, so a caller that displays them sees a
// failed attempt's partial text before the retry's.
//
// Thread-safe: chat() may run concurrently; the counters are atomic.
class RetryingClient final : public LlmClient {
 public:
  // `random` returns draws in [0, 1); by default a Mersenne Twister seeded from
  // std::random_device.
  RetryingClient(LlmClientPtr inner, RetryPolicy policy, std::shared_ptr<Clock> clock,
                 std::function<double()> random = nullptr);

  Result<ChatResponse> chat(const ChatRequest& request, const CancelToken& cancel,
                            const TokenCallback& on_token = nullptr,
                            ChatProgress* progress = nullptr) override;
  Result<std::vector<ModelInfo>> list_models() override { return inner_->list_models(); }
  Result<std::string> version() override { return inner_->version(); }
  Result<std::vector<LoadedModel>> loaded_models() override { return inner_->loaded_models(); }
  std::string backend_name() const override { return inner_->backend_name(); }
  std::string endpoint() const override { return inner_->endpoint(); }

  RetryStats stats() const;
  const LlmClientPtr& inner() const { return inner_; }
  const RetryPolicy& policy() const { return policy_; }

  // Returns the wait before retry number `retry` (from 1) for a draw in [0, 1).
  static double backoff_seconds(const RetryPolicy& policy, int retry, double draw);

 private:
  bool should_retry(ErrorCode code) const;
  void count_retry(ErrorCode code);
  double draw();
  // Waits `seconds` on the clock; returns false when `cancel` was set meanwhile.
  bool wait(double seconds, const CancelToken& cancel);

  const LlmClientPtr inner_;
  const RetryPolicy policy_;
  const std::shared_ptr<Clock> clock_;
  std::function<double()> random_;

  std::mutex random_mutex_;
  std::mt19937_64 engine_;  // guarded by random_mutex_

  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> attempts_{0};
  std::atomic<uint64_t> retried_busy_{0};
  std::atomic<uint64_t> retried_server_error_{0};
  std::atomic<uint64_t> retried_unavailable_{0};
  std::atomic<uint64_t> retried_timeout_{0};
  std::atomic<uint64_t> recovered_{0};
  std::atomic<uint64_t> exhausted_{0};
  std::atomic<int64_t> backoff_nanoseconds_{0};
};

}  // namespace ollamaflow::llm
