// HTTP transport for the model server clients: a thin layer over cpp-httplib with timeouts,
// cancellation, streaming and one mapping from failures to ErrorCode.
#pragma once

#include <atomic>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/status.h"

namespace ollamaflow::llm {

// A server base URL split into parts, e.g. "https://gpu1:8443/ollama".
struct BaseUrl {
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;
  std::string path_prefix;  // "" or a path such as "/ollama", without a trailing slash

  // Returns "scheme://host:port" followed by the path prefix.
  std::string to_string() const;
};

// Returns kInvalidArgument when the authority of `url` has a user name or password, with a
// message that shows the URL with them replaced by "***".
Status check_no_credentials(std::string_view url);

// Parses a server URL. A URL without a scheme (as OLLAMA_HOST allows, e.g. "gpu1:11434") is
// http; a URL without a port gets `default_port` when it has no scheme, else 80 or 443. Returns
// kInvalidArgument naming the value for another scheme, an empty host or a bad port.
Result<BaseUrl> parse_base_url(std::string_view url, int default_port);

// Maps an HTTP status to an error code: 2xx kOk, 400 and 422 kInvalidArgument, 401 and 403
// kPermissionDenied, 404 kNotFound, 408 and 504 kTimeout, 413 kContextOverflow, 429 and 503
// kServerBusy, other 5xx kServerError, anything else kInternal.
ErrorCode error_code_for_http_status(int status);

// Returns the error text of an error body: the "error" string (Ollama), "error.message"
// (OpenAI-compatible servers), a top-level "message" or "detail", else the body itself,
// shortened to 500 bytes.
std::string error_text_from_body(std::string_view body);

// The deadline of a whole request that is not streamed (the metadata requests such as
// /api/version, /api/tags, /api/show, /v1/models and /props), from the connect to the last byte.
constexpr double kMetadataTotalTimeoutS = 10;
// The maximum body of a reply that is not streamed. Ollama's /api/show with "verbose" includes the
// tokenizer's vocabulary, a few MB for the largest vocabularies.
constexpr size_t kMaxMetadataBodyBytes = 32 << 20;

struct HttpSettings {
  double connect_timeout_s = 5;
  double read_timeout_s = 300;  // one socket read, for requests that are not streamed
  // The deadline of a whole request that is not streamed, so that a server that keeps sending
  // bytes without finishing its reply cannot hold the caller. 0 means no deadline.
  double total_timeout_s = kMetadataTotalTimeoutS;
  // The maximum body of a reply that is not streamed. A larger body fails with kParseError.
  size_t max_body_bytes = kMaxMetadataBodyBytes;
  // A token that cancels every request of the client within about 50 ms, including those that
  // are not streamed. It may be null.
  CancelTokenPtr cancel;
  std::string bearer_token;  // sent as "Authorization: Bearer ..." when not empty
  // The instruction to start this kind of server, which a refused connection suggests before
  // "or pass --host ...".
  std::string start_hint = "start the model server";
};

// The start hints of the two server protocols, for HttpSettings::start_hint.
inline constexpr std::string_view kOllamaStartHint = "start it (e.g. `ollama serve`)";
inline constexpr std::string_view kOpenAiStartHint =
    "start the OpenAI-compatible server (llama-server, vLLM, LM Studio) at that address";

struct HttpResponse {
  int status = 0;
  std::string body;  // the whole body, or for a streamed 2xx reply nothing
  std::string content_type;
};

// The progress of a streamed reply so far, for a progress log line.
struct StreamProgress {
  double elapsed_s = 0;  // from the start of the request
  // Pieces of reply text. Ollama and llama-server stream one per generated token, and a server
  // that batches tokens makes this an undercount.
  int64_t tokens = 0;
  // Tokens per second since the first token; 0 while less than a millisecond has passed.
  double tokens_per_s = 0;
};

// The first-token and idle deadlines of one streamed reply, measured on a Clock. The protocol
// parser calls mark_content() when a piece of reply text arrives, because servers also send
// bytes that carry no text (keep-alive comments, empty chunks).
//
// Belongs to the thread that runs the request, which alone calls mark_content() and
// first_content_seconds(). has_content() and check() are safe to call from another thread.
class StreamWatch {
 public:
  // `purpose` names the request in its log lines ("planning", "task api", "summary"; empty for
  // none), and `num_predict` is its output token limit (0 when unknown).
  StreamWatch(const Clock& clock, double first_token_timeout_s, double idle_timeout_s,
              std::string purpose = "", int num_predict = 0);

  void mark_content();
  // Safe to call from another thread than the one that marks content.
  bool has_content() const { return has_content_.load(); }
  // Seconds from the start of the request to the first content; 0 before it.
  double first_content_seconds() const;
  // Returns kTimeout naming the deadline when the first token or the next chunk is overdue.
  // Safe to call from another thread than the one that marks content.
  Status check() const;
  // The longest time one socket read may block: the larger of the two timeouts.
  double max_wait_seconds() const;
  // The first token's timeout; nullopt when it is off (0).
  std::optional<double> first_token_timeout_s() const;
  // Returns the seconds waited so far when a log line about the wait for the first token is
  // due: once kFirstWaitReportSeconds have passed without content, then every
  // kWaitReportPeriodSeconds. Returns nullopt otherwise and once content has arrived. Only one
  // thread may call it, the request's watcher.
  std::optional<double> due_wait_report();
  // Returns the reply's progress when a log line about it is due. That is once content has
  // arrived, at the times of the wait lines: kFirstWaitReportSeconds from the start of the
  // request, then every kWaitReportPeriodSeconds. Returns nullopt otherwise. Only one thread
  // may call it, the request's watcher.
  std::optional<StreamProgress> due_progress_report();

  const std::string& purpose() const { return purpose_; }
  int num_predict() const { return num_predict_; }

  static constexpr double kFirstWaitReportSeconds = 30;
  static constexpr double kWaitReportPeriodSeconds = 60;

 private:
  const Clock& clock_;
  double first_token_timeout_s_;
  double idle_timeout_s_;
  std::string purpose_;
  int num_predict_;
  MonoTime start_;
  MonoTime first_content_;
  // Written before has_content_ is set, so a thread that reads has_content_ as true also reads
  // a set value here.
  std::atomic<MonoTime> last_content_;
  std::atomic<bool> has_content_{false};
  std::atomic<int64_t> content_pieces_{0};
  // The time of the next wait or progress line, in seconds from the start. Both kinds share
  // this schedule, so a request logs at most one line per period.
  double next_wait_report_s_ = kFirstWaitReportSeconds;
};

// Receives each piece of a streamed 2xx body; an error stops the transfer and is returned.
using ChunkHandler = std::function<Status(std::string_view chunk)>;

// Bytes of a streamed chat reply allowed per output token: a server sends one JSON object or
// event of about 100 to 400 bytes per token, so this leaves room for long tokens and metadata.
constexpr size_t kReplyBytesPerToken = 1024;
// The minimum byte limit of a streamed chat reply, whatever its output limit.
constexpr size_t kMinReplyBytes = 4 << 20;

// Returns the byte limit of one streamed chat reply for an output limit of `num_predict`
// tokens: kReplyBytesPerToken per token, at least kMinReplyBytes.
size_t max_reply_bytes(int num_predict);

// Wraps `on_chunk` so that the transfer stops with kParseError, naming `where` and the limit,
// once the reply has more than `limit` bytes. A server that streams without end then costs
// bounded memory, and the error is not kTruncated, because a larger num_predict would not help.
ChunkHandler limit_reply_bytes(size_t limit, std::string where, ChunkHandler on_chunk);

// Thread-safe: every call opens its own connection, so calls may run concurrently.
class HttpClient {
 public:
  HttpClient(BaseUrl url, HttpSettings settings, std::shared_ptr<Clock> clock);

  // Sends GET `path` (appended to the path prefix). `timeout_s` overrides the read timeout
  // when positive. Returns the response for any HTTP status. Other failures are errors:
  // kUnavailable (refused, DNS, TLS), kTimeout (a read timeout, or no whole reply within
  // HttpSettings::total_timeout_s), kServerError (connection lost), kParseError (a body over
  // HttpSettings::max_body_bytes) and kCancelled (HttpSettings::cancel).
  Result<HttpResponse> get(const std::string& path, double timeout_s = 0) const;

  // Sends POST `path` with a JSON body and reads the whole reply, as get() does.
  Result<HttpResponse> post_json(const std::string& path, const std::string& body) const;

  // Sends POST `path` and streams a 2xx body to `on_chunk` as it arrives. Before each chunk
  // it checks `cancel` and HttpSettings::cancel (kCancelled) and `watch` (kTimeout). A non-2xx
  // body is collected into the returned response instead. HttpSettings::total_timeout_s does
  // not apply, because a reply may stream for many minutes.
  //
  // While the server sends nothing, a watcher thread shuts the socket down within about 50 ms
  // of a cancel or of a deadline: the first token's before any content, the idle one after.
  // The error then names the deadline that passed.
  //
  // `sent`, when not null, is set to true just before the request goes to the connection, after
  // the last check that returns without sending it.
  Result<HttpResponse> post_stream(const std::string& path, const std::string& body,
                                   StreamWatch& watch, const ChunkHandler& on_chunk,
                                   const CancelToken& cancel, bool* sent = nullptr) const;

  const BaseUrl& url() const { return url_; }
  std::string base_url() const { return url_.to_string(); }

 private:
  const BaseUrl url_;
  const HttpSettings settings_;
  const std::shared_ptr<Clock> clock_;
};

}  // namespace ollamaflow::llm
