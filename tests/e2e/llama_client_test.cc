// The OpenAI-compatible client against a real llama-server: the engine's own failures come back
// as error values that the agent treats as failed attempts.
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/config.h"
#include "fakes/llama_server.h"
#include "llm/openai_client.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

class LlamaClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(location_);
    LlamaServerOptions options;
    options.slots = 2;
    options.total_ctx = 8192;
    Result<std::unique_ptr<LlamaServer>> server = LlamaServer::start(options);
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server).value();
    ServerSettings settings;
    settings.backend = "openai";
    settings.host = server_->url();
    settings.max_retries = 0;
    settings.first_token_timeout_s = 60;
    settings.idle_timeout_s = 30;
    Result<std::shared_ptr<llm::OpenAiClient>> client =
        llm::OpenAiClient::create(settings, system_clock());
    ASSERT_TRUE(client.is_ok()) << client.status().message();
    client_ = std::move(client).value();
  }

  llm::ChatRequest request(int num_predict, bool with_schema) const {
    llm::ChatRequest chat;
    chat.model = "tiny";
    chat.messages = {{"user", "Reply with a JSON object."}};
    chat.options.num_predict = num_predict;
    chat.options.temperature = 0.8;
    if (with_schema) {
      chat.schema = {{"type", "object"},
                     {"properties", {{"ready", {{"type", "boolean"}}}}},
                     {"required", {"ready"}},
                     {"additionalProperties", false}};
      chat.schema_name = "ready";
    }
    return chat;
  }

  LlamaServerLocation location_ = locate_llama_server();
  std::unique_ptr<LlamaServer> server_;
  std::shared_ptr<llm::OpenAiClient> client_;
  CancelToken cancel_;
};

TEST_F(LlamaClientTest, SchemaReplyIsValidJson) {
  Result<llm::ChatResponse> reply = client_->chat(request(64, true), cancel_);
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  const json parsed = json::parse(reply->content, nullptr, false);
  ASSERT_TRUE(parsed.is_object()) << reply->content;
  EXPECT_TRUE(parsed["ready"].is_boolean()) << reply->content;
  EXPECT_GT(reply->usage.prompt_tokens, 0);
  EXPECT_GT(reply->usage.output_tokens, 0);
}

TEST_F(LlamaClientTest, UnparsedNoiseIsParseError) {
  // Without a schema the server parses the noise as Llama 3 chat output and often fails with
  // HTTP 500 "does not match the expected ... format", in a stream as an error event. With the
  // prompt "hi" and temperature 0.8, seeds 1 and 2 did so with the shipped model and server.
  int format_errors = 0;
  for (int64_t seed = 1; seed <= 6; ++seed) {
    llm::ChatRequest chat = request(32, false);
    chat.messages = {{"user", "hi"}};
    chat.options.seed = seed;
    Result<llm::ChatResponse> reply = client_->chat(chat, cancel_);
    if (reply.is_ok()) {
      continue;
    }
    const ErrorCode code = reply.status().code();
    EXPECT_TRUE(code == ErrorCode::kParseError || code == ErrorCode::kTruncated)
        << "seed " << seed << ": " << reply.status().to_string();
    if (code == ErrorCode::kParseError) {
      ++format_errors;
      EXPECT_NE(reply.status().message().find("does not match the expected"), std::string::npos)
          << reply.status().message();
    }
  }
  EXPECT_GT(format_errors, 0);
}

TEST_F(LlamaClientTest, LengthFinishKeepsTokens) {
  // Two tokens cannot hold {"ready": true}, so the server stops with finish_reason "length".
  Result<llm::ChatResponse> reply = client_->chat(request(2, true), cancel_);
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(reply->done_reason, "length");
  EXPECT_EQ(reply->usage.output_tokens, 2);
  EXPECT_GT(reply->usage.prompt_tokens, 0);
}

TEST_F(LlamaClientTest, KilledServerIsErrorThenRecovers) {
  // A reply of one long string under a schema keeps the stream open while the server is killed.
  std::future<Result<llm::ChatResponse>> pending = std::async(std::launch::async, [this] {
    llm::ChatRequest chat = request(4000, true);
    chat.schema = {{"type", "object"},
                   {"properties", {{"text", {{"type", "string"}}}}},
                   {"required", {"text"}}};
    return client_->chat(chat, cancel_);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server_->read_log().find("launch_slot_") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  server_->kill_now();
  Result<llm::ChatResponse> cut = pending.get();
  ASSERT_FALSE(cut.is_ok()) << cut->content;
  EXPECT_NE(cut.status().code(), ErrorCode::kOk);

  ASSERT_TRUE(server_->restart().is_ok()) << server_->log_tail();
  Result<llm::ChatResponse> reply = client_->chat(request(64, true), cancel_);
  EXPECT_TRUE(reply.is_ok()) << reply.status().to_string();
}

}  // namespace
}  // namespace ollamaflow::testing
