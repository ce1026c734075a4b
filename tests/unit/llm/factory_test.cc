#include "llm/factory.h"

#include <gtest/gtest.h>

#include "fakes/fake_model_server.h"
#include "llm/retry.h"

namespace ollamaflow::llm {
namespace {

using ollamaflow::testing::closed_port;
using ollamaflow::testing::FakeOllamaServer;
using ollamaflow::testing::FakeOpenAiServer;
using ollamaflow::testing::HttpTestServer;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class FactoryTest : public ::testing::Test {
 protected:
  FactoryTest() {
    settings_.connect_timeout_s = 2;
    settings_.first_token_timeout_s = 20;
    settings_.idle_timeout_s = 20;
    settings_.retry_base_delay_s = 0.1;
    settings_.retry_max_delay_s = 1;
  }

  // A server whose GET `path` returns `status` with `body`.
  static std::unique_ptr<HttpTestServer> serve(const std::string& path, int status,
                                               const std::string& body) {
    auto server = std::make_unique<HttpTestServer>();
    server->server().Get(path, [status, body](const httplib::Request&, httplib::Response& res) {
      res.status = status;
      res.set_content(body, "application/json");
    });
    server->start();
    return server;
  }

  static ChatRequest request() {
    ChatRequest request;
    request.model = "llama3.1:8b";
    request.messages = {{"user", "Goal: say hello"}};
    return request;
  }

  ServerSettings settings_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(/*auto_advance=*/true);
  CancelToken cancel_;
};

TEST_F(FactoryTest, BuildsEachBackendWithRetries) {
  settings_.max_retries = 6;
  for (const char* backend : {"ollama", "openai", "sim"}) {
    settings_.backend = backend;
    Result<LlmClientPtr> client = make_client(settings_, clock_);
    ASSERT_TRUE(client.is_ok()) << backend << ": " << client.status().to_string();
    EXPECT_EQ((*client)->backend_name(), backend);
    auto retrying = std::dynamic_pointer_cast<RetryingClient>(*client);
    ASSERT_NE(retrying, nullptr) << backend;
    EXPECT_EQ(retrying->policy().max_retries, 6);
    EXPECT_DOUBLE_EQ(retrying->policy().base_delay_s, 0.1);
  }
}

TEST_F(FactoryTest, NullClockUsesSystemClock) {
  settings_.backend = "sim";
  EXPECT_TRUE(make_client(settings_, nullptr).is_ok());
}

TEST_F(FactoryTest, UnknownBackendRejected) {
  settings_.backend = "vllm";
  Result<LlmClientPtr> client = make_client(settings_, clock_);
  ASSERT_FALSE(client.is_ok());
  EXPECT_EQ(client.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client.status().message(),
            "unknown backend 'vllm' (server.backend, --backend): use ollama, openai or sim");
}

TEST_F(FactoryTest, InvalidHostRejected) {
  settings_.host = "ftp://gpu1";
  for (const char* backend : {"ollama", "openai"}) {
    settings_.backend = backend;
    Result<LlmClientPtr> client = make_client(settings_, clock_);
    ASSERT_FALSE(client.is_ok()) << backend;
    EXPECT_EQ(client.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(contains(client.status().message(), "ftp")) << client.status().message();
  }
}

TEST_F(FactoryTest, InvalidRetrySettingsRejected) {
  settings_.backend = "sim";
  settings_.max_retries = -1;
  Result<LlmClientPtr> negative = make_client(settings_, clock_);
  ASSERT_FALSE(negative.is_ok());
  EXPECT_TRUE(contains(negative.status().message(), "server.max_retries is -1"));

  settings_.max_retries = 2;
  settings_.retry_base_delay_s = 5;
  settings_.retry_max_delay_s = 4;
  Result<LlmClientPtr> inverted = make_client(settings_, clock_);
  ASSERT_FALSE(inverted.is_ok());
  EXPECT_EQ(inverted.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(inverted.status().message(), "exceeds server.retry_max_delay_s"));

  settings_.retry_max_delay_s = 5;
  EXPECT_TRUE(make_client(settings_, clock_).is_ok());
}

TEST_F(FactoryTest, InvalidSimSettingsRejected) {
  settings_.backend = "sim";
  settings_.sim_slots = 0;
  Result<LlmClientPtr> client = make_client(settings_, clock_);
  ASSERT_FALSE(client.is_ok());
  EXPECT_TRUE(contains(client.status().message(), "server.sim_slots"));
}

TEST_F(FactoryTest, SimClientAnswers) {
  settings_.backend = "sim";
  Result<LlmClientPtr> client = make_client(settings_, clock_);
  ASSERT_TRUE(client.is_ok());
  Result<ChatResponse> response = (*client)->chat(request(), cancel_);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_TRUE(response->simulated);
}

TEST_F(FactoryTest, BusyThenSuccessAfterRetry) {
  FakeOllamaServer server;
  server.script().fail_next(1, 503, "server busy, please try again");
  settings_.host = server.url();
  Result<LlmClientPtr> client = make_client(settings_, clock_);
  ASSERT_TRUE(client.is_ok());
  Result<ChatResponse> response = (*client)->chat(request(), cancel_);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(server.chat_count(), 2u);
  auto retrying = std::dynamic_pointer_cast<RetryingClient>(*client);
  ASSERT_NE(retrying, nullptr);
  EXPECT_EQ(retrying->stats().retried_busy, 1u);
  EXPECT_EQ(retrying->stats().recovered, 1u);
}

TEST_F(FactoryTest, ProbeOllamaServer) {
  FakeOllamaServer server;
  settings_.host = server.url();
  EXPECT_TRUE(probe_server(settings_).is_ok());
  ASSERT_FALSE(server.requests().empty());
  EXPECT_EQ(server.requests().back().path, "/api/version");
}

TEST_F(FactoryTest, ProbeOpenAiServer) {
  FakeOpenAiServer server;
  settings_.backend = "openai";
  settings_.api_key = "sk-local";
  for (const std::string& host : {server.url(), server.url() + "/v1"}) {
    settings_.host = host;
    Status probed = probe_server(settings_);
    EXPECT_TRUE(probed.is_ok()) << host << ": " << probed.to_string();
    EXPECT_EQ(server.requests().back().path, "/v1/models");
    EXPECT_EQ(server.requests().back().authorization, "Bearer sk-local");
  }
}

TEST_F(FactoryTest, ProbeSimAlwaysOk) {
  settings_.backend = "sim";
  settings_.host = "http://gpu-box.invalid:1";
  EXPECT_TRUE(probe_server(settings_).is_ok());
}

TEST_F(FactoryTest, ProbeClosedPortUnavailable) {
  settings_.host = "http://127.0.0.1:" + std::to_string(closed_port());
  Status probed = probe_server(settings_);
  EXPECT_EQ(probed.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(contains(probed.message(), settings_.host)) << probed.message();
  EXPECT_TRUE(contains(probed.message(), "ollama serve")) << probed.message();
}

TEST_F(FactoryTest, ProbeDnsFailureUnavailable) {
  settings_.host = "http://gpu-box.invalid:11434";
  Status probed = probe_server(settings_);
  EXPECT_EQ(probed.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(contains(probed.message(), "gpu-box.invalid")) << probed.message();
}

TEST_F(FactoryTest, ProbeSilentServerUnavailable) {
  HttpTestServer server;
  server.server().Get("/api/version", [&server](const httplib::Request&, httplib::Response&) {
    server.gate().pass();  // blocks the reply until the server stops
  });
  server.start();
  settings_.host = server.url();
  settings_.connect_timeout_s = 0.3;
  Status probed = probe_server(settings_);
  EXPECT_EQ(probed.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(contains(probed.message(), server.url())) << probed.message();
}

TEST_F(FactoryTest, ProbeWrongProtocolUnavailable) {
  FakeOpenAiServer openai;
  settings_.host = openai.url();
  Status as_ollama = probe_server(settings_);
  EXPECT_EQ(as_ollama.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(contains(as_ollama.message(), "HTTP 404")) << as_ollama.message();
  EXPECT_TRUE(contains(as_ollama.message(), "--backend")) << as_ollama.message();

  // A server that has /v1/models but replies in another shape.
  auto other = serve("/v1/models", 200, R"({"models": []})");
  settings_.backend = "openai";
  settings_.host = other->url();
  Status as_openai = probe_server(settings_);
  EXPECT_EQ(as_openai.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(contains(as_openai.message(), "not as an OpenAI-compatible server"))
      << as_openai.message();
}

TEST_F(FactoryTest, ProbeOtherBodyUnavailable) {
  auto server = serve("/api/version", 200, "<html>router login</html>");
  settings_.host = server->url();
  Status probed = probe_server(settings_);
  EXPECT_EQ(probed.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(contains(probed.message(), "not as an Ollama server")) << probed.message();
}

TEST_F(FactoryTest, ProbeUnauthorized) {
  auto server = serve("/v1/models", 401, R"({"error": {"message": "Invalid API Key"}})");
  settings_.backend = "openai";
  settings_.host = server->url();
  Status probed = probe_server(settings_);
  EXPECT_EQ(probed.code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(contains(probed.message(), "Invalid API Key")) << probed.message();
  EXPECT_TRUE(contains(probed.message(), "server.api_key")) << probed.message();
}

TEST_F(FactoryTest, ProbeServerErrorKeepsCode) {
  auto server = serve("/api/version", 503, R"({"error": "loading"})");
  settings_.host = server->url();
  Status probed = probe_server(settings_);
  EXPECT_EQ(probed.code(), ErrorCode::kServerBusy);
  EXPECT_TRUE(contains(probed.message(), "loading")) << probed.message();
  EXPECT_TRUE(contains(probed.message(), "check its log")) << probed.message();
}

TEST_F(FactoryTest, ProbeUnknownBackendRejected) {
  settings_.backend = "tgi";
  EXPECT_EQ(probe_server(settings_).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ollamaflow::llm
