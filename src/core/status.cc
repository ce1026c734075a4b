#include "core/status.h"

namespace ollamaflow {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kServerBusy:
      return "server_busy";
    case ErrorCode::kServerError:
      return "server_error";
    case ErrorCode::kTruncated:
      return "truncated";
    case ErrorCode::kParseError:
      return "parse_error";
    case ErrorCode::kSchemaViolation:
      return "schema_violation";
    case ErrorCode::kSchemaUnsupported:
      return "schema_unsupported";
    case ErrorCode::kContextOverflow:
      return "context_overflow";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kIoError:
      return "io_error";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

bool is_retryable(ErrorCode code) {
  return code == ErrorCode::kServerBusy || code == ErrorCode::kServerError ||
         code == ErrorCode::kTimeout || code == ErrorCode::kUnavailable;
}

std::string Status::to_string() const {
  if (is_ok()) {
    return "ok";
  }
  return std::string(error_code_name(code_)) + ": " + message_;
}

Status Status::with_context(std::string_view context) const {
  if (is_ok()) {
    return *this;
  }
  return Status(code_, std::string(context) + ": " + message_);
}

}  // namespace ollamaflow
