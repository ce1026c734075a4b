#include "llm/ollama_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "fakes/fake_model_server.h"
#include "llm/json_extract.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;
using ollamaflow::testing::closed_port;
using ollamaflow::testing::FakeModel;
using ollamaflow::testing::FakeOllamaServer;
using ollamaflow::testing::FakeReply;
using ollamaflow::testing::StreamErrorShape;

class OllamaClientTest : public ::testing::Test {
 protected:
  OllamaClientTest() {
    settings_.host = server_.url();
    // Bounds the real time a broken test can hang on a socket read.
    settings_.first_token_timeout_s = 20;
    settings_.idle_timeout_s = 20;
  }

  std::shared_ptr<OllamaClient> client() {
    Result<std::shared_ptr<OllamaClient>> created = OllamaClient::create(settings_, clock_);
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    return created.value_or(nullptr);
  }

  static ChatRequest request() {
    ChatRequest request;
    request.model = "llama3.1:8b";
    request.messages = {{"system", "You are a developer."}, {"user", "Write hello.py"}};
    request.schema = json::parse(R"({"type":"object","properties":{"files":{"type":"array"}}})");
    request.options.num_ctx = 4096;
    request.options.num_predict = 512;
    request.options.temperature = 0.1;
    request.options.seed = 42;
    request.options.num_gpu = 33;
    return request;
  }

  Result<ChatResponse> chat(const FakeReply& reply, const TokenCallback& on_token = nullptr,
                            ChatProgress* progress = nullptr) {
    server_.script().enqueue(reply);
    return client()->chat(request(), cancel_, on_token, progress);
  }

  // Streams four pieces. Each write after the first waits until the client has handled the
  // previous piece, and the client's clock jumps 6 s after the second piece, so the stall
  // happens exactly there. `pieces` counts the pieces the client saw.
  Result<ChatResponse> chat_with_stall(int& pieces) {
    FakeReply reply;
    reply.content = "abcdefghijkl";
    reply.piece_chars = 3;
    reply.before_write = [this](size_t index) {
      if (index > 0) {
        server_.gate().pass();
      }
    };
    return chat(reply, [&](const std::string&) {
      if (++pieces == 2) {
        clock_->advance(std::chrono::seconds(6));
      }
      server_.gate().open(1);
    });
  }

  FakeOllamaServer server_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  ServerSettings settings_;
  CancelToken cancel_;
};

TEST_F(OllamaClientTest, ChatStreamsContent) {
  FakeReply reply;
  reply.content = R"({"files":[],"summary":"done"})";
  reply.piece_chars = 5;
  reply.output_tokens = 7;
  reply.prompt_tokens = 30;
  std::string streamed;
  Result<ChatResponse> response = chat(reply, [&](const std::string& piece) { streamed += piece; });
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, reply.content);
  EXPECT_EQ(streamed, reply.content);
  EXPECT_EQ(response->done_reason, "stop");
  EXPECT_EQ(response->model, "llama3.1:8b");
  EXPECT_EQ(response->usage.prompt_tokens, 30);
  EXPECT_EQ(response->usage.output_tokens, 7);
  EXPECT_DOUBLE_EQ(response->usage.load_seconds, 0.25);
  EXPECT_DOUBLE_EQ(response->usage.prompt_seconds, 0.2);
  EXPECT_DOUBLE_EQ(response->usage.eval_seconds, 1.0);
  EXPECT_DOUBLE_EQ(response->usage.total_seconds, 1.5);
  EXPECT_FALSE(response->simulated);
}

TEST_F(OllamaClientTest, ChatSendsFormatAndOptions) {
  ASSERT_TRUE(chat(FakeReply()).is_ok());
  ASSERT_EQ(server_.chat_count(), 1u);
  const json body = server_.chat_requests()[0];
  EXPECT_EQ(body["model"], "llama3.1:8b");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["format"], request().schema);
  EXPECT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][1]["content"], "Write hello.py");
  EXPECT_EQ(body["options"]["num_ctx"], 4096);
  EXPECT_EQ(body["options"]["num_predict"], 512);
  EXPECT_EQ(body["options"]["temperature"], 0.1);
  EXPECT_EQ(body["options"]["seed"], 42);
  EXPECT_EQ(body["options"]["num_gpu"], 33);
  EXPECT_EQ(body["keep_alive"], "30m");
}

TEST_F(OllamaClientTest, ChatOmitsUnsetFields) {
  ChatRequest plain = request();
  plain.schema = nullptr;
  plain.options.seed.reset();
  plain.options.num_gpu.reset();
  const json body = OllamaClient::chat_body(plain);
  EXPECT_FALSE(body.contains("format"));
  EXPECT_FALSE(body["options"].contains("seed"));
  EXPECT_FALSE(body["options"].contains("num_gpu"));
}

TEST_F(OllamaClientTest, IdenticalOptionsAcrossRequests) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(chat(FakeReply()).is_ok());
  }
  std::set<int> num_ctx_values;
  for (const json& body : server_.chat_requests()) {
    num_ctx_values.insert(body["options"]["num_ctx"].get<int>());
  }
  EXPECT_EQ(num_ctx_values.size(), 1u);
}

TEST_F(OllamaClientTest, ReadsSplitInsideObjects) {
  FakeReply reply;
  reply.content = " Hi there, this is a longer reply";
  reply.piece_chars = 4;
  for (size_t cut : {3u, 70u, 71u, 150u, 151u, 300u, 433u}) {
    reply.split_at.push_back(cut);
  }
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, reply.content);
}

TEST_F(OllamaClientTest, SevenByteWrites) {
  FakeReply reply;
  reply.content = "seven byte writes split every object";
  reply.write_bytes = 7;
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, reply.content);
}

TEST_F(OllamaClientTest, SeveralObjectsPerWrite) {
  FakeReply reply;
  reply.content = "three objects in each write";
  reply.piece_chars = 2;
  reply.objects_per_write = 3;
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, reply.content);
}

TEST_F(OllamaClientTest, LargeFinalObjectSplit) {
  FakeReply reply;
  reply.content = std::string(9000, 'x');
  reply.piece_chars = 0;
  reply.split_at = {4096, 8192};
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content.size(), 9000u);
}

TEST_F(OllamaClientTest, ErrorLineInStream) {
  FakeReply reply;
  reply.content = "partial content";
  reply.piece_chars = 4;
  reply.stream_error = StreamErrorShape::kErrorObject;
  reply.error_message = "an error was encountered while running the model: unexpected EOF";
  reply.error_after_pieces = 2;
  Result<ChatResponse> response = chat(reply);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kServerError);
  EXPECT_NE(response.status().message().find("unexpected EOF"), std::string::npos);
}

// The error line ends the stream before the final chunk with the server's counts, so the two
// pieces streamed before it count as two output tokens.
TEST_F(OllamaClientTest, ErrorLineInStreamCountsStreamedTokens) {
  FakeReply reply;
  reply.content = "partial content";
  reply.piece_chars = 4;
  reply.stream_error = StreamErrorShape::kErrorObject;
  reply.error_message = "an error was encountered while running the model: unexpected EOF";
  reply.error_after_pieces = 2;
  ChatProgress progress;
  Result<ChatResponse> response = chat(reply, nullptr, &progress);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(progress.failed_usage.output_tokens, 2);
  EXPECT_EQ(progress.failed_usage.prompt_tokens, 0);
}

TEST_F(OllamaClientTest, ContextErrorLineInStream) {
  FakeReply reply;
  reply.stream_error = StreamErrorShape::kErrorObject;
  reply.error_message = "input length exceeds the context length";
  Result<ChatResponse> response = chat(reply);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kContextOverflow);
}

TEST_F(OllamaClientTest, StreamWithoutDoneIsTruncated) {
  FakeReply reply;
  reply.content = R"({"files": [)";
  reply.omit_done = true;
  Result<ChatResponse> response = chat(reply);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTruncated);
  EXPECT_NE(response.status().message().find("without its final chunk"), std::string::npos);
}

TEST_F(OllamaClientTest, StreamWithoutDoneCountsStreamedTokens) {
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

TEST_F(OllamaClientTest, NegativeCountsAreUnknown) {
  FakeReply reply;
  reply.raw_objects = {R"({"message":{"content":"hi"},"done":false})"
                       "\n",
                       R"({"message":{"content":""},"done":true,"done_reason":"stop",)"
                       R"("prompt_eval_count":-5,"eval_count":-1})"
                       "\n"};
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, "hi");
  EXPECT_EQ(response->usage.prompt_tokens, 0);
  EXPECT_EQ(response->usage.output_tokens, 0);
}

TEST_F(OllamaClientTest, AbsurdCountIsUnknown) {
  FakeReply reply;
  reply.raw_objects = {R"({"message":{"content":"hi"},"done":true,"done_reason":"stop",)"
                       R"("prompt_eval_count":12,"eval_count":9000000000000})"
                       "\n"};
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->usage.prompt_tokens, 12);
  EXPECT_EQ(response->usage.output_tokens, 0);
}

TEST_F(OllamaClientTest, DanglingPartialLineIsTruncated) {
  FakeReply reply;
  reply.raw_objects = {R"({"message":{"content":"a"},"done":false})"
                       "\n",
                       R"({"message":{"content":"b"},"do)"};
  Result<ChatResponse> response = chat(reply);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTruncated);
}

TEST_F(OllamaClientTest, MalformedLineIsParseError) {
  FakeReply reply;
  reply.raw_objects = {"{\"message\":{\"content\":\"a\"},\"done\":false}\n", "not json\n"};
  Result<ChatResponse> response = chat(reply);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kParseError);
  EXPECT_NE(response.status().message().find("line 2"), std::string::npos);
}

TEST_F(OllamaClientTest, FinalObjectWithoutNewlineAccepted) {
  FakeReply reply;
  reply.raw_objects = {"{\"message\":{\"content\":\"a\"},\"done\":false}\n",
                       "{\"message\":{\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\"}"};
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, "a");
}

TEST_F(OllamaClientTest, DoneReasonLengthKeepsTokens) {
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

TEST_F(OllamaClientTest, ThinkSectionsKeptOutOfContent) {
  FakeReply reply;
  reply.content = "<think>The user wants {\"x\": 1}.</think>\n{\"files\":[]}";
  reply.piece_chars = 3;
  std::string streamed;
  Result<ChatResponse> response = chat(reply, [&](const std::string& piece) { streamed += piece; });
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->content, "\n{\"files\":[]}");
  EXPECT_EQ(response->thinking, "The user wants {\"x\": 1}.");
  EXPECT_EQ(streamed, response->content);
}

TEST_F(OllamaClientTest, ThinkingFieldKeptOutOfContent) {
  FakeReply reply;
  reply.thinking = "Reasoning first.";
  reply.content = R"({"files":[]})";
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok());
  EXPECT_EQ(response->content, reply.content);
  EXPECT_EQ(response->thinking, "Reasoning first.");
}

TEST_F(OllamaClientTest, CodeFencedReplyRecovered) {
  FakeReply reply;
  reply.content = "```json\n{\n    \"label\": \"x\"\n}\n```";
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok());
  Result<json> parsed = extract_json(response->content);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_EQ((*parsed)["label"], "x");
}

TEST_F(OllamaClientTest, MalformedReplyKeptForTheCaller) {
  FakeReply reply;
  reply.content = R"({"todos": [{'content': 'Add field'}]})";
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok());
  EXPECT_EQ(response->content, reply.content);
  EXPECT_EQ(extract_json(response->content).status().code(), ErrorCode::kParseError);
}

TEST_F(OllamaClientTest, MissingModelIsNotFound) {
  server_.set_strict_models(true);
  ChatRequest missing = request();
  missing.model = "qwen3:32b";
  Result<ChatResponse> response = client()->chat(missing, cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(response.status().message(),
            "model 'qwen3:32b' not found on " + server_.url() +
                ": run `ollama pull qwen3:32b` or choose another model with --model");
}

TEST_F(OllamaClientTest, BusyServer) {
  server_.script().fail_next(1, 503,
                             "server busy, please try again. maximum pending requests "
                             "exceeded");
  Result<ChatResponse> response = client()->chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kServerBusy);
  EXPECT_NE(response.status().message().find("maximum pending requests"), std::string::npos);
}

TEST_F(OllamaClientTest, ServerErrorStatus) {
  server_.script().fail_next(1, 500, "llama runner process has terminated");
  Result<ChatResponse> response = client()->chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kServerError);
  EXPECT_NE(response.status().message().find("HTTP 500"), std::string::npos);
  EXPECT_NE(response.status().message().find("runner process"), std::string::npos);
}

TEST_F(OllamaClientTest, ConnectionRefused) {
  settings_.host = "http://127.0.0.1:" + std::to_string(closed_port());
  Result<ChatResponse> response = client()->chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(response.status().message().find(settings_.host), std::string::npos);
  EXPECT_NE(response.status().message().find("ollama serve"), std::string::npos);
}

TEST_F(OllamaClientTest, DnsFailure) {
  settings_.host = "http://gpu-box.invalid:11434";
  Result<ChatResponse> response = client()->chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(response.status().message().find("gpu-box.invalid"), std::string::npos);
}

TEST_F(OllamaClientTest, InvalidHostRejected) {
  settings_.host = "ftp://gpu1";
  Result<std::shared_ptr<OllamaClient>> created = OllamaClient::create(settings_, clock_);
  ASSERT_FALSE(created.is_ok());
  EXPECT_EQ(created.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(OllamaClientTest, SlowFirstTokenJustAboveTimeout) {
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
  EXPECT_NE(response.status().message().find("no first token within 9.5 s"), std::string::npos);
}

TEST_F(OllamaClientTest, SlowFirstTokenJustBelowTimeout) {
  settings_.first_token_timeout_s = 10.5;
  FakeReply reply;
  reply.before_write = [this](size_t index) {
    if (index == 0) {
      clock_->advance(std::chrono::seconds(10));
    }
  };
  Result<ChatResponse> response = chat(reply);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_DOUBLE_EQ(response->usage.first_token_seconds, 10.0);
}

TEST_F(OllamaClientTest, StallJustAboveIdleTimeout) {
  settings_.idle_timeout_s = 5.5;
  int pieces = 0;
  Result<ChatResponse> response = chat_with_stall(pieces);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTimeout);
  EXPECT_NE(response.status().message().find("no new token for 5.5 s"), std::string::npos);
  EXPECT_EQ(pieces, 2);
}

TEST_F(OllamaClientTest, StallJustBelowIdleTimeout) {
  settings_.idle_timeout_s = 6.5;
  int pieces = 0;
  Result<ChatResponse> response = chat_with_stall(pieces);
  EXPECT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(pieces, 4);
}

// The server sends one piece and then nothing, so no later chunk runs the idle check. The
// watcher must end the request at the idle deadline, long before the 20 s first-token timeout
// that sets the socket's read timeout.
TEST_F(OllamaClientTest, StallAfterFirstPieceHitsIdleTimeout) {
  settings_.idle_timeout_s = 5.5;
  FakeReply reply;
  reply.content = "abcdefghijkl";
  reply.piece_chars = 3;
  reply.before_write = [this](size_t index) {
    if (index > 0) {
      server_.gate().pass();  // opened only when the server stops
    }
  };
  int pieces = 0;
  ChatProgress progress;
  const auto started = std::chrono::steady_clock::now();
  Result<ChatResponse> response = chat(
      reply,
      [&](const std::string&) {
        ++pieces;
        clock_->advance(std::chrono::seconds(6));
      },
      &progress);
  const double waited_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTimeout) << response.status().to_string();
  EXPECT_NE(response.status().message().find("no new token for 5.5 s after the last one "
                                             "(server.idle_timeout_s)"),
            std::string::npos)
      << response.status().message();
  EXPECT_EQ(response.status().message().find("first_token_timeout_s"), std::string::npos)
      << response.status().message();
  EXPECT_EQ(pieces, 1);
  EXPECT_EQ(progress.failed_usage.output_tokens, 1);
  EXPECT_LT(waited_s, 10) << "the stall was caught by the socket's read timeout";
}

TEST_F(OllamaClientTest, CancelMidStream) {
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

// Ollama sends one token per chunk and its counts only in the final chunk, so a cancelled
// stream counts one output token per chunk with text and no prompt tokens.
TEST_F(OllamaClientTest, CancelMidStreamCountsStreamedTokens) {
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
  EXPECT_TRUE(progress.sent);
}

TEST_F(OllamaClientTest, CancelBeforeSendLeavesRequestUnsent) {
  cancel_.cancel();
  ChatProgress progress;
  Result<ChatResponse> response = client()->chat(request(), cancel_, nullptr, &progress);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kCancelled);
  EXPECT_FALSE(progress.sent);
  EXPECT_EQ(server_.chat_count(), 0u);
}

TEST_F(OllamaClientTest, ListModels) {
  FakeModel coder;
  coder.name = "qwen2.5-coder:7b";
  coder.family = "qwen2";
  server_.set_models({FakeModel(), coder});
  Result<std::vector<ModelInfo>> models = client()->list_models();
  ASSERT_TRUE(models.is_ok()) << models.status().to_string();
  ASSERT_EQ(models->size(), 2u);
  EXPECT_EQ((*models)[0].name, "llama3.1:8b");
  EXPECT_EQ((*models)[0].size_bytes, 4920753328);
  EXPECT_EQ((*models)[0].quantization, "Q4_K_M");
  EXPECT_EQ((*models)[1].family, "qwen2");
}

TEST_F(OllamaClientTest, VersionAndLoadedModels) {
  FakeModel loaded;
  loaded.loaded = true;
  loaded.size_vram_bytes = 6000000000;
  loaded.context_length = 8192;
  server_.set_models({loaded});
  server_.set_version("0.12.6");
  EXPECT_EQ(client()->version().value_or(""), "0.12.6");
  Result<std::vector<LoadedModel>> models = client()->loaded_models();
  ASSERT_TRUE(models.is_ok());
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].size_vram_bytes, 6000000000);
  EXPECT_EQ((*models)[0].context_length, 8192);
}

TEST_F(OllamaClientTest, ShowReturnsModelInfo) {
  Result<json> shown = client()->show("llama3.1:8b", /*verbose=*/true);
  ASSERT_TRUE(shown.is_ok()) << shown.status().to_string();
  EXPECT_EQ((*shown)["model_info"]["llama.context_length"], 131072);
  const auto requests = server_.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().body["verbose"], true);
}

TEST_F(OllamaClientTest, ShowMissingModel) {
  Result<json> shown = client()->show("nope:1b", false);
  ASSERT_FALSE(shown.is_ok());
  EXPECT_EQ(shown.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(shown.status().message().find("ollama pull nope:1b"), std::string::npos);
}

}  // namespace
}  // namespace ollamaflow::llm
