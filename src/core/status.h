// Error values for expected failures.
//
// Error policy: a failure that the caller can anticipate (bad input, an unreachable server, a
// corrupt file, a malformed model reply) crosses module boundaries as a Status or Result<T>.
// Its message names the item that failed, the cause and, where one exists, the fix. Exceptions
// are reserved for programming errors and never cross a thread or an HTTP handler.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ollamaflow {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,    // bad input from the user or a caller
  kNotFound,           // file, model, run or key does not exist
  kUnavailable,        // server unreachable, connection refused, DNS failure
  kTimeout,            // connect, first-token or idle timeout
  kServerBusy,         // HTTP 503 or a full server queue; retryable
  kServerError,        // HTTP 5xx or an error reported inside a stream
  kTruncated,          // output cut by a token limit or a stream that ended early
  kParseError,         // text that is not the expected format
  kSchemaViolation,    // valid JSON that breaks the requested schema
  kSchemaUnsupported,  // the server cannot compile the requested schema
  kContextOverflow,    // the prompt exceeds the server's context
  kCancelled,          // stopped by Ctrl-C or a caller
  kConflict,           // two writers claim one resource
  kIoError,            // file system or database failure
  kCorrupt,            // a file whose content breaks its format
  kPermissionDenied,
  kInternal,
};

// Returns the lower-case name of `code`, e.g. "server_busy".
std::string_view error_code_name(ErrorCode code);

// Returns true for failures that a retry of the same request may fix.
bool is_retryable(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool is_ok() const { return code_ == ErrorCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns "code_name: message", or "ok".
  std::string to_string() const;

  // Returns a copy whose message starts with `context` and ": ".
  Status with_context(std::string_view context) const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(data_).is_ok() && "Result built from an ok Status");
  }
  Result(ErrorCode code, std::string message) : data_(Status(code, std::move(message))) {}

  bool is_ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return is_ok(); }

  const T& value() const& { return std::get<T>(data_); }
  T& value() & { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  const T* operator->() const { return &std::get<T>(data_); }
  T* operator->() { return &std::get<T>(data_); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }

  // Returns the error, or an ok Status when a value is held.
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(data_); }

  T value_or(T fallback) const { return is_ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace ollamaflow
