#include "llm/retry.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/log.h"

namespace ollamaflow::llm {
namespace {

constexpr double kMaxWaitStepS = 0.25;

std::string retries_text(int retries) {
  return fmt::format("{} retr{}", retries, retries == 1 ? "y" : "ies");
}

}  // namespace

RetryPolicy RetryPolicy::from(const ServerSettings& server) {
  RetryPolicy policy;
  policy.max_retries = server.max_retries;
  policy.base_delay_s = server.retry_base_delay_s;
  policy.max_delay_s = server.retry_max_delay_s;
  return policy;
}

RetryingClient::RetryingClient(LlmClientPtr inner, RetryPolicy policy, std::shared_ptr<Clock> clock,
                               std::function<double()> random)
    : inner_(std::move(inner)),
      policy_(policy),
      clock_(clock ? std::move(clock) : system_clock()),
      random_(std::move(random)),
      engine_(std::random_device()()) {}

double RetryingClient::backoff_seconds(const RetryPolicy& policy, int retry, double draw) {
  const double exponent = std::min(retry - 1, 62);
  const double ceiling =
      std::min(policy.max_delay_s, policy.base_delay_s * std::pow(2.0, std::max(exponent, 0.0)));
  return std::clamp(draw, 0.0, 1.0) * std::max(ceiling, 0.0);
}

bool RetryingClient::should_retry(ErrorCode code) const {
  switch (code) {
    case ErrorCode::kServerBusy:
    case ErrorCode::kServerError:
      return true;
    case ErrorCode::kUnavailable:
      return policy_.retry_unavailable;
    case ErrorCode::kTimeout:
      return policy_.retry_timeout;
    default:
      return false;
  }
}

void RetryingClient::count_retry(ErrorCode code) {
  switch (code) {
    case ErrorCode::kServerBusy:
      ++retried_busy_;
      break;
    case ErrorCode::kServerError:
      ++retried_server_error_;
      break;
    case ErrorCode::kUnavailable:
      ++retried_unavailable_;
      break;
    case ErrorCode::kTimeout:
      ++retried_timeout_;
      break;
    default:
      break;
  }
}

double RetryingClient::draw() {
  if (random_) {
    return random_();
  }
  std::lock_guard<std::mutex> lock(random_mutex_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
}

bool RetryingClient::wait(double seconds, const CancelToken& cancel) {
  double remaining = seconds;
  while (remaining > 0) {
    if (cancel.cancelled()) {
      return false;
    }
    const double step = std::min(remaining, kMaxWaitStepS);
    clock_->sleep_for(from_seconds(step));
    remaining -= step;
  }
  return !cancel.cancelled();
}

Result<ChatResponse> RetryingClient::chat(const ChatRequest& request, const CancelToken& cancel,
                                          const TokenCallback& on_token, ChatProgress* progress) {
  ++requests_;
  // Whether any try was sent, and the tokens of the tries that failed, the retried ones and the
  // last one alike.
  ChatProgress failed;
  for (int retry = 0;; ++retry) {
    ++attempts_;
    ChatProgress attempt;
    Result<ChatResponse> response = inner_->chat(request, cancel, on_token, &attempt);
    failed.sent = failed.sent || attempt.sent;
    if (response.is_ok()) {
      if (retry > 0) {
        ++recovered_;
      }
      if (progress != nullptr) {
        *progress = failed;
      }
      return response;
    }
    add_usage(failed.failed_usage, attempt.failed_usage);
    if (progress != nullptr) {
      *progress = failed;
    }
    const Status failure = response.status();
    if (!should_retry(failure.code()) || cancel.cancelled()) {
      return response;
    }
    if (retry >= policy_.max_retries) {
      ++exhausted_;
      get_logger("llm")->warn("chat failed after {} model={} url={} error={}", retries_text(retry),
                              request.model, endpoint(), failure.to_string());
      return failure.with_context("after " + retries_text(retry));
    }
    const double delay = backoff_seconds(policy_, retry + 1, draw());
    get_logger("llm")->info("retrying chat model={} retry={}/{} delay_s={:.3f} url={} error={}",
                            request.model, retry + 1, policy_.max_retries, delay, endpoint(),
                            failure.to_string());
    backoff_nanoseconds_ += from_seconds(delay).count();
    if (!wait(delay, cancel)) {
      return Status(ErrorCode::kCancelled,
                    "chat request cancelled while it waited to retry after: " + failure.message());
    }
    count_retry(failure.code());
  }
}

RetryStats RetryingClient::stats() const {
  RetryStats stats;
  stats.requests = requests_;
  stats.attempts = attempts_;
  stats.retried_busy = retried_busy_;
  stats.retried_server_error = retried_server_error_;
  stats.retried_unavailable = retried_unavailable_;
  stats.retried_timeout = retried_timeout_;
  stats.retries = stats.retried_busy + stats.retried_server_error + stats.retried_unavailable +
                  stats.retried_timeout;
  stats.recovered = recovered_;
  stats.exhausted = exhausted_;
  stats.backoff_seconds = static_cast<double>(backoff_nanoseconds_) / 1e9;
  return stats;
}

}  // namespace ollamaflow::llm
