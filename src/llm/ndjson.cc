#include "llm/ndjson.h"

#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "core/json_keys.h"

namespace ollamaflow::llm {
namespace {

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\r") == std::string_view::npos;
}

std::string preview(std::string_view text) {
  constexpr size_t kMaxPreview = 120;
  return text.size() > kMaxPreview ? std::string(text.substr(0, kMaxPreview)) + "..."
                                   : std::string(text);
}

}  // namespace

Result<nlohmann::json> parse_ndjson_line(std::string_view line, size_t line_number) {
  try {
    return nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& error) {
    // parse_error for bad syntax, out_of_range for a number too large for a double.
    return Status(ErrorCode::kParseError,
                  fmt::format("stream line {} is not valid JSON ({}): '{}'", line_number,
                              describe_json_error(line, error), preview(line)));
  }
}

Status NdjsonReader::check_size(size_t size) const {
  if (size <= max_line_bytes_) {
    return Status::ok();
  }
  return Status(ErrorCode::kParseError,
                fmt::format("stream line {} is longer than {} bytes without a newline: the "
                            "server does not send newline-delimited JSON",
                            lines_read_ + 1, max_line_bytes_));
}

Status NdjsonReader::deliver(std::string_view line, const LineHandler& on_line) {
  ++lines_read_;
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (is_blank(line)) {
    return Status::ok();
  }
  return on_line(line);
}

Status NdjsonReader::feed(std::string_view bytes, const LineHandler& on_line) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const void* found = std::memchr(bytes.data() + pos, '\n', bytes.size() - pos);
    if (found == nullptr) {
      break;
    }
    const size_t newline = static_cast<const char*>(found) - bytes.data();
    const std::string_view piece = bytes.substr(pos, newline - pos);
    Status status;
    if (buffer_.empty()) {
      // The common case: the whole line is in this read, so it is delivered without a copy.
      status = deliver(piece, on_line);
    } else {
      buffer_.append(piece);
      if (status = check_size(buffer_.size()); status.is_ok()) {
        status = deliver(buffer_, on_line);
      }
      buffer_.clear();
    }
    if (!status.is_ok()) {
      return status;
    }
    pos = newline + 1;
  }
  buffer_.append(bytes.substr(pos));
  return check_size(buffer_.size());
}

Status NdjsonReader::feed_objects(std::string_view bytes, const ObjectHandler& on_object) {
  return feed(bytes, [&](std::string_view line) {
    Result<nlohmann::json> object = parse_ndjson_line(line, lines_read_);
    if (!object.is_ok()) {
      return object.status();
    }
    return on_object(std::move(object).value());
  });
}

Status NdjsonReader::finish() const {
  if (is_blank(buffer_)) {
    return Status::ok();
  }
  return Status(ErrorCode::kTruncated,
                fmt::format("the stream ended inside line {} ({} bytes after the last newline): "
                            "'{}'",
                            lines_read_ + 1, buffer_.size(), preview(buffer_)));
}

Status NdjsonReader::finish_lines(const std::function<bool(std::string_view line)>& complete,
                                  const LineHandler& on_line) {
  if (is_blank(buffer_)) {
    return Status::ok();
  }
  if (!complete(buffer_)) {
    return finish();
  }
  const std::string line = std::move(buffer_);
  buffer_.clear();
  return deliver(line, on_line);
}

Status NdjsonReader::finish_objects(const ObjectHandler& on_object) {
  std::optional<nlohmann::json> object;
  const auto complete = [&](std::string_view line) {
    Result<nlohmann::json> parsed = parse_ndjson_line(line, lines_read_ + 1);
    if (parsed.is_ok()) {
      object = std::move(parsed).value();
    }
    return object.has_value();
  };
  return finish_lines(complete, [&](std::string_view) { return on_object(std::move(*object)); });
}

}  // namespace ollamaflow::llm
