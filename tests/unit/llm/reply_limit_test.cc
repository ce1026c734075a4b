// Checks that a chat reply that streams without end stops at the byte limit with an error that
// is not a truncation, for both protocols.
#include <gtest/gtest.h>

#include <string>

#include "fakes/http_test_server.h"
#include "llm/http.h"
#include "llm/ollama_client.h"
#include "llm/openai_client.h"

namespace ollamaflow::llm {
namespace {

using ollamaflow::testing::HttpTestServer;

constexpr size_t kChunkBytes = 64 << 10;

// Serves `path` with `piece` written again and again until the client disconnects.
void serve_endless(HttpTestServer& server, const std::string& path, const std::string& piece,
                   const std::string& content_type) {
  server.server().Post(path, [piece, content_type](const httplib::Request&,
                                                   httplib::Response& response) {
    response.set_chunked_content_provider(content_type, [piece](size_t, httplib::DataSink& sink) {
      return sink.write(piece.data(), piece.size());
    });
  });
  server.start();
}

ChatRequest small_request() {
  ChatRequest request;
  request.model = "m";
  request.messages = {{"user", "hello"}};
  request.options.num_predict = 16;
  return request;
}

ServerSettings settings_for(const HttpTestServer& server, const std::string& backend) {
  ServerSettings settings;
  settings.backend = backend;
  settings.host = server.url();
  settings.first_token_timeout_s = 20;
  settings.idle_timeout_s = 20;
  return settings;
}

void expect_limit_error(const Result<ChatResponse>& response) {
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kParseError) << response.status().to_string();
  const std::string limit = std::to_string(max_reply_bytes(16)) + " bytes without finishing";
  EXPECT_NE(response.status().message().find(limit), std::string::npos)
      << response.status().to_string();
}

TEST(ReplyLimitTest, LimitHasFloorAndGrowsWithTokens) {
  EXPECT_EQ(max_reply_bytes(16), kMinReplyBytes);
  EXPECT_EQ(max_reply_bytes(-1), kMinReplyBytes);
  EXPECT_EQ(max_reply_bytes(1 << 20), size_t{1} << 30);
}

TEST(ReplyLimitTest, EndlessOllamaStreamStops) {
  const std::string line = "{\"message\":{\"role\":\"assistant\",\"content\":\"" +
                           std::string(kChunkBytes, 'a') + "\"},\"done\":false}\n";
  HttpTestServer server;
  serve_endless(server, "/api/chat", line, "application/x-ndjson");
  Result<std::shared_ptr<OllamaClient>> client =
      OllamaClient::create(settings_for(server, "ollama"), system_clock());
  ASSERT_TRUE(client.is_ok()) << client.status().to_string();
  CancelToken cancel;
  expect_limit_error((*client)->chat(small_request(), cancel, nullptr));
}

TEST(ReplyLimitTest, EndlessOpenAiStreamStops) {
  const std::string event = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" +
                            std::string(kChunkBytes, 'a') + "\"}}]}\n\n";
  HttpTestServer server;
  serve_endless(server, "/v1/chat/completions", event, "text/event-stream");
  Result<std::shared_ptr<OpenAiClient>> client =
      OpenAiClient::create(settings_for(server, "openai"), system_clock());
  ASSERT_TRUE(client.is_ok()) << client.status().to_string();
  CancelToken cancel;
  expect_limit_error((*client)->chat(small_request(), cancel, nullptr));
}

}  // namespace
}  // namespace ollamaflow::llm
