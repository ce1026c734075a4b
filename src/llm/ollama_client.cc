#include "llm/ollama_client.h"

#include <fmt/format.h>

#include "core/log.h"
#include "llm/chat_chunk.h"
#include "llm/ndjson.h"
#include "llm/server_errors.h"
#include "llm/think.h"
#include "llm/token_count.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

constexpr int kDefaultPort = 11434;

// Returns the string member `key`; empty when `object` is not an object or the member is not a
// string.
std::string text_of(const json& object, const char* key) {
  if (!object.is_object()) {
    return "";
  }
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t count_of(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// State of one streamed /api/chat reply.
struct ChatStream {
  ThinkSplitter splitter;
  std::string thinking_field;
  ChatChunk final_chunk;
  bool done = false;
  size_t chunks = 0;
  size_t text_chunks = 0;  // chunks with content or thinking text: one generated token each
};

Status read_chat_line(std::string_view line, size_t line_number, ChatStream& stream,
                      StreamWatch& watch, const TokenCallback& on_token, const std::string& url) {
  Result<ChatChunk> parsed = parse_chat_chunk(line, line_number);
  if (!parsed.is_ok()) {
    return parsed.status();
  }
  ChatChunk& chunk = *parsed;
  ++stream.chunks;
  if (chunk.error) {
    return stream_error(*chunk.error, "", 0, url);
  }
  if (!chunk.content.empty() || !chunk.thinking.empty()) {
    watch.mark_content();
    ++stream.text_chunks;
  }
  stream.thinking_field += chunk.thinking;
  const std::string visible = stream.splitter.feed(chunk.content);
  if (!visible.empty() && on_token) {
    on_token(visible);
  }
  if (chunk.done) {
    stream.done = true;
    stream.final_chunk = std::move(chunk);
  }
  return Status::ok();
}

ChatUsage usage_from(const ChatChunk& final_chunk, const StreamWatch& watch,
                     const std::string& url) {
  ChatUsage usage;
  usage.prompt_tokens =
      checked_token_count(final_chunk.prompt_eval_count, "prompt_eval_count", url);
  usage.output_tokens = checked_token_count(final_chunk.eval_count, "eval_count", url);
  usage.load_seconds = final_chunk.load_duration_ns / 1e9;
  usage.prompt_seconds = final_chunk.prompt_eval_duration_ns / 1e9;
  usage.eval_seconds = final_chunk.eval_duration_ns / 1e9;
  usage.total_seconds = final_chunk.total_duration_ns / 1e9;
  usage.first_token_seconds = watch.first_content_seconds();
  return usage;
}

// Returns the tokens of a stream that failed or was cancelled: the server's counts when its final
// chunk arrived, else one output token per chunk with text. Ollama streams one token per chunk
// and reports the prompt tokens only in the final chunk, so those stay 0.
ChatUsage spent_stream_usage(const ChatStream& stream, const StreamWatch& watch,
                             const std::string& url) {
  if (stream.done) {
    return usage_from(stream.final_chunk, watch, url);
  }
  ChatUsage usage;
  usage.output_tokens = static_cast<int64_t>(stream.text_chunks);
  usage.first_token_seconds = watch.first_content_seconds();
  return usage;
}

Result<ChatResponse> finish_chat(ChatStream& stream, const ChatRequest& request,
                                 const StreamWatch& watch, const TokenCallback& on_token,
                                 const std::string& url) {
  const std::string rest = stream.splitter.finish();
  if (!rest.empty() && on_token) {
    on_token(rest);
  }
  if (!stream.done) {
    return Status(ErrorCode::kTruncated,
                  fmt::format("the reply stream from {} for model '{}' ended after {} chunk(s) "
                              "without its final chunk (done: true)",
                              url, request.model, stream.chunks));
  }
  // A reply cut at the output limit (done_reason "length") is returned as it is, because the
  // caller decides what to do with it and counts the tokens that the server spent on it.
  ChatResponse response;
  response.done_reason = stream.final_chunk.done_reason.value_or("stop");
  response.content = stream.splitter.content();
  response.thinking = stream.thinking_field + stream.splitter.thinking();
  response.model = stream.final_chunk.model.value_or(request.model);
  response.usage = usage_from(stream.final_chunk, watch, url);
  return response;
}

// Reads the rest of a reply whose head arrived: an HTTP error, or the stream's last line and its
// final chunk. `not_found` is the error for HTTP 404.
Result<ChatResponse> read_reply(const HttpResponse& response, const ChatRequest& request,
                                NdjsonReader& reader, ChatStream& stream, StreamWatch& watch,
                                const TokenCallback& on_token, const std::string& url,
                                const Status& not_found) {
  if (response.status == 404) {
    return not_found;
  }
  if (response.status < 200 || response.status >= 300) {
    return chat_http_error(response.status, error_text_from_body(response.body), url);
  }
  // Some servers omit the last newline: a left-over line that is a whole chunk still counts.
  auto on_line = [&](std::string_view line) {
    return read_chat_line(line, reader.lines_read(), stream, watch, on_token, url);
  };
  const auto complete = [&](std::string_view line) {
    return parse_chat_chunk(line, reader.lines_read() + 1).is_ok();
  };
  if (Status last = reader.finish_lines(complete, on_line); !last.is_ok()) {
    return last.with_context("reply stream from " + url);
  }
  return finish_chat(stream, request, watch, on_token, url);
}

}  // namespace

Result<std::shared_ptr<OllamaClient>> OllamaClient::create(const ServerSettings& settings,
                                                           std::shared_ptr<Clock> clock,
                                                           CancelTokenPtr cancel) {
  Result<BaseUrl> url = parse_base_url(settings.host, kDefaultPort);
  if (!url.is_ok()) {
    return url.status();
  }
  HttpSettings http_settings;
  http_settings.connect_timeout_s = settings.connect_timeout_s;
  http_settings.read_timeout_s = settings.metadata_timeout_s > 0
                                     ? settings.metadata_timeout_s
                                     : std::max(settings.idle_timeout_s, 30.0);
  http_settings.start_hint = kOllamaStartHint;
  http_settings.cancel = std::move(cancel);
  HttpClient http(std::move(url).value(), http_settings, clock);
  return std::shared_ptr<OllamaClient>(new OllamaClient(std::move(http), settings, clock));
}

OllamaClient::OllamaClient(HttpClient http, const ServerSettings& settings,
                           std::shared_ptr<Clock> clock)
    : http_(std::move(http)),
      first_token_timeout_s_(settings.first_token_timeout_s),
      idle_timeout_s_(settings.idle_timeout_s),
      clock_(std::move(clock)) {}

json OllamaClient::chat_body(const ChatRequest& request) {
  json messages = json::array();
  for (const ChatMessage& message : request.messages) {
    messages.push_back({{"role", message.role}, {"content", message.content}});
  }
  const ChatOptions& options = request.options;
  json sent_options = {{"num_ctx", options.num_ctx},
                       {"num_predict", options.num_predict},
                       {"temperature", options.temperature}};
  if (options.seed) {
    sent_options["seed"] = *options.seed;
  }
  if (options.num_gpu) {
    sent_options["num_gpu"] = *options.num_gpu;
  }
  json body = {{"model", request.model},
               {"messages", std::move(messages)},
               {"stream", true},
               {"options", std::move(sent_options)},
               {"keep_alive", options.keep_alive}};
  if (!request.schema.is_null()) {
    body["format"] = request.schema;
  }
  return body;
}

Status OllamaClient::model_not_found(const std::string& model) const {
  return Status(ErrorCode::kNotFound, fmt::format("model '{}' not found on {}: run `ollama pull "
                                                  "{}` or choose another model with --model",
                                                  model, endpoint(), model));
}

Result<ChatResponse> OllamaClient::chat(const ChatRequest& request, const CancelToken& cancel,
                                        const TokenCallback& on_token, ChatProgress* progress) {
  const std::string url = endpoint();
  get_logger("llm")->debug("ollama chat model={} messages={} url={}", request.model,
                           request.messages.size(), url);
  StreamWatch watch(*clock_, first_token_timeout_s_, idle_timeout_s_, request.purpose,
                    request.options.num_predict);
  ChatStream stream;
  NdjsonReader reader;
  auto on_line = [&](std::string_view line) {
    return read_chat_line(line, reader.lines_read(), stream, watch, on_token, url);
  };
  const ChunkHandler on_chunk =
      limit_reply_bytes(max_reply_bytes(request.options.num_predict), url,
                        [&](std::string_view chunk) { return reader.feed(chunk, on_line); });
  Result<HttpResponse> response =
      http_.post_stream("/api/chat", chat_body(request).dump(), watch, on_chunk, cancel,
                        progress != nullptr ? &progress->sent : nullptr);
  Result<ChatResponse> reply = response.is_ok()
                                   ? read_reply(*response, request, reader, stream, watch, on_token,
                                                url, model_not_found(request.model))
                                   : Result<ChatResponse>(response.status());
  if (!reply.is_ok() && progress != nullptr) {
    progress->failed_usage = spent_stream_usage(stream, watch, url);
  }
  return reply;
}

Result<json> OllamaClient::get_json(const std::string& path) const {
  Result<HttpResponse> response = http_.get(path);
  if (!response.is_ok()) {
    return response.status();
  }
  if (response->status != 200) {
    return Status(error_code_for_http_status(response->status),
                  fmt::format("GET {}{} returned HTTP {}: {}", endpoint(), path, response->status,
                              error_text_from_body(response->body)));
  }
  json parsed = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Status(ErrorCode::kParseError,
                  fmt::format("GET {}{} returned a body that is not a JSON object: is this an "
                              "Ollama server?",
                              endpoint(), path));
  }
  return parsed;
}

Result<std::vector<ModelInfo>> OllamaClient::list_models() {
  Result<json> tags = get_json("/api/tags");
  if (!tags.is_ok()) {
    return tags.status();
  }
  Result<const json*> entries = model_entries(*tags, "/api/tags");
  if (!entries.is_ok()) {
    return entries.status();
  }
  std::vector<ModelInfo> models;
  for (const json& entry : **entries) {
    ModelInfo info;
    info.name = text_of(entry, "name");
    if (info.name.empty()) {
      info.name = text_of(entry, "model");
    }
    info.size_bytes = count_of(entry, "size");
    const auto details = entry.find("details");
    if (details != entry.end() && details->is_object()) {
      info.family = text_of(*details, "family");
      info.parameter_size = text_of(*details, "parameter_size");
      info.quantization = text_of(*details, "quantization_level");
    }
    models.push_back(std::move(info));
  }
  return models;
}

Result<const json*> OllamaClient::model_entries(const json& body, const std::string& path) const {
  const auto bad = [&](const std::string& what) {
    return Status(ErrorCode::kParseError,
                  fmt::format("{}{} returned {}: the server does not speak Ollama's API; check "
                              "--host and --backend",
                              endpoint(), path, what));
  };
  if (!body.is_object()) {
    return bad("JSON that is not an object");
  }
  const auto models = body.find("models");
  if (models == body.end() || models->is_null()) {
    static const json kNone = json::array();
    return &kNone;
  }
  if (!models->is_array()) {
    return bad("a \"models\" field that is not a list");
  }
  for (size_t i = 0; i < models->size(); ++i) {
    if (!(*models)[i].is_object()) {
      return bad(fmt::format("entry {} of \"models\" that is not an object", i + 1));
    }
  }
  return &*models;
}

Result<std::string> OllamaClient::version() {
  Result<json> body = get_json("/api/version");
  if (!body.is_ok()) {
    return body.status();
  }
  const std::string version = text_of(*body, "version");
  return version.empty() ? "unknown" : version;
}

Result<std::vector<LoadedModel>> OllamaClient::loaded_models() {
  Result<json> body = get_json("/api/ps");
  if (!body.is_ok()) {
    return body.status();
  }
  Result<const json*> entries = model_entries(*body, "/api/ps");
  if (!entries.is_ok()) {
    return entries.status();
  }
  std::vector<LoadedModel> models;
  for (const json& entry : **entries) {
    LoadedModel model;
    model.name = text_of(entry, "name");
    if (model.name.empty()) {
      model.name = text_of(entry, "model");
    }
    model.size_bytes = count_of(entry, "size");
    model.size_vram_bytes = count_of(entry, "size_vram");
    model.context_length = count_of(entry, "context_length");
    models.push_back(std::move(model));
  }
  return models;
}

Result<json> OllamaClient::show(const std::string& model, bool verbose) {
  const json body = {{"model", model}, {"verbose", verbose}};
  Result<HttpResponse> response = http_.post_json("/api/show", body.dump());
  if (!response.is_ok()) {
    return response.status();
  }
  if (response->status == 404) {
    return model_not_found(model);
  }
  if (response->status != 200) {
    return Status(error_code_for_http_status(response->status),
                  fmt::format("POST {}/api/show for model '{}' returned HTTP {}: {}", endpoint(),
                              model, response->status, error_text_from_body(response->body)));
  }
  json parsed = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Status(ErrorCode::kParseError,
                  fmt::format("POST {}/api/show for model '{}' returned a body that is not a JSON "
                              "object",
                              endpoint(), model));
  }
  return parsed;
}

}  // namespace ollamaflow::llm
