// The request loop shared by the queen and the agents: send a chat request with a JSON schema,
// extract and validate the reply, and send the errors back to the model until a reply passes or
// the attempts run out.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/status.h"
#include "llm/client.h"

namespace ollamaflow::orchestrator {

// The words of the error for a reply that the server's context per slot cut, which callers
// search for to add advice of their own.
inline constexpr std::string_view kContextCutPhrase = "filled the server's context";

// One request and its reply, kept so that the journal can record every try.
struct Attempt {
  // 1-based, in the order sent, with the uncounted resend included; attempt_label() gives the
  // number that max_attempts counts.
  int number = 0;
  std::string reply;                // the reply content; empty when the request itself failed
  ErrorCode code = ErrorCode::kOk;  // kOk for the accepted reply
  std::string error;                // why the reply was not accepted; empty when accepted
  std::vector<std::string> errors;  // the problems sent back to the model, one per entry
  // Every token that the server spent on this attempt as far as the client saw it, including
  // those of a failed request and of the tries that the client retried (see llm::ChatProgress).
  llm::ChatUsage usage;
  // The part of `usage` spent by tries that the client retried before the reply arrived.
  llm::ChatUsage retried_usage;
  std::string model;                          // as the server reported it, else as requested
  int num_predict = 0;                        // output token limit of this request
  std::vector<std::string> dropped_keywords;  // JSON pointers left out of the server's schema
  bool simulated = false;
  bool counted = true;  // false for a resend after the server rejected the schema
  // Wall time when the request was sent and when its reply or error came back; unset when the
  // request had no clock.
  std::optional<WallTime> started_at;
  std::optional<WallTime> finished_at;
};

// Rate limiters of the warnings that run_structured_chat logs for single requests, shared by the
// requests of one run so that many agents cannot flood the log. Each kind of warning has its own
// limiter, which logs the first `burst` lines of every `interval` and counts the rest.
// Thread-safe.
struct ReplyWarningLimits {
  explicit ReplyWarningLimits(
      size_t burst = 5, std::chrono::steady_clock::duration interval = std::chrono::seconds(60));

  // Logs the counts that are still open.
  void flush();

  LogRateLimiter truncated;        // "reply truncated"
  LogRateLimiter rejected;         // "reply rejected"
  LogRateLimiter unparsable;       // "reply unparsable"
  LogRateLimiter context_cut;      // "reply cut by the server's context"
  LogRateLimiter schema_rejected;  // "server rejected the schema"
};

// Returns the problems of a reply that passed the JSON schema; an empty list accepts it.
using ReplyValidator = std::function<std::vector<std::string>(const nlohmann::json& reply)>;

struct StructuredRequest {
  // Model, messages, options and schema. A null schema requests free text, and the reply's
  // trimmed content is then accepted as a JSON string when it is not empty.
  llm::ChatRequest chat;
  int max_attempts = 3;  // replies that may be rejected before giving up
  // Ceiling for num_predict when a truncated reply doubles it; 0 means chat.options.num_ctx.
  int max_num_predict = 0;
  bool lenient_json = false;  // passed to llm::extract_json
  // Feedback after a rejected reply: prefix, the problems joined by "; ", suffix.
  std::string rejection_prefix = "Your reply was rejected: ";
  std::string rejection_suffix = ". Return a corrected reply.";
  std::string log_label;  // ids for log lines, e.g. "task=api"
  // Rate limiters of the per-request warnings, shared by the requests of one run. Null logs
  // every warning. It must outlive the call.
  ReplyWarningLimits* warning_limits = nullptr;
  // Stamps each Attempt's start and finish when set. It must outlive the call.
  const Clock* clock = nullptr;
};

struct StructuredOutcome {
  // Ok when `value` contains an accepted reply. Otherwise one of:
  // - kCancelled when the token was set. A request that the client cancelled before sending it
  //   has no entry in `attempts`;
  // - the client's error for a failed request (the client has already retried retryable
  //   server errors);
  // - the last attempt's code (kTruncated, kParseError, kSchemaViolation) when every attempt
  //   was rejected, with each attempt's problems in the message.
  Status status;
  nlohmann::json value;
  std::vector<Attempt> attempts;
  // Summed over all attempts, the failed ones included (see Attempt::usage).
  llm::ChatUsage usage;
  std::string model;  // of the last reply
  bool simulated = false;
};

// Runs the loop described above. What happens after a rejected reply depends on its code:
// - kTruncated (done_reason "length", or JSON that never closes): resend the same messages with
//   num_predict doubled, up to the ceiling. A truncated reply at the ceiling ends the loop, and
//   so does a reply that filled chat.options.server_slot_ctx below num_predict, because the
//   server's context per slot, not num_predict, cut it.
// - kParseError from extract_json, kSchemaViolation, or problems from `validator`: resend with
//   the reply and a user message that lists the problems.
// - kParseError from the client (the server could not parse the output): resend the same
//   messages, because there is no reply to quote.
// - kSchemaUnsupported from the server: resend once with the rejected keywords stripped from
//   the server's copy of the schema (the local check keeps them). This try is not counted.
// Any other failed request ends the loop with the client's error.
// Thread-safe as far as `client` is: the function keeps no state between calls.
StructuredOutcome run_structured_chat(llm::LlmClient& client, const StructuredRequest& request,
                                      const ReplyValidator& validator, const CancelToken& cancel);

// Returns the keywords to strip after the server rejected a schema with `message`: those the
// message names, or every size, length, pattern and format keyword when it names none. Type,
// properties, required, items and enum are never stripped.
std::vector<std::string> keywords_to_strip(std::string_view message);

// Returns the tokens that failed requests spent in `attempts`: the whole usage of each attempt
// that was not accepted, and the retried tries of the accepted one.
llm::ChatUsage failed_usage(const std::vector<Attempt>& attempts);

// Returns the attempts that count against max_attempts, without the resend after a rejected
// schema.
int counted_attempts(const std::vector<Attempt>& attempts);

// Returns the name of attempts[index] in errors and reports, numbered as max_attempts counts
// them, such as "attempt 2". The resend after a rejected schema keeps the number of the attempt
// that it repeats and names the dropped keywords: "attempt 1, resent without the schema keywords
// /properties/files/minItems that the server rejected". The request whose schema the server
// rejected is "schema rejected by the server, not counted".
std::string attempt_label(const std::vector<Attempt>& attempts, size_t index);

}  // namespace ollamaflow::orchestrator
