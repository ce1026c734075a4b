// Client for OpenAI-compatible servers (llama.cpp's llama-server, vLLM, LM Studio):
// /v1/chat/completions streamed as server-sent events, and the model endpoints.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/config.h"
#include "llm/client.h"
#include "llm/http.h"

namespace ollamaflow::llm {

// Thread-safe: chat() and the model calls may run concurrently, each on its own connection.
class OpenAiClient final : public LlmClient {
 public:
  // Builds a client for settings.host (default port 8080, llama-server's). A host URL whose
  // path ends in "/v1" (as OpenAI SDKs write base URLs) is accepted, and the "/v1" is
  // dropped from endpoint() so that it is not doubled. settings.api_key, when set, is sent as a
  // Bearer token. `cancel`, when not null, cancels every request of the client, the model
  // requests too. Returns kInvalidArgument for a malformed host URL.
  static Result<std::shared_ptr<OpenAiClient>> create(const ServerSettings& settings,
                                                      std::shared_ptr<Clock> clock,
                                                      CancelTokenPtr cancel = nullptr);

  // Streams POST /v1/chat/completions with the schema as response_format (json_schema, strict)
  // and max_tokens, temperature and seed. Beyond the interface's codes:
  // - finish_reason "length" is kTruncated;
  // - llama-server's "does not match the expected ... format" (HTTP 500 or inside the stream:
  //   it could not parse the model's unconstrained output) is kParseError, a failed attempt
  //   that a new request may fix;
  // - 400 or 500 naming a grammar failure ("Grammar error", "not supported by xgrammar",
  //   "Unimplemented keys") is kSchemaUnsupported;
  // - an error inside a 200 stream, in any of the dialects SseParser accepts, is kServerError
  //   with the server's message, kContextOverflow for a context-size message, kTimeout for a
  //   gateway timeout.
  Result<ChatResponse> chat(const ChatRequest& request, const CancelToken& cancel,
                            const TokenCallback& on_token = nullptr,
                            ChatProgress* progress = nullptr) override;

  // GET /v1/models.
  Result<std::vector<ModelInfo>> list_models() override;
  // GET /props: llama-server's "build_info"; "unknown" when the server has no /props or does
  // not report it.
  Result<std::string> version() override;
  // Returns an empty list, because the OpenAI API does not report what is loaded.
  Result<std::vector<LoadedModel>> loaded_models() override;

  std::string backend_name() const override { return "openai"; }
  std::string endpoint() const override { return http_.base_url(); }

  // Returns the /v1/chat/completions request body for `request`; public for tests.
  static nlohmann::json chat_body(const ChatRequest& request);

 private:
  OpenAiClient(HttpClient http, const ServerSettings& settings, std::shared_ptr<Clock> clock);

  Result<HttpResponse> get(const std::string& path) const;

  HttpClient http_;
  const double first_token_timeout_s_;
  const double idle_timeout_s_;
  const std::shared_ptr<Clock> clock_;
};

}  // namespace ollamaflow::llm
