#include "llm/openai_client.h"

#include <gtest/gtest.h>

#include "fakes/fake_model_server.h"
#include "llm/retry.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;
using ollamaflow::testing::closed_port;
using ollamaflow::testing::FakeModel;
using ollamaflow::testing::FakeOpenAiServer;
using ollamaflow::testing::FakeReply;
using ollamaflow::testing::HttpTestServer;
using ollamaflow::testing::StreamErrorShape;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class OpenAiClientTest : public ::testing::Test {
 protected:
  OpenAiClientTest() {
    settings_.backend = "openai";
    settings_.host = server_.url();
    // Bounds the real time a broken test can hang on a socket read.
    settings_.first_token_timeout_s = 20;
    settings_.idle_timeout_s = 20;
  }

  std::shared_ptr<OpenAiClient> client() {
    Result<std::shared_ptr<OpenAiClient>> created = OpenAiClient::create(settings_, clock_);
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    return created.value_or(nullptr);
  }

  static ChatRequest request() {
    ChatRequest request;
    request.model = "tiny";
    request.messages = {{"system", "You are a developer."}, {"user", "Write hello.py"}};
    request.schema = json::parse(R"({"type":"object","properties":{"files":{"type":"array"}}})");
    request.schema_name = "agent_reply";
    request.options.num_predict = 512;
    request.options.temperature = 0.1;
    request.options.seed = 42;
    return request;
  }

  Result<ChatResponse> chat(const FakeReply& reply, const TokenCallback& on_token = nullptr,
                            ChatProgress* progress = nullptr) {
    server_.script().enqueue(reply);
    return client()->chat(request(), cancel_, on_token, progress);
  }

  // A reply that fails inside the 200 stream in `shape` after two content pieces.
  static FakeReply stream_failure(StreamErrorShape shape, const std::string& message,
                                  const std::string& type = "", int code = 0) {
    FakeReply reply;
    reply.content = "partial content";
    reply.piece_chars = 4;
    reply.stream_error = shape;
    reply.error_message = message;
    reply.error_type = type;
    reply.error_code = code;
    reply.error_after_pieces = 2;
    return reply;
  }

  FakeOpenAiServer server_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  ServerSettings settings_;
  CancelToken cancel_;
};

TEST_F(OpenAiClientTest, ChatStreamsContent) {
  FakeReply reply;
  reply.content = R"({"files":[],"summary":"done"})";
  reply.piece_chars = 5;
  reply.prompt_tokens = 30;
  reply.output_tokens = 7;
  std::string streamed;
  Result<ChatResponse> response = chat(reply, [&](const std::string& piece) { streamed += piece; });
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, reply.content);
  EXPECT_EQ(streamed, reply.content);
  EXPECT_EQ(response->done_reason, "stop");
  EXPECT_EQ(response->model, "tiny");
  EXPECT_EQ(response->usage.prompt_tokens, 30);
  EXPECT_EQ(response->usage.output_tokens, 7);
  EXPECT_DOUBLE_EQ(response->usage.prompt_seconds, 0.2);
  EXPECT_DOUBLE_EQ(response->usage.eval_seconds, 1.0);
  EXPECT_FALSE(response->simulated);
}

TEST_F(OpenAiClientTest, ChatSendsResponseFormatAndOptions) {
  ASSERT_TRUE(chat(FakeReply()).is_ok());
  ASSERT_EQ(server_.chat_count(), 1u);
  const json body = server_.chat_requests()[0];
  EXPECT_EQ(body["model"], "tiny");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(body["max_tokens"], 512);
  EXPECT_EQ(body["temperature"], 0.1);
  EXPECT_EQ(body["seed"], 42);
  EXPECT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][1]["content"], "Write hello.py");
  EXPECT_EQ(body["response_format"]["type"], "json_schema");
  EXPECT_EQ(body["response_format"]["json_schema"]["name"], "agent_reply");
  EXPECT_EQ(body["response_format"]["json_schema"]["schema"], request().schema);
  EXPECT_EQ(body["response_format"]["json_schema"]["strict"], true);
  EXPECT_EQ(server_.requests().back().path, "/v1/chat/completions");
}

TEST_F(OpenAiClientTest, ChatOmitsUnsetFields) {
  ChatRequest plain = request();
  plain.schema = nullptr;
  plain.options.seed.reset();
  const json body = OpenAiClient::chat_body(plain);
  EXPECT_FALSE(body.contains("response_format"));
  EXPECT_FALSE(body.contains("seed"));
  EXPECT_FALSE(body.contains("num_ctx"));
}

TEST_F(OpenAiClientTest, SplitAtEveryOffset) {
  FakeReply reply;
  reply.content = R"({"k":"split me"})";
  reply.piece_chars = 6;
  const std::vector<std::string> events =
      FakeOpenAiServer::chat_events(reply, "tiny", 10, /*include_usage=*/true);
  size_t wire_bytes = 0;
  for (const std::string& event : events) {
    wire_bytes += event.size();
  }
  ASSERT_GT(wire_bytes, 300u);
  auto sut = client();
  for (size_t offset = 1; offset < wire_bytes; ++offset) {
    FakeReply split = reply;
    split.prompt_tokens = 10;
    split.split_at = {offset};
    server_.script().enqueue(split);
    Result<ChatResponse> response = sut->chat(request(), cancel_);
    ASSERT_TRUE(response.is_ok()) << "offset " << offset << ": " << response.status().to_string();
    ASSERT_EQ(response->content, reply.content) << "offset " << offset;
    ASSERT_EQ(response->usage.prompt_tokens, 10) << "offset " << offset;
    ASSERT_EQ(response->usage.output_tokens, 3) << "offset " << offset;
  }
}

TEST_F(OpenAiClientTest, SevenByteWrites) {
  FakeReply reply;
  reply.content = "seven byte writes split every event";
  reply.write_bytes = 7;
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, reply.content);
}

TEST_F(OpenAiClientTest, SeveralEventsPerWrite) {
  FakeReply reply;
  reply.content = "three events in each write";
  reply.piece_chars = 2;
  reply.objects_per_write = 3;
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, reply.content);
}

TEST_F(OpenAiClientTest, UsageFromTimingsWithoutUsageChunk) {
  FakeReply reply;
  reply.raw_objects = {
      "data: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n",
      ": keep-alive\n\n",
      "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
      "\"timings\":{\"prompt_n\":12,\"prompt_ms\":50.0,\"predicted_n\":1,\"predicted_ms\":25.0}}"
      "\r\n\r\n",
      "data: [DONE]\n\n"};
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, "hi");
  EXPECT_EQ(response->usage.prompt_tokens, 12);
  EXPECT_EQ(response->usage.output_tokens, 1);
  EXPECT_DOUBLE_EQ(response->usage.prompt_seconds, 0.05);
  EXPECT_DOUBLE_EQ(response->usage.eval_seconds, 0.025);
}

TEST_F(OpenAiClientTest, FinishReasonLengthKeepsTokens) {
  FakeReply reply;
  reply.content = R"({"files": [)";
  reply.done_reason = "length";
  reply.prompt_tokens = 900;
  reply.output_tokens = 512;
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->done_reason, "length");
  EXPECT_EQ(response->content, R"({"files": [)");
  EXPECT_EQ(response->usage.prompt_tokens, 900);
  EXPECT_EQ(response->usage.output_tokens, 512);
}

TEST_F(OpenAiClientTest, StreamWithoutFinishReasonIsTruncated) {
  FakeReply reply;
  reply.content = R"({"files": [)";
  reply.omit_done = true;
  Result<ChatResponse> response = chat(reply);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTruncated);
  EXPECT_TRUE(contains(response.status().message(), "without a finish_reason"));
}

TEST_F(OpenAiClientTest, UnparsedOutputIsParseError) {
  server_.script().fail_next(
      1, 500, "The model produced output that does not match the expected peg-native format");
  Result<ChatResponse> response = client()->chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kParseError);
  EXPECT_TRUE(contains(response.status().message(), "HTTP 500"));
  EXPECT_TRUE(
      contains(response.status().message(), "does not match the expected peg-native format"));
}

TEST_F(OpenAiClientTest, UnparsedOutputInStreamIsParseError) {
  Result<ChatResponse> response = chat(
      stream_failure(StreamErrorShape::kErrorObject,
                     "The model produced output that does not match the expected peg-native format",
                     "server_error", 500));
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kParseError);
}

TEST_F(OpenAiClientTest, GrammarErrorsAreSchemaUnsupported) {
  const std::vector<std::pair<int, std::string>> cases = {
      {400, "Grammar error: Unknown format: uri"},
      {400, "The provided JSON schema contains features not supported by xgrammar."},
      {500, "Grammar error: Unimplemented keys: [\"propertyNames\"]"},
  };
  auto sut = client();
  for (const auto& [status, message] : cases) {
    server_.script().fail_next(1, status, message);
    Result<ChatResponse> response = sut->chat(request(), cancel_);
    ASSERT_FALSE(response.is_ok()) << message;
    EXPECT_EQ(response.status().code(), ErrorCode::kSchemaUnsupported) << message;
    EXPECT_TRUE(contains(response.status().message(), message)) << response.status().message();
  }
}

TEST_F(OpenAiClientTest, AllStreamErrorDialectsAreServerErrors) {
  const std::vector<StreamErrorShape> shapes = {
      StreamErrorShape::kErrorObject, StreamErrorShape::kBareErrorField,
      StreamErrorShape::kErrorEvent, StreamErrorShape::kMessageOnly, StreamErrorShape::kRawJson};
  auto sut = client();
  for (StreamErrorShape shape : shapes) {
    server_.script().enqueue(stream_failure(shape, "Compute error.", "server_error", 500));
    std::string streamed;
    Result<ChatResponse> response =
        sut->chat(request(), cancel_, [&](const std::string& piece) { streamed += piece; });
    const int dialect = static_cast<int>(shape);
    ASSERT_FALSE(response.is_ok()) << "dialect " << dialect;
    EXPECT_EQ(response.status().code(), ErrorCode::kServerError) << "dialect " << dialect;
    EXPECT_TRUE(contains(response.status().message(), "Compute error."))
        << "dialect " << dialect << ": " << response.status().message();
    EXPECT_EQ(streamed, "partial ") << "dialect " << dialect;
  }
}

// The error event ends the stream before the usage chunk, so the two pieces streamed before it
// count as two output tokens, in every dialect.
TEST_F(OpenAiClientTest, StreamErrorCountsStreamedTokens) {
  for (StreamErrorShape shape : {StreamErrorShape::kErrorObject, StreamErrorShape::kErrorEvent}) {
    ChatProgress progress;
    Result<ChatResponse> response =
        chat(stream_failure(shape, "Compute error.", "server_error", 500), nullptr, &progress);
    const int dialect = static_cast<int>(shape);
    ASSERT_FALSE(response.is_ok()) << "dialect " << dialect;
    EXPECT_EQ(progress.failed_usage.output_tokens, 2) << "dialect " << dialect;
    EXPECT_EQ(progress.failed_usage.prompt_tokens, 0) << "dialect " << dialect;
  }
}

TEST_F(OpenAiClientTest, UnparsedOutputInStreamCountsStreamedTokens) {
  ChatProgress progress;
  Result<ChatResponse> response = chat(
      stream_failure(StreamErrorShape::kErrorObject,
                     "The model produced output that does not match the expected peg-native format",
                     "server_error", 500),
      nullptr, &progress);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kParseError);
  EXPECT_EQ(progress.failed_usage.output_tokens, 2);
}

TEST_F(OpenAiClientTest, StreamWithoutFinishReasonCountsStreamedTokens) {
  FakeReply reply;
  reply.content = "abcdefghijkl";
  reply.piece_chars = 4;
  reply.omit_done = true;
  ChatProgress progress;
  Result<ChatResponse> response = chat(reply, nullptr, &progress);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTruncated);
  EXPECT_EQ(progress.failed_usage.output_tokens, 3);
}

// A stream error that the retry replaces still spent its tokens, and the retrying client
// reports them beside the reply of the retry.
TEST_F(OpenAiClientTest, RetriedStreamErrorCountsItsTokens) {
  server_.script().enqueue(
      stream_failure(StreamErrorShape::kErrorObject, "Compute error.", "server_error", 500));
  FakeReply good;
  good.content = R"({"files": []})";
  good.prompt_tokens = 40;
  good.output_tokens = 5;
  server_.script().enqueue(good);
  auto auto_clock = std::make_shared<FakeClock>(/*auto_advance=*/true);
  RetryingClient retrying(client(), RetryPolicy::from(settings_), auto_clock, [] { return 0.5; });
  ChatProgress progress;
  Result<ChatResponse> response = retrying.chat(request(), cancel_, nullptr, &progress);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->usage.output_tokens, 5);
  EXPECT_EQ(progress.failed_usage.output_tokens, 2);
  EXPECT_EQ(server_.chat_count(), 2u);
}

TEST_F(OpenAiClientTest, StreamErrorBeforeContent) {
  FakeReply reply = stream_failure(StreamErrorShape::kMessageOnly, "Compute error.");
  reply.error_after_pieces = 0;
  Result<ChatResponse> response = chat(reply);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kServerError);
}

TEST_F(OpenAiClientTest, ContextErrorsInStreamAreOverflow) {
  auto sut = client();
  server_.script().enqueue(stream_failure(
      StreamErrorShape::kBareErrorField,
      "the request exceeds the available context size. try increasing the context size or "
      "enable context shift",
      "invalid_request_error", 400));
  Result<ChatResponse> bare = sut->chat(request(), cancel_);
  ASSERT_FALSE(bare.is_ok());
  EXPECT_EQ(bare.status().code(), ErrorCode::kContextOverflow);

  server_.script().enqueue(stream_failure(
      StreamErrorShape::kRawJson,
      "request (6009 tokens) exceeds the available context size (4096 tokens), try increasing it",
      "exceed_context_size_error", 400));
  Result<ChatResponse> raw = sut->chat(request(), cancel_);
  ASSERT_FALSE(raw.is_ok());
  EXPECT_EQ(raw.status().code(), ErrorCode::kContextOverflow);
  EXPECT_TRUE(contains(raw.status().message(), "6009 tokens"));
}

TEST_F(OpenAiClientTest, GatewayTimeoutInStreamIsTimeout) {
  Result<ChatResponse> response =
      chat(stream_failure(StreamErrorShape::kErrorObject, "TimeoutError", "GatewayTimeout", 504));
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTimeout);
  EXPECT_TRUE(contains(response.status().message(), "TimeoutError"));
}

TEST_F(OpenAiClientTest, ErrorEventCodeMapsTimeout) {
  Result<ChatResponse> response =
      chat(stream_failure(StreamErrorShape::kErrorEvent, "upstream timed out", "", 504));
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTimeout);
}

TEST_F(OpenAiClientTest, MalformedEventIsParseError) {
  FakeReply reply;
  reply.raw_objects = {"data: {\"choices\":[]}\n\n", "data: not json\n\n"};
  Result<ChatResponse> response = chat(reply);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kParseError);
  EXPECT_TRUE(contains(response.status().message(), "event 2"));
}

TEST_F(OpenAiClientTest, InvalidUsageCountsAreUnknown) {
  FakeReply reply;
  reply.raw_objects = {
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},"
      "\"finish_reason\":\"stop\"}]}\n\n",
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-5,"
      "\"completion_tokens\":18446744073709551615,\"total_tokens\":0}}\n\n",
      "data: [DONE]\n\n"};
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, "hi");
  EXPECT_EQ(response->usage.prompt_tokens, 0);
  EXPECT_EQ(response->usage.output_tokens, 0);
}

TEST_F(OpenAiClientTest, InvalidTimingsCountsAreUnknown) {
  FakeReply reply;
  reply.raw_objects = {
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},"
      "\"finish_reason\":\"stop\"}],\"timings\":{\"prompt_n\":-1,"
      "\"predicted_n\":5000000000}}\n\n",
      "data: [DONE]\n\n"};
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->usage.prompt_tokens, 0);
  EXPECT_EQ(response->usage.output_tokens, 0);
}

TEST_F(OpenAiClientTest, EmptyChoicesNameTheServer) {
  FakeReply reply;
  reply.raw_objects = {"data: {\"choices\":[],\"model\":\"tiny\"}\n\n",
                       "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
                       "\"completion_tokens\":0}}\n\n",
                       "data: [DONE]\n\n"};
  Result<ChatResponse> response = chat(reply);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kServerError);
  const std::string message = response.status().message();
  EXPECT_TRUE(contains(message, "returned no choices for model 'tiny'")) << message;
  EXPECT_TRUE(contains(message, server_.url() + "/v1/chat/completions")) << message;
  EXPECT_FALSE(contains(message, "finish_reason")) << message;
}

TEST_F(OpenAiClientTest, BusyThenSuccessWithRetries) {
  server_.script().fail_next(1, 503, "Loading model");
  Result<ChatResponse> busy = client()->chat(request(), cancel_);
  ASSERT_FALSE(busy.is_ok());
  EXPECT_EQ(busy.status().code(), ErrorCode::kServerBusy);
  EXPECT_TRUE(contains(busy.status().message(), "Loading model"));

  server_.script().fail_next(1, 503, "Loading model");
  auto auto_clock = std::make_shared<FakeClock>(/*auto_advance=*/true);
  RetryingClient retrying(client(), RetryPolicy::from(settings_), auto_clock, [] { return 0.5; });
  Result<ChatResponse> response = retrying.chat(request(), cancel_);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(retrying.stats().retried_busy, 1u);
  EXPECT_EQ(server_.chat_count(), 3u);
}

TEST_F(OpenAiClientTest, ServerErrorStatus) {
  server_.script().fail_next(1, 500, "slot crashed");
  Result<ChatResponse> response = client()->chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kServerError);
  EXPECT_TRUE(contains(response.status().message(), "HTTP 500: slot crashed"));
}

TEST_F(OpenAiClientTest, CancelMidStream) {
  FakeReply reply;
  reply.content = "abcdefghijkl";
  reply.piece_chars = 2;
  int pieces = 0;
  Result<ChatResponse> response = chat(reply, [&](const std::string&) {
    ++pieces;
    cancel_.cancel();
  });
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kCancelled);
  EXPECT_LT(pieces, 6);
}

// The usage arrives only with the last event, so a cancelled stream counts one output token per
// chunk with text and no prompt tokens.
TEST_F(OpenAiClientTest, CancelMidStreamCountsStreamedTokens) {
  FakeReply reply;
  reply.content = "abcdefghijkl";
  reply.piece_chars = 2;
  // The writes after the first wait until the request has ended, so that exactly one piece
  // arrives before the cancel.
  reply.before_write = [this](size_t index) {
    if (index > 0) {
      server_.gate().pass();
    }
  };
  server_.script().enqueue(reply);
  int pieces = 0;
  ChatProgress progress;
  progress.failed_usage.prompt_tokens = -1;
  Result<ChatResponse> response = client()->chat(
      request(), cancel_,
      [&](const std::string&) {
        ++pieces;
        cancel_.cancel();
      },
      &progress);
  server_.gate().open_all();
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kCancelled);
  EXPECT_EQ(pieces, 1);
  EXPECT_EQ(progress.failed_usage.output_tokens, 1);
  EXPECT_EQ(progress.failed_usage.prompt_tokens, 0);
}

TEST_F(OpenAiClientTest, SlowFirstTokenIsTimeout) {
  settings_.first_token_timeout_s = 9.5;
  FakeReply reply;
  reply.before_write = [this](size_t index) {
    if (index == 0) {
      clock_->advance(std::chrono::seconds(10));
    }
  };
  Result<ChatResponse> response = chat(reply);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTimeout);
}

TEST_F(OpenAiClientTest, MissingModelIsNotFound) {
  server_.set_strict_models(true);
  ChatRequest missing = request();
  missing.model = "qwen3:32b";
  Result<ChatResponse> response = client()->chat(missing, cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(contains(response.status().message(), "model 'qwen3:32b' not found on"));
  EXPECT_TRUE(contains(response.status().message(), "--model"));
}

TEST_F(OpenAiClientTest, ConnectionRefused) {
  settings_.host = "http://127.0.0.1:" + std::to_string(closed_port());
  Result<ChatResponse> response = client()->chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(contains(response.status().message(), settings_.host));
}

TEST_F(OpenAiClientTest, DnsFailure) {
  settings_.host = "http://gpu-box.invalid:8080";
  Result<ChatResponse> response = client()->chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(contains(response.status().message(), "gpu-box.invalid"));
}

TEST_F(OpenAiClientTest, ThinkAndReasoningKeptOutOfContent) {
  FakeReply tagged;
  tagged.content = "<think>plan first</think>{\"files\":[]}";
  tagged.piece_chars = 3;
  Result<ChatResponse> response = chat(tagged);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, "{\"files\":[]}");
  EXPECT_EQ(response->thinking, "plan first");

  FakeReply field;
  field.raw_objects = {
      "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\"}}]}\n\n",
      "data: {\"choices\":[{\"delta\":{\"content\":\"{}\"},\"finish_reason\":\"stop\"}]}\n\n",
      "data: [DONE]\n\n"};
  Result<ChatResponse> reasoned = chat(field);
  ASSERT_TRUE(reasoned.is_ok()) << reasoned.status().to_string();
  EXPECT_EQ(reasoned->content, "{}");
  EXPECT_EQ(reasoned->thinking, "hmm");
}

TEST_F(OpenAiClientTest, HostWithV1Suffix) {
  settings_.host = server_.url() + "/v1/";
  auto sut = client();
  EXPECT_EQ(sut->endpoint(), server_.url());
  ASSERT_TRUE(sut->chat(request(), cancel_).is_ok());
  EXPECT_EQ(server_.requests().back().path, "/v1/chat/completions");
}

TEST_F(OpenAiClientTest, BearerTokenSent) {
  settings_.api_key = "sk-local-test";
  ASSERT_TRUE(client()->chat(request(), cancel_).is_ok());
  EXPECT_EQ(server_.requests().back().authorization, "Bearer sk-local-test");
}

TEST_F(OpenAiClientTest, ListModelsVersionAndLoaded) {
  FakeModel coder;
  coder.name = "qwen2.5-coder:7b";
  server_.set_models({FakeModel(), coder});
  server_.set_version("6500");
  auto sut = client();
  Result<std::vector<ModelInfo>> models = sut->list_models();
  ASSERT_TRUE(models.is_ok()) << models.status().to_string();
  ASSERT_EQ(models->size(), 2u);
  EXPECT_EQ((*models)[1].name, "qwen2.5-coder:7b");
  EXPECT_EQ(sut->version().value_or(""), "b6500-fake");
  ASSERT_TRUE(sut->loaded_models().is_ok());
  EXPECT_TRUE(sut->loaded_models()->empty());
  EXPECT_EQ(sut->backend_name(), "openai");
}

TEST_F(OpenAiClientTest, VersionUnknownWithoutProps) {
  HttpTestServer bare;
  bare.start();
  settings_.host = bare.url();
  EXPECT_EQ(client()->version().value_or(""), "unknown");
}

TEST_F(OpenAiClientTest, ModelsWithoutDataIsParseError) {
  HttpTestServer other;
  other.server().Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"models": []})", "application/json");
  });
  other.start();
  settings_.host = other.url();
  Result<std::vector<ModelInfo>> models = client()->list_models();
  ASSERT_FALSE(models.is_ok());
  EXPECT_EQ(models.status().code(), ErrorCode::kParseError);
}

}  // namespace
}  // namespace ollamaflow::llm
