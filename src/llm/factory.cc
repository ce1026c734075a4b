#include "llm/factory.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "llm/http.h"
#include "llm/ollama_client.h"
#include "llm/openai_client.h"
#include "llm/retry.h"
#include "llm/sim_client.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

constexpr int kOllamaPort = 11434;
constexpr int kOpenAiPort = 8080;

Status unknown_backend(const std::string& backend) {
  return Status(ErrorCode::kInvalidArgument,
                fmt::format("unknown backend '{}' (server.backend, --backend): use ollama, openai "
                            "or sim",
                            backend));
}

Status check_retry_settings(const ServerSettings& settings) {
  if (settings.max_retries < 0) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("server.max_retries is {}: use 0 or more", settings.max_retries));
  }
  if (!(settings.retry_base_delay_s >= 0) || !(settings.retry_max_delay_s >= 0)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("server.retry_base_delay_s ({}) and server.retry_max_delay_s ({}) "
                              "must be 0 or more seconds",
                              settings.retry_base_delay_s, settings.retry_max_delay_s));
  }
  if (settings.retry_base_delay_s > settings.retry_max_delay_s) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("server.retry_base_delay_s ({}) exceeds server.retry_max_delay_s "
                              "({}): lower the base delay or raise the maximum",
                              settings.retry_base_delay_s, settings.retry_max_delay_s));
  }
  return Status::ok();
}

Result<LlmClientPtr> make_backend(const ServerSettings& settings, std::shared_ptr<Clock> clock,
                                  CancelTokenPtr cancel) {
  if (settings.backend == "ollama") {
    Result<std::shared_ptr<OllamaClient>> client =
        OllamaClient::create(settings, clock, std::move(cancel));
    return client.is_ok() ? Result<LlmClientPtr>(*client) : Result<LlmClientPtr>(client.status());
  }
  if (settings.backend == "openai") {
    Result<std::shared_ptr<OpenAiClient>> client =
        OpenAiClient::create(settings, clock, std::move(cancel));
    return client.is_ok() ? Result<LlmClientPtr>(*client) : Result<LlmClientPtr>(client.status());
  }
  if (settings.backend == "sim") {
    Result<std::shared_ptr<SimClient>> client = SimClient::create(settings, clock);
    return client.is_ok() ? Result<LlmClientPtr>(*client) : Result<LlmClientPtr>(client.status());
  }
  return unknown_backend(settings.backend);
}

// Checks that a 200 reply to the probe comes from the expected kind of server.
Status check_probe_body(const ServerSettings& settings, const std::string& where,
                        const std::string& body) {
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  const bool ollama = settings.backend == "ollama";
  const bool expected =
      parsed.is_object() &&
      (ollama ? parsed.contains("version") : parsed.contains("data") && parsed["data"].is_array());
  if (expected) {
    return Status::ok();
  }
  return Status(ErrorCode::kUnavailable,
                fmt::format("{} answered, but not as {} server would: check --host, or {}", where,
                            ollama ? "an Ollama" : "an OpenAI-compatible",
                            other_protocol_fix(settings.backend)));
}

// llama-server replies to every request, /health too, with HTTP 503 and the error message
// "Loading model" until its model is loaded.
bool is_model_loading_reply(int http_status, const std::string& error_text) {
  return http_status == 503 && error_text == "Loading model";
}

}  // namespace

Result<LlmClientPtr> make_client(const ServerSettings& settings, std::shared_ptr<Clock> clock,
                                 CancelTokenPtr cancel) {
  if (!clock) {
    clock = system_clock();
  }
  if (Status retry = check_retry_settings(settings); !retry.is_ok()) {
    return retry;
  }
  Result<LlmClientPtr> backend = make_backend(settings, clock, std::move(cancel));
  if (!backend.is_ok()) {
    return backend.status();
  }
  return LlmClientPtr(
      std::make_shared<RetryingClient>(*backend, RetryPolicy::from(settings), std::move(clock)));
}

Status check_server_url(const ServerSettings& settings) {
  // The simulated backend connects nowhere, but `config show` and the report print its host, so
  // a password in it is rejected as for the other backends.
  if (settings.backend == "sim") {
    return check_no_credentials(settings.host);
  }
  if (settings.backend != "ollama" && settings.backend != "openai") {
    return unknown_backend(settings.backend);
  }
  const bool ollama = settings.backend == "ollama";
  return parse_base_url(settings.host, ollama ? kOllamaPort : kOpenAiPort).status();
}

Result<std::string> effective_server_url(const ServerSettings& settings) {
  if (Status valid = check_server_url(settings); !valid) {
    return valid;
  }
  if (settings.backend == "sim") {
    return settings.host;
  }
  const bool ollama = settings.backend == "ollama";
  return parse_base_url(settings.host, ollama ? kOllamaPort : kOpenAiPort)->to_string();
}

Status check_server_url(const Config& config) {
  Status valid = check_server_url(config.server);
  if (valid.is_ok()) {
    return valid;
  }
  return Status(valid.code(), "invalid server.host (from " +
                                  describe_source_of(config, "server.host") +
                                  "): " + valid.message());
}

Status probe_server(const ServerSettings& settings, CancelTokenPtr cancel) {
  return probe_server_outcome(settings, std::move(cancel)).status;
}

ProbeOutcome probe_server_outcome(const ServerSettings& settings, CancelTokenPtr cancel) {
  if (Status valid = check_server_url(settings); !valid || settings.backend == "sim") {
    return {valid};
  }
  const bool ollama = settings.backend == "ollama";
  Result<BaseUrl> url = parse_base_url(settings.host, ollama ? kOllamaPort : kOpenAiPort);
  if (!ollama && url->path_prefix.size() >= 3 &&
      url->path_prefix.compare(url->path_prefix.size() - 3, 3, "/v1") == 0) {
    url->path_prefix.resize(url->path_prefix.size() - 3);
  }
  HttpSettings http_settings;
  http_settings.connect_timeout_s = settings.connect_timeout_s;
  http_settings.read_timeout_s = settings.connect_timeout_s;
  http_settings.total_timeout_s = 2 * settings.connect_timeout_s;
  http_settings.cancel = std::move(cancel);
  http_settings.bearer_token = ollama ? "" : settings.api_key;
  http_settings.start_hint = ollama ? kOllamaStartHint : kOpenAiStartHint;
  const HttpClient http(std::move(url).value(), http_settings, system_clock());
  const std::string path = ollama ? "/api/version" : "/v1/models";
  const std::string where = "GET " + http.base_url() + path;

  Result<HttpResponse> response = http.get(path, settings.connect_timeout_s);
  if (!response.is_ok()) {
    if (response.status().code() == ErrorCode::kCancelled) {
      return {response.status()};
    }
    return {Status(ErrorCode::kUnavailable, response.status().message())};
  }
  if (response->status == 200) {
    return {check_probe_body(settings, where, response->body)};
  }
  const std::string text = error_text_from_body(response->body);
  std::string detail = fmt::format("{} returned HTTP {}", where, response->status);
  if (!text.empty()) {
    detail += ": " + text;
  }
  if (is_model_loading_reply(response->status, text)) {
    return {Status(ErrorCode::kServerBusy, detail + ": the server is loading its model"), true};
  }
  if (response->status == 404) {
    return {Status(ErrorCode::kUnavailable,
                   fmt::format("{}, so the server does not speak the {} API: {}", detail,
                               ollama ? "Ollama" : "OpenAI-compatible",
                               other_protocol_fix(settings.backend)))};
  }
  if (response->status == 401 || response->status == 403) {
    return {Status(ErrorCode::kPermissionDenied,
                   detail + ": set server.api_key (the Bearer token the server expects)")};
  }
  if (response->status >= 500) {
    return {Status(error_code_for_http_status(response->status),
                   detail + ": the server failed; check its log, and retry once it answers")};
  }
  return {Status(error_code_for_http_status(response->status),
                 detail + ": check that --host names the model server")};
}

std::string other_protocol_fix(const std::string& backend) {
  if (backend == "openai") {
    return "pass --backend ollama if it is an Ollama server";
  }
  return "pass --backend openai if it is an OpenAI-compatible server (llama-server, vLLM, LM "
         "Studio)";
}

}  // namespace ollamaflow::llm
