// The model server interface shared by the Ollama, OpenAI-compatible and simulated backends.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/status.h"

namespace ollamaflow::llm {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// Request options. Every agent on one model must send identical values for the fields that
// change how the server loads the model (num_ctx, num_gpu), or Ollama reloads it.
struct ChatOptions {
  int num_ctx = 8192;      // context tokens per request (Ollama) or per slot
  int num_predict = 2048;  // output token limit; max_tokens on OpenAI-compatible servers
  double temperature = 0.2;
  std::optional<int64_t> seed;
  std::optional<int> num_gpu;  // layers to offload; from GPU_LAYERS
  std::string keep_alive = "30m";
  // The server's context per slot when it reports one (llama-server's /props), else 0. It is not
  // sent, and lets the message for a truncated reply name the limit that cut it.
  int server_slot_ctx = 0;
};

struct ChatRequest {
  std::string model;
  std::vector<ChatMessage> messages;
  nlohmann::json schema;  // JSON schema for the reply; null for free text
  std::string schema_name = "reply";
  ChatOptions options;
  // Purpose of the request, named in its progress log lines: "planning", "task <id>", "summary"
  // or "warm-up". Empty when the caller names none.
  std::string purpose;
};

// Token counts and timings reported by the server. Durations in seconds; zero when unknown.
struct ChatUsage {
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  double load_seconds = 0;
  double prompt_seconds = 0;
  double eval_seconds = 0;
  double total_seconds = 0;
  double first_token_seconds = 0;  // measured by the client from send to first content
};

// Adds the token counts and durations of `part` to `total`.
inline void add_usage(ChatUsage& total, const ChatUsage& part) {
  total.prompt_tokens += part.prompt_tokens;
  total.output_tokens += part.output_tokens;
  total.load_seconds += part.load_seconds;
  total.prompt_seconds += part.prompt_seconds;
  total.eval_seconds += part.eval_seconds;
  total.total_seconds += part.total_seconds;
  total.first_token_seconds += part.first_token_seconds;
}

// The part of a chat request's outcome that its return value does not show: whether the request
// was sent, and the tokens of its failed tries. chat() fills it on every return.
struct ChatProgress {
  // Set just before the client hands the request to the connection, or when the simulated
  // backend accepts it. A request that was cancelled while this is false never reached the
  // server, so it spent nothing and callers record no attempt for it.
  bool sent = false;
  // The tokens of failed requests. After an error, it is what the request spent before it
  // failed, as far as the client saw it. A model server reports its counts only in the final
  // chunk of a reply, so before that chunk the output tokens are counted one per streamed chunk
  // that carries text, an estimate, and the prompt tokens stay 0. After a reply, it is what the
  // earlier tries that a RetryingClient retried spent, counted the same way, without the reply's
  // own usage.
  ChatUsage failed_usage;
};

struct ChatResponse {
  std::string content;      // the reply with <think> sections removed
  std::string thinking;     // text that was inside <think> sections or a "thinking" field
  std::string done_reason;  // "stop", "length", ...
  std::string model;
  ChatUsage usage;
  bool simulated = false;  // true when the simulated backend produced the reply
};

struct ModelInfo {
  std::string name;
  int64_t size_bytes = 0;
  std::string family;
  std::string parameter_size;
  std::string quantization;
  int64_t context_length = 0;  // 0 when the server does not say
};

struct LoadedModel {
  std::string name;
  int64_t size_bytes = 0;
  int64_t size_vram_bytes = 0;
  int64_t context_length = 0;
};

// Called with each piece of streamed content as it arrives.
using TokenCallback = std::function<void(const std::string& piece)>;

// Thread-safe: one client is shared by all agents of a backend, and chat() may run concurrently.
class LlmClient {
 public:
  virtual ~LlmClient() = default;

  // Sends one chat request and returns the whole reply. A reply cut at the output limit is a
  // reply with done_reason "length", its content so far and the tokens the server counted.
  // Errors use these codes: kUnavailable (connection refused, DNS), kNotFound (model missing),
  // kServerBusy (503), kServerError (5xx or an error inside the stream), kTruncated (a stream
  // that ended without its final chunk), kTimeout, kCancelled, kContextOverflow,
  // kSchemaUnsupported.
  //
  // When `progress` is not null, it receives whether the request was sent and the tokens of
  // failed requests (see ChatProgress), whatever the outcome. The simulated backend gives the
  // tokens it simulated.
  virtual Result<ChatResponse> chat(const ChatRequest& request, const CancelToken& cancel,
                                    const TokenCallback& on_token = nullptr,
                                    ChatProgress* progress = nullptr) = 0;

  virtual Result<std::vector<ModelInfo>> list_models() = 0;
  // Returns the server's version string, or "simulated".
  virtual Result<std::string> version() = 0;
  // Returns the models the server holds in memory; empty when the backend cannot say.
  virtual Result<std::vector<LoadedModel>> loaded_models() = 0;
  // Returns the backend name: "ollama", "openai" or "sim".
  virtual std::string backend_name() const = 0;
  // Returns the base URL, or "sim://local".
  virtual std::string endpoint() const = 0;
};

using LlmClientPtr = std::shared_ptr<LlmClient>;

}  // namespace ollamaflow::llm
