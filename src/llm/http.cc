#include "llm/http.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <netdb.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/log.h"

namespace ollamaflow::llm {
namespace {

constexpr size_t kMaxErrorBody = 1 << 20;
constexpr size_t kMaxErrorText = 500;

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Names under ".invalid" never resolve (RFC 6761), so they fail without a lookup.
bool is_reserved_invalid_name(std::string_view host) {
  return host == "invalid" || ends_with(host, ".invalid");
}

bool host_resolves(const std::string& host) {
  if (is_reserved_invalid_name(host)) {
    return false;
  }
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(bare.c_str(), nullptr, &hints, &found);
  if (found != nullptr) {
    freeaddrinfo(found);
  }
  return rc == 0;
}

Status dns_error(const BaseUrl& url) {
  return Status(ErrorCode::kUnavailable,
                fmt::format("host name '{}' of {} could not be resolved: check the --host flag "
                            "or OLLAMA_HOST",
                            url.host, url.to_string()));
}

void set_timeout(double seconds, const std::function<void(time_t, time_t)>& setter) {
  const auto micros = static_cast<int64_t>(std::max(seconds, 0.001) * 1e6);
  setter(static_cast<time_t>(micros / 1000000), static_cast<time_t>(micros % 1000000));
}

std::unique_ptr<httplib::Client> open_client(const BaseUrl& url, const HttpSettings& settings,
                                             double read_timeout_s) {
  auto client =
      std::make_unique<httplib::Client>(fmt::format("{}://{}:{}", url.scheme, url.host, url.port));
  set_timeout(settings.connect_timeout_s,
              [&](time_t sec, time_t usec) { client->set_connection_timeout(sec, usec); });
  set_timeout(read_timeout_s,
              [&](time_t sec, time_t usec) { client->set_read_timeout(sec, usec); });
  set_timeout(std::max(settings.connect_timeout_s, 30.0),
              [&](time_t sec, time_t usec) { client->set_write_timeout(sec, usec); });
  client->set_keep_alive(false);
  if (!settings.bearer_token.empty()) {
    client->set_bearer_token_auth(settings.bearer_token);
  }
  return client;
}

// Maps a transport failure. `waited_s` is how long the request had been running on the clock,
// which distinguishes a read timeout from a connection that the server closed.
Status transport_error(const BaseUrl& url, httplib::Error error, const HttpSettings& settings,
                       double read_timeout_s, double waited_s) {
  const double connect_timeout_s = settings.connect_timeout_s;
  const std::string where = url.to_string();
  switch (error) {
    case httplib::Error::Connection:
      if (!host_resolves(url.host)) {
        return dns_error(url);
      }
      return Status(ErrorCode::kUnavailable,
                    fmt::format("cannot connect to the model server at {} (connection refused): "
                                "{} or pass --host with the URL of a running server",
                                where, settings.start_hint));
    case httplib::Error::ConnectionTimeout:
      return Status(ErrorCode::kTimeout,
                    fmt::format("connecting to {} timed out after {} s: check --host and that the "
                                "server is reachable",
                                where, connect_timeout_s));
    case httplib::Error::Read:
      if (waited_s >= read_timeout_s * 0.95) {
        return Status(ErrorCode::kTimeout,
                      fmt::format("the request to {} timed out: no data for {} s, so the server "
                                  "is stalled, overloaded or not a model server; check it, or "
                                  "pass --host with the URL of a working one",
                                  where, read_timeout_s));
      }
      return Status(ErrorCode::kServerError,
                    fmt::format("the connection to {} was closed in the middle of the response, "
                                "so the server stopped, restarted or crashed: check its log and "
                                "that it still runs, then try again",
                                where));
    case httplib::Error::Write:
      return Status(
          ErrorCode::kServerError,
          fmt::format("sending the request to {} failed: the connection was lost", where));
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLLoadingCerts:
    case httplib::Error::SSLServerVerification:
      return Status(ErrorCode::kUnavailable,
                    fmt::format("TLS connection to {} failed ({}): check the server certificate "
                                "or use http://",
                                where, httplib::to_string(error)));
    default:
      return Status(ErrorCode::kUnavailable,
                    fmt::format("request to {} failed: {}", where, httplib::to_string(error)));
  }
}

bool is_success(int status) {
  return status >= 200 && status < 300;
}

// Returns true for a host name or IPv4 address (letters, digits, '-', '.', '_') or a bracketed
// IPv6 literal (hex digits, ':', '.' and a '%' zone id).
bool is_valid_host(std::string_view host) {
  const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) {
    host = host.substr(1, host.size() - 2);
  }
  for (const char c : host) {
    const bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
    const bool allowed = plain || (bracketed ? c == ':' || c == '%' : c == '_');
    if (!allowed) {
      return false;
    }
  }
  return true;
}

Result<int> parse_port(std::string_view text, std::string_view url) {
  int port = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (error != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("invalid port '{}' in server URL '{}': use a number from 1 to 65535",
                              text, url));
  }
  return port;
}

bool is_cancelled(const CancelToken* call, const CancelTokenPtr& client) {
  return (call != nullptr && call->cancelled()) || (client && client->cancelled());
}

// The cause for which a watcher shut a request's socket down.
enum class StopReason { kNone, kCancelled, kDeadline };

// Sends `request` on `client` while a watcher thread shuts the socket down once `cancelled()`
// returns true or the clock passes `deadline` (none when it is nullopt). A blocked socket read
// notices neither, so the watcher polls every 50 ms.
StopReason send_watched(httplib::Client& client, httplib::Request& request, httplib::Response& raw,
                        httplib::Error& error, bool& sent, const Clock& clock,
                        std::optional<MonoTime> deadline, const std::function<bool()>& cancelled) {
  std::mutex watch_mutex;
  std::condition_variable watch_done;
  bool finished = false;
  std::atomic<StopReason> stopped{StopReason::kNone};
  std::thread watcher([&] {
    std::unique_lock lock(watch_mutex);
    while (!finished) {
      // Real-time polling on purpose: the token has no way to wake a waiter.
      watch_done.wait_for(lock, std::chrono::milliseconds(50));
      if (finished) {
        return;
      }
      if (cancelled()) {
        stopped = StopReason::kCancelled;
      } else if (deadline && clock.now() >= *deadline) {
        stopped = StopReason::kDeadline;
      } else {
        continue;
      }
      client.stop();
      return;
    }
  });
  sent = client.send(request, raw, error);
  {
    std::lock_guard lock(watch_mutex);
    finished = true;
  }
  watch_done.notify_all();
  watcher.join();
  return stopped;
}

// Numbers the streamed requests of the process, so that the lines about one request can be
// distinguished when several agents wait on the same server.
std::atomic<uint64_t> next_stream_number{1};

// Returns the start of the log lines about the streamed request `number` to `url`: the URL, the
// number and the request's purpose when it has one.
std::string stream_label(const std::string& url, uint64_t number, const std::string& purpose) {
  if (purpose.empty()) {
    return fmt::format("POST {} stream={}", url, number);
  }
  return fmt::format("POST {} stream={} for {}", url, number, purpose);
}

// Logs that the streamed request `label` has had no reply text for `waited_s`.
void log_first_token_wait(const std::string& label, double waited_s,
                          std::optional<double> first_token_timeout_s) {
  const std::string limit =
      first_token_timeout_s
          ? fmt::format("the request times out at {} s (server.first_token_timeout_s)",
                        *first_token_timeout_s)
          : std::string("server.first_token_timeout_s is off, so the request waits without limit");
  get_logger("llm")->info(
      "{}: no first token after {:.0f} s. The server may still be loading the model or be busy "
      "with other requests, and {}",
      label, waited_s, limit);
}

// Logs how far the reply to the streamed request `label` has come, and when num_predict ends it
// at the latest if the rate holds.
void log_stream_progress(const std::string& label, const StreamProgress& progress,
                         int num_predict) {
  std::string limit = "The output limit is unknown";
  if (num_predict > 0 && progress.tokens_per_s > 0) {
    const double left = std::max<double>(0, num_predict - static_cast<double>(progress.tokens));
    limit = fmt::format(
        "The reply ends at num_predict={} tokens at the latest, about {:.0f} s from now at this "
        "rate",
        num_predict, left / progress.tokens_per_s);
  } else if (num_predict > 0) {
    limit = fmt::format("The reply ends at num_predict={} tokens at the latest", num_predict);
  }
  get_logger("llm")->info("{}: {} tokens received after {:.0f} s, {:.1f} tokens/s. {}", label,
                          progress.tokens, progress.elapsed_s, progress.tokens_per_s, limit);
}

// Sends a request that is not streamed and reads its whole reply, within the total deadline and
// the body limit of `settings`.
Result<HttpResponse> send_whole(const BaseUrl& url, const HttpSettings& settings,
                                const Clock& clock, httplib::Request request,
                                double read_timeout_s) {
  const std::string where = fmt::format("{} {}{}", request.method, url.to_string(),
                                        request.path.substr(url.path_prefix.size()));
  if (is_cancelled(nullptr, settings.cancel)) {
    return Status(ErrorCode::kCancelled, where + " was cancelled");
  }
  if (is_reserved_invalid_name(url.host)) {
    return dns_error(url);
  }
  auto client = open_client(url, settings, read_timeout_s);
  HttpResponse response;
  Status aborted;
  request.response_handler = [&](const httplib::Response& head) {
    response.status = head.status;
    response.content_type = head.get_header_value("Content-Type");
    return true;
  };
  request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    if (response.body.size() + size > settings.max_body_bytes) {
      aborted = Status(ErrorCode::kParseError,
                       fmt::format("the reply to {} exceeded {} bytes, more than any model server "
                                   "sends for it: check that --host names a model server",
                                   where, settings.max_body_bytes));
      return false;
    }
    response.body.append(data, size);
    return true;
  };
  get_logger("llm")->debug("{}", where);
  const MonoTime start = clock.now();
  std::optional<MonoTime> deadline;
  if (settings.total_timeout_s > 0) {
    deadline = start + from_seconds(settings.total_timeout_s);
  }
  httplib::Response raw;
  httplib::Error error = httplib::Error::Success;
  bool sent = false;
  const StopReason stopped = send_watched(*client, request, raw, error, sent, clock, deadline,
                                          [&] { return is_cancelled(nullptr, settings.cancel); });
  if (!aborted.is_ok()) {
    return aborted;
  }
  if (stopped == StopReason::kCancelled) {
    return Status(ErrorCode::kCancelled, where + " was cancelled");
  }
  if (stopped == StopReason::kDeadline) {
    return Status(ErrorCode::kTimeout,
                  fmt::format("{} timed out: no complete reply within {} s ({} bytes received), "
                              "so the server is stalled, keeps the reply open or is not a model "
                              "server; check it, or pass --host with the URL of a working one",
                              where, settings.total_timeout_s, response.body.size()));
  }
  if (!sent) {
    return transport_error(url, error, settings, read_timeout_s, to_seconds(clock.now() - start));
  }
  return response;
}

}  // namespace

std::string BaseUrl::to_string() const {
  return fmt::format("{}://{}:{}{}", scheme, host, port, path_prefix);
}

Status check_no_credentials(std::string_view url) {
  const size_t scheme_end = url.find("://");
  const size_t authority_begin = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const size_t authority_end = url.find('/', authority_begin);
  const std::string_view authority = url.substr(authority_begin, authority_end - authority_begin);
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return Status::ok();
  }
  const std::string redacted = std::string(url.substr(0, authority_begin)) + "***" +
                               std::string(url.substr(authority_begin + at));
  return Status(ErrorCode::kInvalidArgument,
                fmt::format("server URL '{}' contains a user name or password: ollama-flow "
                            "sends no credentials from the URL, so remove them; for a server "
                            "that needs a Bearer token, set server.api_key (--api-key)",
                            redacted));
}

Result<BaseUrl> parse_base_url(std::string_view url, int default_port) {
  // A user name or password in the URL is rejected before anything else, and the message shows
  // the URL without it, so that a password never reaches a terminal or a log.
  if (Status credentials = check_no_credentials(url); !credentials.is_ok()) {
    return credentials;
  }
  BaseUrl parsed;
  std::string_view rest = url;
  const size_t scheme_end = rest.find("://");
  bool has_scheme = scheme_end != std::string_view::npos;
  parsed.scheme = has_scheme ? std::string(rest.substr(0, scheme_end)) : "http";
  std::transform(parsed.scheme.begin(), parsed.scheme.end(), parsed.scheme.begin(), ::tolower);
  if (parsed.scheme != "http" && parsed.scheme != "https") {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("unsupported scheme '{}' in server URL '{}': use http:// or https://",
                              parsed.scheme, url));
  }
  if (has_scheme) {
    rest.remove_prefix(scheme_end + 3);
  }

  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') {
      prefix.remove_suffix(1);
    }
    parsed.path_prefix = std::string(prefix);
  }

  // An IPv6 literal keeps its brackets, as URLs write it.
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  std::string_view host = authority;
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    Result<int> port = parse_port(authority.substr(colon + 1), url);
    if (!port.is_ok()) {
      return port.status();
    }
    parsed.port = *port;
  } else {
    parsed.port = !has_scheme ? default_port : (parsed.scheme == "https" ? 443 : 80);
  }

  if (host.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("server URL '{}' has no host: use e.g. http://127.0.0.1:11434", url));
  }
  if (!is_valid_host(host)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("invalid host '{}' in server URL '{}': use a URL such as "
                              "http://127.0.0.1:11434",
                              host, url));
  }
  parsed.host = std::string(host);
  return parsed;
}

ErrorCode error_code_for_http_status(int status) {
  if (is_success(status))
    return ErrorCode::kOk;
  switch (status) {
    case 400:
    case 422:
      return ErrorCode::kInvalidArgument;
    case 401:
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 408:
    case 504:
      return ErrorCode::kTimeout;
    case 413:
      return ErrorCode::kContextOverflow;
    case 429:
    case 503:
      return ErrorCode::kServerBusy;
    default:
      break;
  }
  return status >= 500 && status < 600 ? ErrorCode::kServerError : ErrorCode::kInternal;
}

std::string error_text_from_body(std::string_view body) {
  std::string text(body);
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    const auto error = parsed.find("error");
    if (error != parsed.end() && error->is_string()) {
      text = error->get<std::string>();
    } else if (error != parsed.end() && error->is_object() && error->contains("message") &&
               (*error)["message"].is_string()) {
      text = (*error)["message"].get<std::string>();
    } else if (parsed.contains("message") && parsed["message"].is_string()) {
      text = parsed["message"].get<std::string>();
    } else if (parsed.contains("detail") && parsed["detail"].is_string()) {
      text = parsed["detail"].get<std::string>();
    }
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  return text.size() > kMaxErrorText ? text.substr(0, kMaxErrorText) + "..." : text;
}

StreamWatch::StreamWatch(const Clock& clock, double first_token_timeout_s, double idle_timeout_s,
                         std::string purpose, int num_predict)
    : clock_(clock),
      first_token_timeout_s_(first_token_timeout_s),
      idle_timeout_s_(idle_timeout_s),
      purpose_(std::move(purpose)),
      num_predict_(num_predict),
      start_(clock.now()),
      last_content_(start_) {}

void StreamWatch::mark_content() {
  const MonoTime now = clock_.now();
  last_content_ = now;
  ++content_pieces_;
  if (!has_content_) {
    first_content_ = now;
    has_content_ = true;
  }
}

double StreamWatch::first_content_seconds() const {
  return has_content_ ? to_seconds(first_content_ - start_) : 0;
}

Status StreamWatch::check() const {
  const MonoTime now = clock_.now();
  if (!has_content_ && first_token_timeout_s_ > 0 &&
      to_seconds(now - start_) > first_token_timeout_s_) {
    return Status(
        ErrorCode::kTimeout,
        fmt::format("no first token within {} s (server.first_token_timeout_s): the model may "
                    "still be loading; raise the timeout or check the server",
                    first_token_timeout_s_));
  }
  if (has_content_ && idle_timeout_s_ > 0 &&
      to_seconds(now - last_content_.load()) > idle_timeout_s_) {
    return Status(
        ErrorCode::kTimeout,
        fmt::format("no new token for {} s after the last one (server.idle_timeout_s): the "
                    "stream stalled, so check the server or raise the timeout",
                    idle_timeout_s_));
  }
  return Status::ok();
}

std::optional<double> StreamWatch::first_token_timeout_s() const {
  if (first_token_timeout_s_ <= 0) {
    return std::nullopt;
  }
  return first_token_timeout_s_;
}

std::optional<double> StreamWatch::due_wait_report() {
  if (has_content_) {
    return std::nullopt;
  }
  const double waited_s = to_seconds(clock_.now() - start_);
  if (waited_s < next_wait_report_s_) {
    return std::nullopt;
  }
  while (next_wait_report_s_ <= waited_s) {
    next_wait_report_s_ += kWaitReportPeriodSeconds;
  }
  return waited_s;
}

std::optional<StreamProgress> StreamWatch::due_progress_report() {
  if (!has_content_) {
    return std::nullopt;
  }
  const MonoTime now = clock_.now();
  StreamProgress progress;
  progress.elapsed_s = to_seconds(now - start_);
  if (progress.elapsed_s < next_wait_report_s_) {
    return std::nullopt;
  }
  while (next_wait_report_s_ <= progress.elapsed_s) {
    next_wait_report_s_ += kWaitReportPeriodSeconds;
  }
  progress.tokens = content_pieces_.load();
  const double generating_s = to_seconds(now - first_content_);
  if (generating_s >= 0.001) {
    progress.tokens_per_s = static_cast<double>(progress.tokens) / generating_s;
  }
  return progress;
}

double StreamWatch::max_wait_seconds() const {
  return std::max(first_token_timeout_s_, idle_timeout_s_);
}

size_t max_reply_bytes(int num_predict) {
  const size_t tokens = num_predict > 0 ? static_cast<size_t>(num_predict) : 0;
  return std::max(kMinReplyBytes, tokens * kReplyBytesPerToken);
}

ChunkHandler limit_reply_bytes(size_t limit, std::string where, ChunkHandler on_chunk) {
  auto received = std::make_shared<size_t>(0);
  return [limit, where = std::move(where), on_chunk = std::move(on_chunk),
          received](std::string_view chunk) -> Status {
    *received += chunk.size();
    if (*received > limit) {
      return Status(ErrorCode::kParseError,
                    fmt::format("the reply from {} exceeded {} bytes without finishing: the "
                                "server keeps streaming past the output limit; check the server "
                                "and the model",
                                where, limit));
    }
    return on_chunk(chunk);
  };
}

HttpClient::HttpClient(BaseUrl url, HttpSettings settings, std::shared_ptr<Clock> clock)
    : url_(std::move(url)), settings_(std::move(settings)), clock_(std::move(clock)) {}

Result<HttpResponse> HttpClient::get(const std::string& path, double timeout_s) const {
  httplib::Request request;
  request.method = "GET";
  request.path = url_.path_prefix + path;
  return send_whole(url_, settings_, *clock_, std::move(request),
                    timeout_s > 0 ? timeout_s : settings_.read_timeout_s);
}

Result<HttpResponse> HttpClient::post_json(const std::string& path, const std::string& body) const {
  httplib::Request request;
  request.method = "POST";
  request.path = url_.path_prefix + path;
  request.body = body;
  request.set_header("Content-Type", "application/json");
  return send_whole(url_, settings_, *clock_, std::move(request), settings_.read_timeout_s);
}

Result<HttpResponse> HttpClient::post_stream(const std::string& path, const std::string& body,
                                             StreamWatch& watch, const ChunkHandler& on_chunk,
                                             const CancelToken& cancel, bool* sent) const {
  const auto cancelled = [&] { return is_cancelled(&cancel, settings_.cancel); };
  if (cancelled()) {
    return Status(ErrorCode::kCancelled, "request to " + base_url() + path + " was cancelled");
  }
  if (is_reserved_invalid_name(url_.host)) {
    return dns_error(url_);
  }
  auto client = open_client(url_, settings_, watch.max_wait_seconds());
  HttpResponse response;
  Status aborted;
  httplib::Request request;
  request.method = "POST";
  request.path = url_.path_prefix + path;
  request.body = body;
  request.set_header("Content-Type", "application/json");
  request.set_header("Accept", "application/x-ndjson, text/event-stream, application/json");
  // A server that accepts the request and then sends nothing gives watch.check() no chunk to run
  // on, so the watcher also stops a request that has no content by the first token's deadline.
  const std::optional<double> first_token_s = watch.first_token_timeout_s();
  const MonoTime first_token_deadline = clock_->now() + from_seconds(first_token_s.value_or(0));
  request.response_handler = [&](const httplib::Response& head) {
    response.status = head.status;
    response.content_type = head.get_header_value("Content-Type");
    return true;
  };
  request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    if (!is_success(response.status)) {
      const size_t room = kMaxErrorBody - std::min(kMaxErrorBody, response.body.size());
      response.body.append(data, std::min(size, room));
      return true;
    }
    if (cancelled()) {
      aborted = Status(ErrorCode::kCancelled, "request to " + base_url() + path + " was cancelled");
    } else if (Status late = watch.check(); !late.is_ok()) {
      aborted = late;
    } else {
      aborted = on_chunk(std::string_view(data, size));
    }
    return aborted.is_ok();
  };
  const uint64_t request_number = next_stream_number.fetch_add(1);
  const std::string label = stream_label(base_url() + path, request_number, watch.purpose());
  get_logger("llm")->debug("{} ({} bytes)", label, body.size());
  const MonoTime start = clock_->now();
  httplib::Response raw;
  httplib::Error error = httplib::Error::Success;
  bool completed = false;
  bool first_token_overdue = false;
  // Set by the watcher thread alone, and read only after send_watched() has joined it.
  Status stalled;
  if (sent != nullptr) {
    *sent = true;
  }
  const StopReason stopped =
      send_watched(*client, request, raw, error, completed, *clock_, std::nullopt, [&] {
        if (cancelled()) {
          return true;
        }
        // After the first content, the idle deadline applies, which the socket's read timeout
        // (the larger of the two deadlines) would otherwise enforce late.
        if (watch.has_content()) {
          if (const std::optional<StreamProgress> progress = watch.due_progress_report()) {
            log_stream_progress(label, *progress, watch.num_predict());
          }
          stalled = watch.check();
          return !stalled.is_ok();
        }
        if (const std::optional<double> waited_s = watch.due_wait_report()) {
          log_first_token_wait(label, *waited_s, first_token_s);
        }
        first_token_overdue = first_token_s && clock_->now() >= first_token_deadline;
        return first_token_overdue;
      });
  if (!aborted.is_ok()) {
    return aborted;
  }
  if (stopped == StopReason::kCancelled && !stalled.is_ok() && !cancelled()) {
    return stalled;
  }
  if (stopped == StopReason::kCancelled && first_token_overdue && !cancelled()) {
    Status late = watch.check();
    // The watch started a moment after the deadline's base, so it may not be overdue yet.
    if (late.is_ok()) {
      late = Status(
          ErrorCode::kTimeout,
          fmt::format("no response within {} s (server.first_token_timeout_s): the model may "
                      "still be loading; raise the timeout or check the server",
                      *first_token_s));
    }
    return late;
  }
  if (stopped == StopReason::kCancelled) {
    return Status(ErrorCode::kCancelled, "request to " + base_url() + path + " was cancelled");
  }
  if (!completed) {
    if (Status late = watch.check(); !late.is_ok()) {
      return late;
    }
    return transport_error(url_, error, settings_, watch.max_wait_seconds(),
                           to_seconds(clock_->now() - start));
  }
  return response;
}

}  // namespace ollamaflow::llm
