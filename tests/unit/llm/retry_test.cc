#include "llm/retry.h"

#include <gtest/gtest.h>

#include <deque>
#include <thread>

namespace ollamaflow::llm {
namespace {

// An LlmClient that returns scripted errors, then successes, and records when it was called.
class ScriptedClient final : public LlmClient {
 public:
  // The tokens that each scripted failure reports as spent.
  static constexpr int64_t kFailedPromptTokens = 7;
  static constexpr int64_t kFailedOutputTokens = 3;

  explicit ScriptedClient(std::shared_ptr<Clock> clock) : clock_(std::move(clock)) {}

  void fail(size_t count, ErrorCode code) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < count; ++i) {
      failures_.push_back(code);
    }
  }

  Result<ChatResponse> chat(const ChatRequest& request, const CancelToken&,
                            const TokenCallback& on_token, ChatProgress* progress) override {
    std::lock_guard<std::mutex> lock(mutex_);
    call_times_.push_back(clock_->seconds());
    if (progress != nullptr) {
      progress->sent = true;
    }
    if (on_token) {
      on_token("piece");
    }
    if (!failures_.empty()) {
      const ErrorCode code = failures_.front();
      failures_.pop_front();
      if (progress != nullptr) {
        progress->failed_usage.prompt_tokens = kFailedPromptTokens;
        progress->failed_usage.output_tokens = kFailedOutputTokens;
      }
      return Status(code, std::string("scripted ") + std::string(error_code_name(code)));
    }
    ChatResponse response;
    response.content = "ok";
    response.model = request.model;
    return response;
  }
  Result<std::vector<ModelInfo>> list_models() override {
    ModelInfo info;
    info.name = "scripted:1b";
    return std::vector<ModelInfo>{info};
  }
  Result<std::string> version() override { return std::string("9.9"); }
  Result<std::vector<LoadedModel>> loaded_models() override { return std::vector<LoadedModel>(); }
  std::string backend_name() const override { return "scripted"; }
  std::string endpoint() const override { return "scripted://here"; }

  std::vector<double> call_times() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return call_times_;
  }

 private:
  std::shared_ptr<Clock> clock_;
  mutable std::mutex mutex_;
  std::deque<ErrorCode> failures_;
  std::vector<double> call_times_;
};

// A clock that cancels a token on its first sleep, as a user pressing Ctrl-C during a backoff.
class CancellingClock final : public Clock {
 public:
  explicit CancellingClock(CancelToken& token) : token_(token) {}
  MonoTime now() const override { return inner_.now(); }
  WallTime wall_now() const override { return inner_.wall_now(); }
  void sleep_for(Duration duration) override {
    ++sleeps_;
    token_.cancel();
    inner_.sleep_for(duration);
  }
  int sleeps() const { return sleeps_; }

 private:
  CancelToken& token_;
  FakeClock inner_{/*auto_advance=*/true};
  int sleeps_ = 0;
};

class RetryingClientTest : public ::testing::Test {
 protected:
  RetryingClientTest() {
    policy_.max_retries = 3;
    policy_.base_delay_s = 0.5;
    policy_.max_delay_s = 8;
  }

  RetryingClient retrying(std::function<double()> random = [] { return 0.5; }) {
    return RetryingClient(inner_, policy_, clock_, std::move(random));
  }

  static ChatRequest request() {
    ChatRequest request;
    request.model = "llama3.1:8b";
    request.messages = {{"user", "hi"}};
    return request;
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(/*auto_advance=*/true);
  std::shared_ptr<ScriptedClient> inner_ = std::make_shared<ScriptedClient>(clock_);
  RetryPolicy policy_;
  CancelToken cancel_;
};

TEST_F(RetryingClientTest, BusyThenSuccess) {
  inner_->fail(2, ErrorCode::kServerBusy);
  RetryingClient client = retrying();
  const double start = clock_->seconds();
  Result<ChatResponse> response = client.chat(request(), cancel_);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, "ok");

  const RetryStats stats = client.stats();
  EXPECT_EQ(stats.requests, 1u);
  EXPECT_EQ(stats.attempts, 3u);
  EXPECT_EQ(stats.retries, 2u);
  EXPECT_EQ(stats.retried_busy, 2u);
  EXPECT_EQ(stats.recovered, 1u);
  EXPECT_EQ(stats.exhausted, 0u);
  // Draws of 0.5: 0.5 × 0.5 s, then 0.5 × 1 s.
  EXPECT_NEAR(stats.backoff_seconds, 0.75, 1e-9);
  const std::vector<double> calls = inner_->call_times();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_NEAR(calls[1] - calls[0], 0.25, 1e-9);
  EXPECT_NEAR(calls[2] - calls[1], 0.5, 1e-9);
  EXPECT_NEAR(clock_->seconds() - start, 0.75, 1e-9);
}

TEST_F(RetryingClientTest, ServerErrorRetried) {
  inner_->fail(1, ErrorCode::kServerError);
  RetryingClient client = retrying();
  EXPECT_TRUE(client.chat(request(), cancel_).is_ok());
  EXPECT_EQ(client.stats().retried_server_error, 1u);
}

TEST_F(RetryingClientTest, SucceedsOnLastAllowedRetry) {
  inner_->fail(3, ErrorCode::kServerBusy);
  RetryingClient client = retrying();
  EXPECT_TRUE(client.chat(request(), cancel_).is_ok());
  EXPECT_EQ(client.stats().attempts, 4u);
}

TEST_F(RetryingClientTest, RecoveredRequestReportsTokensOfRetriedTries) {
  inner_->fail(2, ErrorCode::kServerError);
  RetryingClient client = retrying();
  ChatProgress progress;
  ASSERT_TRUE(client.chat(request(), cancel_, nullptr, &progress).is_ok());
  EXPECT_EQ(progress.failed_usage.prompt_tokens, 2 * ScriptedClient::kFailedPromptTokens);
  EXPECT_EQ(progress.failed_usage.output_tokens, 2 * ScriptedClient::kFailedOutputTokens);
}

TEST_F(RetryingClientTest, ExhaustedRequestReportsTokensOfEveryTry) {
  inner_->fail(4, ErrorCode::kServerBusy);
  RetryingClient client = retrying();
  ChatProgress progress;
  ASSERT_FALSE(client.chat(request(), cancel_, nullptr, &progress).is_ok());
  EXPECT_EQ(progress.failed_usage.prompt_tokens, 4 * ScriptedClient::kFailedPromptTokens);
  EXPECT_EQ(progress.failed_usage.output_tokens, 4 * ScriptedClient::kFailedOutputTokens);
}

TEST_F(RetryingClientTest, UnretriedErrorReportsItsTokens) {
  inner_->fail(1, ErrorCode::kTruncated);
  RetryingClient client = retrying();
  ChatProgress progress;
  ASSERT_FALSE(client.chat(request(), cancel_, nullptr, &progress).is_ok());
  EXPECT_EQ(progress.failed_usage.output_tokens, ScriptedClient::kFailedOutputTokens);
}

TEST_F(RetryingClientTest, CancelDuringBackoffReportsTokensOfTheTry) {
  auto clock = std::make_shared<CancellingClock>(cancel_);
  policy_.base_delay_s = 8;
  inner_->fail(1, ErrorCode::kServerBusy);
  RetryingClient client(inner_, policy_, clock, [] { return 1.0; });
  ChatProgress progress;
  Result<ChatResponse> response = client.chat(request(), cancel_, nullptr, &progress);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kCancelled);
  EXPECT_EQ(progress.failed_usage.output_tokens, ScriptedClient::kFailedOutputTokens);
  EXPECT_TRUE(progress.sent);
}

TEST_F(RetryingClientTest, FailsOneBeyondMaxRetries) {
  inner_->fail(4, ErrorCode::kServerBusy);
  RetryingClient client = retrying();
  Result<ChatResponse> response = client.chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kServerBusy);
  EXPECT_EQ(response.status().message(), "after 3 retries: scripted server_busy");
  EXPECT_EQ(client.stats().attempts, 4u);
  EXPECT_EQ(client.stats().exhausted, 1u);
  EXPECT_EQ(client.stats().recovered, 0u);
}

TEST_F(RetryingClientTest, ZeroRetriesSendsOnce) {
  policy_.max_retries = 0;
  inner_->fail(1, ErrorCode::kServerBusy);
  RetryingClient client = retrying();
  Result<ChatResponse> response = client.chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().message(), "after 0 retries: scripted server_busy");
  EXPECT_EQ(client.stats().attempts, 1u);
}

TEST_F(RetryingClientTest, OtherErrorsNotRetried) {
  for (ErrorCode code :
       {ErrorCode::kTruncated, ErrorCode::kParseError, ErrorCode::kSchemaUnsupported,
        ErrorCode::kContextOverflow, ErrorCode::kNotFound, ErrorCode::kInvalidArgument,
        ErrorCode::kCancelled, ErrorCode::kUnavailable, ErrorCode::kTimeout}) {
    inner_->fail(1, code);
    RetryingClient client = retrying();
    Result<ChatResponse> response = client.chat(request(), cancel_);
    ASSERT_FALSE(response.is_ok()) << error_code_name(code);
    EXPECT_EQ(response.status().code(), code);
    EXPECT_EQ(client.stats().attempts, 1u) << error_code_name(code);
    EXPECT_EQ(client.stats().retries, 0u) << error_code_name(code);
  }
}

TEST_F(RetryingClientTest, UnavailableRetriedWhenConfigured) {
  policy_.retry_unavailable = true;
  inner_->fail(2, ErrorCode::kUnavailable);
  RetryingClient client = retrying();
  EXPECT_TRUE(client.chat(request(), cancel_).is_ok());
  EXPECT_EQ(client.stats().retried_unavailable, 2u);
}

TEST_F(RetryingClientTest, TimeoutRetriedWhenConfigured) {
  policy_.retry_timeout = true;
  inner_->fail(1, ErrorCode::kTimeout);
  RetryingClient client = retrying();
  EXPECT_TRUE(client.chat(request(), cancel_).is_ok());
  EXPECT_EQ(client.stats().retried_timeout, 1u);
}

TEST_F(RetryingClientTest, BackoffDoublesUpToMax) {
  const std::vector<double> expected = {0.5, 1, 2, 4, 8, 8, 8};
  for (size_t retry = 1; retry <= expected.size(); ++retry) {
    EXPECT_DOUBLE_EQ(RetryingClient::backoff_seconds(policy_, static_cast<int>(retry), 1.0),
                     expected[retry - 1])
        << "retry " << retry;
  }
  EXPECT_DOUBLE_EQ(RetryingClient::backoff_seconds(policy_, 3, 0.0), 0);
  EXPECT_DOUBLE_EQ(RetryingClient::backoff_seconds(policy_, 3, 0.25), 0.5);
  EXPECT_DOUBLE_EQ(RetryingClient::backoff_seconds(policy_, 1000, 0.5), 4);
}

TEST_F(RetryingClientTest, DefaultJitterStaysInRange) {
  policy_.max_retries = 1;
  RetryingClient client(inner_, policy_, clock_);
  for (int i = 0; i < 25; ++i) {
    inner_->fail(1, ErrorCode::kServerBusy);
    ASSERT_TRUE(client.chat(request(), cancel_).is_ok());
  }
  const RetryStats stats = client.stats();
  EXPECT_EQ(stats.retries, 25u);
  EXPECT_GE(stats.backoff_seconds, 0);
  EXPECT_LT(stats.backoff_seconds, 25 * policy_.base_delay_s);
}

TEST_F(RetryingClientTest, CancelDuringBackoff) {
  auto clock = std::make_shared<CancellingClock>(cancel_);
  policy_.base_delay_s = 8;
  inner_->fail(1, ErrorCode::kServerBusy);
  RetryingClient client(inner_, policy_, clock, [] { return 1.0; });
  Result<ChatResponse> response = client.chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kCancelled);
  EXPECT_NE(response.status().message().find("scripted server_busy"), std::string::npos);
  EXPECT_EQ(clock->sleeps(), 1);
  EXPECT_EQ(client.stats().attempts, 1u);
  EXPECT_EQ(client.stats().retries, 0u);
}

TEST_F(RetryingClientTest, CancelledRequestNotRetried) {
  inner_->fail(1, ErrorCode::kServerBusy);
  cancel_.cancel();
  RetryingClient client = retrying();
  Result<ChatResponse> response = client.chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kServerBusy);
  EXPECT_EQ(client.stats().attempts, 1u);
}

TEST_F(RetryingClientTest, TokensOfEveryAttemptForwarded) {
  inner_->fail(1, ErrorCode::kServerBusy);
  RetryingClient client = retrying();
  int pieces = 0;
  ASSERT_TRUE(client.chat(request(), cancel_, [&](const std::string&) { ++pieces; }).is_ok());
  EXPECT_EQ(pieces, 2);
}

TEST_F(RetryingClientTest, ConcurrentRequestsCounted) {
  // Enough retries that one request may meet every failure, whatever the interleaving.
  policy_.max_retries = 10;
  inner_->fail(4, ErrorCode::kServerBusy);
  RetryingClient client = retrying();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] { EXPECT_TRUE(client.chat(request(), cancel_).is_ok()); });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(client.stats().requests, 4u);
  EXPECT_EQ(client.stats().attempts, 8u);
  EXPECT_EQ(client.stats().retried_busy, 4u);
}

TEST_F(RetryingClientTest, OtherMethodsForwarded) {
  RetryingClient client = retrying();
  EXPECT_EQ(client.backend_name(), "scripted");
  EXPECT_EQ(client.endpoint(), "scripted://here");
  EXPECT_EQ(client.version().value_or(""), "9.9");
  ASSERT_TRUE(client.list_models().is_ok());
  EXPECT_EQ(client.list_models()->front().name, "scripted:1b");
  EXPECT_EQ(client.inner(), inner_);
}

TEST_F(RetryingClientTest, PolicyFromServerSettings) {
  ServerSettings server;
  server.max_retries = 7;
  server.retry_base_delay_s = 0.25;
  server.retry_max_delay_s = 3;
  const RetryPolicy policy = RetryPolicy::from(server);
  EXPECT_EQ(policy.max_retries, 7);
  EXPECT_DOUBLE_EQ(policy.base_delay_s, 0.25);
  EXPECT_DOUBLE_EQ(policy.max_delay_s, 3);
  EXPECT_FALSE(policy.retry_unavailable);
}

}  // namespace
}  // namespace ollamaflow::llm
