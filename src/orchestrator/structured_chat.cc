#include "orchestrator/structured_chat.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "core/log.h"
#include "llm/json_extract.h"
#include "llm/schema.h"
#include "llm/server_errors.h"

namespace ollamaflow::orchestrator {
namespace {

using nlohmann::json;

// Keywords that grammar backends such as xgrammar (vLLM) or llama.cpp's converter reject or
// ignore. Structure keywords (type, properties, required, items, enum) are never stripped.
const std::vector<std::string>& strippable_keywords() {
  static const std::vector<std::string> kKeywords = {
      "minItems",         "maxItems",         "uniqueItems",   "minLength",    "maxLength",
      "pattern",          "format",           "propertyNames", "minimum",      "maximum",
      "exclusiveMinimum", "exclusiveMaximum", "minProperties", "maxProperties"};
  return kKeywords;
}

struct LoopState {
  std::vector<llm::ChatMessage> messages;
  json server_schema;
  bool schema_stripped = false;
  std::vector<std::string> dropped;
  int num_predict = 0;
  int ceiling = 0;
  int counted = 0;
  // True while the request is the resend after the server rejected the schema, which repeats
  // the attempt that the rejection did not count.
  bool resending = false;
};

enum class Step { kAccepted, kRetry, kStop };

struct Verdict {
  ErrorCode code = ErrorCode::kOk;
  std::vector<std::string> errors;
  json value;
};

std::string trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) {
    return "";
  }
  size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    out += out.empty() ? item : std::string(separator) + item;
  }
  return out;
}

Verdict check_reply(const std::string& content, const StructuredRequest& request,
                    const ReplyValidator& validator) {
  if (request.chat.schema.is_null()) {
    std::string text = trim(content);
    if (text.empty()) {
      return {ErrorCode::kParseError, {"the reply is empty"}, {}};
    }
    return {ErrorCode::kOk, {}, json(text)};
  }
  Result<json> parsed = llm::extract_json(content, request.lenient_json);
  if (!parsed) {
    return {parsed.status().code(), {parsed.status().message()}, {}};
  }
  Status schema = llm::validate_json_schema(*parsed, request.chat.schema);
  if (schema.code() == ErrorCode::kInvalidArgument) {
    return {ErrorCode::kInternal, {"the request's own schema is invalid: " + schema.message()}, {}};
  }
  if (!schema) {
    return {ErrorCode::kSchemaViolation, {schema.message()}, {}};
  }
  std::vector<std::string> problems = validator ? validator(*parsed) : std::vector<std::string>{};
  if (!problems.empty()) {
    return {ErrorCode::kSchemaViolation, std::move(problems), {}};
  }
  return {ErrorCode::kOk, {}, std::move(parsed).value()};
}

// Returns true when a warning of `kind` may be logged, and counts it when it may not.
bool should_log(const StructuredRequest& request, LogRateLimiter ReplyWarningLimits::*kind) {
  return request.warning_limits == nullptr || (request.warning_limits->*kind).allow();
}

// Returns the attempt that was just counted, for log lines: its number among the counted
// attempts and the maximum, "1/3" to "3/3". The resend after a rejected schema has the number of
// the attempt that it repeats, with a note that names the resend.
std::string attempt_text(const LoopState& state, const StructuredRequest& request) {
  const int number = std::min(state.counted, request.max_attempts);
  if (state.resending) {
    return fmt::format("{}/{} (resent without the schema keywords that the server rejected)",
                       number, request.max_attempts);
  }
  return fmt::format("{}/{}", number, request.max_attempts);
}

bool can_raise_limit(const LoopState& state) {
  return state.num_predict > 0 && state.num_predict < state.ceiling;
}

// Doubles the output token limit up to the ceiling, when can_raise_limit(). Only num_predict
// changes: it limits one request, while num_ctx (which Ollama reloads the model for) stays as
// configured.
void raise_limit(LoopState& state) {
  if (can_raise_limit(state)) {
    state.num_predict = std::min(state.ceiling, state.num_predict * 2);
  }
}

Status exhausted(const std::vector<Attempt>& attempts, ErrorCode code) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < attempts.size(); ++i) {
    parts.push_back(fmt::format("{} ({}): {}", attempt_label(attempts, i),
                                error_code_name(attempts[i].code), attempts[i].error));
  }
  const int counted = counted_attempts(attempts);
  return {code, fmt::format("no accepted reply after {} attempt{}: {}", counted,
                            counted == 1 ? "" : "s", join(parts, "; "))};
}

Status truncated_at_ceiling(const LoopState& state, const std::vector<Attempt>& attempts) {
  Status all = exhausted(attempts, ErrorCode::kTruncated);
  return {ErrorCode::kTruncated,
          fmt::format("the reply was cut at the output token limit of {} tokens, which cannot "
                      "grow past {}: raise num_ctx or split the task ({})",
                      state.num_predict, state.ceiling, all.message())};
}

// Returns the cause of a reply with done_reason "length" that the server's context per slot
// cut, not num_predict: it stopped below num_predict, and its prompt and output filled the slot.
// A larger num_predict cannot help it. Returns nullopt when the server did not report its
// context per slot or did not count the tokens. llama-server stops a slot one token before its
// n_ctx, so the check allows 1% below n_ctx (at least 2 tokens) for that and for counting
// differences.
std::optional<std::string> context_cut(const llm::ChatUsage& usage, int num_predict, int slot_ctx) {
  if (slot_ctx <= 0 || usage.output_tokens <= 0 || usage.output_tokens >= num_predict) {
    return std::nullopt;
  }
  const int64_t used = usage.prompt_tokens + usage.output_tokens;
  const int64_t margin = std::max<int64_t>(2, slot_ctx / 100);
  if (used < slot_ctx - margin) {
    return std::nullopt;
  }
  return fmt::format(
      "the reply was cut after {} output tokens, below its output limit of {} tokens "
      "(num_predict), because the prompt ({} tokens) and the reply {} "
      "of {} tokens per slot, so a larger output limit cannot help. Start llama-server with a "
      "larger -c or fewer -np (each slot has -c divided by -np tokens), or lower --num-ctx to {} "
      "so that the run's size checks use the slot's context",
      usage.output_tokens, num_predict, usage.prompt_tokens, kContextCutPhrase, slot_ctx, slot_ctx);
}

// Rewrites the error of a reply whose text ends inside a JSON value or a <think> section when the
// output limit did not cut it. The server counted fewer output tokens than num_predict and
// reported no "length" stop, so the model ended the reply itself, and a larger limit would bring
// the same reply. Returns nullopt when the server did not count the output tokens.
std::optional<std::string> stopped_unclosed(const std::string& error,
                                            const llm::ChatResponse& response, int num_predict) {
  const int64_t output_tokens = response.usage.output_tokens;
  if (response.done_reason == "length" || output_tokens <= 0 ||
      (num_predict > 0 && output_tokens >= num_predict)) {
    return std::nullopt;
  }
  // The extractor's guess about the cause starts at "the output was probably cut".
  std::string found = error;
  if (const size_t guess = found.find("the output was probably cut"); guess != std::string::npos) {
    found = found.substr(0, guess);
    while (!found.empty() && (found.back() == ' ' || found.back() == ';' || found.back() == ':' ||
                              found.back() == ',')) {
      found.pop_back();
    }
  }
  const std::string limit =
      num_predict > 0 ? fmt::format(" of the {} allowed (num_predict)", num_predict) : "";
  return fmt::format(
      "{}, but the model ended the reply itself after {} output tokens{}, with done_reason "
      "\"{}\", so the output limit did not cut it",
      found, output_tokens, limit, response.done_reason.empty() ? "none" : response.done_reason);
}

// Handles a request that returned an error instead of a reply.
Step on_request_failure(const Status& failure, const StructuredRequest& request, LoopState& state,
                        Attempt& attempt, StructuredOutcome& out) {
  auto log = get_logger("orchestrator");
  attempt.code = failure.code();
  attempt.error = failure.message();
  if (failure.code() == ErrorCode::kSchemaUnsupported && !state.schema_stripped) {
    attempt.counted = false;
    out.attempts.push_back(attempt);
    std::vector<std::string> dropped;
    state.server_schema = llm::strip_unsupported_keywords(
        state.server_schema, keywords_to_strip(failure.message()), &dropped);
    state.schema_stripped = true;
    state.dropped = dropped;
    if (should_log(request, &ReplyWarningLimits::schema_rejected)) {
      log->warn(
          "server rejected the schema {} attempt={}/{} schema={} dropped={} error={}: resending "
          "the attempt without the dropped keywords, not counted",
          request.log_label, state.counted + 1, request.max_attempts, request.chat.schema_name,
          join(dropped, ","), failure.message());
    }
    return Step::kRetry;
  }
  if (failure.code() == ErrorCode::kTruncated) {
    ++state.counted;
    out.attempts.push_back(attempt);
    if (!can_raise_limit(state)) {
      out.status = truncated_at_ceiling(state, out.attempts);
      return Step::kStop;
    }
    // After the last attempt the loop ends, and the limit stays, because no request would use
    // a larger one.
    const bool last = state.counted >= request.max_attempts;
    if (!last) {
      raise_limit(state);
    }
    if (should_log(request, &ReplyWarningLimits::truncated)) {
      if (last) {
        log->warn("reply truncated {} attempt={} num_predict={}: no attempt left",
                  request.log_label, attempt_text(state, request), attempt.num_predict);
      } else {
        log->warn("reply truncated {} attempt={} num_predict={} num_predict_next={}",
                  request.log_label, attempt_text(state, request), attempt.num_predict,
                  state.num_predict);
      }
    }
    return Step::kRetry;
  }
  if (failure.code() == ErrorCode::kParseError) {
    // No reply text arrived whole: the server could not parse the model's output itself
    // (llama-server returns HTTP 500 "does not match the expected format"), or the client could
    // not parse the server's stream. There is no reply to send back, so ask again.
    ++state.counted;
    out.attempts.push_back(attempt);
    if (should_log(request, &ReplyWarningLimits::unparsable)) {
      log->warn("reply unparsable {} attempt={} error={}", request.log_label,
                attempt_text(state, request), failure.message());
    }
    return Step::kRetry;
  }
  out.attempts.push_back(attempt);
  out.status = failure;
  return Step::kStop;
}

// Checks a reply that arrived and decides what to send next.
Step on_reply(const llm::ChatResponse& response, const StructuredRequest& request,
              const ReplyValidator& validator, LoopState& state, Attempt& attempt,
              StructuredOutcome& out) {
  attempt.reply = response.content;
  attempt.usage = response.usage;
  llm::add_usage(attempt.usage, attempt.retried_usage);
  attempt.simulated = response.simulated;
  if (!response.model.empty()) {
    attempt.model = response.model;
  }
  llm::add_usage(out.usage, attempt.usage);
  out.model = attempt.model;
  out.simulated = response.simulated;
  if (response.done_reason == "length") {
    if (std::optional<std::string> cause = context_cut(response.usage, attempt.num_predict,
                                                       request.chat.options.server_slot_ctx)) {
      attempt.code = ErrorCode::kTruncated;
      attempt.errors = {*cause};
      attempt.error = *cause;
      ++state.counted;
      out.attempts.push_back(attempt);
      if (should_log(request, &ReplyWarningLimits::context_cut)) {
        get_logger("orchestrator")
            ->warn(
                "reply cut by the server's context {} attempt={} prompt_tokens={} "
                "output_tokens={} num_predict={}",
                request.log_label, attempt_text(state, request), response.usage.prompt_tokens,
                response.usage.output_tokens, attempt.num_predict);
      }
      out.status = Status(ErrorCode::kTruncated, *cause);
      return Step::kStop;
    }
  }
  Verdict verdict = response.done_reason == "length"
                        ? Verdict{ErrorCode::kTruncated,
                                  {fmt::format("the reply was cut at the output limit of {} tokens "
                                               "(done_reason \"length\")",
                                               attempt.num_predict)},
                                  {}}
                        : check_reply(response.content, request, validator);
  if (verdict.code == ErrorCode::kTruncated) {
    if (std::optional<std::string> cause =
            stopped_unclosed(verdict.errors.back(), response, attempt.num_predict)) {
      verdict.code = ErrorCode::kParseError;
      verdict.errors.back() = *cause;
    }
  }
  if (verdict.code == ErrorCode::kOk) {
    out.attempts.push_back(attempt);
    out.value = std::move(verdict.value);
    out.status = Status::ok();
    return Step::kAccepted;
  }
  attempt.code = verdict.code;
  attempt.errors = verdict.errors;
  attempt.error = join(verdict.errors, "; ");
  if (verdict.code == ErrorCode::kTruncated || verdict.code == ErrorCode::kInternal) {
    return on_request_failure(Status(verdict.code, attempt.error), request, state, attempt, out);
  }
  ++state.counted;
  out.attempts.push_back(attempt);
  if (should_log(request, &ReplyWarningLimits::rejected)) {
    get_logger("orchestrator")
        ->warn("reply rejected {} attempt={} code={} error={}", request.log_label,
               attempt_text(state, request), error_code_name(attempt.code), attempt.error);
  }
  state.messages = request.chat.messages;
  state.messages.push_back({"assistant", response.content});
  state.messages.push_back(
      {"user", request.rejection_prefix + attempt.error + request.rejection_suffix});
  return Step::kRetry;
}

}  // namespace

ReplyWarningLimits::ReplyWarningLimits(size_t burst, std::chrono::steady_clock::duration interval)
    : truncated(get_logger("orchestrator"), spdlog::level::warn, "reply truncated", burst,
                interval),
      rejected(get_logger("orchestrator"), spdlog::level::warn, "reply rejected", burst, interval),
      unparsable(get_logger("orchestrator"), spdlog::level::warn, "reply unparsable", burst,
                 interval),
      context_cut(get_logger("orchestrator"), spdlog::level::warn,
                  "reply cut by the server's context", burst, interval),
      schema_rejected(get_logger("orchestrator"), spdlog::level::warn, "server rejected the schema",
                      burst, interval) {}

void ReplyWarningLimits::flush() {
  truncated.flush();
  rejected.flush();
  unparsable.flush();
  context_cut.flush();
  schema_rejected.flush();
}

StructuredOutcome run_structured_chat(llm::LlmClient& client, const StructuredRequest& request,
                                      const ReplyValidator& validator, const CancelToken& cancel) {
  StructuredOutcome out;
  LoopState state;
  state.messages = request.chat.messages;
  state.server_schema = request.chat.schema;
  state.num_predict = request.chat.options.num_predict;
  state.ceiling =
      request.max_num_predict > 0 ? request.max_num_predict : request.chat.options.num_ctx;
  if (request.max_attempts < 1) {
    out.status =
        Status(ErrorCode::kInvalidArgument,
               fmt::format("max_attempts is {}: allow at least 1 attempt", request.max_attempts));
    return out;
  }
  ErrorCode last_code = ErrorCode::kInvalidArgument;
  while (state.counted < request.max_attempts) {
    if (cancel.cancelled()) {
      out.status = Status(ErrorCode::kCancelled, "cancelled before the reply was accepted");
      return out;
    }
    llm::ChatRequest chat = request.chat;
    chat.messages = state.messages;
    chat.schema = state.server_schema;
    chat.options.num_predict = state.num_predict;
    state.resending = !out.attempts.empty() && !out.attempts.back().counted;
    Attempt attempt;
    attempt.number = static_cast<int>(out.attempts.size()) + 1;
    attempt.model = chat.model;
    attempt.num_predict = state.num_predict;
    attempt.dropped_keywords = state.dropped;
    llm::ChatProgress progress;
    if (request.clock != nullptr) {
      attempt.started_at = request.clock->wall_now();
    }
    Result<llm::ChatResponse> response = client.chat(chat, cancel, nullptr, &progress);
    if (request.clock != nullptr) {
      attempt.finished_at = request.clock->wall_now();
    }
    if (!response && response.status().code() == ErrorCode::kCancelled && !progress.sent) {
      // The token was set after the check above, and the client saw it before sending, so no
      // request reached the server and there is no attempt to record.
      out.status = Status(ErrorCode::kCancelled, "cancelled before the reply was accepted");
      return out;
    }
    if (response) {
      attempt.retried_usage = progress.failed_usage;
    } else {
      // The server spent these tokens although no reply arrived.
      attempt.usage = progress.failed_usage;
      llm::add_usage(out.usage, progress.failed_usage);
    }
    Step step = response ? on_reply(*response, request, validator, state, attempt, out)
                         : on_request_failure(response.status(), request, state, attempt, out);
    if (step != Step::kRetry) {
      return out;
    }
    last_code = out.attempts.back().code;
  }
  out.status = exhausted(out.attempts, last_code);
  return out;
}

std::vector<std::string> keywords_to_strip(std::string_view message) {
  std::vector<std::string> named = llm::unsupported_keywords_in(message);
  if (!named.empty()) {
    return named;
  }
  for (const std::string& keyword : strippable_keywords()) {
    if (message.find(keyword) != std::string_view::npos) {
      named.push_back(keyword);
    }
  }
  return named.empty() ? strippable_keywords() : named;
}

llm::ChatUsage failed_usage(const std::vector<Attempt>& attempts) {
  llm::ChatUsage total;
  for (const Attempt& attempt : attempts) {
    llm::add_usage(total, attempt.code == ErrorCode::kOk ? attempt.retried_usage : attempt.usage);
  }
  return total;
}

int counted_attempts(const std::vector<Attempt>& attempts) {
  return static_cast<int>(std::count_if(attempts.begin(), attempts.end(),
                                        [](const Attempt& attempt) { return attempt.counted; }));
}

std::string attempt_label(const std::vector<Attempt>& attempts, size_t index) {
  const Attempt& attempt = attempts.at(index);
  if (!attempt.counted) {
    return "schema rejected by the server, not counted";
  }
  const auto end = attempts.begin() + static_cast<std::ptrdiff_t>(index) + 1;
  const int number = static_cast<int>(
      std::count_if(attempts.begin(), end, [](const Attempt& item) { return item.counted; }));
  if (index > 0 && !attempts[index - 1].counted) {
    const std::string keywords =
        attempt.dropped_keywords.empty() ? "" : " " + join(attempt.dropped_keywords, ", ");
    return fmt::format("attempt {}, resent without the schema keywords{} that the server rejected",
                       number, keywords);
  }
  return fmt::format("attempt {}", number);
}

}  // namespace ollamaflow::orchestrator
