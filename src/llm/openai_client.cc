#include "llm/openai_client.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/log.h"
#include "llm/openai_stream.h"
#include "llm/server_errors.h"
#include "llm/sse.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

constexpr int kDefaultPort = 8080;
constexpr std::string_view kApiPrefix = "/v1";

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

int64_t count_of(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

Status chat_failure(const HttpResponse& response, const ChatRequest& request,
                    const std::string& url) {
  const std::string text = error_text_from_body(response.body);
  if (response.status == 404) {
    return Status(ErrorCode::kNotFound,
                  fmt::format("model '{}' not found on {} (HTTP 404: {}): list the served models "
                              "with GET {}/v1/models or choose another model with --model",
                              request.model, url, text, url));
  }
  if (mentions_unparsed_output(text)) {
    return Status(ErrorCode::kParseError,
                  fmt::format("{} returned HTTP {}: {} (the server could not parse the model's "
                              "output; a JSON schema avoids this)",
                              url, response.status, text));
  }
  return chat_http_error(response.status, text, url);
}

ModelInfo model_info_from(const json& entry) {
  ModelInfo info;
  if (!entry.is_object()) {
    return info;  // no name: the caller skips it
  }
  if (const auto id = entry.find("id"); id != entry.end() && id->is_string()) {
    info.name = id->get<std::string>();
  }
  // llama-server adds the GGUF's facts under "meta".
  if (const auto meta = entry.find("meta"); meta != entry.end() && meta->is_object()) {
    info.size_bytes = count_of(*meta, "size");
    info.context_length = count_of(*meta, "n_ctx_train");
  }
  return info;
}

// Reads the rest of a reply whose head arrived: an HTTP error, or the stream's last event and
// the whole completion.
Result<ChatResponse> read_reply(const HttpResponse& response, const ChatRequest& request,
                                SseParser& parser, CompletionStream& stream,
                                const std::string& url) {
  if (response.status < 200 || response.status >= 300) {
    return chat_failure(response, request, url);
  }
  auto on_event = [&](const SseEvent& event) { return stream.on_event(event); };
  if (Status last = parser.finish(on_event); !last.is_ok()) {
    return last;
  }
  return stream.finish();
}

}  // namespace

Result<std::shared_ptr<OpenAiClient>> OpenAiClient::create(const ServerSettings& settings,
                                                           std::shared_ptr<Clock> clock,
                                                           CancelTokenPtr cancel) {
  Result<BaseUrl> url = parse_base_url(settings.host, kDefaultPort);
  if (!url.is_ok()) {
    return url.status();
  }
  if (ends_with(url->path_prefix, kApiPrefix)) {
    url->path_prefix.resize(url->path_prefix.size() - kApiPrefix.size());
  }
  HttpSettings http_settings;
  http_settings.connect_timeout_s = settings.connect_timeout_s;
  http_settings.read_timeout_s = settings.metadata_timeout_s > 0
                                     ? settings.metadata_timeout_s
                                     : std::max(settings.idle_timeout_s, 30.0);
  http_settings.bearer_token = settings.api_key;
  http_settings.start_hint = kOpenAiStartHint;
  http_settings.cancel = std::move(cancel);
  HttpClient http(std::move(url).value(), http_settings, clock);
  return std::shared_ptr<OpenAiClient>(new OpenAiClient(std::move(http), settings, clock));
}

OpenAiClient::OpenAiClient(HttpClient http, const ServerSettings& settings,
                           std::shared_ptr<Clock> clock)
    : http_(std::move(http)),
      first_token_timeout_s_(settings.first_token_timeout_s),
      idle_timeout_s_(settings.idle_timeout_s),
      clock_(std::move(clock)) {}

json OpenAiClient::chat_body(const ChatRequest& request) {
  json messages = json::array();
  for (const ChatMessage& message : request.messages) {
    messages.push_back({{"role", message.role}, {"content", message.content}});
  }
  const ChatOptions& options = request.options;
  json body = {{"model", request.model},
               {"messages", std::move(messages)},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}},
               {"max_tokens", options.num_predict},
               {"temperature", options.temperature}};
  if (options.seed) {
    body["seed"] = *options.seed;
  }
  if (!request.schema.is_null()) {
    body["response_format"] = {
        {"type", "json_schema"},
        {"json_schema",
         {{"name", request.schema_name}, {"schema", request.schema}, {"strict", true}}}};
  }
  return body;
}

Result<ChatResponse> OpenAiClient::chat(const ChatRequest& request, const CancelToken& cancel,
                                        const TokenCallback& on_token, ChatProgress* progress) {
  const std::string url = endpoint();
  get_logger("llm")->debug("openai chat model={} messages={} schema={} url={}", request.model,
                           request.messages.size(), request.schema_name, url);
  StreamWatch watch(*clock_, first_token_timeout_s_, idle_timeout_s_, request.purpose,
                    request.options.num_predict);
  CompletionStream stream(request, watch, on_token, url);
  SseParser parser;
  auto on_event = [&](const SseEvent& event) { return stream.on_event(event); };
  const ChunkHandler on_chunk =
      limit_reply_bytes(max_reply_bytes(request.options.num_predict), url,
                        [&](std::string_view chunk) { return parser.feed(chunk, on_event); });
  Result<HttpResponse> response =
      http_.post_stream(std::string(kApiPrefix) + "/chat/completions", chat_body(request).dump(),
                        watch, on_chunk, cancel, progress != nullptr ? &progress->sent : nullptr);
  Result<ChatResponse> reply = response.is_ok()
                                   ? read_reply(*response, request, parser, stream, url)
                                   : Result<ChatResponse>(response.status());
  if (!reply.is_ok() && progress != nullptr) {
    progress->failed_usage = stream.spent_usage();
  }
  return reply;
}

Result<HttpResponse> OpenAiClient::get(const std::string& path) const {
  Result<HttpResponse> response = http_.get(path);
  if (!response.is_ok()) {
    return response.status();
  }
  if (response->status != 200) {
    return Status(error_code_for_http_status(response->status),
                  fmt::format("GET {}{} returned HTTP {}: {}", endpoint(), path, response->status,
                              error_text_from_body(response->body)));
  }
  return response;
}

Result<std::vector<ModelInfo>> OpenAiClient::list_models() {
  const std::string path = std::string(kApiPrefix) + "/models";
  Result<HttpResponse> response = get(path);
  if (!response.is_ok()) {
    return response.status();
  }
  const json body = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("data") || !body["data"].is_array()) {
    return Status(ErrorCode::kParseError,
                  fmt::format("GET {}{} returned a body without a \"data\" list: is this an "
                              "OpenAI-compatible server?",
                              endpoint(), path));
  }
  std::vector<ModelInfo> models;
  for (const json& entry : body["data"]) {
    if (entry.is_object()) {
      models.push_back(model_info_from(entry));
    }
  }
  return models;
}

Result<std::string> OpenAiClient::version() {
  Result<HttpResponse> response = http_.get("/props");
  if (!response.is_ok()) {
    return response.status();
  }
  if (response->status != 200) {
    return std::string("unknown");
  }
  const json body = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object() && body.contains("build_info") && body["build_info"].is_string()) {
    return body["build_info"].get<std::string>();
  }
  return std::string("unknown");
}

Result<std::vector<LoadedModel>> OpenAiClient::loaded_models() {
  return std::vector<LoadedModel>();
}

}  // namespace ollamaflow::llm
