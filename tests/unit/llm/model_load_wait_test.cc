#include "llm/model_load_wait.h"

#include <gtest/gtest.h>

#include "fakes/fake_model_server.h"
#include "fakes/log_capture.h"

namespace ollamaflow::llm {
namespace {

using ollamaflow::testing::FakeOpenAiServer;
using ollamaflow::testing::HttpTestServer;
using ollamaflow::testing::LogCapture;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

// A clock that cancels `cancel` on its first sleep, as Ctrl-C during the wait would.
class CancellingClock final : public Clock {
 public:
  explicit CancellingClock(CancelTokenPtr cancel) : cancel_(std::move(cancel)) {}
  MonoTime now() const override { return clock_.now(); }
  WallTime wall_now() const override { return clock_.wall_now(); }
  void sleep_for(Duration duration) override {
    cancel_->cancel();
    clock_.sleep_for(duration);
  }

 private:
  FakeClock clock_{/*auto_advance=*/true};
  CancelTokenPtr cancel_;
};

class ModelLoadWaitTest : public ::testing::Test {
 protected:
  ModelLoadWaitTest() {
    settings_.backend = "openai";
    settings_.host = server_.url();
    settings_.connect_timeout_s = 2;
    settings_.first_token_timeout_s = 300;
  }

  FakeOpenAiServer server_;
  ServerSettings settings_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(/*auto_advance=*/true);
  LogCapture log_{"llm"};
};

TEST_F(ModelLoadWaitTest, ReadyServerIsProbedOnce) {
  const ProbeOutcome outcome = wait_for_model_load(settings_, clock_);
  EXPECT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  EXPECT_FALSE(outcome.loading_model);
  EXPECT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(log_.text(), "");
}

// 40 replies of "Loading model" at 0.5 s each take 20 s of the clock: one line when the wait
// starts, one progress line at 15 s and one when the model is loaded.
TEST_F(ModelLoadWaitTest, WaitsUntilModelLoaded) {
  server_.set_loading_model(40);
  const ProbeOutcome outcome = wait_for_model_load(settings_, clock_);
  EXPECT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  EXPECT_FALSE(outcome.loading_model);
  EXPECT_EQ(server_.requests().size(), 41u);
  const std::string log = log_.text();
  EXPECT_EQ(count_of(log, "is loading its model"), 1u) << log;
  EXPECT_TRUE(contains(log, "HTTP 503 \"Loading model\"")) << log;
  EXPECT_TRUE(contains(log, "waiting up to 300 s (server.first_token_timeout_s)")) << log;
  EXPECT_EQ(count_of(log, "is still loading its model after"), 1u) << log;
  EXPECT_TRUE(contains(log, "is still loading its model after 15 s of 300 s")) << log;
  EXPECT_TRUE(contains(log, "loaded its model after 20.0 s")) << log;
}

TEST_F(ModelLoadWaitTest, GivesUpAtFirstTokenTimeout) {
  server_.set_loading_model(-1);
  settings_.first_token_timeout_s = 3;
  const ProbeOutcome outcome = wait_for_model_load(settings_, clock_);
  EXPECT_EQ(outcome.status.code(), ErrorCode::kTimeout) << outcome.status.to_string();
  EXPECT_TRUE(outcome.loading_model);
  const std::string message = outcome.status.message();
  EXPECT_TRUE(contains(message,
                       "the server at " + server_.url() + " was still loading its model after 3 s"))
      << message;
  EXPECT_TRUE(contains(message, "raise server.first_token_timeout_s")) << message;
  // A probe at 0, 0.5, ..., 3 s: the last one finds the bound reached.
  EXPECT_EQ(server_.requests().size(), 7u);
}

TEST_F(ModelLoadWaitTest, CancelStopsWait) {
  server_.set_loading_model(-1);
  const CancelTokenPtr cancel = std::make_shared<CancelToken>();
  const ProbeOutcome outcome =
      wait_for_model_load(settings_, std::make_shared<CancellingClock>(cancel), cancel);
  EXPECT_EQ(outcome.status.code(), ErrorCode::kCancelled) << outcome.status.to_string();
  EXPECT_TRUE(contains(outcome.status.message(), "was loading its model"))
      << outcome.status.message();
  EXPECT_EQ(server_.requests().size(), 1u);
}

// Other 503 replies, such as Ollama's full queue, are failures that the probe returns at once.
TEST_F(ModelLoadWaitTest, OtherBusyReplyIsNotWaitedFor) {
  HttpTestServer busy;
  busy.server().Get("/v1/models", [](const httplib::Request&, httplib::Response& response) {
    response.status = 503;
    response.set_content(R"({"error":{"message":"server busy","code":503}})", "application/json");
  });
  busy.start();
  settings_.host = busy.url();
  const ProbeOutcome outcome = wait_for_model_load(settings_, clock_);
  EXPECT_EQ(outcome.status.code(), ErrorCode::kServerBusy) << outcome.status.to_string();
  EXPECT_FALSE(outcome.loading_model);
  EXPECT_TRUE(contains(outcome.status.message(), "server busy")) << outcome.status.message();
  EXPECT_EQ(log_.text(), "");
}

}  // namespace
}  // namespace ollamaflow::llm
