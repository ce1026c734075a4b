// Client for Ollama's native API: /api/chat streamed as NDJSON, and the model endpoints.
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
class OllamaClient final : public LlmClient {
 public:
  // Builds a client for settings.host (default port 11434). `cancel`, when not null, cancels
  // every request of the client, the model requests too. Returns kInvalidArgument for a
  // malformed host URL.
  static Result<std::shared_ptr<OllamaClient>> create(const ServerSettings& settings,
                                                      std::shared_ptr<Clock> clock,
                                                      CancelTokenPtr cancel = nullptr);

  // Streams POST /api/chat with the schema as `format`, and options num_ctx, num_predict,
  // temperature, seed and num_gpu. Beyond the interface's codes: an {"error": ...} line in a 200
  // stream is kServerError (kContextOverflow for a context-size message), and done_reason
  // "length" is kTruncated.
  Result<ChatResponse> chat(const ChatRequest& request, const CancelToken& cancel,
                            const TokenCallback& on_token = nullptr,
                            ChatProgress* progress = nullptr) override;

  // GET /api/tags.
  Result<std::vector<ModelInfo>> list_models() override;
  // GET /api/version.
  Result<std::string> version() override;
  // GET /api/ps.
  Result<std::vector<LoadedModel>> loaded_models() override;
  // POST /api/show: the model's details, parameters and GGUF metadata ("model_info"); with
  // `verbose`, also the per-layer arrays. kNotFound when the server lacks the model.
  Result<nlohmann::json> show(const std::string& model, bool verbose);

  std::string backend_name() const override { return "ollama"; }
  std::string endpoint() const override { return http_.base_url(); }

  // Returns the /api/chat request body for `request`; public for tests.
  static nlohmann::json chat_body(const ChatRequest& request);

 private:
  OllamaClient(HttpClient http, const ServerSettings& settings, std::shared_ptr<Clock> clock);

  // Returns the "models" list of an /api/tags or /api/ps body (empty when absent), or
  // kParseError naming the URL when the body, the list or an entry has the wrong shape.
  Result<const nlohmann::json*> model_entries(const nlohmann::json& body,
                                              const std::string& path) const;
  Status model_not_found(const std::string& model) const;
  Result<nlohmann::json> get_json(const std::string& path) const;

  HttpClient http_;
  const double first_token_timeout_s_;
  const double idle_timeout_s_;
  const std::shared_ptr<Clock> clock_;
};

}  // namespace ollamaflow::llm
