#include "llm/openai_stream.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "llm/server_errors.h"
#include "llm/token_count.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

constexpr size_t kMaxQuotedBytes = 200;

std::string string_field(const json& object, const char* key) {
  if (!object.is_object()) {
    return "";
  }
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

double milliseconds_field(const json& object, const char* key) {
  if (!object.is_object()) {
    return 0;
  }
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() / 1000 : 0;
}

// Reads an error code sent as a number or as a string of digits ("504").
int code_field(const json& object) {
  if (!object.is_object()) {
    return 0;
  }
  const auto it = object.find("code");
  if (it == object.end()) {
    return 0;
  }
  if (it->is_number_integer()) {
    return it->get<int>();
  }
  if (it->is_string()) {
    const std::string text = it->get<std::string>();
    if (!text.empty() && text.size() <= 4 &&
        std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return std::stoi(text);
    }
  }
  return 0;
}

std::string shortened(std::string_view text) {
  return text.size() > kMaxQuotedBytes ? std::string(text.substr(0, kMaxQuotedBytes)) + "..."
                                       : std::string(text);
}

}  // namespace

bool mentions_unparsed_output(std::string_view message) {
  return message.find("does not match the expected") != std::string_view::npos;
}

Status error_from_stream_payload(const std::string& data, const std::string& url) {
  const json payload = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object()) {
    return stream_error(data.empty() ? "(an error event without data)" : shortened(data), "", 0,
                        url);
  }
  const json error = payload.contains("error") ? payload["error"] : payload;
  std::string message =
      error.is_string() ? error.get<std::string>() : string_field(error, "message");
  if (message.empty()) {
    message = string_field(error, "details");
  }
  if (message.empty()) {
    message = string_field(payload, "message");
  }
  if (message.empty()) {
    message = shortened(payload.dump());
  }
  if (mentions_unparsed_output(message)) {
    return Status(ErrorCode::kParseError,
                  fmt::format("{} reported an error inside the stream: {} (the server could not "
                              "parse the model's output; a JSON schema avoids this)",
                              url, message));
  }
  return stream_error(message, string_field(error, "type"), code_field(error), url);
}

Status CompletionStream::on_event(const SseEvent& event) {
  ++events_;
  if (event.is_done()) {
    return Status::ok();
  }
  if (event.type == "error") {
    return error_from_stream_payload(event.data, url_);
  }
  const json chunk = json::parse(event.data, nullptr, /*allow_exceptions=*/false);
  if (chunk.is_discarded()) {
    return Status(ErrorCode::kParseError,
                  fmt::format("event {} of the reply stream from {} is not JSON: {}", events_, url_,
                              shortened(event.data)));
  }
  if (chunk.is_object() && chunk.contains("error")) {
    return error_from_stream_payload(event.data, url_);
  }
  return on_chunk(chunk);
}

Status CompletionStream::on_chunk(const json& chunk) {
  if (!chunk.is_object()) {
    return Status(ErrorCode::kParseError,
                  fmt::format("event {} of the reply stream from {} is not a JSON object: {}",
                              events_, url_, shortened(chunk.dump())));
  }
  if (const std::string model = string_field(chunk, "model"); !model.empty()) {
    model_ = model;
  }
  if (chunk.contains("usage") && chunk["usage"].is_object()) {
    usage_ = chunk["usage"];
  }
  if (chunk.contains("timings") && chunk["timings"].is_object()) {
    timings_ = chunk["timings"];
  }
  const auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array() || choices->empty()) {
    return Status::ok();
  }
  ++choice_chunks_;
  const json& choice = choices->front();
  // A server that ignores "stream": true sends one completion with "message".
  for (const char* key : {"delta", "message"}) {
    if (choice.contains(key) && choice[key].is_object()) {
      on_delta(choice[key]);
    }
  }
  if (const std::string reason = string_field(choice, "finish_reason"); !reason.empty()) {
    finish_reason_ = reason;
  }
  return Status::ok();
}

void CompletionStream::on_delta(const json& delta) {
  const std::string content = string_field(delta, "content");
  const std::string reasoning = string_field(delta, "reasoning_content");
  if (!content.empty() || !reasoning.empty()) {
    watch_.mark_content();
    ++text_chunks_;
  }
  reasoning_ += reasoning;
  const std::string visible = splitter_.feed(content);
  if (!visible.empty() && on_token_) {
    on_token_(visible);
  }
}

ChatUsage CompletionStream::usage() const {
  ChatUsage usage;
  if (usage_.is_object()) {
    usage.prompt_tokens = token_count_member(usage_, "prompt_tokens", "usage.prompt_tokens", url_);
    usage.output_tokens =
        token_count_member(usage_, "completion_tokens", "usage.completion_tokens", url_);
  } else {
    usage.prompt_tokens = token_count_member(timings_, "prompt_n", "timings.prompt_n", url_);
    usage.output_tokens = token_count_member(timings_, "predicted_n", "timings.predicted_n", url_);
  }
  usage.prompt_seconds = milliseconds_field(timings_, "prompt_ms");
  usage.eval_seconds = milliseconds_field(timings_, "predicted_ms");
  usage.total_seconds = usage.prompt_seconds + usage.eval_seconds;
  usage.first_token_seconds = watch_.first_content_seconds();
  return usage;
}

ChatUsage CompletionStream::spent_usage() const {
  if (usage_.is_object() || timings_.is_object()) {
    return usage();
  }
  ChatUsage counted;
  counted.output_tokens = static_cast<int64_t>(text_chunks_);
  counted.first_token_seconds = watch_.first_content_seconds();
  return counted;
}

Result<ChatResponse> CompletionStream::finish() {
  const std::string rest = splitter_.finish();
  if (!rest.empty() && on_token_) {
    on_token_(rest);
  }
  if (finish_reason_.empty() && choice_chunks_ == 0 && events_ > 0) {
    return Status(ErrorCode::kServerError,
                  fmt::format("POST {}/v1/chat/completions returned no choices for model '{}': "
                              "none of its {} event(s) had an entry in \"choices\", so there is no "
                              "reply; check the server's log",
                              url_, request_.model, events_));
  }
  if (finish_reason_.empty()) {
    return Status(ErrorCode::kTruncated,
                  fmt::format("the reply stream from {} for model '{}' ended after {} event(s) "
                              "without a finish_reason",
                              url_, request_.model, events_));
  }
  // A reply cut at the output limit (finish_reason "length") is returned as it is, as
  // done_reason "length", because the caller decides what to do with it and counts its tokens.
  ChatResponse response;
  response.done_reason = finish_reason_;
  response.content = splitter_.content();
  response.thinking = reasoning_ + splitter_.thinking();
  response.model = model_.empty() ? request_.model : model_;
  response.usage = usage();
  return response;
}

}  // namespace ollamaflow::llm
