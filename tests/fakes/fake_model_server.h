// Fake model servers on 127.0.0.1 that speak Ollama's native API and the OpenAI-compatible API
// (as llama-server serves it), with scripted replies and failures.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/fake_reply.h"
#include "fakes/http_test_server.h"

namespace ollamaflow::testing {

// One model the fake server lists.
struct FakeModel {
  std::string name = "llama3.1:8b";
  int64_t size_bytes = 4920753328;
  std::string family = "llama";
  std::string parameter_size = "8.0B";
  std::string quantization = "Q4_K_M";
  int64_t context_length = 131072;
  nlohmann::json model_info = nlohmann::json::object();  // /api/show "model_info"
  bool loaded = false;                                   // listed by /api/ps
  int64_t size_vram_bytes = 0;
};

// One request as the fake server received it.
struct RecordedRequest {
  std::string method;
  std::string path;
  nlohmann::json body;  // null when the body is not JSON
  std::string kind;     // request_kind() of a chat request, else ""
  std::string authorization;
};

// The parts both fakes share: the reply script, the model list and the request record.
//
// Thread-safe: tests script and inspect it while handlers run on the server's threads.
class FakeModelServer : public HttpTestServer {
 public:
  ReplyScript& script() { return script_; }

  void set_models(std::vector<FakeModel> models);
  // With `strict`, a chat request for a model that is not listed gets 404, as from a real
  // server; by default every model name is accepted.
  void set_strict_models(bool strict);
  void set_version(std::string version);

  std::vector<RecordedRequest> requests() const;
  // Returns the bodies of chat requests, in arrival order.
  std::vector<nlohmann::json> chat_requests() const;
  size_t chat_count() const;

 protected:
  FakeModelServer();

  // Records the request and returns its JSON body (null when it is not JSON).
  nlohmann::json record(const httplib::Request& request, bool is_chat);
  std::vector<FakeModel> models() const;
  bool knows_model(const std::string& name) const;
  std::string version() const;
  // Streams `writes` through `response`, calling reply.before_write before each one.
  static void stream_writes(httplib::Response& response, const std::string& content_type,
                            std::vector<std::string> writes, const FakeReply& reply);

 private:
  ReplyScript script_;
  mutable std::mutex mutex_;
  std::vector<FakeModel> models_;
  bool strict_models_ = false;
  std::string version_;
  std::vector<RecordedRequest> requests_;
};

// Serves /api/chat (streamed NDJSON or one object with "stream": false), /api/tags, /api/show,
// /api/ps and /api/version. The constructor starts the server on `port`, or on a free port
// when it is 0.
class FakeOllamaServer final : public FakeModelServer {
 public:
  explicit FakeOllamaServer(int port = 0);
  ~FakeOllamaServer() override { stop(); }

  // Holds every /api/show reply for `delay`, so that requests overlap when a client sends them
  // concurrently.
  void set_show_delay(std::chrono::milliseconds delay);
  // Returns the maximum number of /api/show requests that were in the handler at the same time.
  int max_shows_in_flight() const;

  // Returns the NDJSON lines of `reply` for `model`; public for tests of the format.
  static std::vector<std::string> chat_lines(const FakeReply& reply, const std::string& model,
                                             int64_t prompt_tokens);

 private:
  void handle_chat(const httplib::Request& request, httplib::Response& response);
  void handle_show(const httplib::Request& request, httplib::Response& response);

  mutable std::mutex show_mutex_;
  std::chrono::milliseconds show_delay_{0};  // guarded by show_mutex_
  int shows_in_flight_ = 0;                  // guarded by show_mutex_
  int max_shows_in_flight_ = 0;              // guarded by show_mutex_
};

// Serves /v1/chat/completions (server-sent events, or one object without "stream": true),
// /v1/models, /props and /health. The constructor starts the server on `port`, or on a free
// port when it is 0.
class FakeOpenAiServer final : public FakeModelServer {
 public:
  explicit FakeOpenAiServer(int port = 0);
  ~FakeOpenAiServer() override { stop(); }

  void set_total_slots(int slots);
  // Replies to the next `count` requests, whatever their path, with HTTP 503 and the error body
  // that llama-server sends while it loads its model. A negative count means every request.
  void set_loading_model(int count);

  // Returns the events of `reply` for `model`; public for tests of the format.
  static std::vector<std::string> chat_events(const FakeReply& reply, const std::string& model,
                                              int64_t prompt_tokens, bool include_usage);

 private:
  void handle_chat(const httplib::Request& request, httplib::Response& response);

  std::mutex slots_mutex_;
  int total_slots_ = 4;
  int loading_replies_left_ = 0;  // guarded by slots_mutex_; negative: every request
};

// Returns request characters / 4, the estimate the fakes use for prompt tokens.
int64_t estimate_prompt_tokens(const nlohmann::json& body);

}  // namespace ollamaflow::testing
